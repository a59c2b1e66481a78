"""trigger-pipeline: jet-tagging networks from simulated data to bit-exact FPGA trigger firmware.

``pipeline.load_tagger(run_dir, model)`` is the analysis API (:mod:`pipeline.api`); it is imported
lazily so that ``import pipeline`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.api import Tagger, load_tagger

__all__ = ["Tagger", "load_tagger"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
