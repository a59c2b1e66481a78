"""The staged runner: runs stages in the explicit order of :data:`pipeline.stages.STAGES`, skips a
stage whose content-addressed key is unchanged, and publishes each stage's outputs atomically.

Crash safety: a stage writes into ``<run-dir>/.staging/<stage>-<id>/``; only after ``run`` returns and
its manifest is written is that directory published (:mod:`pipeline.publish`: a versioned directory
behind an atomically replaced symlink ``<run-dir>/<stage>``). A stage killed halfway (even by
SIGKILL), or a process killed while publishing, leaves the previous output in place; the next run
cleans up and resumes from the first stage that is not done. A failed stage keeps the previous
results of every stage and records ``<run-dir>/.failures/<stage>.json``.

Cache keys (:func:`stage_key_parts`) hold no absolute path, include the code's hash, and are per
model inside ``PER_MODEL`` stages (see :mod:`pipeline.stage_api`).

Parallelism: the model stages hand their per-model tasks to the run's :class:`pipeline.model_work.ModelWork`
(config ``engine:``), which runs them on a Dask cluster started once per run at the first stage with
more than one model of work (or serially in this process with ``engine: {workers: 1}``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from pipeline.config import LoadedConfig
from pipeline.errors import PipelineError
from pipeline.keys import changed_models, model_key_of, reusable_models, stage_key_parts, uses_models
from pipeline.manifest import MANIFEST_NAME, Manifest, canonical_hash, hash_tree, write_text_atomic
from pipeline.model_work import ModelWork, model_work
from pipeline.publish import new_staging_dir, publish, recover
from pipeline.stage_api import StageInputs, StageOutputs, iter_model_dirs

StageState = Literal["done", "stale", "failed", "missing"]
Event = Callable[[str, str], None]


@dataclass(frozen=True)
class StageStatus:
    """What ``status`` reports for one stage."""

    stage: str
    state: StageState
    detail: str


def stage_by_name(stages: Sequence[ModuleType]) -> dict[str, ModuleType]:
    return {module.NAME: module for module in stages}


def required_closure(stages: Sequence[ModuleType], targets: Sequence[str]) -> list[ModuleType]:
    """The targets and every stage they transitively require, in pipeline order."""
    by_name = stage_by_name(stages)
    unknown = [name for name in targets if name not in by_name]
    if unknown:
        raise PipelineError("runner", f"unknown stage(s) {unknown}", fix=f"choose from {list(by_name)}")
    needed: set[str] = set()
    pending = list(targets)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(by_name[name].REQUIRES)
    return [module for module in stages if module.NAME in needed]


def _outputs_intact(manifest: Manifest, stage_dir: Path) -> bool:
    return hash_tree(stage_dir) == dict(manifest.outputs)


def stage_status(module: ModuleType, config: LoadedConfig, run_dir: Path) -> StageStatus:
    """done (cached and valid), stale (inputs or config changed), failed, or missing."""
    name = module.NAME
    failure = run_dir / ".failures" / f"{name}.json"
    manifest = Manifest.read(run_dir / name / MANIFEST_NAME)
    if failure.is_file():
        detail = json.loads(failure.read_text()).get("error", "")
        return StageStatus(name, "failed", detail)
    if manifest is None:
        return StageStatus(name, "missing", "not run yet")
    parts = stage_key_parts(module, config, run_dir)
    if parts is None:
        return StageStatus(name, "stale", "an upstream stage is not done")
    if canonical_hash(parts) != manifest.key:
        changed = changed_models(parts, manifest)
        what = f" (models: {', '.join(changed)})" if changed else ""
        return StageStatus(name, "stale", f"config, models, code, inputs or package versions changed{what}")
    if not _outputs_intact(manifest, run_dir / name):
        return StageStatus(name, "stale", "output files were modified or deleted")
    return StageStatus(name, "done", f"{manifest.wall_time_seconds:.1f} s, finished {manifest.finished_at}")


@contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(
                "runner",
                "another trigger-pipeline process is using this run directory",
                input=str(run_dir),
                fix="wait for it to finish or choose another --run-dir",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _carry_over(run_dir: Path, stage: str, models: Sequence[str], staging: Path) -> None:
    """Copy (hard-link where possible) the reusable models' published subdirectories into staging."""

    def link_or_copy(source: str, destination: str) -> None:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    for name in models:
        shutil.copytree(run_dir / stage / name, staging / name, copy_function=link_or_copy)


def _merge_summary(previous: Manifest | None, carried: Sequence[str], summary: dict) -> dict:
    """The stage's summary plus the carried-over models' entries from the previous manifest."""
    if previous is None or not carried:
        return summary
    kept = {name: previous.summary[name] for name in carried if name in previous.summary}
    return {**kept, **summary}


