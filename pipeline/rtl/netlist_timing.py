"""Static timing of the synthesized netlist with the *target family's* delays (Virtex UltraScale+ -2).

Yosys' ``sta`` only knows the cell arcs of ``techlibs/xilinx/cells_sim.v`` (Project X-Ray's Artix-7 -1
SDF) and no wire delay, so :mod:`pipeline.rtl.timing` can only scale the cell delay by a route share.
That is doubly wrong for our default part, ``xcvu13p-flga2577-2-e``: the cells are a 28 nm -1 part's,
and the route share also multiplies the carry chain's cascade, which uses dedicated wires. This module
walks Yosys' JSON netlist (``write_json`` after ``synth_xilinx -flatten``) itself and charges

* each cell arc with the family's cell delay, and
* each net with a routing delay: a *typical local route plus a per-load fanout term* for general
  routing; the dedicated delays for the carry cascade (``CO -> CI``) and for a LUT that drives only a
  carry chain or wide-mux input of its own slice.

Delays of :data:`ULTRASCALE_PLUS_2` (ns) are FloPoCo's target model of the Virtex UltraScale+ -2
(``src/Targets/VirtexUltrascalePlus.hpp``, "copy-pasted from Vivado timing reports", part
xcvu3p-2-FFVC1517, the VU13P's family and speed grade): LUT6 0.148, flip-flop clock-to-out 0.150,
the LUT2 that computes an adder's propagate signal into the carry chain 0.050, CARRY8 ``S -> CO[7]``
0.115, ``CI -> CO`` 0.015, ``CI -> O`` 0.116, ``LUT -> CARRY S`` 0.011,
``COUT -> CIN`` between CLBs 0.026, typical local routing 0.180 and fanout 1/65 per load ("1.5 ns for
fo=65" in a Vivado report), block RAM 1.0 (also charged to LUT RAM and shift-register LUT
outputs). Setup plus clock uncertainty, 0.062, is a routed Vivado
report's (``Setup_HFF_SLICEL_C_D`` 0.027 + 0.035 uncertainty, xczu3eg -1). Conservative choices,
stated: every other LUT input is charged the slowest (LUT6) delay (a ``LUT1``/``LUT2``/``INV`` whose
output only feeds carry-chain ``S``/``DI`` inputs is the adder's propagate LUT: 0.050), wide
multiplexers a LUT's, every
``CARRY4`` (Yosys 0.23 maps ``CARRY4`` also for UltraScale+) a full ``CARRY8`` cascade, and the
fanout term is FloPoCo's (it over-predicts the high-fanout nets of the published routed reports:
``benchmarks/results/timing_calibration.json`` compares this model with them).

Primary inputs are launched like flip-flop outputs (the network sits behind the trigger firmware's
input registers) and primary outputs are captured like flip-flop inputs. The result is an estimate of
what Vivado would report after routing, not a signed-off timing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FamilyDelays:
    """Cell and net delays (ns) of one FPGA family and speed grade."""

    family: str
    lut_ns: float
    propagate_lut_ns: float
    wide_mux_ns: float
    carry_init_ns: float
    carry_propagate_ns: float
    carry_final_ns: float
    clock_to_out_ns: float
    setup_ns: float
    ram_clock_to_out_ns: float
    net_ns: float
    net_ns_per_load: float
    intra_slice_net_ns: float
    carry_cascade_net_ns: float
    source: str

    def general_net_ns(self, fanout: int) -> float:
        """Routing delay of a general net driving ``fanout`` loads."""
        return self.net_ns + self.net_ns_per_load * fanout


ULTRASCALE_PLUS_2 = FamilyDelays(
    family="xcup",
    lut_ns=0.148,
    propagate_lut_ns=0.050,
    wide_mux_ns=0.148,
    carry_init_ns=0.115,
    carry_propagate_ns=0.015,
    carry_final_ns=0.116,
    clock_to_out_ns=0.150,
    setup_ns=0.062,
    ram_clock_to_out_ns=1.0,
    net_ns=0.180,
    net_ns_per_load=1.0 / 65.0,
    intra_slice_net_ns=0.011,
    carry_cascade_net_ns=0.026,
    source=(
        "Virtex UltraScale+ -2: FloPoCo VirtexUltrascalePlus target model (delays from Vivado timing "
        "reports); setup + clock uncertainty from a routed Vivado UltraScale+ report; nets: 0.180 ns + "
        "fanout/65 ns, dedicated carry cascade and intra-slice wires"
    ),
)

FAMILY_DELAYS: dict[str, FamilyDelays] = {"xcup": ULTRASCALE_PLUS_2}

_CLOCK_PORTS = {"C", "CLK", "CLKARDCLK", "CLKBWRCLK", "WCLK"}
_SEQUENTIAL = re.compile(r"^(FD[A-Z]*|SRL\w*|RAMB\w*|RAM\d+\w*)$")


@dataclass(frozen=True)
class NetlistTiming:
    """The worst register-to-register (or input/output) path of one netlist."""

    critical_path_ns: float
    lut_levels: int
    carry_cells: int
    nets: int
    path: tuple[tuple[str, str, float], ...]  # (cell type, arc, arrival ns) from launch to capture
    requested_period_ns: float
    delays: FamilyDelays

    @property
    def max_clock_mhz(self) -> float:
        return 1000.0 / self.critical_path_ns if self.critical_path_ns > 0 else float("inf")

    @property
    def meets_clock(self) -> bool:
        return self.critical_path_ns <= self.requested_period_ns

    def to_dict(self) -> dict:
        """JSON-ready figures with the delay model that produced them."""
        return {
            "critical_path_ns": round(self.critical_path_ns, 3),
            "max_clock_mhz": round(self.max_clock_mhz, 1),
            "requested_period_ns": self.requested_period_ns,
            "meets_clock": self.meets_clock,
            "lut_levels": self.lut_levels,
            "carry_cells": self.carry_cells,
            "nets": self.nets,
            "path": [list(step) for step in self.path],
            "delay_model": self.delays.source,
            "family": self.delays.family,
        }


def _arc_ns(
    cell_type: str, in_port: str, in_index: int, out_port: str, out_index: int, delays
) -> float | None:
    """Delay of one cell arc, ``None`` when ``out`` does not depend on ``in``."""
    if re.fullmatch(r"LUT\d|INV", cell_type):
        return delays.lut_ns
    if cell_type.startswith("MUXF"):
        return delays.wide_mux_ns
    if cell_type.startswith("CARRY"):
        if in_port in ("S", "DI") and in_index > out_index:
            return None
        to_sum = out_port == "O"
        if in_port == "CI" or in_port == "CI_TOP":
            return delays.carry_final_ns if to_sum else delays.carry_propagate_ns
        return delays.carry_init_ns + (delays.carry_final_ns if to_sum else 0.0)
    if cell_type in ("IBUF", "OBUF", "BUFG", "IBUFG"):
        return 0.0
    raise ValueError(f"no timing arcs for cell type {cell_type!r}")


def _top_module(netlist: dict) -> tuple[str, dict]:
    for name, module in netlist["modules"].items():
        top = str(module.get("attributes", {}).get("top", "0"))  # Yosys writes integers as bit strings
        if set(top) <= {"0", "1"} and int(top, 2):
            return name, module
    raise ValueError("no top module in the netlist")


def analyse(
    netlist: dict, requested_period_ns: float, delays: FamilyDelays = ULTRASCALE_PLUS_2
) -> NetlistTiming:
    """Longest path of a flattened Yosys JSON netlist under ``delays`` (see the module docstring).

    Launch points: flip-flop / RAM outputs (clock-to-out) and primary inputs (as if registered);
    capture points: their data inputs and primary outputs (+ setup). Raises ``ValueError`` on a
    combinational loop or a cell type without arcs.
    """
    _, module = _top_module(netlist)
    cells = module["cells"]
    driver: dict[int, tuple[str, str, int]] = {}  # bit -> (cell, port, index)
    loads: dict[int, list[tuple[str, str, int]]] = {}
    for name, cell in cells.items():
        directions = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if port in _CLOCK_PORTS:
                continue
            for index, bit in enumerate(bits):
                if not isinstance(bit, int):
                    continue
                if directions.get(port) == "output":
                    driver[bit] = (name, port, index)
                else:
                    loads.setdefault(bit, []).append((name, port, index))
    primary_inputs = {
        bit for port in module["ports"].values() if port["direction"] == "input" for bit in port["bits"]
    }
    endpoints: list[tuple[int, str, str]] = []  # (bit, cell type, port)
    for cell in cells.values():
        if _SEQUENTIAL.match(cell["type"]):
            directions = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                if port not in _CLOCK_PORTS and directions.get(port) == "input":
                    endpoints += [(bit, cell["type"], port) for bit in bits if isinstance(bit, int)]
    for port in module["ports"].values():
        if port["direction"] == "output":
            endpoints += [(bit, "output", "port") for bit in port["bits"] if isinstance(bit, int)]

    def net_ns(bit: int, load: tuple[str, str, int] | None) -> float:
        source = driver.get(bit)
        fanout = len(loads.get(bit, ()))
        if source is not None and load is not None:
            source_type, load_type = cells[source[0]]["type"], cells[load[0]]["type"]
            if source_type.startswith("CARRY") and source[1] == "CO" and load[1] in ("CI", "CI_TOP"):
                return delays.carry_cascade_net_ns
            intra_slice = (load_type.startswith("CARRY") and load[1] in ("S", "DI")) or (
                load_type.startswith("MUXF") and load[1] in ("I0", "I1")
            )
            if intra_slice and fanout == 1 and re.fullmatch(r"LUT\d|INV|MUXF\d", source_type):
                return delays.intra_slice_net_ns
        return delays.general_net_ns(fanout)

    arrival: dict[int, float] = {}
    previous: dict[int, tuple[int | None, str, str]] = {}  # bit -> (input bit, cell type, arc)
    in_progress: set[int] = set()

    def launch(bit: int) -> float | None:
        source = driver.get(bit)
        if source is None:
            return delays.clock_to_out_ns if bit in primary_inputs else 0.0
        cell_type = cells[source[0]]["type"]
        if cell_type.startswith(("RAMB", "RAM", "SRL")):  # block RAM, LUT RAM, shift-register LUTs
            return delays.ram_clock_to_out_ns
        if _SEQUENTIAL.match(cell_type):
            return delays.clock_to_out_ns
        return None

    def resolve(root: int) -> None:
        stack = [root]
        while stack:
            bit = stack[-1]
            if bit in arrival:
                stack.pop()
                continue
            start = launch(bit)
            if start is not None:
                arrival[bit] = start
                source = driver.get(bit)
                previous[bit] = (None, cells[source[0]]["type"] if source else "input", "launch")
                stack.pop()
                continue
            name, out_port, out_index = driver[bit]
            cell = cells[name]
            directions = cell.get("port_directions", {})
            inputs = [
                (port, index, in_bit)
                for port, bits in cell["connections"].items()
                if directions.get(port) == "input" and port not in _CLOCK_PORTS
                for index, in_bit in enumerate(bits)
                if isinstance(in_bit, int)
            ]
            pending = [in_bit for _, _, in_bit in inputs if in_bit not in arrival]
            if pending:
                if bit in in_progress:
                    raise ValueError(f"combinational loop through cell {name}")
                in_progress.add(bit)
                stack.extend(pending)
                continue
            in_progress.discard(bit)
            best, best_from = 0.0, (None, cell["type"], "constant")
            propagate = re.fullmatch(r"LUT[12]|INV", cell["type"]) is not None and all(
                cells[load[0]]["type"].startswith("CARRY") and load[1] in ("S", "DI")
                for load in loads.get(bit, ())
            )
            for port, index, in_bit in inputs:
                arc = _arc_ns(cell["type"], port, index, out_port, out_index, delays)
                if propagate and bit in loads:
                    arc = delays.propagate_lut_ns
                if arc is None:
                    continue
                time = arrival[in_bit] + net_ns(in_bit, (name, port, index)) + arc
                if time > best:
                    best, best_from = time, (in_bit, cell["type"], f"{port}->{out_port}")
            arrival[bit], previous[bit] = best, best_from
            stack.pop()

    worst, worst_bit, worst_end = 0.0, None, ("", "")
    for bit, cell_type, port in endpoints:
        resolve(bit)
        load = next((entry for entry in loads.get(bit, ()) if entry[1] == port), None)
        time = arrival[bit] + net_ns(bit, load) + delays.setup_ns
        if time > worst:
            worst, worst_bit, worst_end = time, bit, (cell_type, port)
    path: list[tuple[str, str, float]] = [(worst_end[0], f"{worst_end[1]} (setup)", round(worst, 3))]
    bit = worst_bit
    while bit is not None:
        from_bit, cell_type, arc = previous[bit]
        path.append((cell_type, arc, round(arrival[bit], 3)))
        bit = from_bit
    path.reverse()
    lut_levels = sum(1 for cell_type, _, _ in path if re.fullmatch(r"LUT\d|INV", cell_type))
    carry_cells = sum(1 for cell_type, _, _ in path if cell_type.startswith("CARRY"))
    return NetlistTiming(
        worst, lut_levels, carry_cells, len(path) - 1, tuple(path), requested_period_ns, delays
    )


def analyse_file(path: Path, family: str) -> dict:
    """The stored form of :func:`analyse` of a ``write_json`` file (period-free: see :func:`record`),
    or ``{"unavailable": reason}`` for a family without a delay table or a cell without arcs."""
    delays = FAMILY_DELAYS.get(family)
    if delays is None:
        return {"unavailable": f"no delay table for family {family!r} (tables: {sorted(FAMILY_DELAYS)})"}
    try:
        timing = analyse(json.loads(Path(path).read_text()), 0.0, delays)
    except ValueError as error:
        return {"unavailable": str(error)}
    stored = timing.to_dict()
    for key in ("max_clock_mhz", "requested_period_ns", "meets_clock"):
        stored.pop(key)
    return stored


def record(stored: dict, requested_period_ns: float) -> dict | None:
    """The firmware record of a stored analysis at the requested clock period (``None`` if unavailable)."""
    if "critical_path_ns" not in stored:
        return None
    critical = float(stored["critical_path_ns"])
    return {
        **stored,
        "max_clock_mhz": round(1000.0 / critical, 1) if critical > 0 else float("inf"),
        "requested_period_ns": requested_period_ns,
        "meets_clock": critical <= requested_period_ns,
    }
