"""Latency from timing: the critical register-to-register path of the synthesized netlist.

Yosys' ``sta`` pass (run after ``synth_xilinx`` with the cell library read with ``-specify``) walks
the mapped netlist with the delay arcs of each primitive and prints the path with the latest arrival.
The arcs are those of Yosys' ``techlibs/xilinx/cells_sim.v`` specify blocks, which cite Project
X-Ray's measured Artix-7 (speed grade -1) SDF files (e.g. ``LUT6 I0->O = 642 ps``, ``CARRY4 CI->CO[3]``,
``FDRE C->Q``): *cell delays only*, no routing.

Delay model (:class:`DelayModel`): ``path = cell delay / (1 - route_share)``, i.e. routing adds
``route_share / (1 - route_share)`` of the cell delay. AMD's UltraFast Design Methodology Guide
(UG949, "Datapath Delay and Logic Levels") names the route share above which a path is
route-dominated: > 50 % in UltraScale/UltraScale+ devices, > 75 % in 7 series. We use those shares,
so the estimate is an upper one for these families (and the Artix-7 -1 cell delays are slower than an
UltraScale+ -2 part's): a design flagged here may still close timing in Vivado, a design that passes
here should. The logic depth is the number of LUT levels (``LUT1..6``/``INV``, ``MUXF7..9`` counted
with their LUT), carry cells (``CARRY4``/``CARRY8``) reported separately.

Stages of a pipelined design are separated by flip-flops, so the critical path is the deepest stage:
``max_clock = 1 / critical_path`` and the design meets a requested period when ``critical_path <=
period``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NETLIST_COMMANDS: tuple[str, ...] = (
    "setattr -mod -unset keep_hierarchy",
    "flatten",
    "write_json netlist.json",
)
"""Appended to the Yosys script after ``synth_xilinx`` and ``stat``: ``flatten`` (with ``keep_hierarchy``
removed: ``sta`` ignores submodule cells, and the folded designs keep their multiplier and neuron
modules through synthesis; a no-op for flat designs), then ``netlist.json``, the flattened netlist that
:mod:`pipeline.rtl.netlist_timing` times with the target family's own delays (the primary estimate
where the family has a delay table)."""

STA_COMMANDS: tuple[str, ...] = (
    "read_verilog -lib -specify +/xilinx/cells_sim.v",
    "tee -q -o sta.txt sta",
)
"""Appended after :data:`NETLIST_COMMANDS` where Yosys ``sta`` runs
(:func:`pipeline.rtl.yosys.runs_yosys_sta`): writes ``sta.txt``."""

_ARRIVAL = re.compile(r"^Latest arrival time in '(?P<module>[^']+)' is (?P<ps>-?\d+):", re.MULTILINE)
_PATH_LINE = re.compile(r"^\s+(?P<ps>\d+) (?P<cell>\S+) \((?P<type>\w+)\.(?P<arc>\S+)\)\s*$")


@dataclass(frozen=True)
class DelayModel:
    """Route share of the path delay per ``synth_xilinx`` family (UG949 thresholds)."""

    family: str
    route_share: float
    source: str = (
        "cell delays: Yosys techlibs/xilinx/cells_sim.v specify arcs (Project X-Ray Artix-7 -1 SDF); "
        "routing: UG949 'Datapath Delay and Logic Levels' route share"
    )

    def path_ns(self, cell_ns: float) -> float:
        """Cell delay plus routing: ``cell_ns / (1 - route_share)``."""
        return cell_ns / (1.0 - self.route_share)


DELAY_MODELS: dict[str, DelayModel] = {
    "xcup": DelayModel("xcup", 0.50),
    "xcu": DelayModel("xcu", 0.50),
    "xc7": DelayModel("xc7", 0.75),
}


def delay_model(family: str) -> DelayModel:
    """The :class:`DelayModel` of a ``synth_xilinx -family`` (7-series share for unknown families)."""
    return DELAY_MODELS.get(family, DelayModel(family, 0.75))


@dataclass(frozen=True)
class TimingReport:
    """The critical path of one design and what it means for the requested clock."""

    cell_delay_ns: float
    lut_levels: int
    carry_cells: int
    critical_path_ns: float
    requested_period_ns: float
    model: DelayModel

    @property
    def max_clock_mhz(self) -> float:
        return 1000.0 / self.critical_path_ns if self.critical_path_ns > 0 else float("inf")

    @property
    def meets_clock(self) -> bool:
        return self.critical_path_ns <= self.requested_period_ns

    def to_dict(self) -> dict:
        """JSON-ready figures with the delay model that produced them."""
        return {
            "lut_levels": self.lut_levels,
            "carry_cells": self.carry_cells,
            "cell_delay_ns": round(self.cell_delay_ns, 3),
            "critical_path_ns": round(self.critical_path_ns, 3),
            "max_clock_mhz": round(self.max_clock_mhz, 1),
            "requested_period_ns": self.requested_period_ns,
            "meets_clock": self.meets_clock,
            "route_share": self.model.route_share,
            "delay_model": self.model.source,
        }


def parse_sta(text: str, requested_period_ns: float, family: str) -> TimingReport:
    """Critical path of Yosys ``sta`` output: cell delay from the launching flip-flop's clock pin (or
    a primary input) to the end, LUT levels and carry cells on it, converted with :func:`delay_model`.
    """
    match = _ARRIVAL.search(text)
    if match is None:
        raise ValueError("no 'Latest arrival time' in yosys sta output")
    path = []
    for line in text[match.end() :].splitlines():
        if line.startswith("Arrival histogram"):
            break
        parsed = _PATH_LINE.match(line)
        if parsed is not None:
            path.append((int(parsed["ps"]), parsed["type"]))
    path.reverse()  # yosys prints from the endpoint back to the start
    start_ps = 0
    for index, (_, cell_type) in enumerate(path):
        if cell_type.startswith("FD"):
            start_ps = path[index - 1][0] if index > 0 else 0  # the clock's arrival at the flip-flop
            path = path[index:]
            break
    end_ps = int(match["ps"])
    cell_ns = max(end_ps - start_ps, 0) / 1000.0
    lut_levels = sum(1 for _, cell_type in path if re.fullmatch(r"LUT\d|INV", cell_type))
    carry_cells = sum(1 for _, cell_type in path if cell_type.startswith("CARRY"))
    model = delay_model(family)
    return TimingReport(cell_ns, lut_levels, carry_cells, model.path_ns(cell_ns), requested_period_ns, model)
