"""The ``firmware`` stage: latency and resources of each quantized model without vendor tools.

Per model with a quantized ``constrain/<model>/model.h5`` (float models are skipped with a reason):
the :class:`~pipeline.deploy.integer_network.IntegerNetwork` (accumulator widths from
``accumulators.json``) is traced with da4ml (:mod:`pipeline.rtl.trace`), written as pipelined Verilog
into ``firmware/<model>/rtl/``, simulated with Verilator on the test split and compared bit for bit
with :mod:`pipeline.deploy.emulator` (a mismatch fails the stage), and synthesized with Yosys
(:mod:`pipeline.rtl.yosys`). hls4ml's ``build()`` runs only when vendor tools are on ``PATH``.

Writes ``firmware/<model>/rtl/`` (da4ml project; ``synth/synth.ys`` + ``synth/stat.txt``: rerun with
``yosys synth/synth.ys`` from ``rtl/``), ``firmware.json`` (all figures with their source),
``metrics.json``, and stage-wide ``report.md`` + ``report.json``. Wall times go to the stage summary.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "firmware"
REQUIRES: tuple[str, ...] = ("data", "convert", "constrain")
PER_MODEL = True  # one subdirectory per model, keyed per model (pipeline.stage_api)
PACKAGES: tuple[str, ...] = ("da4ml", "hls4ml", "numpy", "tensorflow-cpu", "qkeras")
DEFAULT_CLOCK_PERIOD_NS = 5.0
DEFAULT_PART = "xcvu13p-flga2577-2-e"


class Config(StrictModel):
    """Config section ``firmware:`` of the pipeline YAML.

    Attributes:
        rtl_models: models given the full RTL flow (``None``: every quantized model).
        clock_period_ns: clock period (``None``: ``ClockPeriod`` of convert's hls4ml project, else 5).
        part: FPGA part for da4ml's scripts and the vendor flow (``None``: the hls4ml project's).
        yosys_family: ``synth_xilinx -family`` (``xcup`` for UltraScale+ parts).
        adder_levels_per_ns: da4ml adder levels per ns; pipeline cutoff = clock period x this.
        hard_dc: da4ml CMVM delay constraint (extra adder levels allowed; hls4ml uses 2).
        max_test_jets: simulate only the first N test jets (``None``: the whole test split).
        synthesize: run Yosys.
        vendor: run hls4ml ``build()`` when vendor tools are on PATH.
    """

    rtl_models: tuple[str, ...] | None = None
    clock_period_ns: float | None = Field(default=None, gt=0)
    part: str | None = None
    yosys_family: str = "xcup"
    adder_levels_per_ns: float = Field(default=1.0, gt=0)
    hard_dc: int = Field(default=2, ge=-1)
    max_test_jets: int | None = Field(default=None, ge=1)
    synthesize: bool = True
    vendor: bool = True


def _hls_project_settings(project_dir: Path) -> dict[str, Any]:
    """``ClockPeriod`` and ``Part`` of an hls4ml project's ``hls4ml_config.yml`` (empty if absent)."""
    import yaml

    path = project_dir / "hls4ml_config.yml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return {key: data[key] for key in ("ClockPeriod", "Part") if key in data}


def _skip_reason(
    name: str, convert_dir: Path, config: Config, constrain_dir: Path | None = None
) -> str | None:
    """Why ``name`` gets no RTL flow (``None``: it gets one). ``convert_dir`` is ``convert/<model>/``;
    ``constrain_dir`` (``constrain/<model>/``) is only looked at when convert stored no network."""
    from pipeline.deploy.integer_network import NETWORK_FILE
    from pipeline.deploy.stage_io import read_metrics_skip

    if config.rtl_models is not None and name not in config.rtl_models:
        return "not selected for the RTL flow (firmware.rtl_models)"
    if (convert_dir / NETWORK_FILE).is_file():
        return None
    skipped = read_metrics_skip(convert_dir)
    if skipped:
        return f"convert skipped it: {skipped}"
    if constrain_dir is not None and (constrain_dir / "model.h5").is_file():
        return None
    return f"no convert/{name}/{NETWORK_FILE} (the network the C-simulation matched)"


