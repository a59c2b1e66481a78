"""Assemble the metric records: pure functions on arrays, plus :func:`measure_model` on a Keras model."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import PipelineError
from pipeline.measure import cost, information, physics
from pipeline.measure.records import (
    CostMetrics,
    InformationMetrics,
    LayerCost,
    LayerInformation,
    ModelMetrics,
    PhysicsMetrics,
)

if TYPE_CHECKING:
    import keras

    from pipeline.data.io import Dataset
    from pipeline.models.spec import ModelSpec

SIGNAL_EFFICIENCY = 0.5
#: Test jets the neural efficiency is computed on (the first ones of the test split): fixed so that
#: runs and benchmarks with different test-split sizes compare (entropy <= log2(jets) bits).
NEURAL_EFFICIENCY_JETS = 5000


@dataclass(frozen=True)
class DenseWeights:
    """A dense layer's deployed (quantized) kernel ``(n_in, n_out)`` and bias, with its bit widths."""

    name: str
    kernel: np.ndarray
    bias: np.ndarray
    input_bits: int
    weight_bits: int


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def physics_metrics(
    logits: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    signal_efficiency: float = SIGNAL_EFFICIENCY,
) -> PhysicsMetrics:
    """Accuracy, one-vs-rest AUC, eps_B and 1/eps_B at ``signal_efficiency``, confusion matrix."""
    scores = physics.softmax(logits)
    labels = np.asarray(labels, dtype=np.int64)
    auc, efficiency, rejection = {}, {}, {}
    for index, name in enumerate(class_names):
        is_signal = labels == index
        auc[name] = _finite_or_none(physics.roc_auc(scores[:, index], is_signal))
        eps_b = physics.background_efficiency(scores[:, index], is_signal, signal_efficiency)
        efficiency[name] = _finite_or_none(eps_b)
        rejection[name] = _finite_or_none(1.0 / eps_b) if eps_b > 0 else None
    matrix = physics.confusion_matrix(np.argmax(scores, axis=1), labels, len(class_names))
    return PhysicsMetrics(
        n_samples=int(labels.size),
        accuracy=physics.accuracy(scores, labels),
        class_names=tuple(class_names),
        auc=auc,
        signal_efficiency=signal_efficiency,
        background_efficiency=efficiency,
        background_rejection=rejection,
        confusion_matrix=tuple(tuple(int(v) for v in row) for row in matrix),
    )


def cost_metrics(layers: Sequence[DenseWeights]) -> CostMetrics:
    """Parameter counts, sparsity and BOPs (Hawks et al. 2021) of a chain of dense layers."""
    records = []
    for layer in layers:
        n_in, n_out = layer.kernel.shape
        kernel_sparsity = cost.sparsity(layer.kernel)
        records.append(
            LayerCost(
                name=layer.name,
                n_inputs=int(n_in),
                n_outputs=int(n_out),
                params=int(layer.kernel.size + layer.bias.size),
                nonzero_params=cost.count_nonzero(layer.kernel, layer.bias),
                weight_sparsity=kernel_sparsity,
                input_bits=layer.input_bits,
                weight_bits=layer.weight_bits,
                bops=cost.layer_bops(n_in, n_out, 1.0 - kernel_sparsity, layer.input_bits, layer.weight_bits),
            )
        )
    n_weights = sum(layer.kernel.size for layer in layers)
    zero_weights = sum(int(np.count_nonzero(layer.kernel == 0)) for layer in layers)
    return CostMetrics(
        params=sum(r.params for r in records),
        nonzero_params=sum(r.nonzero_params for r in records),
        weight_sparsity=zero_weights / n_weights if n_weights else 0.0,
        bops=sum(r.bops for r in records),
        layers=tuple(records),
    )


