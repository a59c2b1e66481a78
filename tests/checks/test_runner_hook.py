"""The runner's two hooks for the checks: ``on_stage_done`` after each published or cached stage (it may
stop the run), and ``RUN_FILES`` (files of the run directory a stage reads enter its cache key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.runner import pipeline_status, run_pipeline
from tests.toy_pipeline import STAGES, squares


def _run(tmp_path: Path, **kwargs) -> list[tuple[str, str]]:
    config_path = tmp_path / "toy.yaml"
    config_path.write_text("name: toy\nnumbers: {count: 3}\n")
    config = load_config(config_path, stages=STAGES)
    return run_pipeline(config, tmp_path / "run", ["squares"], quiet=True, stages=STAGES, **kwargs)


def test_on_stage_done_sees_every_stage_ran_or_cached(tmp_path):
    calls: list[tuple[str, str]] = []
    _run(tmp_path, on_stage_done=lambda stage, event: calls.append((stage, event)))
    _run(tmp_path, on_stage_done=lambda stage, event: calls.append((stage, event)))
    assert calls == [("numbers", "ran"), ("squares", "ran"), ("numbers", "cached"), ("squares", "cached")]


def test_a_raising_hook_stops_the_run_after_the_published_stage(tmp_path):
    def stop(stage: str, event: str) -> None:
        if stage == "numbers":
            raise RuntimeError("budget exceeded")

    with pytest.raises(RuntimeError, match="budget exceeded"):
        _run(tmp_path, on_stage_done=stop)
    assert (tmp_path / "run" / "numbers" / "manifest.json").is_file()
    assert not (tmp_path / "run" / "squares").exists()


def test_run_files_enter_the_cache_key(tmp_path, monkeypatch):
    monkeypatch.setattr(squares, "RUN_FILES", ("checks/checks.json",), raising=False)
    assert _run(tmp_path) == [("numbers", "ran"), ("squares", "ran")]
    assert _run(tmp_path) == [("numbers", "cached"), ("squares", "cached")]
    (tmp_path / "run" / "checks").mkdir()
    (tmp_path / "run" / "checks" / "checks.json").write_text("{}")
    config = load_config(tmp_path / "toy.yaml", stages=STAGES)
    states = {s.stage: s.state for s in pipeline_status(config, tmp_path / "run", stages=STAGES)}
    assert {stage: states[stage] for stage in ("numbers", "squares")} == {
        "numbers": "done",
        "squares": "stale",
    }
    assert _run(tmp_path) == [("numbers", "cached"), ("squares", "ran")]
