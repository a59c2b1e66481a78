"""Bring-your-own QKeras files: Lambda layers refused unless trusted (checked before loading), a
trailing softmax removed (logits deployed), the input quantizer added from the config."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.deploy.byo import ExternalModel, load_external_model
from pipeline.errors import PipelineError


def _published_style_tagger(sizes=(16, 8, 5), lambda_layer: bool = False):
    """A QKeras tagger as the hls4ml tutorial publishes it: a ``Sequential`` model of ``QDense`` with
    6-bit weights and ``QActivation(quantized_relu(6))``, no input quantizer, ending in
    ``Activation('softmax')`` (optionally with a Lambda layer in front)."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    model = tf.keras.Sequential(name="published_tagger")
    model.add(tf.keras.Input((sizes[0],), name="input_1"))
    if lambda_layer:
        model.add(tf.keras.layers.Lambda(lambda t: t * 1.0, name="scale"))
    quantizers = {
        "kernel_quantizer": quantized_bits(6, 0, alpha=1),
        "bias_quantizer": quantized_bits(6, 0, alpha=1),
        "kernel_regularizer": tf.keras.regularizers.l1(0.0001),
    }
    for index, units in enumerate(sizes[1:-1]):
        model.add(QDense(units, name=f"fc{index + 1}", **quantizers))
        model.add(QActivation(quantized_relu(6), name=f"relu{index + 1}"))
    model.add(QDense(sizes[-1], name="output", **quantizers))
    model.add(tf.keras.layers.Activation("softmax", name="softmax"))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.get_weights():
            kernel, bias = layer.get_weights()
            layer.set_weights([rng.normal(0, 0.4, kernel.shape), rng.normal(0, 0.2, bias.shape)])
    return model


def test_lambda_layer_is_refused_unless_trusted(tmp_path):
    _published_style_tagger(lambda_layer=True).save(tmp_path / "lambda.h5")
    quantizer = {"bits": 8, "integer_bits": 3}
    untrusted = ExternalModel(path="lambda.h5", input_quantizer=quantizer)
    with pytest.raises(PipelineError) as error:
        load_external_model(untrusted, tmp_path, "user")
    assert "Lambda" in error.value.problem and "trust_model_code: true" in error.value.fix
    trusted = ExternalModel(path="lambda.h5", input_quantizer=quantizer, trust_model_code=True)
    model, _ = load_external_model(trusted, tmp_path, "user")
    assert "Lambda" in [type(layer).__name__ for layer in model.layers]


def test_trailing_softmax_is_removed_and_logits_deployed(tmp_path):
    from pipeline.deploy.from_qkeras import integer_network_from_qkeras

    original = _published_style_tagger(sizes=(16, 64, 32, 32, 5))
    original.save(tmp_path / "tagger.h5")
    external = ExternalModel(path="tagger.h5", input_quantizer={"bits": 16, "integer_bits": 5})
    model, softmax_removed = load_external_model(external, tmp_path, "tagger")
    assert softmax_removed
    assert [type(layer).__name__ for layer in model.layers][-1] == "QDense"
    features = np.random.default_rng(1).normal(0, 1, (200, 16)).astype(np.float32)
    logits = model.predict(features, verbose=0)
    probabilities = original.predict(features, verbose=0)
    assert np.array_equal(np.argmax(logits, axis=1), np.argmax(probabilities, axis=1))
    assert not np.allclose(logits.sum(axis=1), 1.0)
    network = integer_network_from_qkeras(model)
    assert (network.input_format.bits, len(network.layers)) == (16, 4)
