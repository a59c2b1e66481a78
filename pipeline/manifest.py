"""Content-addressed stage manifests (like ``dvc.lock``).

A finished stage directory ``<run-dir>/<stage>/`` holds ``manifest.json``:

.. code-block:: json

    {"stage": "train", "key": "<sha256>", "key_parts": {...}, "status": "done",
     "outputs": {"<relative path>": "<sha256>"}, "outputs_hash": "<sha256>",
     "packages": {"tensorflow-cpu": "2.14.1"}, "wall_time_seconds": 12.3,
     "finished_at": "2026-11-23T01:02:03Z", "summary": {...}}

``key`` hashes the stage name, its config section, the run's models and their spec files, the seed,
the upstream stages' ``outputs_hash``, the package versions and :func:`code_hash` (the source of the
``pipeline`` package), never an absolute path. A per-model stage also records ``model_keys`` (one
key per model subdirectory) and ``reused_models`` (subdirectories carried over from the previous
output because their key was unchanged). A rerun whose key matches (and whose files still hash to
``outputs``) is skipped.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def hash_tree(directory: Path, exclude_manifest: bool = True) -> dict[str, str]:
    """SHA-256 of every file under ``directory`` keyed by POSIX relative path (the top-level
    manifest excluded unless ``exclude_manifest`` is false)."""
    hashes: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not (
            exclude_manifest and path.parent == directory and path.name == MANIFEST_NAME
        ):
            hashes[path.relative_to(directory).as_posix()] = sha256_file(path)
    return hashes


def source_tree_hash(package_dir: Path) -> str:
    """SHA-256 over the relative POSIX paths and contents of a source tree (``__pycache__`` and
    compiled files skipped): the same sources give the same hash wherever they are checked out."""
    entries = {
        path.relative_to(package_dir).as_posix(): sha256_file(path)
        for path in package_dir.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
    }
    return canonical_hash(entries)


def code_hash(module: ModuleType) -> str:
    """Hash of the code a stage runs: the whole ``pipeline`` package's source, plus the stage
    module's own file when it lives outside the package (e.g. a test stage)."""
    package_dir = Path(__file__).resolve().parent
    parts = {"pipeline": source_tree_hash(package_dir)}
    module_file = Path(inspect.getfile(module)).resolve()
    if package_dir not in module_file.parents:
        parts[module_file.name] = sha256_file(module_file)
    return canonical_hash(parts)


def canonical_hash(value: Any) -> str:
    """SHA-256 of a JSON-serialisable value in canonical form (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed version of each distribution (``"not installed"`` when absent), plus our own."""
    versions: dict[str, str] = {}
    for name in ("trigger-pipeline", *names):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class Manifest:
    """A finished stage's record."""

    stage: str
    key: str
    key_parts: Mapping[str, Any]
    status: str
    outputs: Mapping[str, str]
    outputs_hash: str
    packages: Mapping[str, str]
    wall_time_seconds: float
    finished_at: str
    summary: Mapping[str, Any]
    model_keys: Mapping[str, str] = field(default_factory=dict)
    reused_models: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json_text(self.__dict__)

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        """The manifest at ``path``, or ``None`` if it is missing or unreadable (treated as not done)."""
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple | frozenset | set):
        return sorted(value) if not isinstance(value, tuple) else list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_text(data: Any, sort_keys: bool = True) -> str:
    """The project's one JSON format: 2-space indent, trailing newline, keys sorted (unless a record
    keeps its schema's order), numpy arrays and scalars as lists and numbers, paths as strings:
    deterministic bytes for the same data."""
    return json.dumps(data, indent=2, sort_keys=sort_keys, default=_json_default) + "\n"


def write_json(path: Path, data: Any, sort_keys: bool = True) -> None:
    """Write ``data`` as :func:`json_text` to ``path`` atomically (parent directories created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json_text(data, sort_keys))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with temporary.open("w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
