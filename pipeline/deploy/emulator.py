"""A numpy integer (int64) emulator of an :class:`IntegerNetwork` with hls4ml's ``ap_fixed`` semantics.

Per dense layer (see :mod:`pipeline.deploy.integer_network`):

* the input is quantized like hls4ml's input layer ``ap_fixed<b, i, AP_RND_CONV, AP_SAT>``;
* ``acc = x_raw @ w_raw + (b_raw aligned to f_acc)`` exactly, then wrapped to the accumulator's width
  (hls4ml's default ``AP_WRAP``: only the final sum matters, two's complement modulo ``2**P``);
* the activation (ReLU or identity) is quantized to the output format with ``AP_RND_CONV`` (half to
  even) and ``AP_SAT``.

Speed: the integer arithmetic runs in float32/float64 BLAS wherever every partial sum is an integer
exactly representable there (bounds checked per layer); results are int64. On 100k jets of the
16-64-32-32-5 tagger it is ~250x faster than hls4ml's compiled ``predict`` (benchmarks/bench_emulator.py).

One forward pass for every user: the pipeline's stages (convert, firmware, report), the A2Q checks
(:mod:`pipeline.a2q.check`) and the benchmarks. Wrap-around at a chosen accumulator width ``P`` is
available to all of them: :func:`with_accumulator_bits` (or ``emulate(..., accumulator_bits=...)``)
gives a layer a P-bit accumulator, :func:`dense_accumulator` evaluates one layer on raw integer
inputs (e.g. the adversarial inputs of the A2Q proof).

Counters: per layer, ``accumulator_overflows`` = number of (jet, neuron) sums outside the accumulator
range (each one wrapped), ``saturations`` = number of activations clipped by the output format.
Reference: Colbert et al., "A2Q: Accumulator-Aware Quantization with Guaranteed Overflow Avoidance"
(ICCV 2023) for the overflow model; Fahim et al., "hls4ml: An Open-Source Codesign Workflow" (2021).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork


@dataclass(frozen=True)
class LayerTrace:
    """One layer's values for every jet: raw accumulator (after wrapping) and raw output."""

    name: str
    accumulator_raw: np.ndarray
    accumulator_fractional_bits: int
    output_raw: np.ndarray
    output_fractional_bits: int


@dataclass(frozen=True)
class EmulatorResult:
    """Raw int64 logits ``(n, n_outputs)`` at ``output_fractional_bits``, per-layer counters and traces."""

    logits_raw: np.ndarray
    output_fractional_bits: int
    accumulator_overflows: dict[str, int]
    saturations: dict[str, int]
    layers: tuple[LayerTrace, ...] = ()

    @property
    def logits(self) -> np.ndarray:
        """The real-valued logits (float64, exact)."""
        return self.logits_raw * 2.0**-self.output_fractional_bits


def round_half_even_shift(raw: np.ndarray, shift: int) -> np.ndarray:
    """``raw * 2**-shift`` rounded half to even (``shift > 0``) or exactly scaled (``shift <= 0``).

    Uses ``(raw + 2**(shift-1) - 1 + lsb) >> shift`` with ``lsb`` the last bit of ``raw >> shift``:
    below half rounds down, above half up, exactly half up only when the truncated value is odd.
    """
    if shift <= 0:
        return raw << -shift
    return (raw + ((1 << (shift - 1)) - 1) + ((raw >> shift) & 1)) >> shift


def quantize_real(values: np.ndarray, fmt: FixedFormat) -> tuple[np.ndarray, int]:
    """Real values -> raw ints of ``fmt`` (half to even, saturate); also the number of saturated values."""
    raw, saturated = _quantize_float(np.asarray(values, dtype=np.float64), fmt)
    return raw.astype(np.int64), saturated


