"""The collector on a hand-made run directory of JSON records (no models needed)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.report.collect import PIPELINE_STAGES, collect_run, find_number, summarise_model


def _write(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def _manifest(stage: str, seconds: float, numpy_version: str = "1.26.4") -> dict:
    return {
        "stage": stage,
        "key": f"k-{stage}",
        "status": "done",
        "wall_time_seconds": seconds,
        "finished_at": "2026-11-23T00:00:00Z",
        "packages": {"numpy": numpy_version},
        "outputs": {},
    }


def _run_until_convert(run: Path) -> dict[str, Path]:
    metrics = {"physics": {"accuracy": 0.75}, "cost": {"bops": 1200.0, "layers": [{"bops": 7.0}]}}
    for stage, seconds in (("data", 2.0), ("train", 30.0), ("constrain", 4.0), ("convert", 60.0)):
        _write(
            run / stage / "manifest.json",
            _manifest(stage, seconds, "2.0" if stage == "convert" else "1.26.4"),
        )
    _write(run / "train" / "m1" / "metrics.json", metrics)
    _write(run / "train" / "m0" / "metrics.json", {"physics": {"accuracy": 0.78}})
    _write(run / "constrain" / "m1" / "metrics.json", metrics)
    _write(run / "constrain" / "m0" / "metrics.json", {"skipped": "float model"})
    _write(run / "convert" / "m1" / "metrics.json", {"physics": {"accuracy": 0.74}})
    _write(run / "convert" / "m1" / "bit_exact.json", {"n_jets": 1000, "mismatches": 0})
    _write(run / "convert" / "m0" / "metrics.json", {"skipped": "float model"})
    return {stage: run / stage for stage in PIPELINE_STAGES}


def test_missing_stages_and_files_are_listed_not_invented(tmp_path):
    document = collect_run(_run_until_convert(tmp_path), ("m0", "m1"))
    missing = document["missing"]
    for expected in ("prune: stage not run", "export: stage not run", "firmware: stage not run"):
        assert expected in missing
    assert "constrain/m1/accumulators.json: absent or unreadable" in missing
    # a skipped model is not blamed for the records it has no reason to have
    assert not any(item.startswith(("constrain/m0", "convert/m0")) for item in missing)
    assert document["stages"]["firmware"] == {"present": False}
    assert document["firmware_report"] is None
    assert "firmware" not in document["models"]["m1"]["stages"]


def test_manifests_records_and_tool_versions(tmp_path):
    document = collect_run(_run_until_convert(tmp_path), ("m0", "m1"))
    assert document["stages"]["convert"]["wall_time_seconds"] == 60.0
    assert document["stages"]["train"]["status"] == "done"
    assert document["models"]["m1"]["stages"]["convert"]["bit_exact"] == {"n_jets": 1000, "mismatches": 0}
    assert document["models"]["m0"]["stages"]["constrain"]["metrics"] == {"skipped": "float model"}
    # numpy recorded with two versions by different stages: both kept, by stage
    assert document["tool_versions"]["numpy"] == {"(first seen)": "1.26.4", "convert": "2.0"}
    json.dumps(document, allow_nan=False)


def test_summary_takes_latest_stage_and_names_its_source(tmp_path):
    document = collect_run(_run_until_convert(tmp_path), ("m0", "m1"))
    summary = summarise_model(document["models"]["m1"])
    assert summary["accuracy"] == {"value": 0.74, "source": "convert/metrics:physics.accuracy"}
    assert summary["bops"] == {"value": 1200.0, "source": "constrain/metrics:cost.bops"}
    assert summary["bit_exact_mismatches"]["value"] == 0
    assert "luts" not in summary  # no firmware records: no LUT figure


def test_find_number_ignores_booleans_and_lists():
    assert find_number({"a": {"luts": True}, "b": [{"luts": 3}]}, ("luts",)) is None
    assert find_number({"x": {"LUTs": 12}}, ("luts",)) == (12.0, "x.LUTs")


def test_unreadable_manifest_is_reported(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.json").write_text("{not json")
    document = collect_run({"data": tmp_path / "data"}, (), stages=("data",))
    assert "data/manifest.json: absent or unreadable" in document["missing"]
