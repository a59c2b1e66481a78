"""The firmware stage's stage-wide report (``report.md`` + ``report.json``): one row per model."""

from __future__ import annotations

from typing import Any

_COLUMNS = (
    ("cycles", "cycles"),
    ("latency_ns", "ns"),
    ("luts", "LUT"),
    ("flip_flops", "FF"),
    ("dsps", "DSP"),
    ("brams", "BRAM"),
    ("carry", "CARRY"),
    ("da4ml_lut_estimate", "da4ml LUT est."),
)


def report_row(record: dict[str, Any]) -> dict[str, Any]:
    """Headline figures of one model's ``firmware.json`` with the source of each figure."""
    design, synthesis = record.get("design", {}), record.get("synthesis") or {}
    bit_exact = record.get("bit_exact") or {}
    row = {
        "cycles": design.get("cycles"),
        "clock_period_ns": design.get("clock_period_ns"),
        "latency_ns": design.get("latency_ns"),
        "combinational_depth_adder_levels": design.get("combinational_depth_adder_levels"),
        "luts": synthesis.get("luts"),
        "flip_flops": synthesis.get("flip_flops"),
        "dsps": synthesis.get("dsps"),
        "brams": synthesis.get("brams"),
        "carry": synthesis.get("carry"),
        "da4ml_lut_estimate": design.get("da4ml_lut_estimate"),
        "hls4ml_da_kernel_cost": record.get("hls4ml_da_kernel_cost"),
        "bit_exact": bit_exact.get("bit_exact"),
        "mismatched_jets": bit_exact.get("mismatched_samples"),
        "simulated_jets": bit_exact.get("samples"),
        "vendor": record.get("vendor", {}).get("status"),
        "sources": {
            "cycles": "da4ml pipeline (verified by verilator)",
            "latency_ns": "da4ml pipeline stages x clock period",
            "luts": "yosys synth_xilinx stat" if synthesis else "not run",
            "flip_flops": "yosys synth_xilinx stat" if synthesis else "not run",
            "dsps": "yosys synth_xilinx stat" if synthesis else "not run",
            "brams": "yosys synth_xilinx stat" if synthesis else "not run",
            "da4ml_lut_estimate": "da4ml cost model",
            "bit_exact": "verilator RTL vs pipeline.deploy.emulator",
            "vendor": "hls4ml build() reports" if record.get("vendor", {}).get("figures") else "none",
        },
    }
    vendor_figures = record.get("vendor", {}).get("figures")
    if vendor_figures:
        row["vendor_figures"] = vendor_figures
    return row


def render_markdown(rows: dict[str, dict[str, Any]], skipped: dict[str, str]) -> str:
    """``report.md``: a table of the built models, then the skipped ones with their reasons."""
    lines = [
        "# Firmware report",
        "",
        "Open-source flow: da4ml RTL (pipelined at the clock), Verilator simulation against the integer",
        "emulator on the test split, Yosys `synth_xilinx -flatten` cell counts. Latency = pipeline stages x",
        "clock period. Sources: cycles/latency/estimate from da4ml, LUT/FF/DSP/BRAM/CARRY from Yosys.",
        "",
        "| model | " + " | ".join(title for _, title in _COLUMNS) + " | bit-exact | vendor |",
        "|---|" + "---|" * (len(_COLUMNS) + 2),
    ]
    for name, row in rows.items():
        cells = ["-" if row.get(key) is None else f"{row[key]:g}" for key, _ in _COLUMNS]
        exact = row.get("bit_exact")
        exact_text = (
            "not simulated"
            if exact is None
            else ("yes" if exact else "NO")
            + f" ({row.get('mismatched_jets')} of {row.get('simulated_jets')} jets differ)"
        )
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {exact_text} | {row.get('vendor')} |")
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- {name}: {reason}" for name, reason in skipped.items()]
    return "\n".join(lines) + "\n"
