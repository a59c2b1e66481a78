"""Human number formats of the report page."""

from __future__ import annotations

from pipeline.report import numbers


def test_counts_prefixes_and_percentages():
    assert numbers.count(20944) == "20,944" and numbers.count(20944.0) == "20,944"
    assert numbers.si(4_653_000) == "4.65 M" and numbers.si(286_000) == "286 k"
    assert numbers.si(9_500) == "9,500" and numbers.si(2.5e9) == "2.5 G"
    assert numbers.percent(0.7312) == "73.1 %" and numbers.percent(0.73126, 2) == "73.13 %"
    assert numbers.plain(0.92831) == "0.9283" and numbers.plain(31.25) == "31.25"
    assert numbers.plain(3.0) == "3" and numbers.plain(1.5e-5) == "1.500e-05"
    assert numbers.count(None) == numbers.si(None) == numbers.percent(None) == "–"


def test_cells():
    assert numbers.cell(20944.0) == "20,944" and numbers.cell(4.653e6 + 0.5) == "4.653 M"
    assert (
        numbers.cell(True) == "yes"
        and numbers.cell(None) == "–"
        and numbers.cell("ap_fixed<8,3>") == "ap_fixed<8,3>"
    )
