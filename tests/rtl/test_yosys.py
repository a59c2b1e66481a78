"""Yosys synthesis of the tiny design and ``stat`` parsing."""

from __future__ import annotations

import pytest

from pipeline.rtl.yosys import parse_stat, synthesize

pytestmark = pytest.mark.slow  # synthesizes the tiny design with yosys

STAT = """
=== network ===

   Number of wires:                419
   Number of cells:                556
     BUFG                            1
     CARRY4                         78
     FDRE                          104
     INV                            47
     LUT2                          167
     LUT6                            9

"""


def test_parse_stat_reads_the_cell_block():
    cells = parse_stat(STAT)
    assert cells == {"BUFG": 1, "CARRY4": 78, "FDRE": 104, "INV": 47, "LUT2": 167, "LUT6": 9}
    with pytest.raises(ValueError):
        parse_stat("no statistics here")


def test_synthesis_counts_luts_and_registers(tiny_design, tmp_path):
    _, _, design, _ = tiny_design
    result = synthesize(design.rtl_dir, design.top, tmp_path, family="xcup")
    summary = result.to_dict()
    assert summary["luts"] == sum(summary["luts_by_size"].values()) > 0
    assert summary["carry"] > 0
    # every pipeline register bit da4ml plans is a flip-flop unless yosys proves it constant
    assert 0 < summary["flip_flops"] <= design.da4ml_register_bits
    # da4ml's LUT estimate and yosys agree to within a factor of three on a tiny design
    assert design.da4ml_lut_estimate / 3 < summary["luts"] < 3 * design.da4ml_lut_estimate
    assert (tmp_path / "stat.txt").is_file()


def test_unrolled_options_keep_the_cell_counts(tiny_design, tmp_path):
    """The firmware stage's ``-nodsp -nosrl`` only skips passes that find nothing in a da4ml design."""
    from pipeline.stages.firmware import UNROLLED_SYNTH_OPTIONS

    _, _, design, _ = tiny_design
    plain = synthesize(design.rtl_dir, design.top, tmp_path / "plain", family="xcup")
    fast = synthesize(design.rtl_dir, design.top, tmp_path / "fast", "xcup", UNROLLED_SYNTH_OPTIONS)
    assert fast.cells == plain.cells
    assert "-nosrl" in (tmp_path / "fast" / "synth.ys").read_text()


def test_yosys_sta_runs_only_without_a_netlist_delay_table(tiny_design, tmp_path):
    from pipeline.rtl.yosys import runs_yosys_sta

    _, _, design, _ = tiny_design
    assert not runs_yosys_sta("xcup") and runs_yosys_sta("xc7") and runs_yosys_sta("xcup", True)
    table = synthesize(design.rtl_dir, design.top, tmp_path / "xcup", family="xcup")
    assert table.sta_text is None and not (tmp_path / "xcup" / "sta.txt").exists()
    assert "sta" not in (tmp_path / "xcup" / "synth.ys").read_text().split()
    asked = synthesize(design.rtl_dir, design.top, tmp_path / "asked", family="xcup", yosys_sta=True)
    assert "Latest arrival time" in asked.sta_text
    no_table = synthesize(design.rtl_dir, design.top, tmp_path / "xc7", family="xc7")
    assert "Latest arrival time" in no_table.sta_text
