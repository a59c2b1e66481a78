"""The FPGA cost model of the minifloat exploration: multiply-accumulate units in Verilog.

Two units, each ``acc <= acc + weight * activation`` into a fixed-point two's-complement accumulator
that holds every product exactly (the Kulisch-style exact accumulation the minifloat PTQ study,
Aggarwal et al. FPL 2024, assumes) plus ``growth_bits`` of headroom for the sum:

* integer: a signed ``weight_bits`` weight times an unsigned ``activation_bits`` activation (what a
  QKeras ``quantized_bits`` x ``quantized_relu`` layer computes);
* minifloat: a signed ExMy weight times an unsigned activation minifloat (same exponent width, the
  sign bit spent on one more mantissa bit): decode (implicit bit, subnormals), multiply the
  significands, add the exponents, shift the product into the accumulator's binary point, negate.

:func:`mac_verilog` writes the combinational datapath (``acc_out = acc_in + product``) plus a
registered top for synthesis; :func:`product_units` is the numpy model of the product in accumulator
LSBs that Verilator is checked against on every pair of codes (:mod:`pipeline.ptq.mac_sim`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.ptq.minifloat import MinifloatFormat, decode


@dataclass(frozen=True)
class IntegerOperand:
    """A fixed-point operand: ``bits`` wide, signed or not (the binary point does not change the cost)."""

    bits: int
    signed: bool

    @property
    def total_bits(self) -> int:
        return self.bits

    @property
    def name(self) -> str:
        return f"{'int' if self.signed else 'uint'}{self.bits}"


Operand = IntegerOperand | MinifloatFormat


@dataclass(frozen=True)
class MacUnit:
    """One weight x activation MAC design."""

    weight: Operand
    activation: Operand
    growth_bits: int = 8

    @property
    def name(self) -> str:
        return f"{self.weight.name}_x_{self.activation.name}".replace("-", "_")

    @property
    def product_bits(self) -> int:
        """Bits of the largest product magnitude in accumulator LSBs (sign not counted)."""
        return _magnitude_bits(self.weight) + _magnitude_bits(self.activation)

    @property
    def accumulator_bits(self) -> int:
        return self.product_bits + 1 + self.growth_bits


def _magnitude_bits(operand: Operand) -> int:
    if isinstance(operand, IntegerOperand):
        return operand.bits  # a signed operand's most negative value has magnitude 2**(bits - 1)
    top_exponent = 2**operand.exponent_bits - 1
    return operand.mantissa_bits + 1 + top_exponent - 1  # significand shifted by (effective exponent - 1)


def operand_codes(operand: Operand) -> range:
    """Every code of the operand's port (``0 .. 2**bits - 1``)."""
    return range(2**operand.total_bits)


def operand_units(operand: Operand, code: int) -> int:
    """The operand's value in its own LSBs: integers as two's complement; a minifloat as
    ``significand << (effective exponent - 1)`` with its sign (so a product of two such values is in
    the accumulator's LSBs)."""
    bits = operand.total_bits
    if isinstance(operand, IntegerOperand):
        return code - (1 << bits) if operand.signed and code >> (bits - 1) else code
    mantissa_bits = operand.mantissa_bits
    mantissa = code & ((1 << mantissa_bits) - 1)
    exponent = (code >> mantissa_bits) & ((1 << operand.exponent_bits) - 1)
    negative = operand.signed and bool(code >> (bits - 1))
    value = decode(operand, exponent, mantissa)  # exact: a dyadic rational
    unit = 2.0 ** (1 - operand.exponent_bias - mantissa_bits)  # = LSB of the smallest binade
    magnitude = int(value / unit)
    return -magnitude if negative else magnitude


def product_units(unit: MacUnit, weight_code: int, activation_code: int) -> int:
    """The exact product in accumulator LSBs (the reference the RTL must equal)."""
    return operand_units(unit.weight, weight_code) * operand_units(unit.activation, activation_code)


