"""The contract between the runner and a stage module.

Every stage is a module in :mod:`pipeline.stages` that defines

* ``NAME``: the stage name (equal to the module name),
* ``REQUIRES``: the names of the stages whose outputs it reads (a subset of the earlier stages),
* ``PACKAGES``: distribution names whose versions enter the cache key (e.g. ``("tensorflow-cpu",)``),
* ``Config``: a frozen pydantic model (:class:`StrictModel`) holding the stage's config section,
* ``run(inputs: StageInputs, config: Config) -> StageOutputs``,
* optionally ``input_files(config: Config, repo_root: Path) -> list[Path]``: files outside the run
  directory that the stage reads (a data sample, a user's model); their contents enter the cache key,
  so replacing such a file reruns the stage.
* optionally ``USES_MODELS = False``: the stage's work does not depend on the model specs (``data``);
  it gets no models and no spec enters its key.
* optionally ``PER_MODEL = True``: the stage writes one subdirectory ``<model>/`` per model and a
  model's work depends only on its spec, its own subdirectory of each upstream per-model stage and
  the stage-wide inputs (config section, seed, code, upstream files outside model subdirectories).
  The runner then keys each model separately: when only some models' keys changed, it copies the
  unchanged models' published subdirectories into ``output_dir`` before ``run``, lists them in
  ``inputs.carried_over`` and leaves them out of ``inputs.models``. Such a stage must not redo a
  carried-over model (it may read its files) and must compute any stage-wide file from all model
  subdirectories present in ``output_dir``. The runner merges the carried-over models' entries of
  the previous summary (keyed by model name) into the new one.

A stage writes *only* into ``inputs.output_dir`` (a private staging directory); the runner moves it
into place atomically after ``run`` returns, so a stage killed halfway never leaves an artifact that
looks finished. Heavy libraries (TensorFlow, hls4ml, ...) are imported inside ``run`` so that the CLI
and config validation stay fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict

if TYPE_CHECKING:
    from pipeline.model_work import ModelWork

#: Model names become directory names in the run directory: letters, digits, ``_`` and ``-``,
#: starting with a letter, at most 64 characters (no ``/``, no ``..``, no leading dot).
MODEL_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")


def check_model_name(name: str) -> str:
    """Return ``name`` if it is a safe model name (:data:`MODEL_NAME_PATTERN`), else raise ValueError."""
    if not MODEL_NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"model name {name!r} is not a safe identifier: use letters, digits, '_' and '-', "
            "starting with a letter (it names a directory of the run)"
        )
    return name


#: A model name in a config (``models:``, ``export.external_models``), validated by :func:`check_model_name`.
ModelName = Annotated[str, AfterValidator(check_model_name)]


class StrictModel(BaseModel):
    """Base for every config model: frozen, unknown keys are errors, no type coercion surprises."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class ProgressBar(Protocol):
    """What a stage gets from :attr:`StageInputs.progress`."""

    def advance(self, amount: float = 1) -> None: ...


@dataclass(frozen=True)
class StageInputs:
    """Everything a stage may read.

    Attributes:
        output_dir: the staging directory; write all outputs here.
        upstream: finished output directory of each stage named in ``REQUIRES``.
        models: names of the model specs in this run (``models/<name>.yaml``) whose work is to be
            done, in config order (for a ``PER_MODEL`` stage, without ``carried_over``).
        model_specs: path of each model's spec file.
        repo_root: directory the config file's relative paths are resolved against.
        seed: the run's global seed.
        quiet: no progress output when true.
        carried_over: models (of ``PER_MODEL`` stages) whose unchanged output subdirectory the runner
            already copied into ``output_dir``; the stage skips their work.
        progress: ``progress(description, total)`` gives a context manager yielding a bar.
        work: runs the per-model tasks of a stage (:class:`pipeline.model_work.ModelWork`), serially in
            this process or on the run's Dask cluster (``engine:``); default: serially.
    """

    output_dir: Path
    upstream: Mapping[str, Path]
    models: tuple[str, ...]
    model_specs: Mapping[str, Path]
    repo_root: Path
    seed: int
    quiet: bool = False
    carried_over: tuple[str, ...] = ()
    progress: Callable[[str, float | None], AbstractContextManager[ProgressBar]] = field(
        default=None  # type: ignore[assignment]
    )
    work: ModelWork = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.progress is None:
            from pipeline.progress import make_progress

            object.__setattr__(self, "progress", make_progress(quiet=self.quiet))
        if self.work is None:
            from pipeline.model_work import ModelWork

            object.__setattr__(self, "work", ModelWork())


@dataclass(frozen=True)
class StageOutputs:
    """What a stage returns: a JSON-serialisable summary stored in its manifest.

    The files themselves are whatever the stage wrote into ``output_dir``; the runner hashes them.
    """

    summary: Mapping[str, Any] = field(default_factory=dict)


def iter_model_dirs(stage_dir: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(model_name, directory)`` for each per-model subdirectory of a finished stage."""
    for child in sorted(stage_dir.iterdir()):
        if child.is_dir() and not child.name.startswith((".", "_")):
            yield child.name, child
