"""Crash-safe publication of a stage's outputs: versioned directories behind an atomic symlink.

A finished stage lives in ``<run-dir>/.versions/<stage>-<id>/``; ``<run-dir>/<stage>`` is a relative
symbolic link to it. Publishing a new result is two steps, each atomic on POSIX:

1. ``rename(.staging/<stage>-<id>, .versions/<stage>-<id>)``: the new version exists beside the old
   one (the link still points to the old one);
2. ``rename(<stage>.link-tmp, <stage>)`` of a fresh link onto the old link: readers see either the
   old or the new version, never neither.

Only then is the old version deleted. A process killed at any point leaves the link pointing to a
complete version, so the previous output survives. :func:`recover` (run under the run lock before
any stage) deletes only versions that no link points to, and, if a link is missing altogether (a
run directory from before links, killed while migrating), re-links the newest complete version
instead of deleting it: it never deletes the only copy.

``PIPELINE_FAULT_INJECT=<step>`` (tests only) kills the process with SIGKILL at that step, so the
tests can show that every step is safe (see :data:`PUBLISH_STEPS`).
"""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from pathlib import Path

from pipeline.manifest import MANIFEST_NAME

VERSIONS_DIR = ".versions"
STAGING_DIR = ".staging"
#: The points between the steps of :func:`publish` where a crash is injected in the tests.
PUBLISH_STEPS = ("before_version", "after_version", "after_link", "after_cleanup")
FAULT_VARIABLE = "PIPELINE_FAULT_INJECT"


def _fault_point(step: str) -> None:
    """Kill this process with SIGKILL at ``step`` when the tests ask for it (no-op otherwise)."""
    if os.environ.get(FAULT_VARIABLE) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def new_staging_dir(run_dir: Path, stage: str) -> Path:
    """A fresh private directory for a stage to write into."""
    staging = run_dir / STAGING_DIR / f"{stage}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    return staging


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def publish(staging: Path, run_dir: Path, stage: str) -> Path:
    """Make ``staging`` the published output of ``stage``; return the new version directory.

    Contract: at every instant ``<run-dir>/<stage>`` resolves to a complete version (the old one
    until step 2 has happened, the new one afterwards); the old version is removed last.
    """
    _fault_point("before_version")
    versions = run_dir / VERSIONS_DIR
    versions.mkdir(exist_ok=True)
    version = versions / staging.name
    os.replace(staging, version)
    _fsync_directory(versions)
    _fault_point("after_version")
    final = run_dir / stage
    previous = final.resolve() if final.is_symlink() else None
    if final.exists() and not final.is_symlink():
        # a run directory from before versioned outputs: move the real directory aside first
        # (recover() re-links it if we are killed before the new link is in place)
        legacy = versions / f"{stage}-legacy-{uuid.uuid4().hex[:8]}"
        os.replace(final, legacy)
        previous = legacy
    link = run_dir / f".{stage}.link-tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(Path(VERSIONS_DIR) / version.name, target_is_directory=True)
    os.replace(link, final)
    _fsync_directory(run_dir)
    _fault_point("after_link")
    if previous is not None and previous != version.resolve() and previous.is_dir():
        shutil.rmtree(previous, ignore_errors=True)
    _fault_point("after_cleanup")
    return version


def _is_complete(version: Path) -> bool:
    return (version / MANIFEST_NAME).is_file()


def recover(run_dir: Path, stages: list[str]) -> list[str]:
    """Bring ``run_dir`` to a clean state after a crash; return what was done, in words.

    Deletes ``.staging`` (never published), stale temporary links and every version no link points
    to. A stage whose link is missing but that has complete versions is re-linked to the newest one.
    """
    actions: list[str] = []
    shutil.rmtree(run_dir / STAGING_DIR, ignore_errors=True)
    shutil.rmtree(run_dir / ".trash", ignore_errors=True)  # layout before versioned outputs
    versions = run_dir / VERSIONS_DIR
    for stale_link in run_dir.glob(".*.link-tmp"):
        stale_link.unlink()
    if not versions.is_dir():
        return actions
    for stage in stages:
        final = run_dir / stage
        if final.exists() or final.is_symlink():
            continue
        candidates = [path for path in versions.glob(f"{stage}-*") if _is_complete(path)]
        if candidates:
            newest = max(candidates, key=lambda path: (path / MANIFEST_NAME).stat().st_mtime)
            link = run_dir / f".{stage}.link-tmp"
            link.symlink_to(Path(VERSIONS_DIR) / newest.name, target_is_directory=True)
            os.replace(link, final)
            actions.append(f"{stage}: re-linked {newest.name}")
    in_use = {(run_dir / stage).resolve() for stage in stages if (run_dir / stage).is_symlink()}
    for version in versions.iterdir():
        if version.resolve() not in in_use:
            _remove(version)
            actions.append(f"removed unreferenced {version.name}")
    return actions
