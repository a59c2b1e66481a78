"""A numpy integer (int64) emulator of an :class:`IntegerNetwork` with hls4ml's ``ap_fixed`` semantics.

Per dense layer (see :mod:`pipeline.deploy.integer_network`):

* the input is quantized like hls4ml's input layer ``ap_fixed<b, i, AP_RND_CONV, AP_SAT>``;
* ``acc = x_raw @ w_raw + (b_raw aligned to f_acc)`` exactly, then wrapped to the accumulator's width
  (hls4ml's default ``AP_WRAP``: only the final sum matters, two's complement modulo ``2**P``);
* the activation (ReLU or identity) is quantized to the output format with ``AP_RND_CONV`` (half to
  even) and ``AP_SAT``.

Counters: per layer, ``accumulator_overflows`` = number of (jet, neuron) sums outside the accumulator
range (each one wrapped), ``saturations`` = number of activations clipped by the output format.
Reference: Colbert et al., "A2Q: Accumulator-Aware Quantization with Guaranteed Overflow Avoidance"
(ICCV 2023) for the overflow model; Fahim et al., "hls4ml: An Open-Source Codesign Workflow" (2021).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork

_FLOAT64_EXACT = 2.0**52


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
    """``raw * 2**-shift`` rounded half to even (``shift > 0``) or exactly scaled (``shift <= 0``)."""
    if shift <= 0:
        return raw << -shift
    floor = raw >> shift
    remainder = raw - (floor << shift)
    half = 1 << (shift - 1)
    round_up = (remainder > half) | ((remainder == half) & ((floor & 1) == 1))
    return floor + round_up


def quantize_real(values: np.ndarray, fmt: FixedFormat) -> tuple[np.ndarray, int]:
    """Real values -> raw ints of ``fmt`` (half to even, saturate); also the number of saturated values."""
    scaled = np.round(np.asarray(values, dtype=np.float64) * 2.0**fmt.fractional_bits)
    clipped = np.clip(scaled, fmt.raw_min, fmt.raw_max)
    return clipped.astype(np.int64), int(np.count_nonzero(clipped != scaled))


def wrap(raw: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Two's complement wrap-around of ``raw`` to ``fmt.bits`` bits (``AP_WRAP``)."""
    modulus = np.int64(1) << fmt.bits
    wrapped = (raw - fmt.raw_min) % modulus + fmt.raw_min
    return wrapped


def _matmul_exact(x_raw: np.ndarray, weight_raw: np.ndarray) -> np.ndarray:
    """Integer matrix product; uses float64 BLAS when every partial sum is exactly representable."""
    bound = float(np.abs(x_raw).max(initial=0)) * float(np.abs(weight_raw).sum(axis=0).max(initial=0))
    if bound < _FLOAT64_EXACT:
        return (x_raw.astype(np.float64) @ weight_raw.astype(np.float64)).astype(np.int64)
    return x_raw @ weight_raw


def dense_accumulate(x_raw: np.ndarray, x_fractional_bits: int, layer: DenseLayer) -> tuple[np.ndarray, int, int]:
    """Accumulator of one dense layer: ``(raw after wrapping, fractional bits, number of overflows)``."""
    accumulator_fractional = x_fractional_bits + layer.weight_fractional_bits
    acc = _matmul_exact(x_raw, layer.weight_raw)
    bias_shift = accumulator_fractional - layer.bias_fractional_bits
    bias = layer.bias_raw << bias_shift if bias_shift >= 0 else layer.bias_raw >> -bias_shift
    acc = acc + bias
    overflows = 0
    if layer.accumulator is not None:
        fmt = layer.accumulator
        overflows = int(np.count_nonzero((acc < fmt.raw_min) | (acc > fmt.raw_max)))
        if fmt.fractional_bits != accumulator_fractional:
            raise ValueError(
                f"layer {layer.name}: accumulator has {fmt.fractional_bits} fractional bits, "
                f"expected f_x + f_w = {accumulator_fractional}"
            )
        acc = wrap(acc, fmt)
    return acc, accumulator_fractional, overflows


def activate(acc: np.ndarray, acc_fractional_bits: int, layer: DenseLayer) -> tuple[np.ndarray, int, int]:
    """ReLU/identity then the output quantizer (RND_CONV, SAT): ``(raw, fractional bits, saturations)``."""
    values = np.maximum(acc, 0) if layer.activation == "relu" else acc
    if layer.output is None:
        return values, acc_fractional_bits, 0
    fmt = layer.output
    rounded = round_half_even_shift(values, acc_fractional_bits - fmt.fractional_bits)
    clipped = np.clip(rounded, fmt.raw_min, fmt.raw_max)
    return clipped, fmt.fractional_bits, int(np.count_nonzero(clipped != rounded))


def emulate(
    network: IntegerNetwork, features: np.ndarray, *, ideal: bool = False, keep_layers: bool = False
) -> EmulatorResult:
    """Run ``network`` on real-valued ``features`` ``(n, fan_in)`` in int64 with hls4ml semantics.

    Args:
        network: the integer network.
        features: the model inputs (the standardised jet features), any float dtype.
        ideal: ignore accumulator widths (never wrap): the exact QKeras arithmetic.
        keep_layers: also return each layer's raw accumulator and output (:class:`LayerTrace`).
    """
    x_raw, _ = quantize_real(features, network.input_format)
    x_fractional = network.input_format.fractional_bits
    overflows: dict[str, int] = {}
    saturations: dict[str, int] = {}
    traces = []
    for layer in network.layers:
        if ideal and layer.accumulator is not None:
            layer = DenseLayer(**{**layer.__dict__, "accumulator": None})
        acc, acc_fractional, overflows[layer.name] = dense_accumulate(x_raw, x_fractional, layer)
        x_raw, x_fractional, saturations[layer.name] = activate(acc, acc_fractional, layer)
        if keep_layers:
            traces.append(LayerTrace(layer.name, acc, acc_fractional, x_raw, x_fractional))
    return EmulatorResult(x_raw, x_fractional, overflows, saturations, tuple(traces))
