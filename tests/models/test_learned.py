"""Learned fixed-point precision (pipeline/models/learned.py): forward = QKeras at the frozen widths,
the resource term lowers the bits, freezing is exact, the frozen model deploys bit-exactly."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.integer_network import FixedFormat
from pipeline.models.spec import parse_spec

BASE = {
    "name": "tiny_learned",
    "input_features": 6,
    "input_quantizer": {"bits": 10, "integer_bits": 3},
    "defaults": {
        "weight": {"bits": 6, "integer_bits": 0},
        "bias": {"bits": 6, "integer_bits": 0},
        "activation": {"bits": 6, "integer_bits": 1},
    },
    "layers": [{"units": 8}, {"units": 3, "activation": "linear"}],
    "precision": {"mode": "learned", "beta": 0.0, "min_bits": 2, "max_bits": 12},
}


def _spec(beta: float = 0.0):
    data = {**BASE, "precision": {**BASE["precision"], "beta": beta}}
    return parse_spec(data, "test")


def _data(n: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] + x[:, 2] > 0.5).astype(int)
    return x, y


def _train(model, x, y, epochs: int) -> None:
    from pipeline.models.training import compile_model, configure_determinism, one_hot

    configure_determinism(0)
    compile_model(model, 1e-2)
    model.fit(x, one_hot(y, 3), epochs=epochs, batch_size=128, verbose=0, shuffle=False)


@pytest.mark.parametrize(
    ("integer_bits", "fractional_bits", "signed"),
    [(0, 5, True), (2, 3, True), (3, 0, True), (0, 4, False), (1, 5, False), (4, 2, False)],
)
def test_forward_equals_qkeras_at_the_same_widths(integer_bits, fractional_bits, signed):
    import tensorflow as tf
    from qkeras import quantized_bits, quantized_relu

    from pipeline.models.learned import fixed_point_quantize

    x = np.random.default_rng(1).normal(scale=2.0**integer_bits, size=5000).astype(np.float32)
    x[:50] = np.arange(50) * 2.0**-fractional_bits / 2  # exact ties: half to even in both
    # non-integer trainable values round up to the widths
    ours = fixed_point_quantize(
        tf.constant(x), tf.constant(integer_bits - 0.3), tf.constant(fractional_bits - 0.7), signed
    ).numpy()
    if signed:
        reference = quantized_bits(integer_bits + fractional_bits + 1, integer_bits, alpha=1)(x).numpy()
    else:
        reference = quantized_relu(integer_bits + fractional_bits, integer_bits)(np.maximum(x, 0)).numpy()
        ours = fixed_point_quantize(
            tf.constant(np.maximum(x, 0)),
            tf.constant(integer_bits - 0.3),
            tf.constant(fractional_bits - 0.7),
            signed,
        ).numpy()
    np.testing.assert_array_equal(ours, reference)


def test_bit_gradients_have_the_expected_signs():
    import tensorflow as tf

    from pipeline.models.learned import fixed_point_quantize

    x = tf.constant(np.random.default_rng(2).normal(size=4000).astype(np.float32) * 4)
    integer, fractional = tf.Variable(1.0), tf.Variable(2.0)
    with tf.GradientTape() as tape:
        error = tf.reduce_sum((fixed_point_quantize(x, integer, fractional, True) - x) ** 2)
    d_integer, d_fractional = tape.gradient(error, [integer, fractional])
    assert float(d_integer) < 0  # wider range: less clipping error
    assert float(d_fractional) < 0  # more fractional bits: less rounding error


def test_resource_term_lowers_the_bits():
    from pipeline.models.build import build_model
    from pipeline.models.learned import learned_widths

    x, y = _data()
    totals = {}
    for beta in (0.0, 1e-3):
        spec = _spec(beta)
        model = build_model(spec, seed=3)
        _train(model, x, y, epochs=2)
        widths = learned_widths(model, spec)
        totals[beta] = (
            widths["input_container"]["bits"]
            + sum(layer["weight"]["bits"] for layer in widths["layers"].values())
            + sum(layer.get("activation", {}).get("bits", 0) for layer in widths["layers"].values())
        )
    assert totals[1e-3] < totals[0.0]


def test_input_min_bits_floors_the_input_widths_only():
    from pipeline.models.build import build_model
    from pipeline.models.learned import learned_widths

    x, y = _data()
    inputs, weights = {}, {}
    for floor in (None, 8):
        data = {**BASE, "precision": {**BASE["precision"], "beta": 1e-2, "input_min_bits": floor}}
        spec = parse_spec(data, "test")
        model = build_model(spec, seed=3)
        _train(model, x, y, epochs=2)
        widths = learned_widths(model, spec)
        inputs[floor] = [feature["bits"] for feature in widths["input_features"]]
        weights[floor] = [layer["weight"]["bits"] for layer in widths["layers"].values()]
    assert min(inputs[None]) < 8 <= min(inputs[8])  # the resource term cuts below the floor without it
    assert max(weights[8]) < 6  # weights (initially 6 bits) still fall below it


def test_input_min_integer_bits_floors_the_input_range_only():
    from pipeline.models.build import build_model
    from pipeline.models.learned import learned_widths

    x, y = _data()
    integers, activations = {}, {}
    for floor in (None, 2):
        data = {**BASE, "precision": {**BASE["precision"], "beta": 1e-2, "input_min_integer_bits": floor}}
        spec = parse_spec(data, "test")
        model = build_model(spec, seed=3)
        _train(model, x, y, epochs=2)
        widths = learned_widths(model, spec)
        integers[floor] = [feature["integer_bits"] for feature in widths["input_features"]]
        activations[floor] = widths["layers"]["dense_1"]["activation"]["integer_bits"]
    assert min(integers[None]) < 2 <= min(integers[2])  # the resource term narrows the range without it
    assert activations[2] < 2  # activations (initially 1 integer bit) keep their own floor of 0


def test_freeze_is_exact_and_gives_plain_qkeras():
    import tensorflow as tf

    from pipeline.models.build import build_model
    from pipeline.models.learned import BIT_RATE, freeze

    x, y = _data()
    spec = _spec(1e-4)
    model = build_model(spec, seed=4)
    _train(model, x, y, epochs=2)
    quantizer = model.get_layer("input_quant").quantizer
    # the deployed input is the covering container: make every feature use it, then compare exactly
    integer = float(np.ceil(np.max(quantizer.integer_bits.numpy()))) - 0.5
    fractional = float(np.ceil(np.max(quantizer.fractional_bits.numpy()))) - 0.5
    quantizer._integer.assign(tf.fill(quantizer._integer.shape, integer / BIT_RATE))
    quantizer._fractional.assign(tf.fill(quantizer._fractional.shape, fractional / BIT_RATE))
    plain, fixed = freeze(model, spec)
    assert {type(layer).__name__ for layer in plain.layers} <= {"InputLayer", "QActivation", "QDense"}
    assert fixed.precision is None
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))


def test_per_feature_formats_fit_the_container():
    from pipeline.deploy.emulator import quantize_real
    from pipeline.deploy.integer_network import FixedFormat
    from pipeline.models.build import build_model
    from pipeline.models.learned import input_container, learned_widths

    x, y = _data()
    spec = _spec(1e-4)
    model = build_model(spec, seed=5)
    _train(model, x, y, epochs=2)
    container = input_container(model)
    widths = learned_widths(model, spec)
    wide = FixedFormat(container.bits, container.integer_bits + 1, True)
    for feature in widths["input_features"]:
        fmt = FixedFormat(feature["bits"], feature["integer_bits"] + 1, True)
        values, _ = quantize_real(x[:, 0] * 4, fmt)
        real = values * 2.0**-fmt.fractional_bits
        again, saturated = quantize_real(real, wide)  # every per-feature value is exact in the container
        assert saturated == 0
        np.testing.assert_array_equal(again * 2.0**-wide.fractional_bits, real)


def test_quantize_features_equals_the_learned_input_quantizer():
    """Per-feature precision deployed upstream of the network is the learned input quantizer exactly,
    and the frozen (container) network's input quantizer leaves those values unchanged."""
    from pipeline.deploy.emulator import quantize_real
    from pipeline.models.build import build_model
    from pipeline.models.learned import feature_formats, input_container, learned_widths, quantize_features

    x, y = _data()
    spec = _spec(1e-3)
    model = build_model(spec, seed=7)
    _train(model, x, y, epochs=3)
    x = x * 3  # reach the saturation of the narrow features too
    formats = feature_formats(learned_widths(model, spec))
    assert len({(f.bits, f.integer_bits) for f in formats}) > 1  # the features did learn different formats
    expected = model.get_layer("input_quant")(x).numpy()
    np.testing.assert_array_equal(quantize_features(x, formats), expected)
    container = input_container(model)
    raw, saturated = quantize_real(expected, FixedFormat(container.bits, container.integer_bits + 1, True))
    assert saturated == 0
    np.testing.assert_array_equal(raw * 2.0 ** -(container.bits - 1 - container.integer_bits), expected)


