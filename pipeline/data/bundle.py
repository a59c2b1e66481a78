"""Command line to make a jet sample file, resumable chunk by chunk, on the Dask engine.

``python -m pipeline.data.bundle --jets-per-class 20000 --seed 2026 --workers 2 \
--cache .cache/jet_chunks --output jets.h5``

Chunks run on a local Dask cluster of ``--workers`` processes (:mod:`pipeline.engine`) and each is
stored in ``--cache`` as soon as it is done, so an interrupted run resumes
(:mod:`pipeline.data.chunks`). Chunk seeds depend only on (seed, class, index), so a smaller
``--jets-per-class`` (a multiple of the chunk size) is exactly a prefix of a larger run: with the same
cache it is assembled from the larger run's first chunks without generating anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from pipeline.data.chunks import cache_key, chunk_path, generate_jets, plan_chunks
from pipeline.data.generator import GeneratorSettings
from pipeline.data.sample import write_sample
from pipeline.progress import make_progress


def generator_record(seed: int, jets_per_class: int, settings: GeneratorSettings) -> dict:
    """The ``generator`` attribute stored in a sample file."""
    return {
        "generator": "pipeline.data.generator",
        "pythia8mc": version("pythia8mc"),
        "fastjet": version("fastjet"),
        "seed": seed,
        "jets_per_class": jets_per_class,
        "settings": settings.model_dump(mode="json"),
    }


@contextmanager
def _progress(total: int) -> Iterator[Callable[[float], None]]:
    """A rich progress bar on a terminal; otherwise one line per finished chunk on stderr (logs)."""
    if sys.stderr.isatty():
        with make_progress(quiet=False)("generating jets", total) as bar:
            yield bar.advance
        return
    finished = 0

    def advance(amount: float) -> None:
        nonlocal finished
        finished += int(amount)
        print(f"{time.strftime('%H:%M:%S')} {finished}/{total} jets", file=sys.stderr, flush=True)

    yield advance


def main(argv: list[str] | None = None) -> None:
    """Generate (or resume) the chunks, then write the sample file and print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets-per-class", type=int, required=True)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=1, help="local Dask worker processes")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--recipe", choices=("benchmark", "resonance"), default="benchmark")
    parser.add_argument(
        "--settings",
        default="{}",
        help="extra generator settings as JSON, e.g. '{\"multiparton_interactions\": false}'",
    )
    options = parser.parse_args(argv)
    settings = GeneratorSettings(recipe=options.recipe, **json.loads(options.settings))
    chunks = plan_chunks(options.jets_per_class, settings.chunk_jets)
    directory = options.cache / cache_key(options.seed, settings)
    total = sum(chunk.count for chunk in chunks)
    start = time.perf_counter()
    with _progress(total) as advance:
        features, labels = generate_jets(
            options.jets_per_class, options.seed, settings, options.workers, advance, cache=options.cache
        )
    wall = time.perf_counter() - start
    record = generator_record(options.seed, options.jets_per_class, settings)
    write_sample(options.output, features, labels, record)
    cpu = [chunk_path(directory, chunk).with_suffix(".json") for chunk in chunks]
    cpu_seconds = sum(json.loads(path.read_text())["cpu_seconds"] for path in cpu if path.exists())
    summary = {
        **record,
        "jets": len(labels),
        "cache": str(directory),
        "wall_seconds_this_call": round(wall, 1),
        "chunk_cpu_seconds": round(cpu_seconds, 1),
        "jets_per_cpu_second": round(len(labels) / cpu_seconds, 2) if cpu_seconds else None,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
