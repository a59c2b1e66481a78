"""The firmware stage's stage-wide report (``report.md`` + ``report.json``): one row per model."""

from __future__ import annotations

from typing import Any

_COLUMNS = (
    ("cycles", "cycles"),
    ("latency_ns", "ns"),
    ("critical_path_ns", "crit. path ns"),
    ("max_clock_mhz", "max MHz"),
    ("luts", "LUT"),
    ("flip_flops", "FF"),
    ("dsps", "DSP"),
    ("brams", "BRAM"),
    ("carry", "CARRY"),
    ("da4ml_lut_estimate", "da4ml LUT est."),
)


def _figures(part: dict[str, Any]) -> dict[str, Any]:
    """Cycles, timing, resources and bit-exactness of one architecture's part of ``firmware.json``."""
    design, synthesis = part.get("design") or {}, part.get("synthesis") or {}
    timing, bit_exact = part.get("timing") or {}, part.get("bit_exact") or {}
    return {
        "cycles": design.get("cycles"),
        "clock_period_ns": design.get("clock_period_ns"),
        "latency_ns": design.get("latency_ns"),
        "critical_path_ns": timing.get("critical_path_ns"),
        "max_clock_mhz": timing.get("max_clock_mhz"),
        "lut_levels": timing.get("lut_levels"),
        "meets_clock": timing.get("meets_clock"),
        "luts": synthesis.get("luts"),
        "flip_flops": synthesis.get("flip_flops"),
        "dsps": synthesis.get("dsps"),
        "brams": synthesis.get("brams"),
        "carry": synthesis.get("carry"),
        "bit_exact": bit_exact.get("bit_exact"),
        "mismatched_jets": bit_exact.get("mismatched_samples"),
        "simulated_jets": bit_exact.get("samples"),
    }


def report_row(record: dict[str, Any]) -> dict[str, Any]:
    """Headline figures of one model's ``firmware.json`` (its first architecture) with their sources,
    plus ``architectures``: the figures of every architecture built."""
    architectures = record.get("architectures") or ["unrolled"]
    parts = {"unrolled": record, "folded": record.get("folded") or {}}
    per_architecture = {name: _figures(parts[name]) for name in architectures}
    headline = architectures[0]
    synthesized = bool(parts[headline].get("synthesis") or {})
    row = {
        "architecture": headline,
        **per_architecture[headline],
        "combinational_depth_adder_levels": (record.get("design") or {}).get(
            "combinational_depth_adder_levels"
        ),
        "da4ml_lut_estimate": (record.get("design") or {}).get("da4ml_lut_estimate"),
        "hls4ml_da_kernel_cost": record.get("hls4ml_da_kernel_cost"),
        "vendor": record.get("vendor", {}).get("status"),
        "architectures": per_architecture,
        "sources": {
            "cycles": "da4ml pipeline (verified by verilator)"
            if headline == "unrolled"
            else "folded schedule (measured by the verilator testbench)",
            "latency_ns": "cycles x max(clock period, critical path)",
            "critical_path_ns": "longest netlist path with the family's cell and net delays "
            "(pipeline.rtl.netlist_timing; other families: yosys sta + UG949 route share, "
            "pipeline.rtl.timing)",
            "luts": "yosys synth_xilinx stat" if synthesized else "not run",
            "flip_flops": "yosys synth_xilinx stat" if synthesized else "not run",
            "dsps": "yosys synth_xilinx stat" if synthesized else "not run",
            "brams": "yosys synth_xilinx stat" if synthesized else "not run",
            "da4ml_lut_estimate": "da4ml cost model",
            "bit_exact": "verilator RTL vs pipeline.deploy.emulator",
            "vendor": "hls4ml build() reports" if record.get("vendor", {}).get("figures") else "none",
        },
    }
    for name in architectures[1:]:  # flat copies for tables that show only scalar fields
        for key in ("cycles", "latency_ns", "critical_path_ns", "luts", "flip_flops", "bit_exact"):
            row[f"{name}_{key}"] = per_architecture[name][key]
    vendor_figures = record.get("vendor", {}).get("figures")
    if vendor_figures:
        row["vendor_figures"] = vendor_figures
    return row


def render_markdown(rows: dict[str, dict[str, Any]], skipped: dict[str, str]) -> str:
    """``report.md``: a table of the built models, then the skipped ones with their reasons."""
    lines = [
        "# Firmware report",
        "",
        "Open-source flow: da4ml RTL (`unrolled`, pipelined at the clock) and/or the folded architecture",
        "with declared P-bit accumulators (`folded`), Verilator simulation against the integer emulator on",
        "the test split, Yosys `synth_xilinx -flatten` cell counts. Critical path: Yosys `sta` cell delays",
        "plus routing (UG949 route share, `pipeline.rtl.timing`); latency = cycles x max(clock period,",
        "critical path). LUT/FF/DSP/BRAM/CARRY from Yosys.",
        "",
        "| model | arch. | "
        + " | ".join(title for _, title in _COLUMNS)
        + " | meets clock | bit-exact | vendor |",
        "|---|---|" + "---|" * (len(_COLUMNS) + 3),
    ]
    slow = []
    for name, model_row in rows.items():
        for architecture, figures in (model_row.get("architectures") or {"-": model_row}).items():
            row = {**model_row, **figures}
            if architecture == "folded":
                row["da4ml_lut_estimate"] = None
            cells = ["-" if row.get(key) is None else f"{row[key]:g}" for key, _ in _COLUMNS]
            meets = row.get("meets_clock")
            if meets is False:
                slow.append(
                    f"{name} ({architecture}): critical path {row['critical_path_ns']} ns > clock period"
                    f" {row.get('clock_period_ns')} ns"
                )
            exact = row.get("bit_exact")
            exact_text = (
                "not simulated"
                if exact is None
                else ("yes" if exact else "NO")
                + f" ({row.get('mismatched_jets')} of {row.get('simulated_jets')} jets differ)"
            )
            meets_text = "-" if meets is None else ("yes" if meets else "NO")
            lines.append(
                f"| {name} | {architecture} | "
                + " | ".join(cells)
                + f" | {meets_text} | {exact_text} | {row.get('vendor')} |"
            )
    if slow:
        lines += ["", "Designs that do not meet the requested clock (flagged):", ""] + [
            f"- {text}" for text in slow
        ]
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- {name}: {reason}" for name, reason in skipped.items()]
    return "\n".join(lines) + "\n"
