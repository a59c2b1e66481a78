"""MAC units in Verilator against the numpy model on every code pair, and their Yosys cost."""

from __future__ import annotations

import pytest

from pipeline.ptq.mac_rtl import IntegerOperand, MacUnit, mac_verilog, product_units
from pipeline.ptq.mac_sim import check_macs, synthesize_mac
from pipeline.ptq.minifloat import MinifloatFormat
from pipeline.ptq.minifloat_network import activation_format


def _minifloat_unit(exponent: int, mantissa: int, subnormals: bool = True) -> MacUnit:
    weight = MinifloatFormat(exponent, mantissa, subnormals=subnormals)
    return MacUnit(weight, activation_format(weight))


def test_product_model_examples() -> None:
    # E2M1 (bias 1): code 0b0111 = +2**(3-1) * 1.5 = 6; unsigned E2M2 code 0b0101 = 2**0 * 1.25
    unit = _minifloat_unit(2, 1)
    unit_lsb = 2.0 ** (1 - 1 - 1) * 2.0 ** (1 - 1 - 2)
    assert product_units(unit, 0b0111, 0b0101) * unit_lsb == 6 * 1.25
    assert product_units(unit, 0b1111, 0b0101) * unit_lsb == -6 * 1.25
    integer = MacUnit(IntegerOperand(4, True), IntegerOperand(4, False))
    assert product_units(integer, 0b1000, 15) == -8 * 15


@pytest.mark.slow
def test_verilator_equals_the_model_on_every_pair_of_codes(tmp_path) -> None:
    units = [
        MacUnit(IntegerOperand(4, True), IntegerOperand(4, False)),
        _minifloat_unit(2, 1),
        _minifloat_unit(3, 2, subnormals=False),
        _minifloat_unit(1, 0),
        _minifloat_unit(4, 3),
    ]
    checks = check_macs(units, tmp_path / "sim")
    assert [check.pairs for check in checks] == [2 * 2 ** (2 * unit.weight.total_bits) for unit in units]
    assert [check.mismatches for check in checks] == [0] * len(units)


@pytest.mark.slow
def test_a_wrong_unit_is_caught(tmp_path, monkeypatch) -> None:
    import pipeline.ptq.mac_sim as mac_sim

    signed_activation = MacUnit(MinifloatFormat(2, 1), MinifloatFormat(2, 1))
    correct = mac_verilog(signed_activation)
    broken = correct.replace(" ^ activation[3]", "")  # forgets the activation's sign
    assert broken != correct
    monkeypatch.setattr(mac_sim, "mac_verilog", lambda _unit: broken)
    assert check_macs([signed_activation], tmp_path / "sim")[0].mismatches > 0


@pytest.mark.slow
def test_minifloat_mac_costs_more_than_integer_at_eight_bits(tmp_path) -> None:
    integer = synthesize_mac(MacUnit(IntegerOperand(8, True), IntegerOperand(8, False)), tmp_path / "int")
    minifloat = synthesize_mac(_minifloat_unit(4, 3), tmp_path / "e4m3")
    assert integer.luts > 0 and minifloat.luts > integer.luts
