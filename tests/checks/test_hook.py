"""The checks hook on a run directory: results written per stage and run-wide, gate and warn modes."""

from __future__ import annotations

import json

import pytest

from pipeline.checks.config import CHECKED_STAGES, ChecksConfig
from pipeline.checks.hook import ChecksFailedError, ChecksHook
from pipeline.checks.table import current_results, render_table
from tests.checks.records import float_records, quantized_records, write_run

MODELS = ("f", "q")
BUDGETS = {
    "float_reference": "f",
    "all": {
        "prune": {"max_accuracy_drop_vs_previous": 2.0},
        "convert": {"max_mismatches": 0, "max_accuracy_drop_vs_float": 5.0},
        "firmware": {"max_luts": 100},
    },
}


@pytest.fixture
def run_dir(tmp_path):
    write_run(tmp_path, {"f": float_records(), "q": quantized_records()})
    return tmp_path


def _run_all(hook: ChecksHook) -> None:
    for stage in ("data", *CHECKED_STAGES, "report"):
        hook(stage, "ran")


def test_warn_mode_writes_every_check_and_goes_on(run_dir):
    hook = ChecksHook(ChecksConfig.model_validate(BUDGETS | {"mode": "warn"}), run_dir, MODELS)
    _run_all(hook)
    assert hook.first_failure is None
    document = json.loads((run_dir / "checks" / "checks.json").read_text())
    assert document["by_stage"]["q"] == {"prune": "pass", "convert": "fail", "firmware": "fail"}
    assert document["by_stage"]["f"] == {"prune": "pass", "convert": "skipped", "firmware": "skipped"}
    assert document["by_model"] == {"f": "pass", "q": "fail"}
    first = document["first_failure"]
    assert (first["model"], first["stage"], first["value"], first["limit"]) == ("q", "convert", 2, 0)
    assert first["source"] == "convert/q/bit_exact.json:mismatches"
    stage_file = json.loads((run_dir / "checks" / "firmware.json").read_text())
    (luts,) = [r for r in stage_file["results"] if r["model"] == "q"]
    assert (luts["figure"], luts["value"], luts["limit"], luts["status"]) == ("LUTs", 17280, 100, "fail")


def test_results_are_deterministic_and_ignore_other_budgets(run_dir):
    config = ChecksConfig.model_validate(BUDGETS)
    _run_all(ChecksHook(config, run_dir, MODELS))
    first = (run_dir / "checks" / "checks.json").read_bytes()
    _run_all(ChecksHook(config, run_dir, MODELS))
    assert (run_dir / "checks" / "checks.json").read_bytes() == first
    other = ChecksConfig.model_validate({"all": {"train": {"min_accuracy": 0.5}}})
    ChecksHook(other, run_dir, MODELS)("train", "cached")  # only train evaluated under the new budgets
    document = json.loads((run_dir / "checks" / "checks.json").read_text())
    assert list(document["stages"]) == ["train"]


def test_gate_stops_the_failing_model_and_the_run_exits_later(run_dir):
    hook = ChecksHook(ChecksConfig.model_validate(BUDGETS | {"mode": "gate"}), run_dir, MODELS)
    _run_all(hook)  # f never fails: the run goes on to the end
    assert hook.first_failure is not None
    assert hook.first_failure.line() == (
        "q: convert mismatched jets = 2 jets, budget <= 0 jets (max_mismatches; read "
        "convert/q/bit_exact.json:mismatches)"
    )
    assert list(hook.stopped) == ["q"]


def test_gate_with_stop_all_stops_at_the_first_failure(run_dir):
    hook = ChecksHook(
        ChecksConfig.model_validate(BUDGETS | {"mode": "gate", "stop_all": True}), run_dir, MODELS
    )
    for stage in ("train", "prune", "constrain", "export"):
        hook(stage, "ran")
    with pytest.raises(ChecksFailedError) as failure:
        hook("convert", "ran")
    assert failure.value.result.model == "q" and failure.value.result.stage == "convert"
    assert "mismatched jets = 2 jets, budget <= 0" in failure.value.message
    assert not (run_dir / "checks" / "firmware.json").exists()


def test_table_model_by_stage(run_dir):
    config = ChecksConfig.model_validate(BUDGETS | {"mode": "gate"})
    results = current_results(config, run_dir, MODELS, ["train", "prune", "convert", "firmware"])
    lines = render_table(results, MODELS, "gate")
    assert lines[0].split() == ["checks", "(gate)", *CHECKED_STAGES, "verdict"]
    assert lines[2].split() == ["q", "-", "pass", "-", "-", "FAIL", "FAIL", "FAIL"]
    assert lines[1].split() == ["f", "-", "pass", "-", "-", "skip", "skip", "pass"]
    assert any(line.strip().startswith("FAIL: q: firmware LUTs = 17,280 LUT") for line in lines)
    warn = render_table(results, MODELS, "warn")
    assert warn[2].split()[-1] == "warn"
