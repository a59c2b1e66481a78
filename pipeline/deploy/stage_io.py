"""Thin file I/O shared by the ``export`` and ``convert`` stages: where each model comes from, the
accumulator widths of the constrain stage, JSON output.

``export/<model>/source.json`` records where the exported QKeras model is: ``{"model": "constrain"}``
(the constrain stage's ``model.h5``) or ``{"model": "export", "external": <path>}`` for a
bring-your-own model (then ``export/<model>/model.h5`` and ``accumulators.json`` are written by export).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.manifest import write_json

ACCUMULATORS_FILE = "accumulators.json"
SOURCE_FILE = "source.json"
_WIDTH_KEYS = ("target_bits", "accumulator_bits", "bits", "P")


def read_json(path: Path, stage: str) -> dict[str, Any]:
    """Read a JSON file, or raise a PipelineError naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise PipelineError(
            stage,
            f"cannot read {Path(path).name}: {error}",
            input=str(path),
            fix="rerun the stage that writes it",
        ) from error


def parse_accumulator_bits(data: Mapping[str, Any], layer_names: set[str]) -> dict[str, int]:
    """Accumulator width ``P`` per dense layer name from an ``accumulators.json`` document.

    Accepted layouts: ``{"layers": {<layer>: {...}}}`` or ``{<layer>: {...}}``, where an entry is an
    integer ``P`` or a mapping with one of the keys ``target_bits``, ``accumulator_bits``, ``bits``,
    ``P`` (in that order of preference); a ``null`` width means the layer is unconstrained. Keys that
    are not dense layer names of the model are ignored (e.g. ``method``).
    """
    entries = data.get("layers", data)
    if isinstance(entries, list):
        entries = {entry.get("name"): entry for entry in entries if isinstance(entry, Mapping)}
    widths = {}
    for name, entry in entries.items():
        if name not in layer_names:
            continue
        width = entry
        if isinstance(entry, Mapping):
            width = next((entry[key] for key in _WIDTH_KEYS if key in entry), None)
        if width is not None:
            widths[name] = int(width)
    return widths


def is_float_model(model: Any) -> bool:
    """True when the Keras model has no QKeras quantizer at all (nothing to deploy bit-exactly)."""
    return not any(type(layer).__name__.startswith("Q") for layer in model.layers)


def read_metrics_skip(model_dir: Path) -> str | None:
    """The ``skipped`` reason recorded in ``<model_dir>/metrics.json``, if any."""
    path = model_dir / "metrics.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("skipped")
    except ValueError:
        return None


def write_model_metrics(
    path: Path,
    model: Any,
    dataset: Any,
    spec_path: Path | None,
    stage: str,
    details: Mapping[str, Any],
    qonnx_inference_cost: Mapping[str, float] | None = None,
) -> None:
    """Write ``metrics.json``: the :mod:`pipeline.measure` record when the model has a spec (run models),
    else (bring-your-own models) ``{"model", "stage", "details"}``."""
    if spec_path is None:
        write_json(path, {"model": path.parent.name, "stage": stage, "details": dict(details)})
        return
    from pipeline.measure import measure_model, save_metrics
    from pipeline.models.spec import load_spec

    metrics = measure_model(model, dataset, load_spec(spec_path), stage=stage, details=details)
    if qonnx_inference_cost is not None:
        cost = metrics.cost.model_copy(update={"qonnx_inference_cost": dict(qonnx_inference_cost)})
        metrics = metrics.model_copy(update={"cost": cost})
    save_metrics(metrics, path)
