"""Synthesize a da4ml design with Yosys (``synth_xilinx -flatten``) and parse its ``stat`` cell counts.

The design is read together with da4ml's helper modules (``src/static/*.v``). Cells are grouped the
way FPGA users count them: LUTs by size (``LUT1`` .. ``LUT6``, plus ``INV`` which places as a LUT1),
carry chains (``CARRY4``; Yosys 0.23 maps ``CARRY4`` even for ``-family xcup``), flip-flops
(``FD*``), DSPs (``DSP48*``), block RAMs (``RAMB*``), shift-register LUTs (``SRL*``) and wide
multiplexers (``MUXF*``); I/O buffers are listed but not counted as logic.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

_CELL_LINE = re.compile(r"^\s+(\S+)\s+(\d+)\s*$")


@dataclass(frozen=True)
class SynthesisResult:
    """Cell counts of one synthesized design (source: Yosys ``stat`` after ``synth_xilinx``)."""

    cells: dict[str, int]
    family: str
    seconds: float
    luts_by_size: dict[str, int] = field(default_factory=dict)
    sta_text: str | None = None

    def count(self, prefixes: tuple[str, ...]) -> int:
        """Total of the cells whose type starts with one of ``prefixes``."""
        return sum(number for name, number in self.cells.items() if name.startswith(prefixes))

    @property
    def luts(self) -> int:
        return sum(self.luts_by_size.values())

    @property
    def carry(self) -> int:
        return self.count(("CARRY",))

    @property
    def flip_flops(self) -> int:
        return self.count(("FD",))

    @property
    def dsps(self) -> int:
        return self.count(("DSP",))

    @property
    def brams(self) -> int:
        return self.count(("RAMB",))

    @property
    def shift_register_luts(self) -> int:
        return self.count(("SRL",))

    def to_dict(self) -> dict:
        """JSON-ready summary (all figures from Yosys)."""
        return {
            "luts": self.luts,
            "luts_by_size": dict(sorted(self.luts_by_size.items())),
            "carry": self.carry,
            "flip_flops": self.flip_flops,
            "dsps": self.dsps,
            "brams": self.brams,
            "shift_register_luts": self.shift_register_luts,
            "muxf": self.count(("MUXF",)),
            "cells": dict(sorted(self.cells.items())),
            "family": self.family,
        }


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts from the last ``Number of cells`` block of Yosys ``stat`` output."""
    blocks = text.split("Number of cells:")
    if len(blocks) < 2:
        raise ValueError("no 'Number of cells' in yosys stat output")
    cells: dict[str, int] = {}
    for line in blocks[-1].splitlines()[1:]:
        if not line.strip():
            if cells:
                break
            continue
        match = _CELL_LINE.match(line)
        if match is None:
            break
        cells[match.group(1)] = int(match.group(2))
    return cells


def runs_yosys_sta(family: str, yosys_sta: bool | None = None) -> bool:
    """Whether the script runs Yosys ``sta``: as asked, or by default (``None``) only for a family without
    a delay table in :mod:`pipeline.rtl.netlist_timing` (where one exists, the netlist timing is the
    estimate the firmware records and ``sta`` would cost ~18 % of the Yosys CPU time of a large design
    for a figure nobody reads: 39 of 218 s for the 16-64-32-32-5 6-bit MLP, measured here)."""
    from pipeline.rtl.netlist_timing import FAMILY_DELAYS

    return family not in FAMILY_DELAYS if yosys_sta is None else yosys_sta


def synthesis_script(
    rtl_dir: Path,
    top: str,
    family: str = "xcup",
    options: tuple[str, ...] = (),
    yosys_sta: bool | None = None,
) -> str:
    """The relocatable Yosys script (paths relative to ``rtl_dir``): read, ``synth_xilinx -flatten``,
    ``stat`` into ``synth_stat.txt``, the flattened ``netlist.json`` for :mod:`pipeline.rtl.netlist_timing`
    and, when :func:`runs_yosys_sta`, the timing pass of :mod:`pipeline.rtl.timing` into ``sta.txt``."""
    from pipeline.rtl.timing import NETLIST_COMMANDS, STA_COMMANDS

    rtl_dir = Path(rtl_dir).resolve()
    sources = [
        Path("src") / f"{top}.v",
        *sorted(path.relative_to(rtl_dir) for path in (rtl_dir / "src").glob(f"{top}_stage*.v")),
    ]
    uses_tables = any((rtl_dir / "src" / "memfiles").glob("*.mem"))
    sources += sorted(
        path.relative_to(rtl_dir)
        for path in (rtl_dir / "src" / "static").glob("*.v")
        if uses_tables or path.name != "lookup_table.v"  # its default $readmemh file does not exist
    )
    commands = [f"read_verilog {source.as_posix()}" for source in sources]
    synth = " ".join(["synth_xilinx -flatten", *options, f"-family {family} -top {top}"])
    commands += [synth, "tee -q -o synth_stat.txt stat", *NETLIST_COMMANDS]
    if runs_yosys_sta(family, yosys_sta):
        commands += STA_COMMANDS
    return "\n".join(commands) + "\n"