def test_frozen_spec_carries_the_per_feature_formats_and_deploys_them():
    """The frozen spec keeps each feature's learned format (input_feature_quantizers); the frozen plain
    QKeras model on model_inputs(features) is the learned model on the raw features, jet for jet, where
    the container alone (the frozen model on raw features) is not."""
    from pipeline.models.build import build_model
    from pipeline.models.inputs import input_formats, model_inputs
    from pipeline.models.learned import feature_formats, freeze, learned_widths
    from pipeline.models.spec import dump_spec

    x, y = _data()
    spec = _spec(1e-3)
    model = build_model(spec, seed=7)
    _train(model, x, y, epochs=3)
    widths = learned_widths(model, spec)
    plain, fixed = freeze(model, spec)
    assert [q.model_dump() for q in fixed.input_feature_quantizers] == widths["input_features"]
    assert fixed.input_quantizer.model_dump() == widths["input_container"]
    assert input_formats(fixed) == feature_formats(widths)
    assert parse_spec(__import__("yaml").safe_load(dump_spec(fixed)), "frozen") == fixed
    x = x * 3  # reach the narrow features' saturation
    learned = model.predict(x, verbose=0)
    np.testing.assert_array_equal(plain.predict(model_inputs(fixed, x), verbose=0), learned)
    assert np.any(plain.predict(x, verbose=0) != learned)  # the container alone is another model


