"""Accumulator bit-width bounds (closed forms).

References:
    [A2Q]  I. Colbert, A. Pappalardo, J. Petri-Koenig, "A2Q: Accumulator-Aware Quantization with
           Guaranteed Overflow Avoidance", ICCV 2023 (arXiv:2308.13504); the same bounds are in
           Brevitas ``brevitas.function.ops.get_upper_bound_on_l1_norm`` and
           ``brevitas.nn.utils.calculate_min_accumulator_bit_width``.
    [A2Q+] I. Colbert, A. Pappalardo, J. Petri-Koenig, Y. Umuroglu, "A2Q+: Improving
           Accumulator-Aware Weight Quantization", ICML 2024 (arXiv:2401.10432).

Notation: ``P`` accumulator bits (signed, two's complement), ``N`` input bits, ``signed(x)`` 1 for
signed inputs else 0, ``M`` weight bits, ``K`` fan-in, ``q`` one output channel's integer weights.
All functions work on integers (the raw values of :mod:`pipeline.deploy.integer_network`).
"""

from __future__ import annotations

import numpy as np

from pipeline.errors import PipelineError


def _ceil_log2(value: int) -> int:
    """Smallest ``e >= 0`` with ``2**e >= value`` (``value >= 1``)."""
    return max(int(value) - 1, 0).bit_length()


def a2q_l1_bound(accumulator_bits: int, input_bits: int, input_signed: bool) -> float:
    """[A2Q], the L1-norm constraint: ``||q||_1 <= (2**(P-1) - 1) * 2**(signed(x) - N)``.

    Every N-bit input has ``|x| <= 2**(N - signed(x))``, so ``|x . q| <= 2**(N-signed(x)) ||q||_1
    <= 2**(P-1) - 1``: the dot product fits a signed P-bit accumulator for every input.
    """
    return (2.0 ** (accumulator_bits - 1) - 1.0) * 2.0 ** (int(input_signed) - input_bits)


def a2q_plus_l1_bound(accumulator_bits: int, input_bits: int) -> float:
    """[A2Q+], zero-centred weights (``sum(q) = 0``): ``||q||_1 <= (2**P - 2) / (2**N - 1)``.

    With ``sum(q) = 0``, ``x . q = (x - c) . q`` for the mid-range ``c`` of the input interval, whose
    half-width is ``(2**N - 1) / 2`` for signed and unsigned inputs alike, so
    ``|x . q| <= (2**N - 1) / 2 * ||q||_1 <= 2**(P-1) - 1``. Equivalently the positive and the negative
    weights each sum to at most ``(2**P - 2) / (2 (2**N - 1))`` in magnitude, which rounding toward
    zero preserves even where it breaks ``sum(q) = 0`` (:mod:`pipeline.a2q.layers`).

    For a signed input the A2Q bound is ``(2**P - 2) / 2**N``: A2Q+ gains only a factor
    ``1 + 1/(2**N - 1)`` there, so the constrain stage allows ``a2q_plus`` on unsigned inputs only.
    """
    return (2.0**accumulator_bits - 2.0) / (2.0**input_bits - 1.0)


def l1_bound(method: str, accumulator_bits: int, input_bits: int, input_signed: bool) -> float:
    """The L1 bound of ``method`` (``"a2q"`` or ``"a2q_plus"``) in integer weight units."""
    if method == "a2q":
        return a2q_l1_bound(accumulator_bits, input_bits, input_signed)
    if method == "a2q_plus":
        return a2q_plus_l1_bound(accumulator_bits, input_bits)
    raise PipelineError("constrain", f"unknown accumulator_method '{method}'", fix="use a2q or a2q_plus")


def data_type_bound_bits(input_bits: int, input_signed: bool, weight_bits: int, fan_in: int) -> int:
    """[A2Q] data-type bound: the narrowest accumulator that can never overflow for *any*
    M-bit weights, without a constraint.

    ``P = ceil(alpha + phi(alpha) + 1)`` with ``alpha = log2(K) + N + M - 1 - signed(x)`` and
    ``phi(a) = log2(1 + 2**-a)``, i.e. ``P = 1 + ceil(log2(K * 2**(N+M-1-signed(x)) + 1))``
    (``|x| <= 2**(N - signed(x))``, ``|w| <= 2**(M-1)``), evaluated exactly in integers.
    """
    magnitude = fan_in * 2 ** (input_bits + weight_bits - 1 - int(input_signed))
    return 1 + _ceil_log2(magnitude + 1)


def weight_level_bound_bits(weight_raw: np.ndarray, input_bits: int, input_signed: bool) -> int:
    """[A2Q] weight-level bound for given integer weights ``(fan_in, fan_out)``: the largest
    over output channels of ``1 + ceil(log2(||q||_1 * 2**(N - signed(x)) + 1))``."""
    l1 = int(np.abs(np.asarray(weight_raw, dtype=np.int64)).sum(axis=0).max(initial=0))
    return 1 + _ceil_log2(l1 * 2 ** (input_bits - int(input_signed)) + 1)


def minimum_accumulator_bits(method: str, input_bits: int, input_signed: bool) -> int:
    """The smallest P whose L1 bound admits any non-zero integer weights: ``>= 1`` for A2Q (one weight
    of magnitude 1) and ``>= 2`` for A2Q+ (a zero-sum non-zero integer vector has ``||q||_1 >= 2``)."""
    needed = 1.0 if method == "a2q" else 2.0
    bits = 2
    while l1_bound(method, bits, input_bits, input_signed) < needed:
        bits += 1
    return bits


def require_feasible(
    method: str, accumulator_bits: int, input_bits: int, input_signed: bool, where: str
) -> None:
    """Raise a :class:`PipelineError` when P cannot hold even a single weight for these inputs."""
    minimum = minimum_accumulator_bits(method, input_bits, input_signed)
    if accumulator_bits < minimum:
        kind = "signed" if input_signed else "unsigned"
        bound = l1_bound(method, accumulator_bits, input_bits, input_signed)
        raise PipelineError(
            "constrain",
            f"accumulator_bits={accumulator_bits} cannot hold even one weight for {input_bits}-bit {kind} "
            f"inputs with {method} (the L1 bound is {bound:.3g})",
            input=where,
            fix=f"set accumulator_bits >= {minimum} (or narrow the layer's input quantizer)",
        )
