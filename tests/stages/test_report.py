"""The report stage on a hand-made run directory (real small QKeras models, see tests/report)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from pydantic import ValidationError

from pipeline.stages import report
from tests.report import report_fixture

pytestmark = pytest.mark.slow  # trains two small models (shared fixture), scores and plots them

EXPECTED_FILES = {
    "metrics.json",
    "index.html",
    "working_points.json",
    "scores.h5",
    "scores.root",
    "pareto_bops.png",
    "pareto_luts.png",
    "stage_timings.png",
    *(f"roc_{name}.png" for name in ("g", "q", "w", "z", "t")),
}


@pytest.fixture(scope="module")
def run_dir():
    return report_fixture.finished_run()


def test_stage_contract():
    assert report.NAME == "report"
    assert set(report.REQUIRES) == {"data", "train", "prune", "constrain", "export", "convert", "firmware"}
    with pytest.raises(ValidationError):
        report.Config(signal_efficiencies=(0.5, 1.5))
    with pytest.raises(ValidationError):
        report.Config(colour="red")


def test_finished_run_writes_every_artifact(run_dir):
    assert {path.name for path in (run_dir / "report").iterdir()} == EXPECTED_FILES


def test_metrics_document_holds_every_stage_record(run_dir):
    document = json.loads((run_dir / "report" / "metrics.json").read_text())
    assert document["schema_version"] == 1
    assert document["stages"]["firmware"]["wall_time_seconds"] == 95.0
    assert document["stages"]["prune"] == {"present": False}
    assert {"prune: stage not run", "export: stage not run"} <= set(document["missing"])
    quantized = document["models"]["tiny_q6"]
    assert quantized["stages"]["convert"]["bit_exact"]["mismatches"] == 0
    assert quantized["stages"]["constrain"]["accumulators"]["layers"][0]["target_bits"] == 26
    assert quantized["summary"]["luts"] == {"value": 1234.0, "source": "firmware/metrics:luts"}
    assert quantized["summary"]["bops"]["source"] == "constrain/metrics:cost.bops"
    assert quantized["stages"]["train"]["metrics"]["information"]["layers"][0]["name"] == "relu_1"
    assert quantized["performance"]["model_file"] == "constrain/tiny_q6/model.h5"
    assert set(quantized["performance"]) == {"model_file", "exact", "float"}
    assert set(document["models"]["tiny_float"]["performance"]) == {"model_file", "float"}
    assert document["firmware_report"]["models"]["tiny_q6"]["luts"] == 1234
    assert document["tool_versions"]["trigger-pipeline"] == "0.1.0"


def test_page_is_self_contained(run_dir):
    page = (run_dir / "report" / "index.html").read_text()
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 8 and all(source.startswith("data:image/png;base64,") for source in sources)
    for text in (
        "tiny_q6",
        "tiny_float",
        "ap_fixed&lt;26,6&gt;",
        "1,234",
        "Stage by stage",
        "yosys synth_xilinx stat",
        "tiny_float: float model",
        "Stage timings",
        "prune: stage not run",
    ):
        assert text in page


def test_partial_run_reports_what_is_missing_and_rebuilds_identically(run_dir, tmp_path):
    """A run stopped after train: the report lists the missing stages; a rebuild gives the same files."""
    partial = tmp_path / "run"
    for stage in ("data", "train"):
        shutil.copytree(run_dir / stage, partial / stage)
    outputs = []
    for attempt in ("first", "second"):
        inputs = report_fixture.stage_inputs(partial, tmp_path / attempt)
        summary = report.run(inputs, report.Config(max_jets=150, signal_efficiencies=(0.5,))).summary
        outputs.append(tmp_path / attempt)
    assert summary["models_with_exact_scores"] == ["tiny_q6"]
    document = json.loads((outputs[0] / "metrics.json").read_text())
    for stage in ("prune", "constrain", "export", "convert", "firmware"):
        assert f"{stage}: stage not run" in document["missing"]
    assert document["models"]["tiny_q6"]["performance"]["exact"]["n_jets"] == 150
    assert not (outputs[0] / "pareto_luts.png").exists()  # no firmware figures: no LUT plot
    points = json.loads((outputs[0] / "working_points.json").read_text())
    assert points["models"]["tiny_q6"]["model_file"] == "train/tiny_q6/model.h5"
    assert len(points["models"]["tiny_q6"]["classes"]["t"]) == 1
    for name in (
        "metrics.json",
        "working_points.json",
        "scores.h5",
        "scores.root",
        "index.html",
        "roc_t.png",
    ):
        assert (outputs[0] / name).read_bytes() == (outputs[1] / name).read_bytes(), name
