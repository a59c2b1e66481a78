"""Shared tiny networks and one compiled RTL design for the ``pipeline.rtl`` tests.

The first da4ml call spends a long time in numba JIT; ``NUMBA_CACHE_DIR`` keeps it to once per machine.
The design (a 4-3-2 network) is traced, written and verilated once per test session.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))

from tests.rtl.rtl_networks import tiny_network


@pytest.fixture(scope="session")
def tiny_design(tmp_path_factory):
    """``(network, traced, written design, compiled simulator)`` of :func:`tiny_network` at 5 ns."""
    from pipeline.rtl.design import compile_design, write_design
    from pipeline.rtl.trace import latency_cutoff_for_clock, trace_network

    root = tmp_path_factory.mktemp("tiny_design")
    network = tiny_network()
    traced = trace_network(network, latency_cutoff_for_clock(3.0, 1.0))
    design = write_design(traced, root / "rtl", 3.0, "xcvu13p-flga2577-2-e")
    simulator = compile_design(design, root / "build")
    return network, traced, design, simulator
