"""The ``firmware`` stage: latency, timing and resources of each quantized model without vendor tools.

Per model with a quantized ``constrain/<model>/model.h5`` (float models are skipped with a reason),
for each architecture in ``firmware.architectures``:

* ``unrolled``: the :class:`~pipeline.deploy.integer_network.IntegerNetwork` (accumulator widths from
  ``accumulators.json``) is traced with da4ml (:mod:`pipeline.rtl.trace`) and written as pipelined
  Verilog into ``firmware/<model>/rtl/``;
* ``folded``: the folded architecture with declared P-bit accumulators and reuse factor
  ``reuse_factor`` (:mod:`pipeline.rtl.folded`) into ``firmware/<model>/rtl_folded/``;

(a spec with per-feature input formats: features at those formats, da4ml told each input's format)
then simulated with Verilator on the test split and compared bit for bit with
:mod:`pipeline.deploy.emulator` (a mismatch fails the stage), synthesized with Yosys
(:mod:`pipeline.rtl.yosys`), and timed from the netlist (:mod:`pipeline.rtl.timing`: critical path,
maximum clock, a flag when the requested clock is not met). hls4ml's ``build()`` runs only when
vendor tools are on ``PATH``; its failure fails the stage unless ``vendor: optional``.

Speed: tracing runs in this process, model after model; every tool job (Yosys, Verilator + g++,
simulation, vendor build) is a chain of subprocesses submitted to a thread pool of ``workers``
threads (default: the cores this process may use), so the jobs of different models and
architectures run concurrently while the next model is traced. Tool outputs are reused from
``<run-dir>/.cache/firmware/`` (:mod:`pipeline.rtl.cache`, keyed by the tool version, the flags and the
Verilog bytes); the bit-exact simulation always reruns.

Writes ``firmware/<model>/rtl*/`` (``synth/synth.ys`` + ``stat.txt`` + ``netlist_timing.json``, and
``sta.txt`` for a family without a netlist delay table: rerun with ``yosys synth/synth.ys`` from the RTL
directory), ``firmware.json`` (all figures with their source),
``metrics.json``, and stage-wide ``report.md`` + ``report.json``. Wall times go to the stage summary.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "firmware"
REQUIRES: tuple[str, ...] = ("data", "convert", "constrain")
PER_MODEL = True  # one subdirectory per model, keyed per model (pipeline.stage_api)
PACKAGES: tuple[str, ...] = ("da4ml", "hls4ml", "numpy", "tensorflow-cpu", "qkeras")
DEFAULT_CLOCK_PERIOD_NS = 5.0
DEFAULT_PART = "xcvu13p-flga2577-2-e"
UNROLLED_SYNTH_OPTIONS: tuple[str, ...] = ("-nodsp", "-nosrl")
"""da4ml's unrolled designs are constant shift-and-add logic: ``-nodsp`` keeps any multiplier Yosys might
infer in LUTs (the LUT figure is the cost), ``-nosrl`` skips the shift-register mapping, which found no
shift register in any design synthesized here (0 SRL LUTs in every default-run design). On the
16-64-32-32-5 6-bit MLP both give the same cell counts as no flags at 2/3 of the Yosys CPU time (with
Yosys ``sta`` no longer run where the family has a netlist delay table: 143 vs 210 CPU-s, measured here;
``tests/rtl/test_yosys.py`` checks the counts on a small design). ABC is sensitive to the netlist's
order: on two default-run designs the LUT total is the same but one LUT moved between sizes
(``benchmarks/results/default_run_vs_baseline.json``)."""
FOLDED_SYNTH_OPTIONS: tuple[str, ...] = ("-nodsp", "-nowidelut")
"""Folded designs keep multipliers and accumulators in LUTs (FINN's LUT-based MVAU, the A2Q setting);
``-nowidelut``: ABC maps to LUT6 only (with MUXF7-9 "wide LUTs" it mapped small multipliers larger)."""


class Config(StrictModel):
    """Config section ``firmware:`` of the pipeline YAML.

    Attributes:
        rtl_models: models given the full RTL flow (``None``: every quantized model).
        architectures: ``unrolled`` (da4ml, reuse factor 1) and/or ``folded`` (declared P-bit
            accumulators, :mod:`pipeline.rtl.folded`); the first one gives the headline figures.
        reuse_factor: cycles per layer of the folded architecture (``min(R, fan-in)``).
        folded_accumulators: ``network`` (A2Q widths from ``accumulators.json``, hls4ml's automatic
            width elsewhere), ``hls4ml_auto`` or a width in bits for every layer.
        clock_period_ns: clock period (``None``: ``ClockPeriod`` of convert's hls4ml project, else 5).
        part: FPGA part for da4ml's scripts and the vendor flow (``None``: the hls4ml project's).
        yosys_family: ``synth_xilinx -family`` (``xcup`` for UltraScale+ parts); also picks the
            delay table of :mod:`pipeline.rtl.netlist_timing` (UltraScale+ -2; other families fall back
            to Yosys ``sta`` with :mod:`pipeline.rtl.timing`'s route share).
        adder_levels_per_ns: da4ml adder levels per ns; pipeline cutoff = clock period x this. The
            default 0.6 (3 levels per 5 ns stage) is where :mod:`pipeline.rtl.netlist_timing` gives
            <= 5 ns per stage (``benchmarks/results/timing_depth.json``; da4ml's own 1.0 gave ~160 MHz).
        hard_dc: da4ml CMVM delay constraint (extra adder levels allowed; hls4ml uses 2).
        max_test_jets: simulate only the first N test jets (``None``: the whole test split).
        synthesize: run Yosys.
        vendor: run hls4ml ``build()`` when vendor tools are on PATH (a failure fails the stage);
            ``optional``: run it but only record a failure; ``false``: never.
        workers: concurrent tool jobs (``None``: the cores this process may use).
        cache: reuse Yosys and Verilator outputs from ``<run-dir>/.cache/firmware``.
    """

    rtl_models: tuple[str, ...] | None = None
    architectures: tuple[Literal["unrolled", "folded"], ...] = Field(default=("unrolled",), min_length=1)
    reuse_factor: int = Field(default=16, ge=1)
    folded_accumulators: Literal["network", "hls4ml_auto"] | int = "network"
    clock_period_ns: float | None = Field(default=None, gt=0)
    part: str | None = None
    yosys_family: str = "xcup"
    adder_levels_per_ns: float = Field(default=0.6, gt=0)
    hard_dc: int = Field(default=2, ge=-1)
    max_test_jets: int | None = Field(default=None, ge=1)
    synthesize: bool = True
    vendor: bool | Literal["optional"] = True
    workers: int | None = Field(default=None, ge=1)
    cache: bool = True


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


def _settings(config: Config, project_dir: Path) -> tuple[float, str]:
    settings = _hls_project_settings(project_dir)
    clock = config.clock_period_ns or float(settings.get("ClockPeriod", DEFAULT_CLOCK_PERIOD_NS))
    return clock, config.part or str(settings.get("Part", DEFAULT_PART))


def submit_model(
    pool: ThreadPoolExecutor,
    network,
    features,
    model_dir: Path,
    scratch: Path,
    config: Config,
    project_dir: Path,
    cache,
    input_formats=None,
) -> dict[str, Any]:
    """Write every selected architecture of one network (in this thread) and submit its tool jobs.

    ``input_formats``: per-feature input formats (:func:`pipeline.models.inputs.input_formats`; then
    ``features`` must already be at them, :func:`pipeline.models.inputs.model_inputs`): da4ml sizes
    the first layer from them (:func:`pipeline.rtl.trace.trace_network`).
    Returns ``{"part", "clock", "written": {...}, "jobs": {name: Future}}`` for :func:`collect_model`.
    """
    from pipeline.rtl import jobs
    from pipeline.rtl.design import write_design
    from pipeline.rtl.folded import TOP, plan_folded, with_accumulators, write_folded
    from pipeline.rtl.trace import latency_cutoff_for_clock, trace_network
    from pipeline.rtl.vendor import run_vendor_flow

    clock, part = _settings(config, project_dir)
    family = config.yosys_family
    written: dict[str, Any] = {}
    futures: dict[str, Future] = {}
    if "unrolled" in config.architectures:
        start = time.perf_counter()
        cutoff = latency_cutoff_for_clock(clock, config.adder_levels_per_ns)
        traced = trace_network(network, cutoff, {"hard_dc": config.hard_dc}, input_formats)
        design = write_design(traced, model_dir / "rtl", clock, part)
        written["unrolled"] = {"design": design, "seconds": time.perf_counter() - start}
        if config.synthesize:
            futures["unrolled_synthesis"] = pool.submit(
                jobs.synthesize_cached,
                design.rtl_dir,
                design.top,
                scratch / "yosys",
                family,
                UNROLLED_SYNTH_OPTIONS,
                clock,
                cache,
            )
        futures["unrolled_simulation"] = pool.submit(
            jobs.check_unrolled, design, network, features, scratch / "verilator", cache
        )
    if "folded" in config.architectures:
        plan = plan_folded(with_accumulators(network, config.folded_accumulators), config.reuse_factor)
        rtl_dir = model_dir / "rtl_folded"
        write_folded(plan, rtl_dir)
        written["folded"] = {"plan": plan}
        if config.synthesize:
            futures["folded_synthesis"] = pool.submit(
                jobs.synthesize_cached,
                rtl_dir,
                TOP,
                scratch / "yosys_folded",
                family,
                FOLDED_SYNTH_OPTIONS,
                clock,
                cache,
            )
        futures["folded_simulation"] = pool.submit(
            jobs.check_folded, plan, rtl_dir, features, scratch / "verilator_folded", cache
        )
    if config.vendor:
        futures["vendor"] = pool.submit(run_vendor_flow, project_dir, scratch / "vendor")
    return {"part": part, "clock": clock, "written": written, "jobs": futures}


def _latency_ns(cycles: int, clock: float, timing: dict | None) -> float:
    """Cycles at the requested clock, or at the critical path when the design cannot meet it."""
    period = clock if timing is None else max(clock, timing["critical_path_ns"])
    return round(cycles * period, 3)


def collect_model(submitted: dict[str, Any], config: Config) -> tuple[dict, dict]:
    """Wait for one model's jobs; returns ``(firmware.json record, wall times)``."""
    jobs, written, clock = submitted["jobs"], submitted["written"], submitted["clock"]
    results = {name: future.result() for name, future in jobs.items()}
    record: dict[str, Any] = {"part": submitted["part"], "architectures": list(config.architectures)}
    timings: dict[str, Any] = {}
    if "unrolled" in written:
        design = written["unrolled"]["design"]
        bit_exact, compile_seconds, sim_cached = results["unrolled_simulation"]
        synthesis = results.get("unrolled_synthesis")
        timing = synthesis["timing"] if synthesis else None
        summary = design.summary()
        summary["latency_ns"] = _latency_ns(design.cycles, clock, timing)
        record.update(
            design=summary,
            bit_exact=bit_exact.to_dict(),
            synthesis=synthesis["synthesis"] if synthesis else None,
            timing=timing,
        )
        timings.update(
            trace_and_write_seconds=written["unrolled"]["seconds"],
            verilator_compile_seconds=compile_seconds,
            verilator_cached=sim_cached,
        )
        if synthesis:
            timings.update(yosys_seconds=synthesis["seconds"], yosys_cached=synthesis["cached"])
    if "folded" in written:
        plan = written["folded"]["plan"]
        bit_exact, run, compile_seconds, sim_cached = results["folded_simulation"]
        synthesis = results.get("folded_synthesis")
        timing = synthesis["timing"] if synthesis else None
        design = plan.summary()
        design.update(
            clock_period_ns=clock,
            measured_latency_cycles=run.latency_cycles,
            latency_ns=_latency_ns(plan.latency_cycles, clock, timing),
        )
        record["folded"] = {
            "design": design,
            "bit_exact": bit_exact.to_dict(),
            "synthesis": synthesis["synthesis"] if synthesis else None,
            "synth_options": list(FOLDED_SYNTH_OPTIONS),
            "timing": timing,
        }
        timings.update(folded_verilator_compile_seconds=compile_seconds, folded_verilator_cached=sim_cached)
        if synthesis:
            timings.update(folded_yosys_seconds=synthesis["seconds"], folded_yosys_cached=synthesis["cached"])
    vendor = results.get("vendor", {"status": "disabled"})
    if config.vendor == "optional":
        vendor = {**vendor, "optional": True}
    record["vendor"] = vendor
    return record, {
        key: round(value, 1) if isinstance(value, float) else value for key, value in timings.items()
    }


def build_one(
    network,
    features,
    model_dir: Path,
    scratch: Path,
    config: Config,
    project_dir: Path,
    input_formats=None,
) -> dict[str, Any]:
    """One model's firmware, start to finish (what the scan runs on a front point): the stage's
    :func:`submit_model` + :func:`collect_model` on a private pool, no cache. Returns the
    ``firmware.json`` record."""
    from pipeline.rtl.cache import ToolCache

    with ThreadPoolExecutor(max_workers=config.workers or 1) as pool:
        submitted = submit_model(
            pool, network, features, model_dir, scratch, config, project_dir, ToolCache(None), input_formats
        )
        record, _ = collect_model(submitted, config)
    return record


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


def _failures(name: str, record: dict, config: Config) -> list[str]:
    problems = []
    for label, part in (("unrolled", record), ("folded", record.get("folded") or {})):
        exact = part.get("bit_exact")
        if exact is not None and not exact["bit_exact"]:
            problems.append(f"{name} ({label}): {exact['mismatched_samples']} jets differ")
    return problems


def _vendor_failure(name: str, record: dict, config: Config) -> str | None:
    status = str(record["vendor"].get("status", ""))
    if status.startswith("failed") and config.vendor is True:
        return f"{name}: {status}"
    return None


def cache_for(inputs: StageInputs, config: Config):
    """The stage's :class:`~pipeline.rtl.cache.ToolCache`: ``<run-dir>/.cache/firmware`` (the run
    directory is the parent of the upstream stage directories), or disabled."""
    from pipeline.rtl.cache import ToolCache

    if not config.cache:
        return ToolCache(None)
    return ToolCache(Path(inputs.upstream["convert"]).absolute().parent / ".cache" / "firmware")


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Build, simulate, synthesize and time every quantized model; write the firmware report."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
    from pipeline.data.io import load_dataset
    from pipeline.deploy.stage_io import write_json
    from pipeline.engine import ClusterConfig, local_worker_count
    from pipeline.models.inputs import input_formats, model_inputs
    from pipeline.models.spec import load_spec
    from pipeline.rtl.report import render_markdown, report_row
    from pipeline.stages.train import spec_path

    features = load_dataset(inputs.upstream["data"]).x_test
    if config.max_test_jets is not None:
        features = features[: config.max_test_jets]
    workers = config.workers or local_worker_count(ClusterConfig())
    cache = cache_for(inputs, config)
    rows: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    failures: list[str] = []
    vendor_failures: list[str] = []
    timings: dict[str, dict] = {}
    from pipeline.deploy.stage_io import deployed_model_names

    models = deployed_model_names(inputs.models, Path(inputs.upstream["convert"]))  # + bring-your-own
    submitted: dict[str, dict] = {}
    with (
        tempfile.TemporaryDirectory() as scratch_root,
        ThreadPoolExecutor(max_workers=workers) as pool,
        inputs.progress(NAME, len(models)) as bar,
    ):
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
            project_dir = convert_dir / "hls4ml_prj"
            scratch = Path(scratch_root) / name
            spec = load_spec(spec_path(inputs, name, NAME)) if name in inputs.model_specs else None
            submitted[name] = submit_model(  # per-feature input formats of the spec, if any
                pool,
                network,
                model_inputs(spec, features),
                model_dir,
                scratch,
                config,
                project_dir,
                cache,
                input_formats(spec),
            )
        for name, work in submitted.items():  # config order: deterministic artifacts
            record, timings[name] = collect_model(work, config)
            record["hls4ml_da_kernel_cost"] = _da_kernel_cost(Path(inputs.upstream["convert"]) / name)
            write_json(inputs.output_dir / name / "firmware.json", record)
            rows[name] = report_row(record)
            write_json(inputs.output_dir / name / "metrics.json", dict(rows[name]))
            failures += _failures(name, record, config)
            vendor_problem = _vendor_failure(name, record, config)
            if vendor_problem:
                vendor_failures.append(vendor_problem)
            bar.advance()
    rows, skipped = _with_carried_over(inputs, rows, skipped)
    write_json(inputs.output_dir / "report.json", {"models": rows, "skipped": skipped})  # no wall times
    (inputs.output_dir / "report.md").write_text(render_markdown(rows, skipped))
    if failures:
        raise PipelineError(
            NAME,
            "the RTL simulation differs from the integer emulator (" + "; ".join(failures) + ")",
            input=str(inputs.output_dir / "report.json"),
            fix="report it: the RTL no longer matches the emulator's ap_fixed semantics",
        )
    if vendor_failures:
        raise PipelineError(
            NAME,
            "the vendor flow (hls4ml build) failed (" + "; ".join(vendor_failures) + ")",
            input="firmware.vendor",
            fix="fix the Vitis/Vivado installation, or set firmware.vendor: optional (failure recorded) "
            "or false",
        )
    summary = {
        name: {"luts": row["luts"], "cycles": row["cycles"], "seconds": timings[name]}
        for name, row in rows.items()
        if name in timings
    }
    return StageOutputs(summary=summary)
