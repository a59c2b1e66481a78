"""The ``checks:`` section of the pipeline YAML: per-stage budgets on the figures each stage records.

Every budget names a figure a stage stores (``<stage>/<model>/metrics.json`` and the stage's other
records) and a limit; a budget on a figure the stage does not record is a config error (unknown key).
Budgets under ``all:`` apply to every model; ``models: {<model>: {...}}`` overrides them field by
field for one model. Checks never enter a stage's cache key: changing a budget re-evaluates the stored
records and reruns nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from pipeline.stage_api import StrictModel

ClassLimits = float | dict[str, float]
"""A limit for every class (one number) or per class name (``{t: 0.95, w: 0.9}``)."""


class PhysicsBudget(StrictModel):
    """Budgets on the figures of a :mod:`pipeline.measure` record (train to convert).

    Attributes:
        min_accuracy: minimum test accuracy as a fraction (0.72 = 72 %).
        max_accuracy_drop_vs_float: the float reference's accuracy minus this model's, in percentage
            points (``checks.float_reference`` names the reference model).
        min_auc: minimum one-vs-rest ROC AUC, for every class or per class.
        min_background_rejection: minimum 1/eps_B at the recorded working point (eps_S = 0.5).
        max_bops: maximum bit operations (Hawks et al. 2021, as recorded in ``cost.bops``).
        min_neural_efficiency: minimum network neural efficiency (Schaub & Hotaling, aIQ paper).
        min_aiq: minimum aIQ (accuracy x efficiency^beta; Schaub & Hotaling).
    """

    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    max_accuracy_drop_vs_float: float | None = None
    min_auc: ClassLimits | None = None
    min_background_rejection: ClassLimits | None = None
    max_bops: float | None = Field(default=None, ge=0)
    min_neural_efficiency: float | None = Field(default=None, ge=0, le=1)
    min_aiq: float | None = Field(default=None, ge=0)


class TrainBudget(PhysicsBudget):
    """Budgets checked after ``train`` (the first stage with a model: no previous stage to compare)."""


class StepBudget(PhysicsBudget):
    """Budgets checked after ``prune`` or ``constrain``.

    Attributes:
        max_accuracy_drop_vs_previous: accuracy lost against the latest earlier stage that recorded
            this model's accuracy, in percentage points.
    """

    max_accuracy_drop_vs_previous: float | None = None


class DeployBudget(StepBudget):
    """Budgets checked after ``export`` (qonnx executor) or ``convert`` (hls4ml C simulation).

    Attributes:
        max_mismatches: test jets whose integer logits differ from the QKeras model (0 = bit-exact).
    """

    max_mismatches: int | None = Field(default=None, ge=0)


class FirmwareBudget(StrictModel):
    """Budgets checked after ``firmware`` (da4ml RTL, Verilator, Yosys).

    ``*_percent`` limits are shares of the part the firmware was built for (``firmware.json: part``;
    resource counts in :mod:`pipeline.checks.parts`, or ``checks.part_resources``).
    """

    max_luts: float | None = Field(default=None, ge=0)
    max_flip_flops: float | None = Field(default=None, ge=0)
    max_dsps: float | None = Field(default=None, ge=0)
    max_luts_percent: float | None = Field(default=None, ge=0, le=100)
    max_flip_flops_percent: float | None = Field(default=None, ge=0, le=100)
    max_dsps_percent: float | None = Field(default=None, ge=0, le=100)
    max_latency_ns: float | None = Field(default=None, ge=0)
    max_latency_cycles: int | None = Field(default=None, ge=0)
    max_mismatches: int | None = Field(default=None, ge=0)


class StageBudgets(StrictModel):
    """One budget block per stage that records figures."""

    train: TrainBudget = Field(default_factory=TrainBudget)
    prune: StepBudget = Field(default_factory=StepBudget)
    constrain: StepBudget = Field(default_factory=StepBudget)
    export: DeployBudget = Field(default_factory=DeployBudget)
    convert: DeployBudget = Field(default_factory=DeployBudget)
    firmware: FirmwareBudget = Field(default_factory=FirmwareBudget)


class PartResources(StrictModel):
    """Resource counts of the target part (overrides :data:`pipeline.checks.parts.PART_RESOURCES`)."""

    luts: int = Field(gt=0)
    flip_flops: int = Field(gt=0)
    dsps: int = Field(gt=0)


class ChecksConfig(StrictModel):
    """Config section ``checks:`` of the pipeline YAML.

    Attributes:
        mode: ``gate``: a failing check stops its model and the run exits with status 3; ``warn``: the
            run goes on and the failure is marked (status, summary, report).
        stop_all: in ``gate`` mode, stop the whole run at the first failing check (otherwise the other
            models go on and the run exits 3 at the end).
        float_reference: the model whose accuracy is "float" in ``max_accuracy_drop_vs_float``.
        part_resources: resource counts of the part, for ``*_percent`` limits on a part not tabulated.
        all: budgets for every model.
        models: per-model budgets, overriding ``all`` field by field.
    """

    mode: Literal["gate", "warn"] = "warn"
    stop_all: bool = False
    float_reference: str | None = None
    part_resources: PartResources | None = None
    all: StageBudgets = Field(default_factory=StageBudgets)
    models: dict[str, StageBudgets] = Field(default_factory=dict)

    def budgets_for(self, model: str, stage: str) -> dict[str, object]:
        """The limits that apply to ``model`` after ``stage`` (``all`` overridden by ``models``)."""
        limits = _set_fields(getattr(self.all, stage, None))
        override = self.models.get(model)
        if override is not None:
            limits |= _set_fields(getattr(override, stage, None))
        return limits


def _set_fields(budget: StrictModel | None) -> dict[str, object]:
    if budget is None:
        return {}
    return {name: value for name, value in budget.model_dump().items() if value is not None}


CHECKED_STAGES: tuple[str, ...] = tuple(StageBudgets.model_fields)
"""Stages whose records carry checkable figures, in pipeline order."""


def budget_keys() -> Mapping[str, tuple[str, ...]]:
    """The budget keys allowed per stage (for messages and the README)."""
    return {
        stage: tuple(field.annotation.model_fields)  # type: ignore[union-attr]
        for stage, field in StageBudgets.model_fields.items()
    }