@pytest.mark.slow
def test_frozen_model_is_bit_exact_through_qonnx_csim_and_rtl(tmp_path):
    """The frozen model through the unchanged deploy flow: QONNX executor, hls4ml C-sim, da4ml RTL."""
    from pipeline.deploy.emulator import emulate
    from pipeline.deploy.export_qonnx import (
        dense_node_names,
        execute_qonnx,
        export_qonnx,
        integer_logits,
        output_fractional_bits,
    )
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras
    from pipeline.deploy.hls import build_hls_config, convert_to_hls, csim_predict, load_hls_settings
    from pipeline.models.build import build_model
    from pipeline.models.learned import freeze
    from pipeline.rtl.design import check_bit_exact, compile_design, write_design
    from pipeline.rtl.trace import trace_network

    x, y = _data(3000)
    spec = _spec(1e-4)
    model = build_model(spec, seed=6)
    _train(model, x, y, epochs=2)
    plain, fixed = freeze(model, spec)
    network = integer_network_from_qkeras(plain)
    assert network.input_format.bits == fixed.input_quantizer.bits
    fractional = output_fractional_bits(network)
    expected = emulate(network, x).logits_raw
    np.testing.assert_array_equal(integer_logits(plain.predict(x, verbose=0), fractional), expected)
    wrapper = export_qonnx(plain, network)
    np.testing.assert_array_equal(integer_logits(execute_qonnx(wrapper, x), fractional), expected)
    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    settings = load_hls_settings(repo / "hls4ml_configs" / "vitis_latency.yml")
    config = build_hls_config(wrapper, network, dense_node_names(wrapper, network), settings)
    hls_model = convert_to_hls(wrapper, config, settings, tmp_path / "hls4ml_prj")
    np.testing.assert_array_equal(integer_logits(csim_predict(hls_model, x), fractional), expected)
    traced = trace_network(network, 5.0)
    design = write_design(traced, tmp_path / "rtl", 5.0, "xcvu13p-flga2577-2-e")
    report = check_bit_exact(compile_design(design, tmp_path / "build"), network, x)
    assert report.samples == len(x) and report.mismatched_values == 0


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"precision": {"mode": "learned", "min_bits": 9, "max_bits": 4}}, "precision"),
        ({"precision": {"mode": "learned", "beta": -1.0}}, "precision.beta"),
        ({"precision": {"mode": "learned", "input_min_bits": 20, "max_bits": 16}}, "precision"),
        ({"precision": {"mode": "learned", "input_min_integer_bits": 15, "max_bits": 16}}, "precision"),
        ({"precision": {"mode": "learned", "bogus": 1}}, "precision.bogus"),
        ({"input_quantizer": None}, "input_quantizer"),
    ],
)
def test_bad_precision_sections_are_errors_naming_the_key(change, key):
    from pipeline.errors import PipelineError

    with pytest.raises(PipelineError) as error:
        parse_spec({**BASE, **change}, "models/x.yaml")
    assert key in str(error.value)


def test_later_stages_read_the_frozen_spec(tmp_path):
    from pipeline.stage_api import StageInputs
    from pipeline.stages.train import FROZEN_SPEC, spec_path

    original = tmp_path / "models" / "m.yaml"
    original.parent.mkdir()
    original.write_text("name: m\n")
    run = tmp_path / "run"
    (run / "prune").mkdir(parents=True)
    inputs = StageInputs(
        output_dir=tmp_path / "staging",
        upstream={"prune": run / "prune"},
        models=("m",),
        model_specs={"m": original},
        repo_root=tmp_path,
        seed=0,
        quiet=True,
    )
    assert spec_path(inputs, "m", "constrain") == original  # fixed precision: the spec file
    frozen = run / "train" / "m" / FROZEN_SPEC
    frozen.parent.mkdir(parents=True)
    frozen.write_text("name: m\n")
    assert spec_path(inputs, "m", "constrain") == frozen
    assert spec_path(inputs, "m", "train") == original
