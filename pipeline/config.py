"""Pipeline configuration: ``yaml.safe_load`` into frozen pydantic models; unknown keys are errors.

The top-level document has ``name``, ``seed``, ``models`` (names of ``models/<name>.yaml`` specs),
``models_dir``, ``checks``, ``engine`` (where per-model work runs, :mod:`pipeline.model_work`) and one
section per stage, typed by that stage module's ``Config``. Relative paths
are resolved against the directory of the config file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from pydantic import Field, ValidationError, create_model, field_validator

from pipeline.checks.config import ChecksConfig
from pipeline.engine import ClusterConfig
from pipeline.errors import PipelineError
from pipeline.stage_api import ModelName, StrictModel

DEFAULT_CONFIG_NAME = "pipeline.yaml"


class _TopLevel(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")  # no leading dot: runs/<name> stays inside
    seed: int = 20261123
    models: tuple[ModelName, ...] = ()
    models_dir: str = "models"
    checks: ChecksConfig = Field(default_factory=ChecksConfig)  # budgets per stage (pipeline.checks)
    # where the model stages' per-model work runs (pipeline.model_work); not part of any cache key:
    # one local worker process per core by default, ``workers: 1`` runs it serially in this process
    engine: ClusterConfig = Field(default_factory=ClusterConfig)

    @field_validator("models")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("model names must be unique")
        return value


def config_model(stages: Sequence[ModuleType]) -> type[StrictModel]:
    """The pydantic model of the whole config for this stage list (one optional section per stage)."""
    fields: dict[str, Any] = {
        module.NAME: (module.Config, Field(default_factory=module.Config)) for module in stages
    }
    return create_model("PipelineConfig", __base__=_TopLevel, **fields)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus where it came from."""

    path: Path
    root: Path
    values: StrictModel
    model_specs: dict[str, Path]

    @property
    def name(self) -> str:
        return self.values.name  # type: ignore[attr-defined]

    @property
    def seed(self) -> int:
        return self.values.seed  # type: ignore[attr-defined]

    @property
    def models(self) -> tuple[str, ...]:
        return self.values.models  # type: ignore[attr-defined]

    def section(self, stage: str) -> StrictModel:
        return getattr(self.values, stage)


def _format_validation_error(error: ValidationError, path: Path) -> PipelineError:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "<top level>"
    kind = first["type"]
    if kind == "extra_forbidden":
        problem = f"unknown key '{key}'"
        fix = "remove or rename it (keys are snake_case; see the README's config reference)"
    elif kind == "missing":
        problem = f"missing required key '{key}'"
        fix = f"add '{key}' to the config"
    else:
        problem = f"invalid value for '{key}': {first['msg']}"
        fix = f"correct '{key}'"
    more = len(error.errors()) - 1
    if more:
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return PipelineError("config", problem, input=str(path), fix=fix)


def load_config(path: Path, stages: Sequence[ModuleType] | None = None) -> LoadedConfig:
    """Read and validate a pipeline config file.

    Raises:
        PipelineError: missing/unreadable file, YAML syntax error, unknown key, wrong type, or a model
            name without a spec file; the message names the key and the file.
    """
    if stages is None:
        from pipeline.stages import STAGES

        stages = STAGES
    path = Path(path)
    if not path.is_file():
        raise PipelineError(
            "config",
            "config file not found",
            input=str(path),
            fix="pass --config PATH to an existing pipeline YAML (the repo ships pipeline.yaml)",
        )
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PipelineError(
            "config", f"not valid YAML: {error}".replace("\n", " "), input=str(path), fix="fix the syntax"
        ) from None
    if not isinstance(document, dict):
        raise PipelineError("config", "the config must be a YAML mapping", input=str(path))
    document.setdefault("name", path.stem)
    try:
        values = config_model(stages).model_validate(document)
    except ValidationError as error:
        raise _format_validation_error(error, path) from None
    root = path.resolve().parent
    specs: dict[str, Path] = {}
    for index, model in enumerate(values.models):
        spec_path = root / values.models_dir / f"{model}.yaml"
        if not spec_path.is_file():
            raise PipelineError(
                "config",
                f"models[{index}] = '{model}' has no spec file {spec_path}",
                input=str(path),
                fix=f"add {values.models_dir}/{model}.yaml or remove the model from 'models'",
            )
        specs[model] = spec_path
    return LoadedConfig(path=path.resolve(), root=root, values=values, model_specs=specs)


def with_engine_workers(config: LoadedConfig, workers: int) -> LoadedConfig:
    """``config`` with ``engine.workers`` replaced (the CLI's ``--workers``); PipelineError if < 1."""
    if workers < 1:
        raise PipelineError(
            "config", f"--workers {workers} is not a positive number", fix="pass --workers 1 or more"
        )
    engine = config.values.engine.model_copy(update={"workers": workers})  # type: ignore[attr-defined]
    return replace(config, values=config.values.model_copy(update={"engine": engine}))
