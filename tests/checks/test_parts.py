"""Resource counts by device name (package, speed grade and temperature do not matter)."""

from __future__ import annotations

from pipeline.checks.parts import device_name, part_resources


def test_lookup_by_device():
    assert device_name("xcvu13p-flga2577-2-e") == "xcvu13p"
    assert part_resources("XCVU13P-FLGA2577-2-E")["luts"] == 1_728_000
    assert part_resources("xcu250-figd2104-2L-e") == part_resources("xcvu13p-fsga2577-1-e")
    assert part_resources("xc7a35t-cpg236-1") is None
