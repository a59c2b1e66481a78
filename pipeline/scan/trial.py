"""One scan trial, run on a Dask worker: train -> prune -> constrain -> integer accuracy -> da4ml cost.

The trial calls the stage code's own functions (no copy of it): :func:`pipeline.models.build.build_model`
and :func:`pipeline.models.training.fit` (train stage), :func:`pipeline.models.pruning.prune_model`
(prune stage, QAP: Hawks et al. 2021), :func:`pipeline.a2q.layers.to_accumulator_aware` / ``strip`` and
:func:`pipeline.a2q.report.layer_widths` (constrain stage, A2Q / A2Q+: Colbert et al. 2023 / 2024),
:func:`pipeline.deploy.emulator.emulate` (deployed integer accuracy) and
:func:`pipeline.rtl.trace.trace_network` (da4ml: Sun et al. 2025, LUT estimate ``comb.cost`` and the
pipeline stages at the clock's adder-level cutoff, i.e. the latency in cycles).

A trial never raises: a failure is returned as a row with ``status: failed`` and the error. The
trained model is written to ``trial_dir`` (via a temporary directory renamed into place) for the
firmware flow of front points.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs for one trial (picklable; paths on the shared filesystem)."""

    key: str
    number: int
    point: dict[str, Any]
    spec: dict[str, Any]
    data_dir: str
    trial_dir: str
    settings: dict[str, Any]
    firmware: dict[str, Any]
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)


def worker_name() -> str:
    """The Dask worker's address, or ``host:pid`` outside a worker."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


@functools.lru_cache(maxsize=2)
def _dataset(data_dir: str, train_jets: int | None, test_jets: int | None):
    """The data stage's splits, the training split cut to ``train_jets`` (cached per worker process)."""
    import dataclasses

    from pipeline.data.io import load_dataset

    dataset = load_dataset(Path(data_dir))
    update = {}
    if train_jets is not None:
        update.update(x_train=dataset.x_train[:train_jets], y_train=dataset.y_train[:train_jets])
    if test_jets is not None:
        update.update(x_test=dataset.x_test[:test_jets], y_test=dataset.y_test[:test_jets])
    return dataclasses.replace(dataset, **update)


