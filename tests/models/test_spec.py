"""Model spec validation: shipped specs load; bad keys and impossible widths name file and key."""

from pathlib import Path

import pytest
import yaml

from pipeline.errors import PipelineError
from pipeline.models.spec import dump_spec, load_spec, parse_spec

MODELS = Path(__file__).resolve().parents[2] / "models"


def base_spec() -> dict:
    return {
        "name": "toy",
        "input_quantizer": {"bits": 16, "integer_bits": 6},
        "defaults": {
            "weight": {"bits": 6, "integer_bits": 0},
            "bias": {"bits": 6, "integer_bits": 0},
            "activation": {"bits": 6, "integer_bits": 0},
        },
        "layers": [{"units": 8, "activation": "relu"}, {"units": 5, "activation": "linear"}],
    }


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data.get('name', 'toy')}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_specs_load():
    names = {path.stem for path in MODELS.glob("*.yaml")}
    assert {"jet_dnn_float", "jet_dnn_q6", "jet_dnn_q6_qap", "jet_dnn_q6_a2q_plus_qap"} <= names
    for name in names:
        spec = load_spec(MODELS / f"{name}.yaml")
        # the scan's widths x 0.375 (and the learned-precision model on them, issue 13 goal 2)
        narrow = name.startswith("jet_dnn_scan") or name.endswith("_w24") or name == "jet_dnn_learned_small"
        widths = [24, 12, 12, 5] if narrow else [64, 32, 32, 5]
        assert [layer.units for layer in spec.layers] == widths
    assert not load_spec(MODELS / "jet_dnn_float.yaml").quantized
    qap = load_spec(MODELS / "jet_dnn_q6_qap.yaml")
    assert qap.pruning.target_sparsity == 0.75
    a2q = load_spec(MODELS / "jet_dnn_q6_a2q_plus_qap.yaml")
    layers = a2q.resolved_layers()
    assert [layer.accumulator_method for layer in layers] == ["a2q", "a2q_plus", "a2q_plus", "a2q_plus"]
    assert [layer.accumulator_bits for layer in layers] == [24, 14, 14, 14]  # first layer: 16-bit input


def test_defaults_apply_and_layer_overrides_win():
    data = base_spec()
    data["layers"][0]["weight"] = {"bits": 4, "integer_bits": 1}
    data["layers"][1]["bias"] = None
    spec = parse_spec(data, "toy.yaml")
    first, last = spec.resolved_layers()
    assert (first.weight.bits, first.weight.integer_bits) == (4, 1)
    assert first.bias.bits == 6 and first.activation_quantizer.bits == 6
    assert last.weight.bits == 6 and last.bias is None and last.activation_quantizer is None
    assert (first.dense_name, first.activation_name, last.dense_name, last.activation_name) == (
        "dense_1",
        "relu_1",
        "dense_2",
        None,
    )


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d["layers"][0].update(unitz=3), "layers.0.unitz"),
        (lambda d: d["defaults"]["weight"].update(bits=0), "layers.0.weight"),
        (lambda d: d["defaults"]["weight"].update(integer_bits=6), "layers.0.weight"),
        (lambda d: d["defaults"]["bias"].update(integer_bits=-1), "layers.0.bias"),
        (lambda d: d["defaults"]["activation"].update(integer_bits=7), "layers.0.activation_quantizer"),
        (lambda d: d["input_quantizer"].update(integer_bits=16), "input_quantizer"),
        (lambda d: d["layers"][0].update(accumulator_bits=1, accumulator_method="a2q"), "accumulator_bits"),
        (lambda d: d["layers"][0].update(accumulator_bits=12), "accumulator_method"),
        (
            lambda d: d["layers"][0].update(accumulator_bits=12, accumulator_method="a3q"),
            "accumulator_method",
        ),
        (lambda d: d["layers"][1].update(activation="relu"), "layers.1.activation"),
        (lambda d: d["layers"][1].update(activation_quantizer={"bits": 4, "integer_bits": 0}), "layers.1"),
        (lambda d: d["layers"][0].update(batch_norm=True), "batch_norm"),
        (lambda d: d.update(pruning={"target_sparsity": 1.5}), "pruning.target_sparsity"),
        (lambda d: d.update(pruning={"target_sparsity": 0.5, "schedule": "random"}), "pruning.schedule"),
        (lambda d: d.update(training={"epochs": 0}), "training.epochs"),
    ],
)
def test_bad_specs_name_file_and_key(tmp_path, mutate, key):
    data = base_spec()
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(PipelineError) as error:
        load_spec(path)
    assert str(path) in error.value.input
    assert key in error.value.input


