"""The constrain stage: A2Q / A2Q+ models from specs, proven overflow-free; others pass through."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, RawSplits, write_dataset
from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs
from pipeline.stages import constrain

REPO = Path(__file__).resolve().parents[2]


def _data_dir(path: Path) -> Path:
    """Five Gaussian blobs in the 16 raw features (a small stand-in for jets)."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(5, 16))
    features, labels = {}, {}
    for split, n in (("train", 800), ("val", 200), ("test", 200)):
        y = rng.integers(0, 5, n)
        features[split] = (3 * (centers[y] + rng.normal(size=(n, 16)))).astype(np.float32)
        labels[split] = y.astype(np.int64)
    write_dataset(path, RawSplits(features, labels, FEATURE_NAMES, CLASS_NAMES))
    return path


def _spec(path: Path, name: str, **defaults) -> Path:
    data = {
        "name": name,
        "input_quantizer": {"bits": 8, "integer_bits": 3},
        "defaults": {
            "weight": {"bits": 6, "integer_bits": 0},
            "bias": {"bits": 6, "integer_bits": 0},
            "activation": {"bits": 6, "integer_bits": 0},
            **defaults,
        },
        "layers": [
            {"units": 16, "accumulator_bits": 14, "accumulator_method": "a2q"} if defaults else {"units": 16},
            {"units": 8},
            {"units": 5, "activation": "linear"},
        ],
        "training": {"epochs": 2, "batch_size": 128, "learning_rate": 0.003, "patience": 2},
    }
    file = path / f"{name}.yaml"
    file.write_text(yaml.safe_dump(data))
    return file


def _prune_dir(path: Path, data_dir: Path, specs: dict[str, Path]) -> Path:
    """A finished prune stage: built models with 60 % of every kernel set to exact zeros."""
    from pipeline.data.io import load_dataset
    from pipeline.measure import measure_model, save_metrics
    from pipeline.models.build import build_model
    from pipeline.models.io import save_model
    from pipeline.models.spec import load_spec

    rng = np.random.default_rng(1)
    dataset = load_dataset(data_dir)
    for name, spec_file in specs.items():
        spec = load_spec(spec_file)
        model = build_model(spec, seed=3)
        for layer in spec.resolved_layers():
            kernel, bias = model.get_layer(layer.dense_name).get_weights()
            kernel = kernel * 2 * (rng.uniform(size=kernel.shape) > 0.6)
            model.get_layer(layer.dense_name).set_weights([kernel, rng.uniform(-0.5, 0.5, bias.shape)])
        save_model(model, path / name / "model.h5")
        save_metrics(
            measure_model(model, dataset, spec, stage="prune", details={"pruned": True}),
            path / name / "metrics.json",
        )
    return path


