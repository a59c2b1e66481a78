"""Which stored model is the deployed one (the convert stage's choice)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.report.deployed import accumulator_widths, deployed_files


def _touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_latest_stage_model_is_deployed(tmp_path):
    stages = {stage: tmp_path / stage for stage in ("train", "prune", "constrain", "export")}
    _touch(stages["train"] / "m" / "model.h5")
    assert deployed_files(stages, "m") == (stages["train"] / "m" / "model.h5", None)
    _touch(stages["prune"] / "m" / "model.h5")
    accumulators = _touch(stages["constrain"] / "m" / "accumulators.json", "{}")
    _touch(stages["constrain"] / "m" / "model.h5")
    assert deployed_files(stages, "m") == (stages["constrain"] / "m" / "model.h5", accumulators)
    assert deployed_files(stages, "other") is None


def test_bring_your_own_model_comes_from_export(tmp_path):
    stages = {stage: tmp_path / stage for stage in ("constrain", "export")}
    _touch(stages["constrain"] / "m" / "model.h5")
    _touch(stages["export"] / "m" / "model.h5")
    _touch(stages["export"] / "m" / "source.json", json.dumps({"model": "constrain"}))
    assert deployed_files(stages, "m")[0] == stages["constrain"] / "m" / "model.h5"
    _touch(stages["export"] / "m" / "source.json", json.dumps({"model": "export", "external": "x.h5"}))
    assert deployed_files(stages, "m")[0] == stages["export"] / "m" / "model.h5"


def test_unconstrained_accumulator_record_means_full_width(tmp_path):
    record = _touch(tmp_path / "accumulators.json", json.dumps({"constrained": False, "layers": None}))
    assert accumulator_widths(keras_model=None, accumulators_file=record) is None
    assert accumulator_widths(keras_model=None, accumulators_file=None) is None
