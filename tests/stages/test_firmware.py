"""The firmware stage on hand-made upstream directories: a tiny quantized 16-3-2 QKeras model with a
narrow accumulator (both architectures simulated bit-exactly, synthesized and timed) and a float model
(skipped); concurrent jobs give the same artifacts as one job at a time, and a rerun reuses the
cached tool outputs."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits, write_dataset
from pipeline.stage_api import StageInputs
from pipeline.stages import firmware

pytestmark = pytest.mark.slow  # traces, verilates and synthesizes a tiny model

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))
N_TEST = 400


def _model(quantized: bool, seed: int = 0):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inputs = tf.keras.Input((16,), name="input")
    if quantized:
        q = {
            "kernel_quantizer": quantized_bits(6, 0, alpha=1),
            "bias_quantizer": quantized_bits(6, 0, alpha=1),
        }
        x = QActivation(quantized_bits(6, 2, alpha=1), name="input_quant")(inputs)
        x = QDense(3, name="dense_1", **q)(x)
        x = QActivation(quantized_relu(5, 2), name="relu_1")(x)
        x = QDense(2, name="output", **q)(x)
    else:
        x = tf.keras.layers.Dense(3, activation="relu", name="dense_1")(inputs)
        x = tf.keras.layers.Dense(2, name="output")(x)
    model = tf.keras.Model(inputs, x)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.5, kernel.shape), rng.normal(0, 0.3, bias.shape)])
    return model


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory):
    from pipeline.models.io import save_model

    root = tmp_path_factory.mktemp("firmware")
    rng = np.random.default_rng(3)
    sizes = {"train": 50, "val": 20, "test": N_TEST}
    features = {split: rng.normal(0, 1.5, (n, 16)).astype(np.float32) for split, n in sizes.items()}
    labels = {split: rng.integers(0, 5, n) for split, n in sizes.items()}
    write_dataset(root / "data", RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES))
    save_model(_model(True), root / "constrain" / "tiny_q" / "model.h5")
    # f_x + f_w = 3 + 5: a 10-bit accumulator holds +-2 and wraps on these inputs
    accumulators = {"constrained": True, "layers": {"dense_1": {"target_bits": 10}}}
    (root / "constrain" / "tiny_q" / "accumulators.json").write_text(json.dumps(accumulators))
    save_model(_model(False), root / "constrain" / "tiny_float" / "model.h5")
    (root / "convert").mkdir()
    outputs = _run_stage(root, "firmware_staging", workers=2, cache=True)
    return root, root / "firmware_staging", outputs


CONFIG = {"clock_period_ns": 3.0, "architectures": ("unrolled", "folded"), "reuse_factor": 4}


def _run_stage(root: Path, name: str, **options):
    out = root / name
    out.mkdir()
    inputs = StageInputs(
        output_dir=out,
        upstream={"data": root / "data", "convert": root / "convert", "constrain": root / "constrain"},
        models=("tiny_q", "tiny_float"),
        model_specs={},
        repo_root=Path("/work/main"),
        seed=0,
        quiet=True,
    )
    return firmware.run(inputs, firmware.Config(**CONFIG, **options))


def test_quantized_model_is_bit_exact_and_synthesized(stage_run):
    root, out, outputs = stage_run
    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.models.io import load_model

    record = json.loads((out / "tiny_q" / "firmware.json").read_text())
    assert record["bit_exact"] == {
        "samples": N_TEST,
        "mismatched_samples": 0,
        "mismatched_values": 0,
        "bit_exact": True,
    }
    network = integer_network_from_qkeras(
        load_model(root / "constrain" / "tiny_q" / "model.h5"), {"dense_1": 10}
    )
    from pipeline.data.io import load_dataset

    assert emulate(network, load_dataset(root / "data").x_test).accumulator_overflows["dense_1"] > 0
    design = record["design"]
    period = max(3.0, record["timing"]["critical_path_ns"])  # latency at the clock the design meets
    assert design["latency_ns"] == pytest.approx(design["cycles"] * period) and design["cycles"] >= 1
    assert record["synthesis"]["luts"] > 0 and record["synthesis"]["flip_flops"] > 0
    assert record["vendor"]["status"]
    assert (out / "tiny_q" / "rtl" / "src" / "network.v").is_file()
    assert (out / "tiny_q" / "rtl" / "synth" / "stat.txt").is_file()
    assert outputs.summary["tiny_q"]["luts"] == record["synthesis"]["luts"]


def test_float_model_is_skipped_and_report_written(stage_run):
    _, out, _ = stage_run
    assert "float" in json.loads((out / "tiny_float" / "metrics.json").read_text())["skipped"]
    report = json.loads((out / "report.json").read_text())
    assert set(report["models"]) == {"tiny_q"} and set(report["skipped"]) == {"tiny_float"}
    row = report["models"]["tiny_q"]
    assert row["sources"]["luts"].startswith("yosys") and row["bit_exact"] is True
    markdown = (out / "report.md").read_text()
    assert "| tiny_q |" in markdown and "tiny_float" in markdown


def test_config_rejects_unknown_keys_and_bad_clock():
    with pytest.raises(ValueError):
        firmware.Config(clock_mhz=200)
    with pytest.raises(ValueError):
        firmware.Config(clock_period_ns=0)


def _artifacts(out: Path) -> dict:
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.suffix in (".json", ".md", ".v", ".txt", ".ys")
    }


def test_folded_architecture_is_bit_exact_synthesized_and_timed(stage_run):
    _, out, _ = stage_run
    record = json.loads((out / "tiny_q" / "firmware.json").read_text())
    folded = record["folded"]
    assert folded["bit_exact"]["bit_exact"] and folded["bit_exact"]["samples"] == N_TEST
    assert folded["design"]["measured_latency_cycles"] == folded["design"]["cycles"]
    assert folded["design"]["layers"][0]["accumulator_bits"] == 10  # accumulators.json's P
    assert folded["synthesis"]["luts"] > 0 and folded["synthesis"]["dsps"] == 0  # -nodsp
    for timing in (record["timing"], folded["timing"]):
        assert timing["critical_path_ns"] > 0 and timing["lut_levels"] >= 1
        assert timing["meets_clock"] == (timing["critical_path_ns"] <= 3.0)
    row = json.loads((out / "report.json").read_text())["models"]["tiny_q"]
    assert set(row["architectures"]) == {"unrolled", "folded"} and row["architecture"] == "unrolled"
    assert "| tiny_q | folded |" in (out / "report.md").read_text()


def test_serial_uncached_run_equals_the_concurrent_one_and_cache_is_reused(stage_run):
    root, out, _ = stage_run
    serial = _run_stage(root, "firmware_serial", workers=1, cache=False)
    assert not serial.summary["tiny_q"]["seconds"]["yosys_cached"]
    assert _artifacts(root / "firmware_serial") == _artifacts(out)
    again = _run_stage(root, "firmware_cached", workers=2, cache=True)
    seconds = again.summary["tiny_q"]["seconds"]
    assert seconds["yosys_cached"] and seconds["folded_yosys_cached"] and seconds["verilator_cached"]
    assert _artifacts(root / "firmware_cached") == _artifacts(out)
    assert (root / ".cache" / "firmware" / "yosys").is_dir()


def test_vendor_policy():
    failed = {"vendor": {"status": "failed: CalledProcessError"}}
    assert firmware._vendor_failure("m", failed, firmware.Config()) is not None
    assert firmware._vendor_failure("m", failed, firmware.Config(vendor="optional")) is None
    assert firmware._vendor_failure("m", {"vendor": {"status": "ok"}}, firmware.Config()) is None
    with pytest.raises(ValueError):
        firmware.Config(vendor="sometimes")
    with pytest.raises(ValueError):
        firmware.Config(architectures=("systolic",))
