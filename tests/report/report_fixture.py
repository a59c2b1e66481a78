"""A tiny hand-made run directory with real (small, briefly trained) QKeras models, for the report tests.

Stages present: data (synthetic jets), train (a float and a 6-bit model, real metrics.json from
pipeline.measure), constrain (the quantized model + accumulators.json), convert (bit_exact.json),
firmware (firmware.json + report.json). prune and export are absent on purpose: the report must list
them as missing. The JSON records of convert/firmware are hand-written test inputs.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

MODELS = ("tiny_float", "tiny_q6")
SEED = 7
N_JETS = {"train": 1500, "val": 300, "test": 400}
ACCUMULATOR_BITS = {"dense_1": 26, "dense_2": 22}
"""Accumulator widths of the quantized model's constrained layers (dense_3 unconstrained: full width)."""

FIRMWARE_ROW = {
    "cycles": 4,
    "latency_ns": 20.0,
    "luts": 1234,
    "flip_flops": 210,
    "dsps": 0,
    "mismatched_jets": 0,
    "sources": {"luts": "yosys synth_xilinx stat"},
}
"""The firmware stage's per-model row (hand-written test input in the layout of pipeline.rtl.report)."""


def _spec(name: str) -> dict:
    layers = [
        {"units": 12, "activation": "relu"},
        {"units": 8, "activation": "relu"},
        {"units": 5, "activation": "linear"},
    ]
    spec = {"name": name, "layers": layers, "training": {"epochs": 3, "batch_size": 128}}
    if name != "tiny_float":
        spec |= {
            "input_quantizer": {"bits": 16, "integer_bits": 6},
            "defaults": {
                "weight": {"bits": 6, "integer_bits": 0},
                "bias": {"bits": 6, "integer_bits": 0},
                "activation": {"bits": 6, "integer_bits": 0},
            },
        }
    return spec


def synthetic_splits():
    """Raw jets: class-dependent means, feature scales from 0.01 to 100 (standardisation matters)."""
    from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits

    rng = np.random.default_rng(SEED)
    scales = np.logspace(-2, 2, len(FEATURE_NAMES))
    centres = rng.normal(0.0, 1.0, (len(CLASS_NAMES), len(FEATURE_NAMES)))
    features, labels = {}, {}
    for split, n in N_JETS.items():
        y = rng.integers(0, len(CLASS_NAMES), n)
        x = (centres[y] + rng.normal(0.0, 1.2, (n, len(FEATURE_NAMES)))) * scales + 3 * scales
        features[split], labels[split] = x.astype(np.float32), y.astype(np.int64)
    return RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES)


def _manifest(stage_dir: Path, stage: str, wall_time: float) -> None:
    from pipeline.manifest import hash_tree

    record = {
        "stage": stage,
        "key": f"test-{stage}",
        "status": "done",
        "wall_time_seconds": wall_time,
        "finished_at": "2026-11-23T01:00:00Z",
        "packages": {"trigger-pipeline": "0.1.0", "numpy": np.__version__},
        "outputs": hash_tree(stage_dir),
        "summary": {},
    }
    (stage_dir / "manifest.json").write_text(json.dumps(record))


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def make_stages(run_dir: Path) -> None:
    """Write the data, train, constrain, convert and firmware stage directories into ``run_dir``."""
    import tensorflow as tf
    import yaml

    from pipeline.data.io import load_dataset, write_dataset
    from pipeline.measure import measure_model, save_metrics, save_skipped
    from pipeline.models.build import build_model
    from pipeline.models.io import save_model
    from pipeline.models.spec import parse_spec

    write_dataset(run_dir / "data", synthetic_splits())
    _manifest(run_dir / "data", "data", 1.5)
    dataset = load_dataset(run_dir / "data")
    for name in MODELS:
        spec = parse_spec(_spec(name), name, expected_name=name)
        model = build_model(spec, SEED)
        model.compile(
            optimizer=tf.keras.optimizers.Adam(0.01),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(dataset.x_train, dataset.y_train, epochs=3, batch_size=128, verbose=0)
        train_dir = run_dir / "train" / name
        save_model(model, train_dir / "model.h5")
        (train_dir / "spec.yaml").write_text(yaml.safe_dump(_spec(name)))
        save_metrics(measure_model(model, dataset, spec, stage="train"), train_dir / "metrics.json")
        constrain_dir = run_dir / "constrain" / name
        if spec.quantized:
            save_model(model, constrain_dir / "model.h5")
            save_metrics(
                measure_model(model, dataset, spec, stage="constrain"), constrain_dir / "metrics.json"
            )
            layers = [
                {"name": k, "target_bits": v, "method": "a2q_plus"} for k, v in ACCUMULATOR_BITS.items()
            ]
            layers.append({"name": "dense_3", "target_bits": None, "method": None})
            accumulators = {"model": name, "constrained": True, "layers": layers}
            _write_json(constrain_dir / "accumulators.json", accumulators)
            convert_metrics = {"csim_mismatches": 0, "accumulator_types": {"dense_1": "ap_fixed<26,6>"}}
            _write_json(run_dir / "convert" / name / "metrics.json", convert_metrics)
            _write_json(run_dir / "convert" / name / "bit_exact.json", {"jets": 400, "mismatches": 0})
            record = {"design": {"cycles": 4}, "synthesis": {"luts": 1234, "flip_flops": 210}}
            _write_json(run_dir / "firmware" / name / "firmware.json", record)
            _write_json(run_dir / "firmware" / name / "metrics.json", FIRMWARE_ROW)
        else:
            for stage in ("constrain", "convert", "firmware"):
                save_skipped(run_dir / stage / name / "metrics.json", "float model: no fixed-point form")
    firmware_report = {"models": {"tiny_q6": FIRMWARE_ROW}, "skipped": {"tiny_float": "float model"}}
    _write_json(run_dir / "firmware" / "report.json", firmware_report)
    for stage, wall_time in (("train", 12.0), ("constrain", 3.0), ("convert", 40.0), ("firmware", 95.0)):
        _manifest(run_dir / stage, stage, wall_time)


def stage_inputs(run_dir: Path, output_dir: Path):
    """StageInputs of the report stage for ``run_dir`` (upstream = every earlier stage's path)."""
    from pipeline.stage_api import StageInputs
    from pipeline.stages import report

    return StageInputs(
        output_dir=output_dir,
        upstream={stage: run_dir / stage for stage in report.REQUIRES},
        models=MODELS,
        model_specs={name: run_dir / "train" / name / "spec.yaml" for name in MODELS},
        repo_root=Path("/work/main"),
        seed=SEED,
        quiet=True,
    )


@functools.cache
def finished_run() -> Path:
    """A run directory with the stages above and the report stage run into ``<run>/report`` (built once
    per test session, removed at exit)."""
    from pipeline.stages import report

    run_dir = Path(tempfile.mkdtemp(prefix="report-run-"))
    atexit.register(shutil.rmtree, run_dir, ignore_errors=True)
    make_stages(run_dir)
    report.run(stage_inputs(run_dir, run_dir / "report"), report.Config())
    return run_dir