def load_network(name: str, convert_dir: Path, constrain_dir: Path | None = None):
    """``(IntegerNetwork, None)`` or ``(None, skip reason)``.

    The network is ``convert/<model>/network.json``: the integer network export wrote and convert
    matched against the C-simulation, for our models and bring-your-own ones alike. Without it
    (upstream directories made by hand), the QKeras model ``constrain/<model>/model.h5`` is read with
    its ``accumulators.json``.
    """
    from pipeline.deploy.integer_network import NETWORK_FILE
    from pipeline.deploy.integer_network import load_network as load_saved_network

    if (convert_dir / NETWORK_FILE).is_file():
        try:
            return load_saved_network(convert_dir / NETWORK_FILE), None
        except (OSError, ValueError, KeyError) as error:
            raise PipelineError(
                NAME,
                f"cannot read the integer network of {name}: {error}",
                input=str(convert_dir / NETWORK_FILE),
                fix="rerun the convert stage",
            ) from error
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.stage_io import ACCUMULATORS_FILE, is_float_model, parse_accumulator_bits, read_json
    from pipeline.models.io import load_model

    if constrain_dir is None:
        return None, f"no convert/{name}/{NETWORK_FILE}"
    model = load_model(constrain_dir / "model.h5")
    if is_float_model(model):
        return None, "float model: no fixed-point network to build"
    plain = integer_network_from_qkeras(model)
    accumulators_path = constrain_dir / ACCUMULATORS_FILE
    accumulators = read_json(accumulators_path, NAME) if accumulators_path.is_file() else {}
    widths = parse_accumulator_bits(accumulators, {layer.name for layer in plain.layers})
    return integer_network_from_qkeras(model, widths), None


def build_one(network, features, model_dir: Path, scratch: Path, config: Config, project_dir: Path) -> dict:
    """Trace, write, simulate, synthesize one network; returns its ``firmware.json`` record."""
    from pipeline.rtl.design import check_bit_exact, compile_design, write_design
    from pipeline.rtl.trace import latency_cutoff_for_clock, trace_network
    from pipeline.rtl.vendor import run_vendor_flow
    from pipeline.rtl.yosys import synthesize

    settings = _hls_project_settings(project_dir)
    clock = config.clock_period_ns or float(settings.get("ClockPeriod", DEFAULT_CLOCK_PERIOD_NS))
    part = config.part or str(settings.get("Part", DEFAULT_PART))
    cutoff = latency_cutoff_for_clock(clock, config.adder_levels_per_ns)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    traced = trace_network(network, cutoff, {"hard_dc": config.hard_dc})
    design = write_design(traced, model_dir / "rtl", clock, part)
    timings["trace_and_write_seconds"] = time.perf_counter() - start
    runtime_dir = scratch.parent / "verilator_runtime"  # shared by the models of one run
    simulator = compile_design(design, scratch / "verilator", runtime_dir=runtime_dir)
    timings["verilator_compile_seconds"] = simulator.compile_seconds
    start = time.perf_counter()
    bit_exact = check_bit_exact(simulator, network, features)
    timings["simulation_seconds"] = time.perf_counter() - start
    synthesis = None
    if config.synthesize:
        result = synthesize(design.rtl_dir, design.top, scratch / "yosys", config.yosys_family)
        (model_dir / "rtl" / "synth").mkdir(exist_ok=True)
        for name in ("synth.ys", "stat.txt"):
            shutil.copy(scratch / "yosys" / name, model_dir / "rtl" / "synth" / name)
        synthesis = result.to_dict()
        timings["yosys_seconds"] = result.seconds
    vendor = run_vendor_flow(project_dir, scratch / "vendor") if config.vendor else {"status": "disabled"}
    return {
        "part": part,
        "design": design.summary(),
        "bit_exact": bit_exact.to_dict(),
        "synthesis": synthesis,
        "vendor": vendor,
        "timings_seconds": {key: round(value, 1) for key, value in timings.items()},  # not in firmware.json
    }


