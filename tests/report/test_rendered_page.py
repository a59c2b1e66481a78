"""The report page rendered by a real browser (headless Chromium): nothing runs off the right edge,
every figure loads, the headline and the checks are there; a screenshot is saved for a human to look at.

The page comes from the report fixture's run (real small QKeras models), with the checks evaluated by
the real hook on its records and a scan table in the scan's parquet layout.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.checks.config import CHECKED_STAGES, ChecksConfig
from pipeline.checks.hook import ChecksHook
from pipeline.report.build import build_report
from tests.report import report_fixture

pytestmark = pytest.mark.slow  # the report fixture trains two small models; Chromium renders twice

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

MEASURE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const wide = Array.from(document.querySelectorAll("body *")).filter(
    (e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1 &&
           !e.closest(".scroll")).map((e) => e.tagName + "." + e.className);
  const result = {
    viewport: document.documentElement.clientWidth,
    scroll_width: document.documentElement.scrollWidth,
    images: images.length,
    loaded: images.filter((i) => i.complete && i.naturalWidth > 0).length,
    overflowing: wide.slice(0, 10),
  };
  const out = document.createElement("pre");
  out.id = "measurement";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def _budgets() -> ChecksConfig:
    return ChecksConfig.model_validate(
        {
            "mode": "gate",
            "float_reference": "tiny_float",
            "all": {
                "constrain": {"max_accuracy_drop_vs_float": 50.0, "min_auc": 0.5},
                "convert": {"max_mismatches": 0},
                "firmware": {"max_luts": 1000, "max_latency_ns": 25, "max_luts_percent": 2.0},
            },
        }
    )


def _write_scan(scan_dir: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as parquet

    scan_dir.mkdir(parents=True)
    trials = {
        "trial": list(range(6)),
        "weight_bits": [3, 4, 5, 6, 6, 8],
        "accuracy": [0.61, 0.68, 0.705, 0.712, 0.70, 0.715],
        "luts": [4100, 7900, 12_500, 19_800, 22_000, 41_000],
        "latency_cycles": [4, 5, 5, 6, 6, 8],
        "on_front": [True, True, True, True, False, True],
    }
    parquet.write_table(pa.table(trials), scan_dir / "trials.parquet")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The report of the fixture run with checks and a scan, built into a temporary directory."""
    run_dir = tmp_path_factory.mktemp("rendered") / "run"
    shutil.copytree(report_fixture.finished_run(), run_dir, ignore=shutil.ignore_patterns("report"))
    hook = ChecksHook(_budgets(), run_dir, report_fixture.MODELS)
    for stage in CHECKED_STAGES:
        hook(stage, "cached")
    _write_scan(run_dir / "scan")
    stage_dirs = {stage: run_dir / stage for stage in ("data", "train", "constrain", "convert", "firmware")}
    build_report(
        stage_dirs,
        report_fixture.MODELS,
        run_dir / "report",
        title="rendered-page test",
        checks_file=run_dir / "checks" / "checks.json",
        scan_dir=run_dir / "scan",
    )
    return run_dir / "report" / "index.html"


def _render(page: Path, directory: Path, width: int) -> tuple[dict, Path]:
    """Chromium's measurement of the page at ``width`` CSS pixels and a full-length screenshot."""
    probe = directory / f"probe_{width}.html"
    probe.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    common += ["--virtual-time-budget=10000", f"--window-size={width},900"]
    dom = subprocess.run(
        [*common, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=180, check=True
    ).stdout
    found = re.search(r'<pre id="measurement">(.*?)</pre>', dom, re.S)
    assert found, "the page's load handler did not run"
    measurement = json.loads(found.group(1).replace("&quot;", '"'))
    screenshot = directory / f"report_{width}.png"
    subprocess.run(
        [*common[:-1], f"--window-size={width},2400", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        timeout=180,
        check=True,
    )
    return measurement, screenshot


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (the set-up installs it as root)")
@pytest.mark.parametrize("width", [1280, 820])
def test_page_fits_the_width_and_every_figure_loads(page, tmp_path, width):
    measurement, screenshot = _render(page, tmp_path, width)
    assert measurement["viewport"] == width
    assert measurement["scroll_width"] <= measurement["viewport"], measurement["overflowing"]
    assert measurement["overflowing"] == []
    figures = len(re.findall(r"<img ", page.read_text()))
    assert figures >= 9  # 5 ROC curves, 2 Pareto plots, the scan, stage timings
    assert measurement["images"] == figures and measurement["loaded"] == figures
    assert screenshot.stat().st_size > 10_000


def test_page_reads_at_a_glance(page):
    text = page.read_text()
    headline = text[text.index("At a glance") : text.index("Stage by stage")]
    assert "No model qualifies as best: every model with firmware fails a budget" in headline
    assert "1,234" in headline and "4 cycles = 20 ns" in headline  # human-formatted firmware figures
    assert re.search(r"\d\d\.\d\d %", headline)  # accuracy in percent
    assert "FAIL" in headline  # 1,234 LUTs > 1,000: the gate verdict
    words = re.sub(r'src="data:[^"]+"', "", text)  # the page without its embedded images
    assert not re.search(r"\de[+-]\d", words)  # no scientific notation anywhere
    assert "Missing records" not in text and "Notes: scores/tiny_float: no firmware-exact scores" in text
    checks = text[text.index("<h2>Checks</h2>") : text.index("Stage by stage")]
    assert "≤ 1,000 LUT" in checks and "firmware/tiny_q6/metrics.json:luts" in checks
    assert "no figure" in checks and "firmware.json records no part" in checks  # share not measurable
    scan = text[text.index("<h2>Scan</h2>") :]
    assert "6 trials" in scan and "Front (5 trials)" in scan
