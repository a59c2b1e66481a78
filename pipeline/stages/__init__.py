"""Stage modules. The pipeline order is the explicit list :data:`STAGES` (no discovery at import)."""

from __future__ import annotations

from types import ModuleType

from pipeline.stages import constrain, convert, data, export, firmware, prune, report, train

#: The stages, in the order they run.
STAGES: tuple[ModuleType, ...] = (data, train, prune, constrain, export, convert, firmware, report)
