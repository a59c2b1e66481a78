"""HGQ (v1, ``hgq`` 0.2.6) as a peer: train its 16-64-32-32-5 jet tagger and take its bit-exact proxy
model through our firmware flow (per-element integer emulator -> da4ml RTL -> Verilator -> Yosys).

HGQ (Sun et al., "HGQ: High Granularity Quantization for Real-time Neural Networks on FPGAs", 2024)
learns a bit width per weight and per activation with an EBOPs term ``beta * EBOPs`` in the loss. Its
``to_proxy_model`` gives a Keras model of ``Dense`` / ``ReLU`` layers between ``FixedPointQuantizer``
layers whose ``keep_negative``, ``bits`` and ``integers`` (sign included) are per element, with
``ap_fixed`` rounding (``RND`` = floor(x + 1/2), ``TRN`` = floor) and overflow (``WRAP``/``SAT``)
modes; it is bit-exact by construction (HGQ ``proxy/fixed_point_quantizer.py: gfixed_quantizer``).

:class:`ProxyNetwork` is that chain read into numpy; :func:`emulate` runs it exactly in float64;
:func:`trace` builds the da4ml graph with per-element ``quantize(k, i, f)``: da4ml sizes every adder
from these per-element ranges (per-feature inputs, per-neuron activations). The input quantizer is
applied to the features before the RTL (as for our models, :func:`pipeline.rtl.design.check_bit_exact`),
so the RTL ports carry the per-feature input formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

    from pipeline.data.io import Dataset
    from pipeline.rtl.trace import TracedNetwork

ARCHITECTURE = (64, 32, 32, 5)


@dataclass(frozen=True)
class Quantizer:
    """Per-element ``ap_fixed``: ``keep_negative``, ``bits``, ``integers`` (sign included), modes."""

    keep_negative: np.ndarray
    bits: np.ndarray
    integers: np.ndarray
    rounding: str
    overflow: str

    @property
    def fractional_bits(self) -> np.ndarray:
        return self.bits - self.integers


@dataclass(frozen=True)
class ProxyNetwork:
    """The proxy model as a list of ops: ``("quantize", Quantizer)``, ``("dense", (kernel, bias))``,
    ``("relu", None)``; the first op is the input quantizer."""

    ops: tuple[tuple[str, Any], ...]

    @property
    def input_quantizer(self) -> Quantizer:
        return self.ops[0][1]

    @property
    def output_quantizer(self) -> Quantizer:
        return self.ops[-1][1]


def build_hgq_model(
    beta: float,
    seed: int,
    input_features: int = 16,
    init_bits: float = 6.0,
    units: tuple[int, ...] = ARCHITECTURE,
) -> keras.Model:
    """HGQ's version of our 16-64-32-32-5 tagger (``HQuantize`` + ``HDense`` with ReLU, logits out);
    ``init_bits``: initial bit width of every weight and activation."""
    import tensorflow as tf
    from HGQ import HDense, HQuantize
    from HGQ.utils import get_default_kq_conf, get_default_paq_conf

    tf.keras.utils.set_random_seed(seed)
    kq = {**get_default_kq_conf(), "init_bw": init_bits}
    paq = {**get_default_paq_conf(), "init_bw": init_bits}
    layers = [HQuantize(beta=beta, input_shape=(input_features,), paq_conf=paq, name="input_quant")]
    for index, width in enumerate(units):
        last = index == len(units) - 1
        layers.append(
            HDense(
                width,
                activation=None if last else "relu",
                beta=beta,
                kq_conf=kq,
                paq_conf=paq,
                name=f"dense_{index + 1}",
            )
        )
    return tf.keras.Sequential(layers, name="hgq_jet_dnn")


def train_hgq(
    dataset: Dataset,
    beta: float,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    units: tuple[int, ...] = ARCHITECTURE,
) -> tuple[keras.Model, keras.Model, dict]:
    """Train the HGQ model (Adam, cross-entropy on logits, HGQ's ``ResetMinMax``/``FreeBOPs``), calibrate
    the integer bits on the training split (``trace_minmax``) and return ``(model, proxy, history)``."""
    import tensorflow as tf
    from HGQ import FreeBOPs, ResetMinMax, to_proxy_model, trace_minmax

    from pipeline.models.training import configure_determinism, one_hot

    configure_determinism(seed)
    model = build_hgq_model(beta, seed, input_features=dataset.x_train.shape[1], units=units)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    n_classes = units[-1]
    history = model.fit(
        dataset.x_train,
        one_hot(dataset.y_train, n_classes),
        validation_data=(dataset.x_val, one_hot(dataset.y_val, n_classes)),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[ResetMinMax(), FreeBOPs()],
    )
    trace_minmax(model, dataset.x_train, cover_factor=1.0, verbose=False)
    proxy = to_proxy_model(model, aggressive=True)
    return model, proxy, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def read_proxy(proxy: keras.Model) -> ProxyNetwork:
    """Read an HGQ proxy model (``FixedPointQuantizer``/``Dense``/``ReLU`` chain) into a ProxyNetwork."""
    ops: list[tuple[str, Any]] = []
    for layer in proxy.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "FixedPointQuantizer":
            arrays = [
                np.asarray(v).astype(np.int64).reshape(-1)
                for v in (layer.keep_negative, layer.bits, layer.integers)
            ]
            ops.append(("quantize", Quantizer(*arrays, rounding=layer.RND, overflow=layer.SAT)))
        elif kind == "Dense":
            if layer.activation.__name__ != "linear":
                raise ValueError(f"proxy layer {layer.name}: fused activation {layer.activation.__name__}")
            kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
            ops.append(("dense", (kernel, bias)))
        elif kind == "ReLU" or (kind == "Activation" and layer.activation.__name__ == "relu"):
            ops.append(("relu", None))
        else:
            raise ValueError(f"proxy layer {layer.name}: type {kind} is not supported")
    if not ops or ops[0][0] != "quantize" or ops[-1][0] != "quantize":
        raise ValueError("the proxy model must start and end with a FixedPointQuantizer")
    return ProxyNetwork(tuple(ops))


def quantize_exact(values: np.ndarray, quantizer: Quantizer) -> np.ndarray:
    """``gfixed_quantizer`` in float64: rounding (RND/TRN/RND_CONV), overflow (WRAP/SAT), zero-bit -> 0."""
    scale = 2.0 ** quantizer.fractional_bits.astype(np.float64)
    scaled = np.asarray(values, dtype=np.float64) * scale
    rounded = {"TRN": np.floor, "RND": lambda v: np.floor(v + 0.5), "RND_CONV": np.round}[quantizer.rounding](
        scaled
    )
    keep, bits = quantizer.keep_negative.astype(np.float64), quantizer.bits.astype(np.float64)
    high = 2.0 ** (bits - keep) - 1
    low = -(high + 1) * keep
    if quantizer.overflow == "WRAP":
        result = np.mod(rounded - low, high - low + 1) + low
    elif quantizer.overflow == "SAT":
        result = np.clip(rounded, low, high)
    else:
        raise ValueError(f"overflow mode {quantizer.overflow} is not supported")
    return np.where(quantizer.bits != 0, result / scale, 0.0)


def emulate(network: ProxyNetwork, features: np.ndarray) -> np.ndarray:
    """The proxy network on ``features`` in exact float64 arithmetic (the integer emulator of the peer)."""
    values = np.asarray(features, dtype=np.float64)
    for kind, payload in network.ops:
        if kind == "quantize":
            values = quantize_exact(values, payload)
        elif kind == "dense":
            values = values @ payload[0] + payload[1]
        else:
            values = np.maximum(values, 0.0)
    return values


def _kif(quantizer: Quantizer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = quantizer.keep_negative
    return keep, quantizer.integers - keep, quantizer.fractional_bits


def trace(network: ProxyNetwork, latency_cutoff: float) -> TracedNetwork:
    """The da4ml graph of the proxy network (per-element ``quantize``; inputs already input-quantized)."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace, fixed_variable

    from pipeline.rtl.trace import TracedNetwork

    fixed_variable.rd.seed(0)
    first = network.input_quantizer
    width = int(np.asarray(network.ops[1][1][0]).shape[0])
    inputs = FixedVariableArrayInput(width, HWConfig(1, -1, latency_cutoff), solver_options={"hard_dc": 2})
    values = _masked(inputs.quantize(*_broadcast(first, width), "WRAP", "TRN"), first, width)
    for kind, payload in network.ops[1:]:
        if kind == "dense":
            values = values @ payload[0]
            if np.any(payload[1] != 0):
                values = values + payload[1]
        elif kind == "relu":
            values = values.relu()
        else:
            size = values.shape[0]
            values = _masked(
                values.quantize(*_broadcast(payload, size), payload.overflow, payload.rounding), payload, size
            )
    output_bits = int(np.max(network.output_quantizer.fractional_bits))
    comb = comb_trace(inputs, values, keep_dead_inputs=True)
    return TracedNetwork(comb=comb, latency_cutoff=latency_cutoff, output_fractional_bits=output_bits)


def _broadcast(quantizer: Quantizer, size: int) -> tuple[np.ndarray, ...]:
    return tuple(np.broadcast_to(v, (size,)).copy() for v in _kif(quantizer))


def _masked(values, quantizer: Quantizer, size: int):
    """Zero-bit elements are the constant 0 (HGQ multiplies them by ``bits != 0``)."""
    mask = np.broadcast_to(quantizer.bits != 0, (size,))
    if mask.all():
        return values
    return values * mask.astype(np.float64)


def input_raw(network: ProxyNetwork, features: np.ndarray) -> tuple[np.ndarray, int]:
    """Input-quantized features as raw integers on the finest input grid ``2**-f_max``."""
    quantized = quantize_exact(features, network.input_quantizer)
    fractional = int(np.max(network.input_quantizer.fractional_bits))
    return np.round(quantized * 2.0**fractional).astype(np.int64), fractional


def ebops(model: keras.Model) -> float:
    """HGQ's exact EBOPs of a trained model (sum of its layers' ``compute_exact_bops``)."""
    return float(
        sum(layer.compute_exact_bops for layer in model.layers if hasattr(layer, "compute_exact_bops"))
    )


def zero_weight_fraction(network: ProxyNetwork) -> float:
    """Fraction of the dense weights that are exactly zero in the proxy (HGQ's 0-bit weights: pruned)."""
    kernels = [np.asarray(payload[0]) for kind, payload in network.ops if kind == "dense"]
    return float(sum(int((k == 0).sum()) for k in kernels) / sum(k.size for k in kernels))