def _decode_verilog(prefix: str, port: str, operand: Operand) -> tuple[list[str], str, str]:
    """Verilog lines decoding a port into ``{prefix}_mag`` (magnitude in LSBs) and ``{prefix}_neg``."""
    bits = operand.total_bits
    if isinstance(operand, IntegerOperand):
        if operand.signed:
            lines = [
                f"  wire {prefix}_neg = {port}[{bits - 1}];",
                f"  wire [{bits - 1}:0] {prefix}_abs = {prefix}_neg ? (~{port} + 1'b1) : {port};",
            ]
            return lines, f"{prefix}_abs", f"{prefix}_neg"
        return [], port, "1'b0"
    e_bits, m_bits = operand.exponent_bits, operand.mantissa_bits
    magnitude_bits = _magnitude_bits(operand)
    lines = [f"  wire [{e_bits - 1}:0] {prefix}_e = {port}[{e_bits + m_bits - 1}:{m_bits}];"]
    lines.append(f"  wire {prefix}_normal = |{prefix}_e;")
    if m_bits:
        lines.append(f"  wire [{m_bits - 1}:0] {prefix}_m = {port}[{m_bits - 1}:0];")
        subnormal = f"{{1'b0, {prefix}_m}}" if operand.subnormals else f"{m_bits + 1}'d0"
        significand = f"({prefix}_normal ? {{1'b1, {prefix}_m}} : {subnormal})"
    else:
        significand = f"{prefix}_normal"
    pad = magnitude_bits - m_bits - 1
    widened = f"{{{{{pad}{{1'b0}}}}, {prefix}_sig}}" if pad else f"{prefix}_sig"
    lines += [
        f"  wire [{m_bits}:0] {prefix}_sig = {significand};",
        f"  wire [{e_bits - 1}:0] {prefix}_shift = {prefix}_normal ? ({prefix}_e - 1'b1) : {e_bits}'d0;",
        f"  wire [{magnitude_bits - 1}:0] {prefix}_mag = {widened} << {prefix}_shift;",
    ]
    negative = f"{port}[{bits - 1}]" if operand.signed else "1'b0"
    return lines, f"{prefix}_mag", negative


def mac_verilog(unit: MacUnit) -> str:
    """Verilog of ``mac_comb`` (``acc_out = acc_in + w * a``, combinational) and ``mac_top``
    (the accumulator register, for synthesis)."""
    w_bits, a_bits, acc = unit.weight.total_bits, unit.activation.total_bits, unit.accumulator_bits
    w_lines, w_mag, w_neg = _decode_verilog("w", "weight", unit.weight)
    a_lines, a_mag, a_neg = _decode_verilog("a", "activation", unit.activation)
    product = unit.product_bits
    body = "\n".join(
        [
            "module mac_comb (",
            f"  input [{w_bits - 1}:0] weight,",
            f"  input [{a_bits - 1}:0] activation,",
            f"  input signed [{acc - 1}:0] acc_in,",
            f"  output signed [{acc - 1}:0] acc_out",
            ");",
            *w_lines,
            *a_lines,
            f"  wire [{product - 1}:0] magnitude = {w_mag} * {a_mag};",
            f"  wire signed [{acc - 1}:0] extended = {{{{{acc - product}{{1'b0}}}}, magnitude}};",
            f"  wire signed [{acc - 1}:0] product = ({w_neg} ^ {a_neg}) ? -extended : extended;",
            "  assign acc_out = acc_in + product;",
            "endmodule",
            "",
            "module mac_top (",
            "  input clk,",
            f"  input [{w_bits - 1}:0] weight,",
            f"  input [{a_bits - 1}:0] activation,",
            f"  output reg signed [{acc - 1}:0] acc",
            ");",
            f"  wire signed [{acc - 1}:0] next;",
            "  mac_comb datapath (.weight(weight), .activation(activation), .acc_in(acc), .acc_out(next));",
            "  always @(posedge clk) acc <= next;",
            "endmodule",
            "",
        ]
    )
    return f"// {unit.name}: generated by pipeline.ptq.mac_rtl\n{body}"