def _inputs(out: Path, data_dir: Path, prune_dir: Path, specs: dict[str, Path]) -> StageInputs:
    return StageInputs(
        output_dir=out,
        upstream={"data": data_dir, "prune": prune_dir},
        models=tuple(specs),
        model_specs=specs,
        repo_root=REPO,
        seed=5,
        quiet=True,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("constrain")
    data_dir = _data_dir(root / "data")
    specs = {
        "toy_a2q": _spec(root, "toy_a2q", accumulator_bits=12, accumulator_method="a2q_plus"),
        "toy_plain": _spec(root, "toy_plain"),
    }
    prune_dir = _prune_dir(root / "prune", data_dir, specs)
    outputs = constrain.run(_inputs(root / "out", data_dir, prune_dir, specs), constrain.Config(epochs=2))
    return root, prune_dir, outputs


def test_constrained_model_is_proven_overflow_free(finished):
    from pipeline.a2q.check import adversarial_inputs, check_layer
    from pipeline.deploy.emulator import aligned_bias, dense_accumulator, with_accumulator_bits
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.measure import ModelMetrics, load_metrics
    from pipeline.models.io import load_model

    root, prune_dir, outputs = finished
    out = root / "out" / "toy_a2q"
    assert {p.name for p in out.iterdir()} == {
        "model.h5",
        "accumulators.json",
        "metrics.json",
        "history.json",
    }
    report = json.loads((out / "accumulators.json").read_text())
    assert report["constrained"] is True
    targets = {"dense_1": (14, "a2q"), "dense_2": (12, "a2q_plus"), "dense_3": (12, "a2q_plus")}
    assert {r["name"]: (r["target_bits"], r["method"]) for r in report["layers"]} == targets
    assert "no weight is repaired" in report["proof"]
    for record in report["layers"]:
        assert record["zero_centred_channels"] + record["a2q_channels"] == record["fan_out"]
        assert record["check"]["fits"] and record["exact_bits"] <= record["target_bits"]
        assert record["data_type_bits"] > record["target_bits"]  # the constraint is what makes it fit
        assert record["before_constraint"]["exact_bits"] > record["target_bits"]
    metrics = load_metrics(out / "metrics.json")
    assert (
        isinstance(metrics, ModelMetrics) and metrics.stage == "constrain" and metrics.details["constrained"]
    )
    assert outputs.summary["toy_a2q"]["constrained"] is True

    # independent re-check of the saved model: exact bound and adversarial inputs through wrap-around
    model = load_model(out / "model.h5")
    pruned = load_model(prune_dir / "toy_a2q" / "model.h5")
    network = integer_network_from_qkeras(model)
    wrapped = with_accumulator_bits(network, {name: bits for name, (bits, _) in targets.items()})
    fmt = network.input_format
    for layer, wrapped_layer in zip(network.layers, wrapped.layers, strict=True):
        bits = targets[layer.name][0]
        assert check_layer(layer, fmt, bits).fits
        x = adversarial_inputs(layer.weight_raw, fmt)
        exact = x @ layer.weight_raw + aligned_bias(layer, fmt)
        np.testing.assert_array_equal(dense_accumulator(x, wrapped_layer, fmt), exact)
        assert np.all(layer.weight_raw[pruned.get_layer(layer.name).get_weights()[0] == 0] == 0)
        fmt = layer.output


def test_other_models_pass_through(finished):
    from pipeline.measure import load_metrics

    root, prune_dir, outputs = finished
    out = root / "out" / "toy_plain"
    assert (out / "model.h5").read_bytes() == (prune_dir / "toy_plain" / "model.h5").read_bytes()
    report = json.loads((out / "accumulators.json").read_text())
    assert report["constrained"] is False
    assert all(
        r["target_bits"] is None and r["data_type_bits"] >= r["weight_level_bits"] for r in report["layers"]
    )
    assert load_metrics(out / "metrics.json").details["constrained"] is False
    assert outputs.summary["toy_plain"] == {"constrained": False}


def test_accumulator_too_small_for_the_input_is_a_pipeline_error(finished, tmp_path):
    root, prune_dir, _ = finished
    spec = _spec(tmp_path, "toy_a2q", accumulator_bits=6, accumulator_method="a2q_plus")
    with pytest.raises(PipelineError, match="cannot hold even one weight"):
        constrain.run(
            _inputs(tmp_path / "out", root / "data", prune_dir, {"toy_a2q": spec}), constrain.Config(epochs=1)
        )


def test_same_seed_same_weights_and_float_models_pass_through(finished, tmp_path):
    from pipeline.models.io import load_model

    root, prune_dir, _ = finished
    float_spec = tmp_path / "toy_float.yaml"
    float_spec.write_text(
        yaml.safe_dump({"name": "toy_float", "layers": [{"units": 8}, {"units": 5, "activation": "linear"}]})
    )
    specs = {"toy_a2q": root / "toy_a2q.yaml", "toy_float": float_spec}
    _prune_dir(tmp_path / "prune", root / "data", {"toy_float": float_spec})
    (tmp_path / "prune" / "toy_a2q").symlink_to(prune_dir / "toy_a2q")
    constrain.run(
        _inputs(tmp_path / "out", root / "data", tmp_path / "prune", specs), constrain.Config(epochs=2)
    )
    again, first = (
        load_model(tmp_path / "out" / "toy_a2q" / "model.h5"),
        load_model(root / "out" / "toy_a2q" / "model.h5"),
    )
    for new, old in zip(again.get_weights(), first.get_weights(), strict=True):
        np.testing.assert_array_equal(new, old)
    report = json.loads((tmp_path / "out" / "toy_float" / "accumulators.json").read_text())
    assert (
        report["constrained"] is False and report["layers"] is None and "no integer form" in report["reason"]
    )


def test_an_over_budget_weight_fails_the_stage_naming_layer_and_channel(finished, tmp_path, monkeypatch):
    """The proof can fail: a weight pushed over the bound after fine-tuning (injected into the real
    strip) is not repaired; the stage stops, names the layer and channel, and writes no model."""
    import pipeline.a2q.layers as layers

    real_strip = layers.strip

    def strip_then_break(model):
        stripped = real_strip(model)
        kernel, bias = stripped.get_layer("dense_2").get_weights()
        kernel[:, 3] = 31 / 32  # every weight of channel 3 at the 6-bit maximum: L1 = 16 * 31
        stripped.get_layer("dense_2").set_weights([kernel, bias])
        return stripped

    monkeypatch.setattr(layers, "strip", strip_then_break)
    root, prune_dir, _ = finished
    specs = {"toy_a2q": root / "toy_a2q.yaml"}
    with pytest.raises(
        PipelineError, match=r"layer 'dense_2' can overflow its 12-bit accumulator.*channel 3"
    ) as error:
        constrain.run(_inputs(tmp_path / "out", root / "data", prune_dir, specs), constrain.Config(epochs=1))
    assert error.value.input == "model 'toy_a2q'"
    assert not (tmp_path / "out" / "toy_a2q" / "model.h5").exists()
    assert not (tmp_path / "out" / "toy_a2q" / "accumulators.json").exists()


def test_a2q_plus_on_the_signed_input_layer_is_an_error_naming_the_spec(finished, tmp_path):
    root, prune_dir, _ = finished
    spec = _spec(tmp_path, "toy_a2q", accumulator_bits=16, accumulator_method="a2q_plus")
    text = yaml.safe_load(spec.read_text())
    text["layers"][0] = {"units": 16}  # the first layer inherits a2q_plus, on the signed 8-bit input
    spec.write_text(yaml.safe_dump(text))
    with pytest.raises(PipelineError, match="a2q_plus needs an unsigned input") as error:
        constrain.run(
            _inputs(tmp_path / "out", root / "data", prune_dir, {"toy_a2q": spec}), constrain.Config(epochs=1)
        )
    assert str(spec) in error.value.input and "dense_1" in error.value.input
