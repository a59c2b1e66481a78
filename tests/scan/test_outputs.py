"""The front table of ``front.md``: both latency measures for synthesized points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.scan.outputs import front_markdown


def test_front_markdown_shows_cycles_x_period_and_the_sta_latency():
    front = pd.DataFrame(
        {
            "key": ["synthesized0", "estimated00"],
            "accuracy": [0.7261, 0.7100],
            "luts": [4676.0, 3000.0],
            "yosys_luts": [4382.0, np.nan],
            "latency_cycles": [5, 4],
            "latency_ns": [25.0, 20.0],
            "sta_critical_path_ns": [14.06, np.nan],
            "latency_ns_sta": [70.3, np.nan],
            "verilator_mismatched_jets": [0.0, np.nan],
            "hard_dc": [0, np.nan],
            "params": ["{}", "{}"],
        }
    )
    lines = front_markdown(front).splitlines()
    assert "critical path (sta)" in lines[0] and "max(period, critical path)" in lines[0]
    cheap, synthesized = lines[2], lines[3]  # sorted by da4ml LUTs
    assert "| 4 cycles, 20 ns | - | - | - |" in cheap
    assert "| 4382 | 5 cycles, 25 ns | 14.1 ns | 70 ns | 0 | 0 |" in synthesized  # hard_dc 0
    assert "hard_dc" in lines[0] and "| - | - | - | - | `{}` |" in cheap
