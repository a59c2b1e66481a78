"""The headline rows, the best model under the budgets and the stage-by-stage view."""

from __future__ import annotations

import pytest

from pipeline.report.glance import best_model, headline, stage_view


def _model(accuracy: float, luts: float | None, csim: int | None = 0) -> dict:
    summary = {"bops": {"value": 1e5}, "bit_exact_mismatches": {"value": csim}}
    if luts is not None:
        summary |= {"luts": {"value": luts}, "latency_cycles": {"value": 5}, "latency_ns": {"value": 25.0}}
    classes = {"t": {"auc": 0.9}, "w": {"auc": 0.8}}
    return {"summary": summary, "performance": {"exact": {"accuracy": accuracy, "classes": classes}}}


DOCUMENT = {"models": {"a": _model(0.73, 40_000), "b": _model(0.72, 20_000), "f": _model(0.74, None, None)}}


def test_headline_rows():
    rows = {row["model"]: row for row in headline(DOCUMENT, None)}
    assert (
        rows["a"]["mean_auc"] == pytest.approx(0.85)
        and rows["a"]["bit_exact"] is True
        and rows["a"]["scores"] == "exact"
    )
    assert rows["f"]["bit_exact"] is None and rows["f"]["checks"] == "-"


def test_best_model_is_the_most_accurate_deployable_one_within_budgets():
    assert best_model(headline(DOCUMENT, None), None)[0] == "a"  # f has no firmware: not deployable
    checks = {"by_model": {"a": "fail", "b": "pass", "f": "pass"}}
    name, reason = best_model(headline(DOCUMENT, checks), checks)
    assert name == "b" and "passes every configured budget" in reason
    everything_fails = {"by_model": dict.fromkeys("abf", "fail")}
    assert best_model(headline(DOCUMENT, everything_fails), everything_fails)[0] is None


def test_stage_view_reads_each_stage_record():
    record = {
        "stages": {
            "train": {"metrics": {"physics": {"accuracy": 0.7, "auc": {"t": 0.9}}, "cost": {"bops": 10.0}}},
            "constrain": {"metrics": {"skipped": "float model"}},
            "convert": {"metrics": {"physics": {"accuracy": 0.69}}, "bit_exact": {"mismatches": 0}},
            "firmware": {"metrics": {"luts": 1234, "cycles": 4, "latency_ns": 20.0, "mismatched_jets": 0}},
        }
    }
    view = dict(stage_view(record))
    assert list(view) == ["train", "constrain", "convert", "firmware"]
    assert view["train"]["accuracy"] == 0.7 and view["train"]["mean_auc"] == 0.9
    assert view["constrain"] == {"skipped": "float model"}
    assert view["convert"]["mismatches"] == 0 and view["firmware"]["luts"] == 1234