def _execute(
    module: ModuleType,
    config: LoadedConfig,
    run_dir: Path,
    parts: dict,
    quiet: bool,
    reuse: bool = True,
    work: ModelWork | None = None,
) -> Manifest:
    """Run one stage into a staging directory and publish it (see the module docstring)."""
    staging = new_staging_dir(run_dir, module.NAME)
    failure = run_dir / ".failures" / f"{module.NAME}.json"
    started = time.perf_counter()
    try:
        per_model = "model_keys" in parts
        with_models = uses_models(module)
        carried = reusable_models(parts, run_dir, module.NAME) if per_model and reuse else []
        previous = Manifest.read(run_dir / module.NAME / MANIFEST_NAME) if carried else None
        _carry_over(run_dir, module.NAME, carried, staging)
        inputs = StageInputs(
            output_dir=staging,
            upstream={name: run_dir / name for name in module.REQUIRES},
            models=tuple(name for name in config.models if name not in carried) if with_models else (),
            model_specs=dict(config.model_specs) if with_models else {},
            repo_root=config.root,
            seed=config.seed,
            quiet=quiet,
            carried_over=tuple(carried),
            work=work,  # type: ignore[arg-type]  # None: serially in this process
        )
        outputs = module.run(inputs, config.section(module.NAME))
        if not isinstance(outputs, StageOutputs):
            raise TypeError(f"stage {module.NAME} returned {type(outputs).__name__}, not StageOutputs")
        outputs_map = hash_tree(staging)
        model_keys = (
            {name: model_key_of(parts, name) for name, _ in iter_model_dirs(staging)} if per_model else {}
        )
        manifest = Manifest(
            stage=module.NAME,
            key=canonical_hash(parts),
            key_parts=parts,
            status="done",
            outputs=outputs_map,
            outputs_hash=canonical_hash(outputs_map),
            packages=parts["common"]["packages"] if per_model else parts["packages"],
            wall_time_seconds=round(time.perf_counter() - started, 3),
            finished_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            summary=_merge_summary(previous, carried, dict(outputs.summary)),
            model_keys=model_keys,
            reused_models=tuple(carried),
        )
        write_text_atomic(staging / MANIFEST_NAME, manifest.to_json())
        publish(staging, run_dir, module.NAME)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        failure.parent.mkdir(exist_ok=True)
        message = error.message if isinstance(error, PipelineError) else f"{type(error).__name__}: {error}"
        record = {"stage": module.NAME, "error": message, "key": canonical_hash(parts)}
        write_text_atomic(failure, json.dumps(record, indent=2) + "\n")
        raise
    failure.unlink(missing_ok=True)
    return manifest


def run_pipeline(
    config: LoadedConfig,
    run_dir: Path,
    targets: Sequence[str],
    *,
    force: Sequence[str] = (),
    quiet: bool = False,
    stages: Sequence[ModuleType] | None = None,
    on_event: Event | None = None,
    on_stage_done: Event | None = None,
) -> list[tuple[str, str]]:
    """Run ``targets`` and the stages they need; return ``(stage, "ran" | "cached")`` per stage.

    Args:
        config: the validated config.
        run_dir: the run directory (created if missing).
        targets: stage names to bring up to date.
        force: stage names to rerun even if cached.
        quiet: silence progress bars.
        stages: the stage list (default :data:`pipeline.stages.STAGES`).
        on_event: called with ``(stage, "cached" | "running" | "done")`` for user feedback.
        on_stage_done: called with ``(stage, "ran" | "cached")`` once the stage's outputs are published
            or found cached (the checks hook, :class:`pipeline.checks.hook.ChecksHook`); it may raise to
            stop the run.
    """
    if stages is None:
        from pipeline.stages import STAGES

        stages = STAGES
    by_name = stage_by_name(stages)
    for name in force:
        if name not in by_name:
            raise PipelineError(
                "runner", f"--force names unknown stage '{name}'", fix=f"one of {list(by_name)}"
            )
    notify = on_event or (lambda stage, event: None)
    results: list[tuple[str, str]] = []
    engine = getattr(config.values, "engine", None)  # None: serially in this process
    with _run_lock(run_dir), model_work(engine, quiet=quiet) as work:
        recover(run_dir, [module.NAME for module in stages])
        for module in required_closure(stages, targets):
            parts = stage_key_parts(module, config, run_dir)
            if parts is None:  # cannot happen: the closure runs every required stage first
                raise RuntimeError(f"stage {module.NAME} reached with an upstream stage not done")
            status = stage_status(module, config, run_dir)
            if status.state == "done" and module.NAME not in force:
                notify(module.NAME, "cached")
                results.append((module.NAME, "cached"))
            else:
                notify(module.NAME, "running")
                _execute(module, config, run_dir, parts, quiet, reuse=module.NAME not in force, work=work)
                notify(module.NAME, "done")
                results.append((module.NAME, "ran"))
            if on_stage_done is not None:
                on_stage_done(*results[-1])
    return results


def pipeline_status(
    config: LoadedConfig, run_dir: Path, stages: Sequence[ModuleType] | None = None
) -> list[StageStatus]:
    """The state of every stage in ``run_dir`` under the current config."""
    if stages is None:
        from pipeline.stages import STAGES

        stages = STAGES
    return [stage_status(module, config, run_dir) for module in stages]
