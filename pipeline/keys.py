"""Cache keys of the runner's stages: content only, never a checkout path; per model inside
``PER_MODEL`` stages (see :mod:`pipeline.stage_api`).

A stage's key hashes its name, config section, seed, :func:`pipeline.manifest.code_hash`, package
versions, the contents of its declared input files (named relative to the config root) and the
upstream outputs. Model specs enter only stages that use models. In a per-model stage the parts
are ``common`` (all of the above, with each per-model upstream stage reduced to its files outside
model subdirectories) plus ``model_keys``: one key per model over ``common``, its spec and its own
subdirectory of each upstream stage, so a changed spec changes only that model's keys downstream.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from pipeline.config import LoadedConfig
from pipeline.manifest import (
    MANIFEST_NAME,
    Manifest,
    canonical_hash,
    code_hash,
    hash_tree,
    package_versions,
    sha256_file,
)


def _relative_name(path: Path, root: Path) -> str:
    """``path`` relative to the config root when inside it (keys must not depend on the checkout)."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _upstream_manifests(module: ModuleType, run_dir: Path) -> dict[str, Manifest] | None:
    manifests = {}
    for name in module.REQUIRES:
        manifest = Manifest.read(run_dir / name / MANIFEST_NAME)
        if manifest is None or manifest.status != "done":
            return None
        manifests[name] = manifest
    return manifests


def stage_key_parts(module: ModuleType, config: LoadedConfig, run_dir: Path) -> dict | None:
    """Everything the stage's output depends on, or ``None`` if an upstream stage is not done.

    The parts hold the stage name, its config section, the seed, the hash of the code it runs
    (:func:`pipeline.manifest.code_hash`), package versions, the contents of its declared input
    files (keyed relative to the config root) and the upstream outputs; never an absolute path of
    the checkout. Model specs enter only stages that use models (``USES_MODELS``). A per-model stage
    (``PER_MODEL``) has ``common`` parts (everything but the models) and one key per model in
    ``model_keys``: a model's key hashes ``common``, its spec and its own subdirectory of each
    per-model upstream stage, so editing one spec changes only that model's keys.
    """
    upstream = _upstream_manifests(module, run_dir)
    if upstream is None:
        return None
    declared = getattr(module, "input_files", None)
    files = declared(config.section(module.NAME), config.root) if declared is not None else []
    common: dict = {
        "stage": module.NAME,
        "input_files": {
            _relative_name(path, config.root): sha256_file(Path(path))
            for path in files
            if Path(path).is_file()
        },
        "config": config.section(module.NAME).model_dump(mode="json"),
        "seed": config.seed,
        "code": code_hash(module),
        "packages": package_versions(tuple(module.PACKAGES)),
    }
    run_files = getattr(module, "RUN_FILES", ())  # files or folders of the run directory the stage reads
    if run_files:
        common["run_files"] = {name: _hash_run_path(run_dir / name) for name in run_files}
    if not uses_models(module):
        return {**common, "upstream": {name: manifest.outputs_hash for name, manifest in upstream.items()}}
    specs = {name: sha256_file(path) for name, path in config.model_specs.items()}
    if not is_per_model(module):
        upstream_hashes = {name: manifest.outputs_hash for name, manifest in upstream.items()}
        return {**common, "models": list(config.models), "model_specs": specs, "upstream": upstream_hashes}
    common["upstream"] = {name: _shared_outputs_hash(manifest) for name, manifest in upstream.items()}
    names = list(config.models) + sorted(
        {model for manifest in upstream.values() for model in manifest.model_keys} - set(config.models)
    )
    common_hash = canonical_hash(common)
    model_keys = {name: _model_key(common_hash, specs.get(name), name, upstream) for name in names}
    return {"common": common, "models": list(config.models), "model_keys": model_keys}


def _hash_run_path(path: Path) -> str | None:
    if path.is_file():
        return sha256_file(path)
    return canonical_hash(hash_tree(path)) if path.is_dir() else None


def _model_key(common_hash: str, spec_hash: str | None, model: str, upstream: dict[str, Manifest]) -> str:
    return canonical_hash(
        {
            "common": common_hash,
            "model": model,
            "spec": spec_hash,
            "upstream": {name: _model_outputs_hash(manifest, model) for name, manifest in upstream.items()},
        }
    )


def model_key_of(parts: dict, model: str) -> str:
    """The key of ``model`` in a per-model stage; a model the stage adds itself (e.g. an external
    model in ``export``) depends on the ``common`` parts only."""
    known = parts["model_keys"].get(model)
    return (
        known
        if known is not None
        else canonical_hash({"common": canonical_hash(parts["common"]), "model": model})
    )


def _model_outputs_hash(manifest: Manifest, model: str) -> str | None:
    """Hash of one model's subdirectory of a per-model stage's outputs (``None``: not a model there)."""
    if model not in manifest.model_keys:
        return None
    prefix = f"{model}/"
    return canonical_hash(
        {path: digest for path, digest in manifest.outputs.items() if path.startswith(prefix)}
    )


def _shared_outputs_hash(manifest: Manifest) -> str:
    """Hash of a stage's outputs outside its model subdirectories (all of them for a stage-wide one)."""
    models = set(manifest.model_keys)
    shared = {
        path: digest for path, digest in manifest.outputs.items() if path.split("/", 1)[0] not in models
    }
    return canonical_hash(shared)


def uses_models(module: ModuleType) -> bool:
    """Whether the stage's work depends on the model specs (``USES_MODELS``, default true)."""
    return bool(getattr(module, "USES_MODELS", True))


def is_per_model(module: ModuleType) -> bool:
    """Whether the stage declares ``PER_MODEL``: one independent subdirectory of work per model."""
    return bool(getattr(module, "PER_MODEL", False))


def changed_models(parts: dict, manifest: Manifest) -> list[str]:
    """Models of a per-model stage whose key differs from the published one (empty: all or none)."""
    if "model_keys" not in parts or manifest.key_parts.get("common") != parts["common"]:
        return []
    return [name for name, key in parts["model_keys"].items() if manifest.model_keys.get(name) != key]


def reusable_models(parts: dict, run_dir: Path, stage: str) -> list[str]:
    """Models whose published subdirectory can be carried over unchanged into the next output.

    A model is reusable when the stage's ``common`` parts are unchanged, its key equals the
    published one and its files still hash to what the manifest recorded.
    """
    manifest = Manifest.read(run_dir / stage / MANIFEST_NAME)
    if manifest is None or "model_keys" not in parts or manifest.key_parts.get("common") != parts["common"]:
        return []
    reusable = []
    for name, key in manifest.model_keys.items():
        if model_key_of(parts, name) != key:
            continue
        directory = run_dir / stage / name
        prefix = f"{name}/"
        recorded = {
            path[len(prefix) :]: digest
            for path, digest in manifest.outputs.items()
            if path.startswith(prefix)
        }
        if directory.is_dir() and hash_tree(directory, exclude_manifest=False) == recorded:
            reusable.append(name)
    return reusable