def synthesize(
    rtl_dir: Path,
    top: str,
    work_dir: Path,
    family: str = "xcup",
    options: tuple[str, ...] = (),
    yosys_sta: bool | None = None,
) -> SynthesisResult:
    """Run ``yosys`` on ``rtl_dir/src/{top}.v`` (+ stages, ``src/static``) and parse ``stat``.

    ``family`` is Yosys' ``synth_xilinx -family`` (``xcup`` UltraScale+, ``xcu`` UltraScale, ``xc7``);
    ``options`` are extra ``synth_xilinx`` flags (``-nodsp`` keeps multipliers in LUTs). The netlist is
    timed with :mod:`pipeline.rtl.netlist_timing` (``netlist_timing.json``); with ``yosys_sta`` (default:
    :func:`runs_yosys_sta`) the script also runs Yosys ``sta`` (:mod:`pipeline.rtl.timing`): its text is
    in ``sta_text`` and ``sta.txt`` (else ``sta_text`` is ``None`` and there is no ``sta.txt``).
    Yosys runs inside ``rtl_dir`` with a relocatable script (paths relative to ``rtl_dir``);
    ``work_dir`` receives ``synth.ys``, ``stat.txt`` and ``yosys.log``.
    """
    if shutil.which("yosys") is None:
        raise FileNotFoundError("yosys is not on PATH")
    start = time.perf_counter()
    rtl_dir, work_dir = Path(rtl_dir).resolve(), Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "synth.ys").write_text(synthesis_script(rtl_dir, top, family, options, yosys_sta))
    command = ["yosys", "-q", "-l", str(work_dir / "yosys.log"), str(work_dir / "synth.ys")]
    completed = subprocess.run(command, cwd=rtl_dir, capture_output=True)
    if completed.returncode != 0:
        raise RuntimeError(f"yosys failed: {completed.stderr.decode()[-3000:]}")
    shutil.move(rtl_dir / "synth_stat.txt", work_dir / "stat.txt")
    (work_dir / "sta.txt").unlink(missing_ok=True)
    sta = runs_yosys_sta(family, yosys_sta)
    if sta:
        shutil.move(rtl_dir / "sta.txt", work_dir / "sta.txt")
    stored = write_netlist_timing(rtl_dir / "netlist.json", work_dir / "netlist_timing.json", family)
    if "unavailable" in stored and not sta:  # e.g. a cell the delay table lacks: Yosys sta instead
        return synthesize(rtl_dir, top, work_dir, family, options, yosys_sta=True)
    return read_result(work_dir, family, time.perf_counter() - start)


def write_netlist_timing(netlist: Path, destination: Path, family: str) -> dict:
    """Time ``netlist`` (Yosys ``write_json``) with :mod:`pipeline.rtl.netlist_timing`, write the stored
    analysis to ``destination`` (atomically), delete the netlist (tens of MB for a large design) and
    return the analysis (``{"unavailable": reason}`` when the family or a cell has no delays)."""
    import json

    from pipeline.rtl.netlist_timing import analyse_file

    stored = analyse_file(netlist, family)
    partial = destination.with_suffix(".partial")
    partial.write_text(json.dumps(stored, indent=1) + "\n")
    partial.replace(destination)
    netlist.unlink()
    return stored


def read_result(work_dir: Path, family: str, seconds: float) -> SynthesisResult:
    """The :class:`SynthesisResult` of a finished run from ``work_dir/stat.txt`` and ``sta.txt``."""
    cells = parse_stat((Path(work_dir) / "stat.txt").read_text())
    # INV cells are single-input LUTs once placed: counted with the LUTs.
    luts = {name: number for name, number in cells.items() if re.fullmatch(r"LUT\d|INV", name)}
    sta_path = Path(work_dir) / "sta.txt"
    sta_text = sta_path.read_text() if sta_path.is_file() else None
    return SynthesisResult(cells, family, seconds, luts, sta_text)
