"""The vendor path records that it did not run when no vendor tool is installed."""

from __future__ import annotations

import shutil

import pytest

from pipeline.rtl.vendor import NOT_RUN, VENDOR_TOOLS, parse_csynth_report, run_vendor_flow


@pytest.mark.skipif(any(shutil.which(tool) for tool in VENDOR_TOOLS), reason="vendor tools are installed")
def test_without_vendor_tools_nothing_is_run(tmp_path):
    assert run_vendor_flow(tmp_path / "hls4ml_prj", tmp_path / "work") == {"status": NOT_RUN}
    assert not (tmp_path / "work").exists()


def test_parse_csynth_report_keeps_only_reported_figures():
    report = {"CSynthesisReport": {"BestLatency": "12", "LUT": "41234", "EstimatedClockPeriod": "4.372"}}
    figures = parse_csynth_report(report)
    assert figures == {"latency_cycles_best": 12, "luts": 41234, "estimated_clock_period_ns": 4.372}
    assert parse_csynth_report({}) == {}
