"""``scan.yaml``: what to search, how, with what trial budget and on which cluster.

Schema (unknown keys are errors; paths relative to the scan file)::

    name: jet_scan                       # the scan's name (run directory: <run-dir>/scan/)
    pipeline_config: pipeline.yaml       # its data section and seed give the data (the data stage)
    base_model: jet_dnn_q6_qap           # models/<name>.yaml, or a path to a spec file
    strategy: optuna                     # grid | random | optuna
    sampler: tpe                         # optuna only: tpe | nsga2 (multi-objective)
    trials: 60                           # budget (grid: at most this many points of the grid)
    seed: 1                              # sampling seed (trials train with the pipeline's seed)
    space: {...}                         # see pipeline/scan/space.py
    trial: {train_jets: 10000, epochs: 8, prune_epochs: 4, constrain_epochs: 2, batch_size: 256}
    firmware: {max_points: 4, max_test_jets: 1000, clock_period_ns: 5.0}
    accuracy_floor: 0.724                # best point: fewest LUTs at accuracy >= floor
    best_model_name: jet_dnn_scan_best   # the best point's spec: <run-dir>/scan/<name>.yaml
    cluster: {kind: local, workers: 2}   # pipeline.engine.ClusterConfig
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from pipeline.engine import ClusterConfig
from pipeline.errors import PipelineError
from pipeline.scan.space import SearchSpace
from pipeline.stage_api import StrictModel

STAGE = "scan"


class TrialSettings(StrictModel):
    """The budget of one trial (cheap on purpose; the written best spec keeps the base's full budget).

    Attributes:
        train_jets: train on the first N jets of the training split (``None``: all of them).
        epochs: QAT epochs (early stopping with ``patience``).
        prune_epochs: quantization-aware pruning epochs (polynomial ramp over half of them).
        constrain_epochs: A2Q / A2Q+ fine-tuning epochs (constrained models only).
        batch_size: mini-batch size of every phase.
        learning_rate: Adam learning rate (``None``: the base spec's).
        patience: early-stopping patience of the QAT phase.
        test_jets: evaluate on the first N test jets (``None``: the whole test split).
    """

    train_jets: int | None = Field(default=10000, ge=100)
    epochs: int = Field(default=8, ge=1)
    prune_epochs: int = Field(default=4, ge=1)
    constrain_epochs: int = Field(default=2, ge=1)
    batch_size: int = Field(default=256, ge=1)
    learning_rate: float | None = Field(default=None, gt=0)
    patience: int = Field(default=3, ge=1)
    test_jets: int | None = Field(default=None, ge=1)


class FirmwareSettings(StrictModel):
    """The estimate (every trial) and the full firmware flow (front points only).

    Attributes:
        clock_period_ns: clock period; latency = pipeline stages x period.
        adder_levels_per_ns: da4ml adder levels per ns (pipeline cutoff = period x this; the default
            0.6 is the firmware stage's, calibrated with the netlist timing model).
        hard_dc: da4ml CMVM delay constraint (a point's ``hard_dc``, when the space scans it, overrides
            it: :meth:`for_point`).
        max_points: full flow for at most this many front points (those above ``accuracy_floor``
            first, fewest LUTs first); ``None``: every front point; 0: none.
        max_test_jets: Verilator jets compared with the emulator per point.
        synthesize: run Yosys.
        yosys_family: ``synth_xilinx -family``.
    """

    clock_period_ns: float = Field(default=5.0, gt=0)
    adder_levels_per_ns: float = Field(default=0.6, gt=0)
    hard_dc: int = Field(default=2, ge=-1)
    max_points: int | None = Field(default=None, ge=0)
    max_test_jets: int = Field(default=1000, ge=1)
    synthesize: bool = True
    yosys_family: str = "xcup"

    def for_point(self, point: dict[str, Any]) -> dict[str, Any]:
        """The settings of one point's estimate and firmware flow: these, with the point's ``hard_dc``
        (``space.hard_dc``) in place of ``hard_dc`` when the point has one."""
        settings = self.model_dump()
        if "hard_dc" in point:
            settings["hard_dc"] = int(point["hard_dc"])
        return settings


class ScanConfig(StrictModel):
    """A validated ``scan.yaml`` (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    pipeline_config: str = "pipeline.yaml"
    base_model: str
    strategy: Literal["grid", "random", "optuna"] = "random"
    sampler: Literal["tpe", "nsga2"] = "tpe"
    trials: int = Field(default=20, ge=1)
    seed: int = 0
    space: SearchSpace = SearchSpace()
    trial: TrialSettings = TrialSettings()
    firmware: FirmwareSettings = FirmwareSettings()
    accuracy_floor: float | None = Field(default=None, ge=0.0, le=1.0)
    best_model_name: str = Field(default="jet_dnn_scan_best", pattern=r"^[A-Za-z0-9_.\-]+$")
    cluster: ClusterConfig = ClusterConfig()


@dataclass(frozen=True)
class LoadedScan:
    """A scan config and the files it names, resolved."""

    path: Path
    config: ScanConfig
    pipeline_config: Path
    base_model: Path


def _key_of(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "<top level>"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "missing required key"
    if message.startswith("space."):  # whole-space checks name their key first: "space.x: ..."
        key, _, message = message.partition(": ")
    return key, message


def load_scan(path: Path) -> LoadedScan:
    """Read and validate ``scan.yaml``; every problem is a :class:`PipelineError` naming the key."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(STAGE, "scan config not found", input=str(path), fix="pass --config scan.yaml")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PipelineError(STAGE, f"not valid YAML: {error}".replace("\n", " "), input=str(path)) from None
    if not isinstance(document, dict):
        raise PipelineError(STAGE, "the scan config must be a YAML mapping", input=str(path))
    document.setdefault("name", path.stem)
    try:
        config = ScanConfig.model_validate(document)
    except ValidationError as error:
        key, message = _key_of(error)
        raise PipelineError(
            STAGE,
            f"invalid scan config at key '{key}': {message}",
            input=f"{path}: {key}",
            fix="correct the key (schema in pipeline/scan/config.py and pipeline/scan/space.py)",
        ) from None
    root = path.resolve().parent
    pipeline_path = (root / config.pipeline_config).resolve()
    if not pipeline_path.is_file():
        raise PipelineError(
            STAGE,
            "pipeline_config names no file",
            input=f"{path}: pipeline_config",
            fix="point it at pipeline.yaml",
        )
    base = Path(config.base_model)
    candidates = [
        root / base,
        root / "models" / f"{config.base_model}.yaml",
        pipeline_path.parent / "models" / f"{config.base_model}.yaml",
    ]
    base_path = next((candidate.resolve() for candidate in candidates if candidate.is_file()), None)
    if base_path is None:
        raise PipelineError(
            STAGE,
            f"base_model '{config.base_model}' is neither a spec file nor models/<name>.yaml",
            input=f"{path}: base_model",
            fix="name a spec in models/",
        )
    from pipeline.models.spec import load_spec
    from pipeline.scan.space import check_against_spec

    spec = load_spec(base_path)
    try:
        check_against_spec(config.space, spec)
    except ValueError as error:
        key, _, message = str(error).partition(": ")
        raise PipelineError(
            STAGE,
            f"invalid scan config at key '{key}': {message}",
            input=f"{path}: {key}",
            fix="correct the key",
        ) from None
    return LoadedScan(path=path.resolve(), config=config, pipeline_config=pipeline_path, base_model=base_path)
