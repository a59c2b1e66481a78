"""The staged runner: runs stages in the explicit order of :data:`pipeline.stages.STAGES`, skips a
stage whose content-addressed key is unchanged, and publishes each stage's outputs atomically.

Crash safety: a stage writes into ``<run-dir>/.staging/<stage>-<id>/``; only after ``run`` returns and
its manifest is written is that directory renamed to ``<run-dir>/<stage>/``. A stage killed halfway
(even by SIGKILL) therefore leaves only a staging directory, which the next run deletes before it
resumes from the first stage that is not done. A failed stage keeps the previous results of every
stage and records ``<run-dir>/.failures/<stage>.json``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from pipeline.config import LoadedConfig
from pipeline.errors import PipelineError
from pipeline.manifest import (
    MANIFEST_NAME,
    Manifest,
    canonical_hash,
    hash_tree,
    package_versions,
    sha256_file,
    write_text_atomic,
)
from pipeline.stage_api import StageInputs, StageOutputs

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


def stage_key_parts(module: ModuleType, config: LoadedConfig, run_dir: Path) -> dict | None:
    """Everything the stage's output depends on, or ``None`` if an upstream stage is not done."""
    upstream: dict[str, str] = {}
    for name in module.REQUIRES:
        manifest = Manifest.read(run_dir / name / MANIFEST_NAME)
        if manifest is None or manifest.status != "done":
            return None
        upstream[name] = manifest.outputs_hash
    declared = getattr(module, "input_files", None)
    files = declared(config.section(module.NAME), config.root) if declared is not None else []
    parts = {
        "stage": module.NAME,
        "input_files": {str(path): sha256_file(path) for path in files if Path(path).is_file()},
        "config": config.section(module.NAME).model_dump(mode="json"),
        "seed": config.seed,
        "models": list(config.models),
        "model_specs": {name: sha256_file(path) for name, path in config.model_specs.items()},
        "upstream": upstream,
        "packages": package_versions(tuple(module.PACKAGES)),
    }
    run_files = getattr(module, "RUN_FILES", ())  # files or folders of the run directory the stage reads
    if run_files:
        parts["run_files"] = {name: _hash_run_path(run_dir / name) for name in run_files}
    return parts


def _hash_run_path(path: Path) -> str | None:
    if path.is_file():
        return sha256_file(path)
    return canonical_hash(hash_tree(path)) if path.is_dir() else None


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
        return StageStatus(name, "stale", "config, models, inputs or package versions changed")
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


def _publish(staging: Path, final: Path, run_dir: Path) -> None:
    """Swap the staging directory into place (old results moved aside first, then removed)."""
    trash = run_dir / ".trash" / f"{final.name}-{uuid.uuid4().hex[:8]}"
    if final.exists():
        trash.parent.mkdir(exist_ok=True)
        os.replace(final, trash)
    os.replace(staging, final)
    shutil.rmtree(trash, ignore_errors=True)


def _execute(module: ModuleType, config: LoadedConfig, run_dir: Path, parts: dict, quiet: bool) -> Manifest:
    staging = run_dir / ".staging" / f"{module.NAME}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    failure = run_dir / ".failures" / f"{module.NAME}.json"
    started = time.perf_counter()
    try:
        inputs = StageInputs(
            output_dir=staging,
            upstream={name: run_dir / name for name in module.REQUIRES},
            models=config.models,
            model_specs=dict(config.model_specs),
            repo_root=config.root,
            seed=config.seed,
            quiet=quiet,
        )
        outputs = module.run(inputs, config.section(module.NAME))
        if not isinstance(outputs, StageOutputs):
            raise TypeError(f"stage {module.NAME} returned {type(outputs).__name__}, not StageOutputs")
        outputs_map = hash_tree(staging)
        manifest = Manifest(
            stage=module.NAME,
            key=canonical_hash(parts),
            key_parts=parts,
            status="done",
            outputs=outputs_map,
            outputs_hash=canonical_hash(outputs_map),
            packages=parts["packages"],
            wall_time_seconds=round(time.perf_counter() - started, 3),
            finished_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            summary=dict(outputs.summary),
        )
        write_text_atomic(staging / MANIFEST_NAME, manifest.to_json())
        _publish(staging, run_dir / module.NAME, run_dir)
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
    with _run_lock(run_dir):
        shutil.rmtree(run_dir / ".staging", ignore_errors=True)
        shutil.rmtree(run_dir / ".trash", ignore_errors=True)
        for module in required_closure(stages, targets):
            parts = stage_key_parts(module, config, run_dir)
            assert parts is not None, "upstream stages run first"
            status = stage_status(module, config, run_dir)
            if status.state == "done" and module.NAME not in force:
                notify(module.NAME, "cached")
                results.append((module.NAME, "cached"))
            else:
                notify(module.NAME, "running")
                _execute(module, config, run_dir, parts, quiet)
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