def information_metrics(
    activations: Mapping[str, np.ndarray],
    accuracy: float,
    beta: float = information.AIQ_BETA,
    jets: int = NEURAL_EFFICIENCY_JETS,
) -> InformationMetrics:
    """Neural efficiency per hidden layer, network efficiency and aIQ (Schaub & Hotaling 2020,
    arXiv:2006.02909), on the first ``jets`` rows of ``activations``.

    The record's ``n_jets`` says how many rows were used: ``jets``, or all rows when there are fewer
    (a small test split; such a figure compares only with others on as many jets).
    """
    available = min((np.asarray(values).shape[0] for values in activations.values()), default=0)
    used = min(jets, available)
    layers = []
    for name, full in activations.items():
        values = np.asarray(full)[:used]
        entropy = information.pattern_entropy(values)
        layers.append(
            LayerInformation(
                name=name,
                neurons=int(values.shape[1]),
                entropy_bits=entropy,
                efficiency=entropy / values.shape[1],
            )
        )
    eta = information.network_efficiency([layer.efficiency for layer in layers]) if layers else float("nan")
    return InformationMetrics(
        layers=tuple(layers),
        network_efficiency=_finite_or_none(eta),
        beta=beta,
        aiq=_finite_or_none(information.aiq(accuracy, eta, beta)) if math.isfinite(eta) else None,
        n_jets=used,
    )


def deployed_dense_weights(model: keras.Model, spec: ModelSpec) -> list[DenseWeights]:
    """The dense layers of ``model`` named by ``spec``, weights passed through their quantizers."""
    resolved = spec.resolved_layers()
    previous_bits = spec.input_quantizer.bits if spec.input_quantizer is not None else cost.FLOAT_BITS
    weights = []
    for layer_spec in resolved:
        try:
            layer = model.get_layer(layer_spec.dense_name)
        except ValueError as error:
            raise PipelineError(
                "measure", f"model has no layer '{layer_spec.dense_name}'", input=spec.name
            ) from error
        kernel, bias = layer.kernel, layer.bias
        kernel_quantizer = getattr(layer, "kernel_quantizer_internal", None)
        bias_quantizer = getattr(layer, "bias_quantizer_internal", None)
        kernel = kernel_quantizer(kernel) if kernel_quantizer is not None else kernel
        bias = bias_quantizer(bias) if bias_quantizer is not None else bias
        weights.append(
            DenseWeights(
                name=layer_spec.dense_name,
                kernel=np.asarray(kernel),
                bias=np.asarray(bias),
                input_bits=previous_bits,
                weight_bits=layer_spec.weight.bits if layer_spec.weight is not None else cost.FLOAT_BITS,
            )
        )
        quantizer = layer_spec.activation_quantizer
        previous_bits = quantizer.bits if quantizer is not None else cost.FLOAT_BITS
    return weights


def model_outputs(
    model: keras.Model, spec: ModelSpec, x: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Logits and the hidden ReLU activations (by layer name) of ``model`` on ``x``."""
    import tensorflow as tf

    names = [layer.activation_name for layer in spec.resolved_layers() if layer.activation_name is not None]
    probe = tf.keras.Model(model.inputs, [model.output] + [model.get_layer(name).output for name in names])
    outputs = probe.predict(np.asarray(x, dtype=np.float32), batch_size=4096, verbose=0)
    return np.asarray(outputs[0]), {
        name: np.asarray(values) for name, values in zip(names, outputs[1:], strict=True)
    }


def measure_model(
    model: keras.Model,
    dataset: Dataset,
    spec: ModelSpec,
    *,
    stage: str = "",
    details: Mapping[str, Any] | None = None,
    efficiency_jets: int = NEURAL_EFFICIENCY_JETS,
) -> ModelMetrics:
    """Physics, cost and information-content metrics of ``model`` on ``dataset``'s test split (the
    neural efficiency on its first ``efficiency_jets`` jets)."""
    logits, activations = model_outputs(model, spec, dataset.x_test)
    physics_record = physics_metrics(logits, dataset.y_test, dataset.class_names)
    return ModelMetrics(
        model=spec.name,
        stage=stage,
        physics=physics_record,
        cost=cost_metrics(deployed_dense_weights(model, spec)),
        information=information_metrics(activations, physics_record.accuracy, jets=efficiency_jets),
        details=dict(details or {}),
    )
