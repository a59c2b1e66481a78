"""Resource counts of FPGA parts, for budgets given as a share of the part (``max_luts_percent``).

Source: AMD UltraScale+ FPGA Product Selection Guide (XMP103 v2.2), Virtex UltraScale+ table
("CLB LUTs (K)", "CLB Flip-Flops (K)", "DSP Slices"), and the Alveo U250 data sheet (DS962: the U250
carries an XCU250, the VU13P die). Lookup is by device name: the package, speed grade and temperature
suffix (``-flga2577-2-e``) do not change the counts.
"""

from __future__ import annotations

from collections.abc import Mapping

PART_RESOURCES: Mapping[str, Mapping[str, int]] = {
    # device: {"luts", "flip_flops", "dsps"}
    "xcvu13p": {"luts": 1_728_000, "flip_flops": 3_456_000, "dsps": 12_288},
    "xcu250": {"luts": 1_728_000, "flip_flops": 3_456_000, "dsps": 12_288},
    "xcvu9p": {"luts": 1_182_000, "flip_flops": 2_364_000, "dsps": 6_840},
    "xcu200": {"luts": 1_182_000, "flip_flops": 2_364_000, "dsps": 6_840},
}
"""The hls4ml default part (``xcvu13p-flga2577-2-e``, also in ``hls4ml_configs/``) and its Alveo kin."""


def device_name(part: str) -> str:
    """``xcvu13p-flga2577-2-e`` -> ``xcvu13p`` (the device without package, speed grade, temperature)."""
    return part.strip().lower().split("-")[0]


def part_resources(part: str) -> Mapping[str, int] | None:
    """Resource counts of ``part``, or ``None`` when the device is not tabulated."""
    return PART_RESOURCES.get(device_name(part))
