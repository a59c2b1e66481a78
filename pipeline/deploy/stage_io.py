"""Thin file I/O shared by the ``export`` and ``convert`` stages: where each model comes from, the
accumulator widths of the constrain stage, JSON output.

``export/<model>/source.json`` records where the exported model comes from: ``{"model": "constrain"}``
(the constrain stage's ``model.h5``) or ``{"model": "export", "format": "qkeras" | "qonnx",
"external": <path>, "softmax_removed": bool, ...}`` for a bring-your-own model (then export writes
``export/<model>/model.h5`` and ``accumulators.json`` for a QKeras file). Every quantized model's
deployed integer network is ``export/<model>/network.json`` (copied to ``convert/<model>/`` once the
C-simulation has matched it).
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


def measure_network(network: Any, dataset: Any, name: str, stage: str, details: Mapping[str, Any]) -> Any:
    """The :mod:`pipeline.measure` record of a model known only by its integer network (bring-your-own
    models have no spec): physics from the integer emulator's logits (equal to the C-sim), cost from
    the integer weights (bit widths from the formats; weights: the narrowest signed width holding
    them), information content from the hidden layers' quantized outputs."""
    import numpy as np

    from pipeline.deploy.emulator import emulate
    from pipeline.measure import ModelMetrics
    from pipeline.measure.compute import DenseWeights, cost_metrics, information_metrics, physics_metrics

    result = emulate(network, dataset.x_test, keep_layers=True)
    physics = physics_metrics(result.logits, dataset.y_test, dataset.class_names)
    weights, input_bits = [], network.input_format.bits
    for layer in network.layers:
        largest = int(np.abs(layer.weight_raw).max(initial=0))
        weights.append(
            DenseWeights(
                name=layer.name,
                kernel=layer.weight_raw * 2.0**-layer.weight_fractional_bits,
                bias=layer.bias_raw * 2.0**-layer.bias_fractional_bits,
                input_bits=input_bits,
                weight_bits=max(largest.bit_length() + 1, 2),
            )
        )
        input_bits = layer.output.bits if layer.output is not None else input_bits
    activations = {
        layer.name: trace.output_raw for layer, trace in zip(network.layers[:-1], result.layers, strict=False)
    }
    return ModelMetrics(
        model=name,
        stage=stage,
        physics=physics,
        cost=cost_metrics(weights),
        information=information_metrics(activations, physics.accuracy),
        details=dict(details),
    )


def write_model_metrics(
    path: Path,
    model: Any,
    dataset: Any,
    spec_path: Path | None,
    stage: str,
    details: Mapping[str, Any],
    qonnx_inference_cost: Mapping[str, float] | None = None,
    network: Any = None,
) -> None:
    """Write ``metrics.json``: the :mod:`pipeline.measure` record, measured on the QKeras model with its
    spec (run models) or on the integer ``network`` (bring-your-own models, :func:`measure_network`);
    ``{"model", "stage", "details"}`` when neither is given."""
    from pipeline.measure import measure_model, save_metrics

    if spec_path is None and network is None:
        write_json(path, {"model": path.parent.name, "stage": stage, "details": dict(details)})
        return
    if spec_path is None:
        metrics = measure_network(network, dataset, path.parent.name, stage, details)
    else:
        from pipeline.models.spec import load_spec

        metrics = measure_model(model, dataset, load_spec(spec_path), stage=stage, details=details)
    if qonnx_inference_cost is not None:
        cost = metrics.cost.model_copy(update={"qonnx_inference_cost": dict(qonnx_inference_cost)})
        metrics = metrics.model_copy(update={"cost": cost})
    save_metrics(metrics, path)


def deployed_model_names(models: tuple[str, ...], stage_dir: Path) -> tuple[str, ...]:
    """The run's ``models`` followed by the bring-your-own models found in ``stage_dir`` (a finished
    export or convert directory: every model subdirectory not among ``models``), sorted by name."""
    stage_dir = Path(stage_dir)
    found = (
        sorted(
            child.name
            for child in stage_dir.iterdir()
            if child.is_dir() and not child.name.startswith((".", "_")) and child.name not in models
        )
        if stage_dir.is_dir()
        else []
    )
    return tuple(models) + tuple(found)