def wrap(raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Two's complement wrap-around of ``raw`` (ints, or integer-valued floats) to ``fmt.bits`` bits."""
    return (raw - fmt.raw_min) % (2**fmt.bits) + fmt.raw_min


def aligned_bias(layer: DenseLayer, input_format: FixedFormat) -> np.ndarray:
    """The bias as hls4ml's ``acc = (accum_t) bias`` sees it: raw int64 at ``f_acc = f_x + f_w``
    (exact left shift, or ``ap_fixed`` truncation toward minus infinity when ``f_b > f_acc``)."""
    return layer.bias_at(input_format.fractional_bits + layer.weight_fractional_bits)


def with_accumulator_bits(
    network: IntegerNetwork, accumulator_bits: Mapping[str, int] | int
) -> IntegerNetwork:
    """``network`` with P-bit two's-complement accumulators (``ap_fixed<P, P - f_x - f_w>``, AP_WRAP).

    Args:
        accumulator_bits: one P for every dense layer, or ``layer name -> P`` (layers not named keep
            their accumulator; ``None`` as a value makes that layer's accumulator wide).

    Raises:
        ValueError: a name that is not a dense layer of ``network``.
    """
    names = [layer.name for layer in network.layers]
    widths = (
        dict.fromkeys(names, accumulator_bits)
        if isinstance(accumulator_bits, int)
        else dict(accumulator_bits)
    )
    unknown = sorted(set(widths) - set(names))
    if unknown:
        raise ValueError(f"accumulator_bits names unknown dense layers {unknown} (layers: {names})")
    layers, x_format = [], network.input_format
    for layer in network.layers:
        if layer.name in widths:
            bits = widths[layer.name]
            fractional = x_format.fractional_bits + layer.weight_fractional_bits
            accumulator = None if bits is None else FixedFormat(int(bits), int(bits) - fractional, True)
            layer = replace(layer, accumulator=accumulator)
        layers.append(layer)
        x_format = layer.output
    return replace(network, layers=tuple(layers))


def dense_accumulator(x_raw: np.ndarray, layer: DenseLayer, input_format: FixedFormat) -> np.ndarray:
    """One layer's final accumulator on raw integer inputs ``(batch, fan_in)`` of ``input_format``:
    ``aligned bias + x_raw @ w_raw``, wrapped to ``layer.accumulator`` when it has one (int64)."""
    (plan,) = _plan((layer,), input_format)
    return _run_layer(np.asarray(x_raw, dtype=np.int64), plan)[0].astype(np.int64)


def _quantize_float(values: np.ndarray, fmt: FixedFormat) -> tuple[np.ndarray, int]:
    scaled = np.round(values * 2.0**fmt.fractional_bits)
    clipped = np.clip(scaled, fmt.raw_min, fmt.raw_max)
    return clipped, int(np.count_nonzero(clipped != scaled))


@dataclass(frozen=True)
class _Plan:
    """One layer prepared for the fast path: integer-valued float weights/bias in an exact dtype."""

    layer: DenseLayer
    dtype: type
    weight: np.ndarray
    bias: np.ndarray
    accumulator_fractional_bits: int


def _plan(layers: tuple[DenseLayer, ...], input_format: FixedFormat) -> list[_Plan]:
    """Choose per layer the narrowest float type in which every partial sum is an exact integer
    (float32 below 2**24, float64 below 2**53) from the worst case ``max|x_raw| * max_j sum_i |w_ij|
    + max|b|``."""
    plans = []
    x_format = input_format
    for layer in layers:
        fractional = x_format.fractional_bits + layer.weight_fractional_bits
        if layer.accumulator is not None and layer.accumulator.fractional_bits != fractional:
            raise ValueError(
                f"layer {layer.name}: accumulator has {layer.accumulator.fractional_bits} fractional bits, "
                f"expected f_x + f_w = {fractional}"
            )
        bias = aligned_bias(layer, x_format)
        x_max = max(abs(x_format.raw_min), abs(x_format.raw_max))
        l1 = int(np.abs(layer.weight_raw).sum(axis=0).max(initial=0))
        bound = x_max * l1 + int(np.abs(bias).max(initial=0))
        if bound >= 2**53:
            raise ValueError(f"layer {layer.name}: accumulator bound 2**{bound.bit_length()} exceeds 2**53")
        dtype = np.float32 if bound < 2**24 else np.float64
        plans.append(_Plan(layer, dtype, layer.weight_raw.astype(dtype), bias.astype(dtype), fractional))
        width = bound.bit_length() + 1
        x_format = layer.output or FixedFormat(bits=width, integer_bits=width - fractional, signed=True)
    return plans


def _run_layer(x_raw: np.ndarray, plan: _Plan) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """``(accumulator, output, output fractional bits, overflows, saturations)``, integer-valued floats."""
    layer = plan.layer
    acc = x_raw.astype(plan.dtype, copy=False) @ plan.weight
    acc += plan.bias
    overflows = 0
    if layer.accumulator is not None:
        fmt = layer.accumulator
        overflows = int(np.count_nonzero((acc < fmt.raw_min) | (acc > fmt.raw_max)))
        if overflows:
            acc = wrap(acc, fmt)
    values = np.maximum(acc, 0) if layer.activation == "relu" else acc
    if layer.output is None:
        return acc, values, plan.accumulator_fractional_bits, overflows, 0
    fmt = layer.output
    rounded = np.round(
        values * values.dtype.type(2.0 ** (fmt.fractional_bits - plan.accumulator_fractional_bits))
    )
    clipped = np.clip(rounded, fmt.raw_min, fmt.raw_max)
    return acc, clipped, fmt.fractional_bits, overflows, int(np.count_nonzero(clipped != rounded))


def emulate(
    network: IntegerNetwork,
    features: np.ndarray,
    *,
    ideal: bool = False,
    accumulator_bits: Mapping[str, int] | int | None = None,
    keep_layers: bool = False,
    chunk_size: int = 8192,
) -> EmulatorResult:
    """Run ``network`` on real-valued ``features`` ``(n, fan_in)`` with hls4ml semantics.

    The arithmetic is integer arithmetic; it is carried in float32/float64 BLAS only where every value
    is an integer exactly representable there (checked per layer from worst-case bounds), and results
    are returned as int64.

    Args:
        network: the integer network.
        features: the model inputs (the standardised jet features), any float dtype.
        ideal: ignore accumulator widths (never wrap): the exact QKeras arithmetic.
        accumulator_bits: wrap-around at these widths first (see :func:`with_accumulator_bits`).
        keep_layers: also return each layer's raw accumulator and output (:class:`LayerTrace`).
        chunk_size: jets per block (keeps the working set in cache; results do not depend on it).
    """
    if accumulator_bits is not None:
        network = with_accumulator_bits(network, accumulator_bits)
    layers = network.layers
    if ideal:
        layers = tuple(DenseLayer(**{**layer.__dict__, "accumulator": None}) for layer in layers)
    plans = _plan(layers, network.input_format)
    overflows = dict.fromkeys((layer.name for layer in layers), 0)
    saturations = dict.fromkeys((layer.name for layer in layers), 0)
    outputs, traces = [], []
    features = np.asarray(features, dtype=np.float64)
    fractional = network.input_format.fractional_bits
    for start in range(0, max(len(features), 1), chunk_size):
        x_raw, _ = _quantize_float(features[start : start + chunk_size], network.input_format)
        chunk_traces = []
        for plan in plans:
            acc, x_raw, fractional, overflow, saturated = _run_layer(x_raw, plan)
            overflows[plan.layer.name] += overflow
            saturations[plan.layer.name] += saturated
            if keep_layers:
                chunk_traces.append((acc.astype(np.int64), x_raw.astype(np.int64)))
        outputs.append(x_raw.astype(np.int64))
        traces.append(chunk_traces)
    merged = ()
    if keep_layers:
        merged = tuple(
            LayerTrace(
                plan.layer.name,
                np.concatenate([chunk[index][0] for chunk in traces]),
                plan.accumulator_fractional_bits,
                np.concatenate([chunk[index][1] for chunk in traces]),
                plan.layer.output.fractional_bits if plan.layer.output else plan.accumulator_fractional_bits,
            )
            for index, plan in enumerate(plans)
        )
    return EmulatorResult(np.concatenate(outputs), fractional, overflows, saturations, merged)
