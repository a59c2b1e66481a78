"""Timing from the netlist (``pipeline.rtl.timing``): Yosys ``sta`` on real synthesized designs."""

from __future__ import annotations

import pytest

from pipeline.rtl.timing import delay_model, parse_sta

_CHAIN = """
module chain #(parameter N = 8) (input wire clk, input wire [7:0] a, input wire [7:0] b, output reg [7:0] y);
    reg [7:0] ra, rb;
    wire [7:0] x0 = ra ^ {{rb[6:0], rb[7]}};
    wire [7:0] x1 = x0 + {x0[3:0], x0[7:4]};
    wire [7:0] x2 = (x1 * ra) ^ rb;
    wire [7:0] x3 = x2 + {x2[0], x2[7:1]} + ra;
    always @(posedge clk) begin ra <= a; rb <= b; y <= SHALLOW ? (ra ^ rb) : x3; end
endmodule
"""


def _synthesize(tmp_path, shallow: bool):
    from pipeline.rtl.yosys import synthesize

    rtl = tmp_path / ("shallow" if shallow else "deep")
    (rtl / "src").mkdir(parents=True)
    (rtl / "src" / "chain.v").write_text(_CHAIN.replace("SHALLOW", "1'b1" if shallow else "1'b0"))
    return synthesize(rtl, "chain", rtl / "work", "xcup", ("-nodsp",), yosys_sta=True)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("timing")
    return {shallow: _synthesize(tmp_path, shallow) for shallow in (True, False)}


def test_sta_of_a_deep_path_is_longer_than_a_shallow_one(reports):
    shallow = parse_sta(reports[True].sta_text, 5.0, "xcup")
    deep = parse_sta(reports[False].sta_text, 5.0, "xcup")
    assert shallow.lut_levels == 1  # one XOR LUT between the registers
    assert deep.lut_levels > shallow.lut_levels and deep.carry_cells >= 1
    assert deep.critical_path_ns > shallow.critical_path_ns > 0
    # routing: UG949's 50 % route share on UltraScale+ doubles the cell delay
    assert deep.critical_path_ns == pytest.approx(2 * deep.cell_delay_ns)
    assert deep.max_clock_mhz == pytest.approx(1000 / deep.critical_path_ns)


def test_requested_clock_flag(reports):
    deep = parse_sta(reports[False].sta_text, 5.0, "xcup")
    assert parse_sta(reports[False].sta_text, deep.critical_path_ns + 0.01, "xcup").meets_clock
    assert not parse_sta(reports[False].sta_text, deep.critical_path_ns - 0.01, "xcup").meets_clock
    assert parse_sta(reports[False].sta_text, 5.0, "xc7").critical_path_ns == pytest.approx(
        4 * deep.cell_delay_ns
    )
    assert deep.to_dict()["delay_model"].startswith("cell delays: Yosys")


def test_parse_rejects_text_without_a_path():
    with pytest.raises(ValueError):
        parse_sta("no timing here", 5.0, "xcup")
    assert delay_model("unknown").route_share == 0.75
