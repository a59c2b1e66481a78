"""The ``data`` stage: jets from one of three sources -> validated, split, standardised ``dataset.h5``.

Sources (``data.source``):

* ``pythia`` (default): the bundled Pythia 8 + FastJet sample ``data.sample``
  (``triggers_data/jets_pythia.h5``), or, with ``sample: null``, ``generate_jets_per_class`` fresh
  jets per class from :mod:`pipeline.data.generator` (``pythia:`` settings, default recipe
  ``benchmark``), seeded by the run seed. Generation runs in this process with ``workers: 1`` and no
  ``cluster``; otherwise on the Dask engine (:mod:`pipeline.engine`): ``cluster:`` (a
  :class:`~pipeline.engine.ClusterConfig`: local, HTCondor or Slurm) if given, else a local cluster of
  ``workers`` processes. ``generate_cache`` (a directory) keeps finished chunks so that an interrupted
  generation resumes (:mod:`pipeline.data.chunks`). The jets are identical in every case.
* ``openml``: the benchmark (OpenML 42468) through scikit-learn, cached in ``openml_cache``.
* ``file``: ``path`` to a Zenodo hls4ml h5 file (or a directory of them), or parquet/CSV in the
  OpenML schema.

Everything is validated before anything is written. Outputs (see :mod:`pipeline.data.io`):
``dataset.h5``, ``scaler.json`` (fitted on train only), ``provenance.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from pipeline.data.generator import GeneratorSettings
from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, SPLITS, RawSplits, write_dataset
from pipeline.engine import ClusterConfig
from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs, StageOutputs, StrictModel

NAME = "data"
REQUIRES: tuple[str, ...] = ()
USES_MODELS = False  # no model spec enters the data stage's cache key (pipeline.stage_api)
PACKAGES: tuple[str, ...] = ("numpy", "h5py", "pythia8mc", "fastjet", "pandas", "pyarrow", "scikit-learn")


class Config(StrictModel):
    """Config section ``data:`` of the pipeline YAML."""

    source: Literal["pythia", "openml", "file"] = "pythia"
    sample: str | None = "triggers_data/jets_pythia.h5"
    generate_jets_per_class: int = Field(default=2000, ge=1)
    workers: int = Field(default=1, ge=1)
    cluster: ClusterConfig | None = None
    generate_cache: str | None = None
    pythia: GeneratorSettings = GeneratorSettings()
    path: str | None = None
    openml_cache: str = ".cache/openml"
    max_jets_per_class: int | None = Field(default=None, ge=3)
    validation_fraction: float = Field(default=0.2, gt=0, lt=0.5)
    test_fraction: float = Field(default=0.2, gt=0, lt=0.5)

    @model_validator(mode="after")
    def _path_for_file_source(self) -> Config:
        if self.source == "file" and not self.path:
            raise ValueError("data.source 'file' needs data.path (a Zenodo .h5, directory, .parquet or .csv)")
        return self


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _resolve(inputs: StageInputs, path: str, bundled: bool = False) -> Path:
    """``path`` relative to the config's directory; a bundled sample also falls back to the package's."""
    return _resolve_against(inputs.repo_root, path, bundled)


def _resolve_against(root: Path, path: str, bundled: bool = False) -> Path:
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        return candidate
    resolved = root / candidate
    if bundled and not resolved.exists() and (PACKAGE_ROOT / candidate).exists():
        return PACKAGE_ROOT / candidate
    return resolved


def input_files(config: Config, repo_root: Path) -> list[Path]:
    """The files this stage reads (their contents enter the runner's cache key)."""
    if config.source == "file" and config.path is not None:
        path = _resolve_against(repo_root, config.path)
        return [path] if path.is_file() else sorted(p for p in path.glob("*") if p.is_file())
    if config.source == "pythia" and config.sample is not None:
        return [_resolve_against(repo_root, config.sample, bundled=True)]
    return []


def load_source(inputs: StageInputs, config: Config) -> tuple[np.ndarray, np.ndarray, dict]:
    """Raw validated ``(features, labels, provenance)`` from the configured source."""
    from pipeline.data import loaders

    if config.source == "file":
        path = _resolve(inputs, config.path)
        features, labels = loaders.load_file(path)
        hashes = {p.name: _sha256(p) for p in ([path] if path.is_file() else sorted(path.glob("*.h5")))}
        return features, labels, {"source": "file", "path": str(config.path), "sha256": hashes}
    if config.source == "openml":
        features, labels = loaders.load_openml(_resolve(inputs, config.openml_cache))
        return features, labels, {"source": "openml", "data_id": loaders.OPENML_DATA_ID}
    if config.sample is not None:
        path = _resolve(inputs, config.sample, bundled=True)
        features, labels, generator = loaders.load_sample(path)
        return (
            features,
            labels,
            {"source": "pythia", "sample": config.sample, "sha256": _sha256(path), "generator": generator},
        )
    return _generate(inputs, config)


def _generate(inputs: StageInputs, config: Config) -> tuple[np.ndarray, np.ndarray, dict]:
    from pipeline.data.bundle import generator_record
    from pipeline.data.chunks import generate_jets
    from pipeline.data.validate import check_arrays

    total = config.generate_jets_per_class * len(CLASS_NAMES)
    cache = _resolve(inputs, config.generate_cache) if config.generate_cache is not None else None
    with inputs.progress("generating jets", total) as bar:
        try:
            features, labels = generate_jets(
                config.generate_jets_per_class,
                inputs.seed,
                config.pythia,
                config.workers,
                bar.advance,
                cluster=config.cluster,
                cache=cache,
            )
        except RuntimeError as error:
            raise PipelineError(NAME, str(error), input="data.pythia", fix="loosen the jet cuts") from error
    check_arrays(features, labels, "generated jets")
    generator = generator_record(inputs.seed, config.generate_jets_per_class, config.pythia)
    provenance = {"source": "pythia", "sample": None, "generator": generator}
    return features, labels, provenance


def run(inputs: StageInputs, config: Config) -> StageOutputs:
    """Load, validate, subsample, split (stratified, seeded) and write the dataset + scaler + provenance."""
    from pipeline.data.split import limit_per_class, stratified_split

    features, labels, provenance = load_source(inputs, config)
    keep = limit_per_class(labels, config.max_jets_per_class, inputs.seed)
    features, labels = features[keep], labels[keep]
    indices = stratified_split(labels, config.validation_fraction, config.test_fraction, inputs.seed)
    splits = RawSplits(
        features={split: features[indices[split]] for split in SPLITS},
        labels={split: labels[indices[split]] for split in SPLITS},
        feature_names=FEATURE_NAMES,
        class_names=CLASS_NAMES,
    )
    write_dataset(inputs.output_dir, splits)
    counts = {
        split: dict(zip(CLASS_NAMES, np.bincount(splits.labels[split], minlength=5).tolist(), strict=True))
        for split in SPLITS
    }
    provenance = {**provenance, "split_seed": inputs.seed, "counts": counts}
    (inputs.output_dir / "provenance.json").write_text(
        json.dumps(provenance, indent=2, sort_keys=True) + "\n"
    )
    return StageOutputs(summary={"source": config.source, "jets": len(labels), "counts": counts})