def test_relu_may_use_all_bits_as_integer_and_float_bn_is_allowed():
    data = base_spec()
    data["defaults"]["activation"] = {"bits": 6, "integer_bits": 6}
    assert parse_spec(data, "toy.yaml").resolved_layers()[0].activation_quantizer.integer_bits == 6
    float_data = {
        "name": "toy",
        "layers": [{"units": 4, "batch_norm": True}, {"units": 2, "activation": "linear"}],
    }
    assert parse_spec(float_data, "toy.yaml").resolved_layers()[0].bn_name == "bn_1"


def test_name_must_match_file(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(base_spec()))
    with pytest.raises(PipelineError, match="name"):
        load_spec(path)


def test_dump_round_trips():
    spec = load_spec(MODELS / "jet_dnn_q6_a2q_plus_qap.yaml")
    assert parse_spec(yaml.safe_load(dump_spec(spec)), "dump") == spec


def _per_feature(n: int = 16, fmt: dict | None = None) -> list[dict]:
    return [dict(fmt or {"bits": 8, "integer_bits": 2}) for _ in range(n)]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"input_feature_quantizers": _per_feature(15)}, "15 formats for input_features = 16"),
        ({"input_feature_quantizers": _per_feature(fmt={"bits": 12, "integer_bits": 0})}, "not exact"),
        ({"input_feature_quantizers": _per_feature(fmt={"bits": 9, "integer_bits": 7})}, "not exact"),
        ({"input_feature_quantizers": _per_feature(fmt={"bits": 4, "integer_bits": 4})}, "integer_bits 4"),
        ({"input_quantizer": None, "input_feature_quantizers": _per_feature()}, "needs input_quantizer"),
    ],
)
def test_bad_per_feature_input_formats_name_the_key(tmp_path, change, problem):
    """input_feature_quantizers: one format per feature, each exact in the input_quantizer container
    (here {bits: 10, integer_bits: 3}: 6 fractional bits, range +-8)."""
    data = {**base_spec(), "input_features": 16, "input_quantizer": {"bits": 10, "integer_bits": 3}, **change}
    with pytest.raises(PipelineError) as error:
        load_spec(write(tmp_path, data))
    assert "input_feature_quantizers" in error.value.input and problem in error.value.problem


def test_per_feature_input_formats_inside_the_container_load_and_round_trip():
    formats = [{"bits": k % 4 + k % 6 + 2, "integer_bits": k % 4} for k in range(16)]  # f = 1 + k % 6
    data = {**base_spec(), "input_quantizer": {"bits": 10, "integer_bits": 3}}
    spec = parse_spec({**data, "input_feature_quantizers": formats}, "toy.yaml")
    assert [q.model_dump() for q in spec.input_feature_quantizers] == formats
    assert parse_spec(yaml.safe_load(dump_spec(spec)), "toy.yaml") == spec
    with pytest.raises(PipelineError) as error:  # a learned spec learns them: not also given
        learned = {"mode": "learned", "beta": 0.0}
        parse_spec({**data, "input_feature_quantizers": formats, "precision": learned}, "toy.yaml")
    assert "input_feature_quantizers" in error.value.problem
