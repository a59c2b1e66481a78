"""Typed, frozen metric records and their JSON files (schema: see :mod:`pipeline.measure`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from pipeline.errors import PipelineError
from pipeline.manifest import write_json
from pipeline.measure.physics import WORKING_POINT_DEFINITION
from pipeline.stage_api import StrictModel

SCHEMA_VERSION = 1
METRICS_FILE = "metrics.json"


class PhysicsMetrics(StrictModel):
    """Classification performance on the test split (scores = softmax of the logits)."""

    n_samples: int
    accuracy: float
    class_names: tuple[str, ...]
    auc: dict[str, float | None]
    signal_efficiency: float
    background_efficiency: dict[str, float | None]
    background_rejection: dict[str, float | None]
    confusion_matrix: tuple[tuple[int, ...], ...]
    working_point_definition: str = WORKING_POINT_DEFINITION


class LayerCost(StrictModel):
    """Cost of one dense layer (weights as deployed: after the weight quantizer)."""

    name: str
    n_inputs: int
    n_outputs: int
    params: int
    nonzero_params: int
    weight_sparsity: float
    input_bits: int
    weight_bits: int
    bops: float


class CostMetrics(StrictModel):
    """Whole-network cost; ``qonnx_inference_cost`` is filled by the export stage (qonnx figures)."""

    params: int
    nonzero_params: int
    weight_sparsity: float
    bops: float
    layers: tuple[LayerCost, ...]
    qonnx_inference_cost: dict[str, Any] | None = None


class LayerInformation(StrictModel):
    """Neural efficiency of one hidden (ReLU) layer."""

    name: str
    neurons: int
    entropy_bits: float
    efficiency: float


class InformationMetrics(StrictModel):
    """Neural efficiency per layer, network efficiency (geometric mean) and aIQ.

    ``n_jets``: the number of test jets the pattern entropies are computed on. A layer's entropy
    cannot exceed ``log2(n_jets)`` bits, so efficiencies compare only at equal ``n_jets``; the
    pipeline uses the first :data:`pipeline.measure.compute.NEURAL_EFFICIENCY_JETS` test jets
    (``None`` in records written before this field existed).
    """

    layers: tuple[LayerInformation, ...]
    network_efficiency: float | None
    beta: float
    aiq: float | None
    n_jets: int | None = None
    definition: str = (
        "pattern entropy (bits) of the on/off patterns of each ReLU layer on the first n_jets test jets, "
        "divided by its neuron count; network efficiency = geometric mean; aIQ with beta"
    )


class ModelMetrics(StrictModel):
    """Everything measured for one model after one stage (``<stage>/<model>/metrics.json``)."""

    schema_version: int = SCHEMA_VERSION
    model: str
    stage: str
    physics: PhysicsMetrics
    cost: CostMetrics
    information: InformationMetrics
    details: dict[str, Any] = Field(default_factory=dict)


def with_qonnx_inference_cost(metrics: ModelMetrics, figures: dict[str, Any], stage: str) -> ModelMetrics:
    """A copy of ``metrics`` for ``stage`` with qonnx' ``inference_cost`` figures in the cost record."""
    cost = metrics.cost.model_copy(update={"qonnx_inference_cost": dict(figures)})
    return metrics.model_copy(update={"cost": cost, "stage": stage})


def metrics_to_dict(metrics: ModelMetrics) -> dict[str, Any]:
    """JSON-ready dict (NaN/inf become ``null``)."""
    return json.loads(metrics.model_dump_json())


def save_metrics(metrics: ModelMetrics, path: Path) -> None:
    """Write ``metrics`` with :func:`pipeline.manifest.write_json`, in the schema's key order."""
    write_json(path, metrics_to_dict(metrics), sort_keys=False)


def save_skipped(path: Path, reason: str, **details: Any) -> None:
    """Write the record of a model a stage does not apply to: ``{"skipped": reason, ...}``."""
    write_json(path, {"skipped": reason, **details})


def load_metrics(path: Path) -> ModelMetrics | dict[str, Any]:
    """Read a ``metrics.json``: a :class:`ModelMetrics`, or the plain dict of a skipped record."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise PipelineError("measure", f"cannot read metrics: {error}", input=str(path)) from error
    if isinstance(data, dict) and "skipped" in data:
        return data
    try:
        return ModelMetrics.model_validate(data)
    except ValidationError as error:
        raise PipelineError(
            "measure", f"metrics file does not match the schema: {error.errors()[0]['msg']}", input=str(path)
        ) from error
