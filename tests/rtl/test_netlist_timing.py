"""Netlist timing with the family's delays (``pipeline.rtl.netlist_timing``): hand-built netlists with
exact expected arrivals, and real Yosys netlists."""

from __future__ import annotations

import json

import pytest

from pipeline.rtl.netlist_timing import ULTRASCALE_PLUS_2 as D
from pipeline.rtl.netlist_timing import analyse, analyse_file, record


def _cell(cell_type: str, directions: dict[str, str], connections: dict[str, list]) -> dict:
    return {"type": cell_type, "port_directions": directions, "connections": connections}


def _flop(d_bit: int, q_bit: int) -> dict:
    return _cell(
        "FDRE",
        {"C": "input", "D": "input", "CE": "input", "R": "input", "Q": "output"},
        {"C": [2], "D": [d_bit], "CE": ["1"], "R": ["0"], "Q": [q_bit]},
    )


def _lut(inputs: list[int], output: int) -> dict:
    ports = {f"I{index}": [bit] for index, bit in enumerate(inputs)}
    directions = {name: "input" for name in ports} | {"O": "output"}
    return _cell(f"LUT{len(inputs)}", directions, ports | {"O": [output]})


def _netlist(cells: dict, inputs: list[int] = (), outputs: list[int] = ()) -> dict:
    ports = {"clk": {"direction": "input", "bits": [2]}}
    if inputs:
        ports["a"] = {"direction": "input", "bits": list(inputs)}
    if outputs:
        ports["y"] = {"direction": "output", "bits": list(outputs)}
    return {
        "modules": {
            "top": {"attributes": {"top": "00000000000000000000000000000001"}, "ports": ports, "cells": cells}
        }
    }


def test_lut_chain_between_flops_adds_cells_nets_and_setup():
    # FF(q=10) -> LUT(11) -> LUT(12) -> FF; every net drives one load
    cells = {"ff0": _flop(3, 10), "l1": _lut([10], 11), "l2": _lut([11, 10], 12), "ff1": _flop(12, 13)}
    cells["ff0"]["connections"]["D"] = [13]
    timing = analyse(_netlist(cells), 5.0)
    # bit 10 drives two LUT inputs (fanout 2), bits 11 and 12 one each
    expected = D.clock_to_out_ns + D.general_net_ns(2) + D.lut_ns + D.general_net_ns(1) + D.lut_ns
    expected += D.general_net_ns(1) + D.setup_ns
    assert timing.critical_path_ns == pytest.approx(expected)
    assert timing.lut_levels == 2 and timing.carry_cells == 0
    assert [step[0] for step in timing.path] == ["FDRE", "LUT1", "LUT2", "FDRE"]
    assert timing.meets_clock and not analyse(_netlist(cells), expected - 0.001).meets_clock


def test_carry_cascade_uses_dedicated_wires_and_a_lut_feeding_its_carry_is_intra_slice():
    carry_ports = {
        "CI": "input",
        "CYINIT": "input",
        "DI": "input",
        "S": "input",
        "O": "output",
        "CO": "output",
    }

    def carry(ci, s_bits, o_bits, co_bits):
        return _cell(
            "CARRY4",
            carry_ports,
            {"CI": [ci], "CYINIT": ["0"], "DI": ["0"] * 4, "S": s_bits, "O": o_bits, "CO": co_bits},
        )

    cells = {
        "ff0": _flop(40, 10),
        "lut": _lut([10], 11),  # drives only S[0] of the first carry: same slice
        "c0": carry("0", [11, "0", "0", "0"], [20, 21, 22, 23], [24, 25, 26, 27]),
        "c1": carry(27, ["0"] * 4, [30, 31, 32, 33], [34, 35, 36, 37]),
        "ff1": _flop(33, 40),
    }
    timing = analyse(_netlist(cells), 5.0)
    # a LUT1 that only feeds a carry S input is the adder's propagate LUT
    expected = D.clock_to_out_ns + D.general_net_ns(1) + D.propagate_lut_ns + D.intra_slice_net_ns
    expected += D.carry_init_ns  # S[0] -> CO[3]
    expected += D.carry_cascade_net_ns + D.carry_final_ns  # CI -> O[3] of the next carry
    expected += D.general_net_ns(1) + D.setup_ns
    assert timing.critical_path_ns == pytest.approx(expected)
    assert timing.carry_cells == 2 and timing.lut_levels == 1


def test_primary_inputs_launch_like_registers_and_outputs_capture():
    cells = {"l1": _lut([5], 6)}
    timing = analyse(_netlist(cells, inputs=[5], outputs=[6]), 5.0)
    expected = D.clock_to_out_ns + D.general_net_ns(1) + D.lut_ns + D.general_net_ns(0) + D.setup_ns
    assert timing.critical_path_ns == pytest.approx(expected)


def test_loops_and_unknown_cells_are_errors(tmp_path):
    loop = {"ff": _flop(11, 10), "a": _lut([12, 10], 11), "b": _lut([11], 12)}
    with pytest.raises(ValueError, match="combinational loop"):
        analyse(_netlist(loop), 5.0)
    odd = {"ff": _flop(11, 10), "x": _cell("DSP48E2", {"A": "input", "P": "output"}, {"A": [10], "P": [11]})}
    with pytest.raises(ValueError, match="DSP48E2"):
        analyse(_netlist(odd), 5.0)
    path = tmp_path / "netlist.json"
    path.write_text(json.dumps(_netlist(odd)))
    assert "DSP48E2" in analyse_file(path, "xcup")["unavailable"]
    assert "no delay table" in analyse_file(path, "xc7")["unavailable"]
    assert record({"unavailable": "x"}, 5.0) is None


_ADDERS = """
module adders (input wire clk, input wire [11:0] a, input wire [11:0] b, output reg [11:0] y);
    reg [11:0] ra, rb;
    always @(posedge clk) begin ra <= a; rb <= b; y <= DEPTH; end
endmodule
"""


@pytest.mark.parametrize("family", ["xcup"])
def test_yosys_netlists_deeper_adder_trees_are_slower(tmp_path, family):
    from pipeline.rtl.yosys import synthesize

    stored = {}
    for name, depth in {"one": "ra + rb", "three": "((ra + rb) + (ra - rb)) + ((rb + 3) ^ ra)"}.items():
        rtl = tmp_path / name
        (rtl / "src").mkdir(parents=True)
        (rtl / "src" / "adders.v").write_text(_ADDERS.replace("DEPTH", depth))
        synthesize(rtl, "adders", rtl / "work", family, ("-nodsp",))
        assert not (rtl / "netlist.json").exists()  # the large netlist is not kept
        stored[name] = json.loads((rtl / "work" / "netlist_timing.json").read_text())
    one, three = record(stored["one"], 5.0), record(stored["three"], 5.0)
    assert one["carry_cells"] >= 1 and three["carry_cells"] > one["carry_cells"]
    assert three["critical_path_ns"] > one["critical_path_ns"] > D.clock_to_out_ns + D.setup_ns
    assert one["meets_clock"] and not record(stored["three"], three["critical_path_ns"] - 0.01)["meets_clock"]
    assert one["path"][0][0] == "FDRE" and one["path"][-1][1] == "D (setup)"
