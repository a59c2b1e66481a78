"""The vendor path: hls4ml ``build()`` and its reports, only when Xilinx tools are on ``PATH``.

Without ``vitis_hls``/``vitis-run``/``vivado`` nothing is run and :data:`NOT_RUN` is recorded; no
figure is ever estimated or invented here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

VENDOR_TOOLS: tuple[str, ...] = ("vitis_hls", "vitis-run", "vivado")
NOT_RUN = "not run (no vendor tools found)"

_REPORT_KEYS = {
    "BestLatency": "latency_cycles_best",
    "WorstLatency": "latency_cycles_worst",
    "IntervalMin": "interval_min",
    "IntervalMax": "interval_max",
    "EstimatedClockPeriod": "estimated_clock_period_ns",
    "TargetClockPeriod": "target_clock_period_ns",
    "LUT": "luts",
    "FF": "flip_flops",
    "DSP": "dsps",
    "BRAM_18K": "bram_18k",
}


def vendor_tools_found() -> list[str]:
    """The vendor executables present on ``PATH``."""
    return [tool for tool in VENDOR_TOOLS if shutil.which(tool) is not None]


def parse_csynth_report(report: dict[str, Any]) -> dict[str, Any]:
    """Pick latency/II/LUT/FF/DSP/BRAM from hls4ml's ``parse_vivado_report`` output (numbers as found)."""
    synthesis = report.get("CSynthesisReport", {}) if report else {}
    figures: dict[str, Any] = {}
    for key, name in _REPORT_KEYS.items():
        if key in synthesis:
            text = str(synthesis[key]).strip()
            try:
                figures[name] = float(text) if "." in text else int(text)
            except ValueError:
                figures[name] = text
    return figures


def run_vendor_flow(project_dir: Path, work_dir: Path) -> dict[str, Any]:
    """hls4ml ``build()`` on a copy of ``project_dir`` (the convert stage's ``hls4ml_prj``) if tools exist.

    Returns ``{"status": NOT_RUN}`` without tools, ``{"status": "failed: ..."}`` on a build error, or
    ``{"status": "ok", "figures": {...}, "tools": [...]}`` with the figures read from the reports.
    """
    tools = vendor_tools_found()
    if not tools:
        return {"status": NOT_RUN}
    if not project_dir.is_dir():
        return {"status": f"not run (no hls4ml project at {project_dir})", "tools": tools}
    import hls4ml
    from hls4ml.report import parse_vivado_report

    copy = work_dir / "hls4ml_prj"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(project_dir, copy)
    try:
        model = hls4ml.converters.link_existing_project(str(copy))
        model.build(csim=False, synth=True, vsynth=False)
        report = parse_vivado_report(str(copy))
    except Exception as error:  # a vendor tool failure is recorded, not hidden
        return {"status": f"failed: {type(error).__name__}: {error}", "tools": tools}
    figures = parse_csynth_report(report or {})
    return {"status": "ok" if figures else "failed: no synthesis report", "figures": figures, "tools": tools}