def _train_prune_constrain(spec, dataset, settings: dict[str, Any], seed: int, timings: dict[str, float]):
    """The train, prune and constrain stages' per-model work; returns ``(model, spec, accumulator widths)``.

    A learned-precision spec is frozen after training (the returned spec holds the learned widths); as in
    the stages, prune and constrain then fine-tune on the features at the spec's per-feature input
    formats (:func:`pipeline.models.inputs.model_dataset`)."""
    from pipeline.a2q.layers import strip, to_accumulator_aware
    from pipeline.a2q.report import layer_widths
    from pipeline.models.build import build_model
    from pipeline.models.inputs import model_dataset
    from pipeline.models.pruning import prune_model
    from pipeline.models.training import configure_determinism, fit
    from pipeline.stages.constrain import accumulator_targets

    configure_determinism(seed)
    loaded, dataset = dataset, model_dataset(spec, dataset)
    learning_rate = settings["learning_rate"] or spec.training.learning_rate
    start = time.perf_counter()
    model = build_model(spec, seed)
    fit(
        model,
        dataset,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        learning_rate=learning_rate,
        patience=settings["patience"],
        seed=seed,
    )
    if spec.learned_precision:  # as the train stage: freeze the learned widths into plain QKeras
        from pipeline.models.learned import freeze

        model, spec = freeze(model, spec)
        dataset = model_dataset(spec, loaded)  # its learned per-feature input formats
    timings["train_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    if spec.pruning is not None:
        model, _ = prune_model(
            model,
            spec,
            dataset,
            seed=seed,
            batch_size=settings["batch_size"],
            epochs=settings["prune_epochs"],
        )
    timings["prune_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    targets = accumulator_targets(spec)
    widths: dict[str, int] = {}
    if targets:
        constrained = to_accumulator_aware(model, targets)
        fit(
            constrained,
            dataset,
            epochs=settings["constrain_epochs"],
            batch_size=settings["batch_size"],
            learning_rate=learning_rate,
            patience=None,
            seed=seed,
        )
        model = strip(constrained)
        for record in layer_widths(model, targets):
            if record["check"] is not None:
                if not record["check"]["fits"]:
                    raise RuntimeError(f"accumulator check failed for {record['name']}")
                widths[record["name"]] = int(record["target_bits"])
    timings["constrain_seconds"] = time.perf_counter() - start
    return model, spec, widths


def estimate(network, firmware: dict[str, Any], input_formats=None) -> dict[str, Any]:
    """da4ml's LUT estimate, adder depth and pipeline stages (latency cycles) of ``network``
    (``input_formats``: per-feature input formats, :func:`pipeline.models.inputs.input_formats`)."""
    from da4ml.trace import to_pipeline

    from pipeline.rtl.trace import latency_cutoff_for_clock, trace_network

    cutoff = latency_cutoff_for_clock(firmware["clock_period_ns"], firmware["adder_levels_per_ns"])
    traced = trace_network(network, cutoff, {"hard_dc": firmware["hard_dc"]}, input_formats)
    latency = traced.comb.latency
    depth = float(max(latency)) if isinstance(latency, tuple) else float(latency)
    cycles = len(to_pipeline(traced.comb, cutoff, verbose=False).solutions)
    return {
        "luts": float(traced.comb.cost),
        "adder_depth": depth,
        "latency_cycles": int(cycles),
        "latency_ns": float(cycles * firmware["clock_period_ns"]),
    }


def _save(model, spec_dict: dict[str, Any], widths: dict[str, int], trial_dir: Path) -> None:
    import yaml

    from pipeline.models.io import save_model

    staging = trial_dir.with_name(f".{trial_dir.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_model(model, staging / "model.h5")
    (staging / "spec.yaml").write_text(yaml.safe_dump(spec_dict, sort_keys=False))
    (staging / "accumulators.json").write_text(
        json.dumps({"layers": widths}, indent=2, sort_keys=True) + "\n"
    )
    shutil.rmtree(trial_dir, ignore_errors=True)
    os.replace(staging, trial_dir)


def run_trial(task: TrialTask) -> dict[str, Any]:
    """Run one trial; return its table row (metrics, timings, worker, status, error)."""
    started, cpu_started = time.time(), time.process_time()
    timings: dict[str, float] = {}
    row: dict[str, Any] = {
        "key": task.key,
        "number": task.number,
        "worker": worker_name(),
        "started_at": started,
    }
    try:
        from pipeline.deploy.emulator import emulate
        from pipeline.deploy.from_qkeras import integer_network_from_qkeras
        from pipeline.models.inputs import input_formats, model_inputs
        from pipeline.models.spec import parse_spec

        spec = parse_spec(task.spec, f"scan trial {task.number}")
        settings = task.settings
        dataset = _dataset(task.data_dir, settings["train_jets"], settings["test_jets"])
        # a learned-precision spec comes back frozen: the trial directory keeps the learned widths
        model, spec, widths = _train_prune_constrain(spec, dataset, settings, task.seed, timings)
        start = time.perf_counter()
        network = integer_network_from_qkeras(model, widths)
        logits = emulate(network, model_inputs(spec, dataset.x_test)).logits_raw  # per-feature inputs
        accuracy = float(np.mean(np.argmax(logits, axis=1) == dataset.y_test))
        if len(np.unique(logits, axis=0)) == 1:  # da4ml cannot trace a network without a variable
            raise RuntimeError(
                f"degenerate network: every test jet gives the same logits (accuracy {100 * accuracy:.1f} %):"
                " the learned widths and pruning left no path from the inputs (e.g. a higher"
                " precision.input_min_bits or a smaller learned_beta keeps one)"
            )
        timings["evaluate_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        figures = estimate(network, task.firmware, input_formats(spec))
        timings["estimate_seconds"] = time.perf_counter() - start
        frozen = spec.model_dump(mode="json", exclude_unset=True)
        _save(model, frozen if task.spec.get("precision") else task.spec, widths, Path(task.trial_dir))
        row.update(figures, accuracy=accuracy, status="done", error="")
    except Exception as error:
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        row.update(status="failed", error=last[:2000])
    row.update({name: round(value, 3) for name, value in timings.items()})
    row["total_seconds"] = round(time.time() - started, 3)
    # CPU time of the worker process (all its threads): the trial's cost on a shared machine
    row["cpu_seconds"] = round(time.process_time() - cpu_started, 3)
    return row
