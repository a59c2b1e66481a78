"""The full firmware flow of one front point, run on a Dask worker.

It is the firmware stage's per-model body, :func:`pipeline.stages.firmware.build_one` (da4ml RTL,
Verilator simulation bit-exact against :mod:`pipeline.deploy.emulator`, Yosys ``synth_xilinx``),
applied to the model the trial saved. The record sets the da4ml estimate next to Yosys' LUTs, and the
trial's latency (pipeline stages x clock period) next to the one the netlist timing model gives
(:mod:`pipeline.rtl.netlist_timing`, UltraScale+ -2 delays): the critical path of the slowest stage,
the clock it allows, and
``latency_ns_sta = cycles x max(clock period, critical path)`` (the firmware stage's latency).
"""

from __future__ import annotations

import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FirmwareTask:
    """One front point's firmware job (paths on the shared filesystem)."""

    key: str
    trial_dir: str
    data_dir: str
    firmware: dict[str, Any]


def run_firmware(task: FirmwareTask) -> dict[str, Any]:
    """Build, simulate and synthesize the trial's model; never raises (errors go in the record)."""
    import json
    import os

    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
    started = time.perf_counter()
    record: dict[str, Any] = {"key": task.key}
    try:
        import yaml

        from pipeline.data.io import load_dataset
        from pipeline.deploy.from_qkeras import integer_network_from_qkeras
        from pipeline.models.inputs import input_formats, model_inputs
        from pipeline.models.io import load_model
        from pipeline.models.spec import parse_spec
        from pipeline.stages.firmware import Config, build_one

        trial_dir = Path(task.trial_dir)
        widths = json.loads((trial_dir / "accumulators.json").read_text())["layers"]
        network = integer_network_from_qkeras(load_model(trial_dir / "model.h5"), widths)
        spec = parse_spec(yaml.safe_load((trial_dir / "spec.yaml").read_text()), str(trial_dir / "spec.yaml"))
        features = load_dataset(Path(task.data_dir)).x_test[: task.firmware["max_test_jets"]]
        features = model_inputs(spec, features)  # per-feature input formats (a learned trial's), if any
        config = Config(
            clock_period_ns=task.firmware["clock_period_ns"],
            adder_levels_per_ns=task.firmware["adder_levels_per_ns"],
            hard_dc=task.firmware["hard_dc"],
            synthesize=task.firmware["synthesize"],
            yosys_family=task.firmware["yosys_family"],
            vendor=False,
        )
        with tempfile.TemporaryDirectory() as scratch:
            output = trial_dir / "firmware"
            output.mkdir(exist_ok=True)
            result = build_one(
                network,
                features,
                output,
                Path(scratch) / "point",
                config,
                Path(scratch) / "none",
                input_formats(spec),
            )
        (trial_dir / "firmware" / "firmware.json").write_text(
            json.dumps(result, indent=2, sort_keys=True) + "\n"
        )
        synthesis = result["synthesis"] or {}
        timing = result.get("timing") or {}
        cycles = float(result["design"]["cycles"])
        critical_path = float(timing.get("critical_path_ns", float("nan")))
        period = task.firmware["clock_period_ns"]
        record.update(
            yosys_luts=float(synthesis["luts"]) if "luts" in synthesis else float("nan"),
            yosys_flip_flops=float(synthesis.get("flip_flops", float("nan"))),
            verilator_jets=float(result["bit_exact"]["samples"]),
            verilator_mismatched_jets=float(result["bit_exact"]["mismatched_samples"]),
            firmware_cycles=cycles,
            sta_critical_path_ns=critical_path,
            sta_max_clock_mhz=float(timing.get("max_clock_mhz", float("nan"))),
            sta_lut_levels=float(timing.get("lut_levels", float("nan"))),
            sta_meets_clock=float(bool(timing.get("meets_clock", False))) if timing else float("nan"),
            latency_ns_sta=cycles * max(period, critical_path) if timing else float("nan"),
            firmware_error="",
        )
    except Exception as error:
        record["firmware_error"] = traceback.format_exception_only(type(error), error)[-1].strip()[:2000]
    record["firmware_seconds"] = round(time.perf_counter() - started, 3)
    return record
