"""Budgets evaluated on stored records: the value read, the limit, pass/fail and the record read."""

from __future__ import annotations

import pytest

from pipeline.checks.config import ChecksConfig
from pipeline.checks.evaluate import evaluate_stage, verdict
from tests.checks.records import float_records, quantized_records


def _one(stage: str, budgets: dict, records=None, model="q", reference=None, **config) -> list:
    checks = ChecksConfig.model_validate({"all": {stage: budgets}, **config})
    return evaluate_stage(stage, model, records or quantized_records(), checks, reference)


def test_accuracy_drop_against_the_previous_stage_in_points():
    (result,) = _one("prune", {"max_accuracy_drop_vs_previous": 0.5})
    assert result.value == pytest.approx(1.0) and result.unit == "points" and result.status == "fail"
    assert result.source == "prune/q/metrics.json:physics.accuracy vs train/q/metrics.json:physics.accuracy"
    (result,) = _one("prune", {"max_accuracy_drop_vs_previous": 1.5})
    assert result.status == "pass"


def test_accuracy_drop_against_the_float_reference():
    results = _one(
        "constrain",
        {"max_accuracy_drop_vs_float": 2.0},
        reference=float_records(),
        float_reference="f",
    )
    (result,) = results
    assert result.value == pytest.approx(2.5) and result.status == "fail"  # 74 % - 71.5 %
    assert "prune/f/metrics.json" in result.source  # the reference's latest accuracy up to constrain


def test_per_class_auc_and_an_unbounded_rejection():
    results = _one("train", {"min_auc": {"t": 0.95}, "min_background_rejection": 5})
    by_figure = {result.figure: result for result in results}
    assert by_figure["AUC (t)"].status == "fail" and by_figure["AUC (t)"].value == 0.9
    assert by_figure["1/eps_B at eps_S=0.5 (g)"].status == "pass"
    unbounded = by_figure["1/eps_B at eps_S=0.5 (t)"]  # no background jet passes: rejection unbounded
    assert unbounded.status == "pass" and unbounded.value is None and "unbounded" in unbounded.note


def test_min_accuracy_is_shown_in_percent():
    (result,) = _one("train", {"min_accuracy": 0.75})
    assert (result.value, result.limit, result.unit, result.status) == (73.0, 75, "%", "fail")


def test_firmware_budgets_absolute_and_as_a_share_of_the_part():
    results = _one(
        "firmware",
        {"max_luts": 20_000, "max_luts_percent": 0.5, "max_latency_ns": 20, "max_mismatches": 0},
    )
    by_check = {result.check: result for result in results}
    assert by_check["max_luts"].status == "pass"
    share = by_check["max_luts_percent"]  # 17,280 of the VU13P's 1,728,000 LUTs = 1 %
    assert share.value == pytest.approx(1.0) and share.status == "fail" and "1,728,000" in share.note
    assert by_check["max_latency_ns"].status == "fail" and by_check["max_latency_ns"].value == 25.0
    assert by_check["max_mismatches"].status == "pass"


def test_mismatches_read_the_stage_record():
    (result,) = _one("convert", {"max_mismatches": 0})
    assert result.status == "fail" and result.value == 2
    assert result.source == "convert/q/bit_exact.json:mismatches"


def test_skipped_model_and_unrecorded_figure():
    (skipped,) = _one("firmware", {"max_luts": 10}, records=float_records(), model="f")
    assert skipped.status == "skipped" and "float model" in skipped.note
    records = quantized_records()
    records["firmware"]["metrics"]["luts"] = None  # synthesis off
    (missing,) = _one("firmware", {"max_luts": 10}, records=records)
    assert missing.status == "missing" and missing.value is None


def test_unknown_part_needs_part_resources():
    records = quantized_records()
    records["firmware"]["firmware"]["part"] = "xc7a35t-cpg236-1"
    (result,) = _one("firmware", {"max_luts_percent": 5}, records=records)
    assert result.status == "missing" and "part_resources" in result.note
    (result,) = _one(
        "firmware",
        {"max_luts_percent": 5},
        records=records,
        part_resources={"luts": 20_800, "flip_flops": 41_600, "dsps": 90},
    )
    assert result.value == pytest.approx(100 * 17_280 / 20_800) and result.status == "fail"


def test_per_model_budgets_override_all():
    checks = ChecksConfig.model_validate(
        {
            "all": {"firmware": {"max_luts": 10, "max_dsps": 0}},
            "models": {"q": {"firmware": {"max_luts": 1e6}}},
        }
    )
    assert checks.budgets_for("q", "firmware") == {"max_luts": 1e6, "max_dsps": 0}
    assert checks.budgets_for("other", "firmware") == {"max_luts": 10, "max_dsps": 0}


def test_verdict_and_line():
    assert verdict(["pass", "missing"]) == "missing" and verdict(["pass", "fail"]) == "fail"
    assert verdict([]) == "-" and verdict(["skipped"]) == "skipped"
    (result,) = _one("firmware", {"max_luts": 100})
    assert result.line() == (
        "q: firmware LUTs = 17,280 LUT, budget <= 100 LUT (max_luts; read firmware/q/metrics.json:luts)"
    )