def _da_kernel_cost(convert_model_dir: Path) -> Any:
    """hls4ml's ``da_kernel_cost`` if the convert stage recorded it (DA strategy), else ``None``."""
    from pipeline.deploy.stage_io import read_json

    path = convert_model_dir / "metrics.json"
    if not path.is_file():
        return None
    return read_json(path, NAME).get("da_kernel_cost")


def _with_carried_over(inputs: StageInputs, rows: dict, skipped: dict) -> tuple[dict, dict]:
    """Add the models the runner carried over unchanged (``stage_api`` PER_MODEL) to the report's
    rows and skip reasons, all in config order."""
    from pipeline.deploy.stage_io import read_json
    from pipeline.rtl.report import report_row

    for name in inputs.carried_over:
        record_path = inputs.output_dir / name / "firmware.json"
        if record_path.is_file():
            rows[name] = report_row(read_json(record_path, NAME))
        else:
            skipped[name] = read_json(inputs.output_dir / name / "metrics.json", NAME).get("skipped", "")
    order = {name: index for index, name in enumerate(inputs.model_specs)}

    def in_order(items: dict) -> dict:
        return dict(sorted(items.items(), key=lambda item: order.get(item[0], len(order))))

    return in_order(rows), in_order(skipped)


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Build, simulate and synthesize every quantized model; write the firmware report."""
    import os

    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
    from pipeline.data.io import load_dataset
    from pipeline.deploy.stage_io import write_json
    from pipeline.rtl.report import render_markdown, report_row

    features = load_dataset(inputs.upstream["data"]).x_test
    if config.max_test_jets is not None:
        features = features[: config.max_test_jets]
    rows: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    failures = []
    timings: dict[str, dict] = {}
    from pipeline.deploy.stage_io import deployed_model_names

    models = deployed_model_names(inputs.models, Path(inputs.upstream["convert"]))  # + bring-your-own
    with tempfile.TemporaryDirectory() as scratch_root, inputs.progress(NAME, len(models)) as bar:
        for name in models:
            model_dir = inputs.output_dir / name
            model_dir.mkdir(parents=True, exist_ok=True)
            constrain_dir = Path(inputs.upstream["constrain"]) / name
            convert_dir = Path(inputs.upstream["convert"]) / name
            reason = _skip_reason(name, convert_dir, config, constrain_dir)
            network = None
            if reason is None:
                network, reason = load_network(name, convert_dir, constrain_dir)
            if reason is not None:
                skipped[name] = reason
                write_json(model_dir / "metrics.json", {"skipped": reason})
                bar.advance()
                continue
            scratch = Path(scratch_root) / name
            record = build_one(network, features, model_dir, scratch, config, convert_dir / "hls4ml_prj")
            record["hls4ml_da_kernel_cost"] = _da_kernel_cost(convert_dir)
            timings[name] = record.pop("timings_seconds")  # wall times vary: kept out of the artifacts
            write_json(model_dir / "firmware.json", record)
            rows[name] = report_row(record)
            write_json(model_dir / "metrics.json", {key: value for key, value in rows[name].items()})
            if not record["bit_exact"]["bit_exact"]:
                failures.append(f"{name}: {record['bit_exact']['mismatched_samples']} jets differ")
            bar.advance()
    rows, skipped = _with_carried_over(inputs, rows, skipped)
    write_json(inputs.output_dir / "report.json", {"models": rows, "skipped": skipped})
    (inputs.output_dir / "report.md").write_text(render_markdown(rows, skipped))
    if failures:
        raise PipelineError(
            NAME,
            "the RTL simulation differs from the integer emulator (" + "; ".join(failures) + ")",
            input=str(inputs.output_dir / "report.json"),
            fix="report it: the da4ml trace no longer matches the emulator's ap_fixed semantics",
        )
    summary = {
        name: {"luts": row["luts"], "cycles": row["cycles"], "seconds": timings[name]}
        for name, row in rows.items()
        if name in timings
    }
    return StageOutputs(summary=summary)
