"""Command line to make a jet sample file, resumable chunk by chunk.

``python -m pipeline.data.bundle --jets-per-class 10000 --seed 2026 --workers 2 \
--cache /tmp/jet_chunks --output triggers_data/jets_pythia.h5``

Each chunk (class, index) is stored in ``--cache`` as soon as it is done, so an interrupted run
resumes; chunks are interleaved over classes. Chunk seeds depend only on (seed, class, index), so a
smaller ``--jets-per-class`` (a multiple of the chunk size) is exactly a prefix of a larger run.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from pipeline.data.generator import GeneratorSettings, chunk_seed, generate_chunk, plan_chunks
from pipeline.data.io import CLASS_NAMES
from pipeline.data.sample import write_sample


def _run_unit(arguments):
    unit, seed, settings, cache = arguments
    name, index, chunk, count = unit
    path = cache / f"{name}_{chunk:04d}.npy"
    if not path.exists():
        start = time.perf_counter()
        features = generate_chunk(name, count, chunk_seed(seed, index, chunk), settings)
        np.save(path.with_suffix(".tmp.npy"), features)
        path.with_suffix(".tmp.npy").rename(path)
        (cache / f"{name}_{chunk:04d}.json").write_text(json.dumps({"seconds": time.perf_counter() - start}))
    return unit


def main(argv: list[str] | None = None) -> None:
    """Generate (or resume) the chunks, then assemble the sample file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets-per-class", type=int, required=True)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument(
        "--heavy-production",
        choices=("resonance", "recoil"),
        default="resonance",
        help="W/Z/t from resonance decays (default) or recoiling against a parton (the first sample)",
    )
    parser.add_argument("--assemble-only", action="store_true", help="write the file from finished chunks")
    options = parser.parse_args(argv)
    settings = GeneratorSettings(heavy_production=options.heavy_production)
    options.cache.mkdir(parents=True, exist_ok=True)
    units = plan_chunks(options.jets_per_class, settings.chunk_jets)
    interleaved = sorted(units, key=lambda unit: (unit[2], unit[1]))
    if not options.assemble_only:
        import multiprocessing

        jobs = [(unit, options.seed, settings, options.cache) for unit in interleaved]
        with multiprocessing.get_context("spawn").Pool(options.workers) as pool:
            for name, _, chunk, _ in pool.imap_unordered(_run_unit, jobs):
                print(f"done {name} chunk {chunk}", flush=True)
    complete = min(
        sum(1 for unit in units if unit[0] == name and (options.cache / f"{name}_{unit[2]:04d}.npy").exists())
        for name in CLASS_NAMES
    )
    blocks, labels, seconds = [], [], 0.0
    for name, index, chunk, _ in units:
        if chunk >= complete:
            continue
        blocks.append(np.load(options.cache / f"{name}_{chunk:04d}.npy"))
        labels.append(np.full(len(blocks[-1]), index))
        seconds += json.loads((options.cache / f"{name}_{chunk:04d}.json").read_text())["seconds"]
    features = np.vstack(blocks)
    generator = {
        "generator": "pipeline.data.generator",
        "pythia8mc": version("pythia8mc"),
        "fastjet": version("fastjet"),
        "seed": options.seed,
        "chunks_per_class": complete,
        "jets_per_class": int(len(features) // len(CLASS_NAMES)),
        "settings": settings.model_dump(),
    }
    write_sample(options.output, features, np.concatenate(labels), generator)
    rate = len(features) / seconds if seconds else float("nan")
    print(
        json.dumps(
            {**generator, "jets": len(features), "cpu_seconds": seconds, "jets_per_second_per_core": rate}
        )
    )


if __name__ == "__main__":
    main()
