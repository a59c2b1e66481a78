"""Per-stage checks: budgets from the ``checks:`` section evaluated on each stage's stored records.

:mod:`pipeline.checks.config` (the section's schema), :mod:`pipeline.checks.evaluate` (pure
evaluation), :mod:`pipeline.checks.hook` (run-directory I/O and the gate), :mod:`pipeline.checks.table`
(the model x stage summary), :mod:`pipeline.checks.parts` (FPGA resource counts).
"""

from pipeline.checks.config import ChecksConfig

__all__ = ["ChecksConfig"]
