"""Jet generation cut into chunks: seeded per chunk, run on the Dask engine, cached on disk.

The work of ``jets_per_class`` jets per class is cut into chunks of ``settings.chunk_jets`` jets; chunk
``k`` of class ``c`` runs :func:`pipeline.data.generator.generate_chunk` with the seed
:func:`chunk_seed` ``(seed, c, k)``, so the result does not depend on how many workers run the chunks
or in which order they finish, and a smaller ``jets_per_class`` (a multiple of the chunk size) is
exactly a prefix of a larger run. Chunks are submitted interleaved over the classes (chunk 0 of every
class, then chunk 1, ...), so a run stopped early has balanced classes.

Parallel runs go through :mod:`pipeline.engine` (a Dask ``LocalCluster`` of worker processes by
default, or HTCondor / Slurm). With a ``cache`` directory every finished chunk is written there
(atomically, by the worker) under a key of the settings, the seed and the Pythia/FastJet versions;
a rerun loads finished chunks instead of generating them, so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from pipeline.data.generator import GeneratorSettings, generate_chunk
from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES
from pipeline.engine import ClusterConfig


@dataclass(frozen=True)
class Chunk:
    """One unit of work: ``count`` jets of class ``class_name``, the ``index``-th chunk of that class."""

    class_name: str
    class_index: int
    index: int
    count: int


def chunk_seed(seed: int, class_index: int, chunk_index: int) -> int:
    """Pythia seed (1..900000000) of one chunk, derived from the run seed by numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, class_index, chunk_index]).generate_state(1)[0]
    return int(state % 900_000_000) + 1


def plan_chunks(jets_per_class: int, chunk_jets: int, classes: tuple[str, ...] = CLASS_NAMES) -> list[Chunk]:
    """The chunks of a run in output order (class by class, chunk by chunk)."""
    chunks = []
    for class_name in classes:
        for index in range(math.ceil(jets_per_class / chunk_jets)):
            count = min(chunk_jets, jets_per_class - index * chunk_jets)
            chunks.append(Chunk(class_name, CLASS_NAMES.index(class_name), index, count))
    return chunks


def interleaved(chunks: list[Chunk]) -> list[Chunk]:
    """Submission order: chunk 0 of every class, then chunk 1, ..."""
    return sorted(chunks, key=lambda chunk: (chunk.index, chunk.class_index))


def cache_key(seed: int, settings: GeneratorSettings) -> str:
    """Directory name of a run's chunks: hash of the settings, the seed and the generator versions."""
    record = {
        "seed": seed,
        "settings": settings.model_dump(mode="json"),
        "pythia8mc": version("pythia8mc"),
        "fastjet": version("fastjet"),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def chunk_path(directory: Path, chunk: Chunk) -> Path:
    """File of one finished chunk inside a run's cache directory."""
    return directory / f"{chunk.class_name}_{chunk.index:05d}_{chunk.count}.npy"


@dataclass(frozen=True)
class ChunkJob:
    """What a worker needs to run (or load) one chunk."""

    chunk: Chunk
    seed: int
    settings: GeneratorSettings
    directory: Path | None


def run_chunk(job: ChunkJob, on_jet: Callable[[], None] | None = None) -> np.ndarray:
    """Features of one chunk: loaded from the cache if there, else generated (and cached if a directory)."""
    chunk = job.chunk
    path = chunk_path(job.directory, chunk) if job.directory is not None else None
    if path is not None and path.exists():
        return np.load(path)
    start = time.process_time()
    seed = chunk_seed(job.seed, chunk.class_index, chunk.index)
    features = generate_chunk(chunk.class_name, chunk.count, seed, job.settings, on_jet)
    if path is not None:
        temporary = path.with_name(path.name + ".tmp.npy")
        np.save(temporary, features)
        temporary.replace(path)
        path.with_suffix(".json").write_text(json.dumps({"cpu_seconds": time.process_time() - start}))
    return features


def generate_jets(
    jets_per_class: int,
    seed: int,
    settings: GeneratorSettings,
    workers: int = 1,
    advance: Callable[[float], None] | None = None,
    classes: tuple[str, ...] = CLASS_NAMES,
    *,
    cluster: ClusterConfig | None = None,
    cache: Path | None = None,
    announce: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``jets_per_class`` jets of each class; returns ``(features float32 (n, 16), labels int64)``.

    Runs in this process when ``cluster`` is None and ``workers == 1``; otherwise on a Dask cluster
    (``cluster``, or a local one of ``workers`` processes) through :func:`pipeline.engine.map_as_completed`.
    The result is identical either way. ``advance(n)`` reports finished jets (per jet in this process,
    per chunk on a cluster). With ``cache`` finished chunks are stored in and reused from
    ``cache / cache_key(seed, settings)``. Raises RuntimeError if a chunk fails.
    """
    chunks = plan_chunks(jets_per_class, settings.chunk_jets, classes)
    directory = cache / cache_key(seed, settings) if cache is not None else None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    jobs = [ChunkJob(chunk, seed, settings, directory) for chunk in interleaved(chunks)]
    blocks: dict[Chunk, np.ndarray] = {}
    if cluster is None and workers <= 1:
        tick = (lambda: advance(1)) if advance is not None else None
        for job in jobs:
            cached = directory is not None and chunk_path(directory, job.chunk).exists()
            blocks[job.chunk] = run_chunk(job, tick)
            if cached and advance is not None:
                advance(job.chunk.count)
    else:
        from pipeline.engine import dask_client, map_as_completed

        config = cluster if cluster is not None else ClusterConfig(workers=workers)
        with dask_client(config, announce=announce) as client:
            for job, future in map_as_completed(client, run_chunk, jobs, retries=config.retries):
                blocks[job.chunk] = future.result()
                if advance is not None:
                    advance(job.chunk.count)
    labels = np.concatenate(
        [np.full(len(blocks[chunk]), chunk.class_index, dtype=np.int64) for chunk in chunks]
    )
    features = np.vstack([blocks[chunk] for chunk in chunks]).astype(np.float32)
    assert features.shape[1] == len(FEATURE_NAMES)
    return features, labels
