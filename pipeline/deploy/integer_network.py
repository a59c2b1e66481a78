"""The integer view of a deployed (quantized) network: the one description shared by the A2Q checks,
the integer emulator, the hls4ml configuration and the RTL (da4ml) flow.

Semantics are hls4ml's ``ap_fixed``: a value with ``bits`` total bits and ``integer_bits`` integer
bits (sign included when signed) is ``raw * 2**-(bits - integer_bits)`` with ``raw`` an integer.
A dense layer computes, per output channel ``j``,

    acc_j = sum_i x_raw[i] * w_raw[i, j] * 2**(f_acc - f_x - f_w)  +  b_raw[j] * 2**(f_acc - f_b)

in an accumulator of ``accumulator.bits`` bits and ``f_acc = f_x + f_w`` fractional bits (overflow
wraps, hls4ml's default), then the activation quantizer maps ``acc`` to the output format with
rounding ``RND_CONV`` (half to even, as QKeras' ``tf.round``) and saturation (``SAT``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class FixedFormat:
    """``ap_fixed<bits, integer_bits>`` (signed) or ``ap_ufixed<bits, integer_bits>`` (unsigned)."""

    bits: int
    integer_bits: int
    signed: bool

    @property
    def fractional_bits(self) -> int:
        return self.bits - self.integer_bits

    @property
    def raw_min(self) -> int:
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1


@dataclass(frozen=True)
class DenseLayer:
    """One dense layer in integer form.

    Attributes:
        name: the layer's name in the Keras model (hls4ml/ONNX names are derived from it).
        weight_raw: int64 array ``(fan_in, fan_out)``;
            real weight = ``weight_raw * 2**-weight_fractional_bits``.
        weight_fractional_bits: power-of-two scale of the weights.
        bias_raw: int64 array ``(fan_out,)``; real bias = ``bias_raw * 2**-bias_fractional_bits``.
        bias_fractional_bits: power-of-two scale of the bias.
        accumulator: the accumulator format (``None``: wide enough never to overflow, hls4ml ``auto``).
        activation: ``"relu"`` or ``"linear"``.
        output: the activation quantizer's format
            (``None``: the raw accumulator is the output, as for logits).
    """

    name: str
    weight_raw: np.ndarray
    weight_fractional_bits: int
    bias_raw: np.ndarray
    bias_fractional_bits: int
    accumulator: FixedFormat | None
    activation: Literal["relu", "linear"]
    output: FixedFormat | None

    def bias_at(self, fractional_bits: int) -> np.ndarray:
        """The bias as raw int64 integers at ``fractional_bits`` (the accumulator's ``f_x + f_w``):
        hls4ml's ``(accum_t) bias`` cast, ``floor(bias_raw * 2**(fractional_bits - f_b))``
        (``AP_TRN``). The one bias alignment of the project (emulator, A2Q check, RTL trace)."""
        shift = fractional_bits - self.bias_fractional_bits
        bias = np.asarray(self.bias_raw, dtype=np.int64)
        return bias << shift if shift >= 0 else bias >> -shift


@dataclass(frozen=True)
class IntegerNetwork:
    """A chain of dense layers behind an input quantizer."""

    input_format: FixedFormat
    layers: tuple[DenseLayer, ...]


NETWORK_FILE = "network.json"
"""File name of a saved :class:`IntegerNetwork` (``export/<model>/`` and ``convert/<model>/``)."""


def _format_to_dict(fmt: FixedFormat | None) -> dict | None:
    return None if fmt is None else {"bits": fmt.bits, "integer_bits": fmt.integer_bits, "signed": fmt.signed}


def _format_from_dict(data: dict | None) -> FixedFormat | None:
    return (
        None
        if data is None
        else FixedFormat(int(data["bits"]), int(data["integer_bits"]), bool(data["signed"]))
    )


def network_to_dict(network: IntegerNetwork) -> dict:
    """A JSON-ready description of ``network`` (raw weights as nested lists of ints)."""
    return {
        "input_format": _format_to_dict(network.input_format),
        "layers": [
            {
                "name": layer.name,
                "weight_raw": np.asarray(layer.weight_raw, dtype=np.int64).tolist(),
                "weight_fractional_bits": int(layer.weight_fractional_bits),
                "bias_raw": np.asarray(layer.bias_raw, dtype=np.int64).tolist(),
                "bias_fractional_bits": int(layer.bias_fractional_bits),
                "accumulator": _format_to_dict(layer.accumulator),
                "activation": layer.activation,
                "output": _format_to_dict(layer.output),
            }
            for layer in network.layers
        ],
    }


def network_from_dict(data: dict) -> IntegerNetwork:
    """Inverse of :func:`network_to_dict`."""
    layers = tuple(
        DenseLayer(
            name=str(entry["name"]),
            weight_raw=np.asarray(entry["weight_raw"], dtype=np.int64).reshape(len(entry["weight_raw"]), -1),
            weight_fractional_bits=int(entry["weight_fractional_bits"]),
            bias_raw=np.asarray(entry["bias_raw"], dtype=np.int64).reshape(-1),
            bias_fractional_bits=int(entry["bias_fractional_bits"]),
            accumulator=_format_from_dict(entry["accumulator"]),
            activation=entry["activation"],
            output=_format_from_dict(entry["output"]),
        )
        for entry in data["layers"]
    )
    return IntegerNetwork(input_format=_format_from_dict(data["input_format"]), layers=layers)


def save_network(network: IntegerNetwork, path) -> None:
    """Write ``network`` as JSON to ``path`` (deterministic bytes: same network, same file)."""
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(network_to_dict(network), separators=(",", ":"), sort_keys=True) + "\n")


def load_network(path) -> IntegerNetwork:
    """Read a network written by :func:`save_network` (``OSError``/``ValueError``/``KeyError`` if bad)."""
    import json
    from pathlib import Path

    return network_from_dict(json.loads(Path(path).read_text()))


def network_differences(first: IntegerNetwork, second: IntegerNetwork, limit: int = 5) -> list[str]:
    """What differs between two networks, in words (empty: equal). Layer names are not compared (a
    Keras layer and its ONNX node have different names); formats, activations, the integer weights at
    their scale and the bias values are."""
    differences: list[str] = []
    if first.input_format != second.input_format:
        differences.append(f"input format {first.input_format} vs {second.input_format}")
    if len(first.layers) != len(second.layers):
        differences.append(f"{len(first.layers)} vs {len(second.layers)} dense layers")
        return differences
    for index, (a, b) in enumerate(zip(first.layers, second.layers, strict=True)):
        where = f"layer {index} ({a.name} / {b.name})"
        for field in ("weight_fractional_bits", "accumulator", "activation", "output"):
            if getattr(a, field) != getattr(b, field):
                differences.append(f"{where}: {field} {getattr(a, field)} vs {getattr(b, field)}")
        # biases are compared by value: a zero bias may be stored at any scale (or dropped by an exporter)
        common = max(a.bias_fractional_bits, b.bias_fractional_bits)
        pairs = (
            ("weight_raw", np.asarray(a.weight_raw), np.asarray(b.weight_raw)),
            (
                f"bias (raw at 2**-{common})",
                np.asarray(a.bias_raw) << (common - a.bias_fractional_bits),
                np.asarray(b.bias_raw) << (common - b.bias_fractional_bits),
            ),
        )
        for field, left, right in pairs:
            if left.shape != right.shape:
                differences.append(f"{where}: {field} shape {left.shape} vs {right.shape}")
            elif not np.array_equal(left, right):
                position = tuple(int(i) for i in np.argwhere(left != right)[0])
                differences.append(
                    f"{where}: {field}{list(position)} = {left[position]} vs {right[position]} "
                    f"({int(np.count_nonzero(left != right))} entries differ)"
                )
    return differences[:limit]


def with_accumulators(network: IntegerNetwork, accumulator_bits: dict[str, int]) -> IntegerNetwork:
    """``network`` with a ``P``-bit accumulator ``ap_fixed<P, P - f_x - f_w>`` on each named layer
    (A2Q, Colbert et al. ICCV 2023: only the final sum must fit, hls4ml wraps); other layers unchanged.

    Raises:
        ValueError: a name that is not a layer of ``network``.
    """
    names = {layer.name for layer in network.layers}
    unknown = sorted(set(accumulator_bits) - names)
    if unknown:
        raise ValueError(f"accumulator_bits names unknown dense layers {unknown}; layers: {sorted(names)}")
    layers = []
    x_format = network.input_format
    for layer in network.layers:
        bits = accumulator_bits.get(layer.name)
        fractional = x_format.fractional_bits + layer.weight_fractional_bits
        if bits is not None:
            accumulator = FixedFormat(bits=int(bits), integer_bits=int(bits) - fractional, signed=True)
            layer = DenseLayer(**{**layer.__dict__, "accumulator": accumulator})
        layers.append(layer)
        x_format = layer.output or FixedFormat(bits=64, integer_bits=64 - fractional, signed=True)
    return IntegerNetwork(input_format=network.input_format, layers=tuple(layers))
