"""How the netlist timing model compares with routed Vivado timing of the same paths.

``pipeline.rtl.netlist_timing`` estimates register-to-register delays of a Yosys netlist with FloPoCo's
Virtex UltraScale+ -2 delays. We have no vendor tools, so the check is against published routed
Vivado reports: each path below is transcribed from one (cell by cell: the cell, its arc, the fanout
of the net it drives, and whether that net is a dedicated carry cascade or an intra-slice wire), and
the model's estimate of the same sequence of cells and nets is compared with Vivado's minimum period
for the path (requirement minus slack). The reports are Vivado 2021.2 ``report_timing`` after routing
on an xczu3eg -1 (UltraScale+, a slower speed grade than our -2 model), published in
github.com/gussmith23/lakeroad-evaluation (runs/2022-07-06-1704-full/vivado-eval/
xilinx-ultrascale-plus-vivado-eval/vivado-synth-opt-place-route/*-timing-route.v).

Run: ``.venv/bin/python benchmarks/bench_timing_calibration.py`` (writes
``benchmarks/results/timing_calibration.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.rtl.netlist_timing import ULTRASCALE_PLUS_2, FamilyDelays

RESULTS = Path(__file__).resolve().parent / "results"
SOURCE = (
    "https://github.com/gussmith23/lakeroad-evaluation/blob/5dcc84596ac26590cf3733a9cd2e245b4addc577/"
    "runs/2022-07-06-1704-full/vivado-eval/xilinx-ultrascale-plus-vivado-eval/vivado-synth-opt-place-route/"
)

# (cell, arc, net after the cell): net = fanout of a general net, "slice" (LUT -> its carry) or
# "cascade" (carry COUT -> CIN); the last cell's net goes to the capturing flip-flop.
PUBLISHED_PATHS = [
    {
        "report": SOURCE + "no-matches.futil-ultrascale-timing-route.v",
        "vivado_min_period_ns": 5.000 - 0.507,  # requirement - slack
        "vivado_data_path_ns": 4.473,
        "vivado_logic_levels": "14 (CARRY8=4 LUT4=3 LUT5=3 LUT6=4)",
        "cells": [
            ("FDRE", "C->Q", 10),
            ("LUT4", "I2->O", 1),
            ("LUT5", "I4->O", 1),
            ("LUT4", "I1->O", 69),
            ("LUT5", "I0->O", 70),
            ("LUT4", "I0->O", 2),
            ("LUT6", "I1->O", "slice"),
            ("CARRY8", "S->O", 19),
            ("LUT6", "I4->O", 7),
            ("LUT6", "I4->O", 2),
            ("LUT6", "I0->O", "slice"),
            ("CARRY8", "S->CO", "cascade"),
            ("CARRY8", "CI->CO", "cascade"),
            ("CARRY8", "CI->CO", 1),
            ("LUT5", "I0->O", 1),
        ],
    },
    {
        "report": SOURCE + "if-static-different-latencies.futil-ultrascale-timing-route.v",
        "vivado_min_period_ns": 5.000 - 4.008,
        "vivado_data_path_ns": 0.904,
        "vivado_logic_levels": "2 (LUT5=2)",
        "cells": [("FDRE", "C->Q", 6), ("LUT5", "I0->O", 3), ("LUT5", "I0->O", 2)],
    },
]


def cell_ns(cell: str, arc: str, delays: FamilyDelays) -> float:
    """The model's delay of one cell arc (the same choices as ``netlist_timing._arc_ns``)."""
    if cell.startswith("FD"):
        return delays.clock_to_out_ns
    if cell.startswith("LUT"):
        return delays.lut_ns
    source, sink = arc.split("->")
    if source == "CI":
        return delays.carry_final_ns if sink.startswith("O") else delays.carry_propagate_ns
    return delays.carry_init_ns + (delays.carry_final_ns if sink.startswith("O") else 0.0)


def net_ns(net: int | str, delays: FamilyDelays) -> float:
    if net == "slice":
        return delays.intra_slice_net_ns
    if net == "cascade":
        return delays.carry_cascade_net_ns
    return delays.general_net_ns(int(net))


def estimate(path: dict, delays: FamilyDelays = ULTRASCALE_PLUS_2) -> float:
    """The model's minimum period of a transcribed path: cells + nets + setup and clock uncertainty."""
    total = sum(cell_ns(cell, arc, delays) + net_ns(net, delays) for cell, arc, net in path["cells"])
    return total + delays.setup_ns


def main() -> None:
    rows = []
    for path in PUBLISHED_PATHS:
        model = estimate(path)
        rows.append(
            {
                "report": path["report"],
                "vivado_logic_levels": path["vivado_logic_levels"],
                "vivado_min_period_ns": round(path["vivado_min_period_ns"], 3),
                "model_ns": round(model, 3),
                "model_over_vivado": round(model / path["vivado_min_period_ns"], 3),
            }
        )
    result = {
        "command": "benchmarks/bench_timing_calibration.py",
        "model": ULTRASCALE_PLUS_2.source,
        "vivado": "Vivado 2021.2 report_timing after routing, xczu3eg -1 (our model: UltraScale+ -2)",
        "paths": rows,
        "conclusion": (
            "the model over-predicts every published path (ratio > 1), most where nets have a high fanout: "
            "a design it passes should close timing; one it fails by less than the ratio may still close"
        )
        if all(row["model_over_vivado"] > 1 for row in rows)
        else "the model under-predicts at least one published path: it is not an upper estimate",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "timing_calibration.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
