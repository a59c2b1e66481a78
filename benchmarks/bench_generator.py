"""Jet generator throughput: jets per CPU-second on one core, per class and recipe, side by side.

Usage: ``python benchmarks/bench_generator.py [--jets 100] [--seed 1] [--recipes benchmark resonance]
[--output benchmarks/results/generator_speed.json]``. For each recipe and class it times (CPU time of
this process, so a loaded machine inflates wall time but not the figure) the Pythia initialisation
and the generation of ``--jets`` jets (Pythia 8 + detector emulation + FastJet + features) in
one chunk, as :mod:`pipeline.data.chunks` runs it. Prints one JSON line per measurement and the
summary; the ratio of recipes' mean rates is measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path

from pipeline.data import generator
from pipeline.data.io import CLASS_NAMES


def measure(class_name: str, jets: int, seed: int, settings: generator.GeneratorSettings) -> dict:
    """CPU seconds of the Pythia initialisation and jets per CPU-second of the event loop."""
    start = time.process_time()
    generator.make_pythia(class_name, seed, settings)
    init_seconds = time.process_time() - start
    start = time.process_time()
    generator.generate_chunk(class_name, jets, seed, settings)
    total_seconds = time.process_time() - start
    return {
        "recipe": settings.recipe,
        "class": class_name,
        "jets": jets,
        "init_cpu_s": round(init_seconds, 3),
        "chunk_cpu_s": round(total_seconds, 3),
        "jets_per_cpu_s": round(jets / max(total_seconds - init_seconds, 1e-9), 2),
    }


def main() -> None:
    """Measure every recipe and class; print and optionally write the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--recipes", nargs="+", default=["benchmark", "resonance"])
    parser.add_argument("--output", type=Path, default=None)
    options = parser.parse_args()
    records, summary = [], {}
    for recipe in options.recipes:
        settings = generator.GeneratorSettings(recipe=recipe)
        rates = []
        for class_name in CLASS_NAMES:
            record = measure(class_name, options.jets, options.seed, settings)
            records.append(record)
            rates.append(record["jets_per_cpu_s"])
            print(json.dumps(record), flush=True)
        summary[recipe] = {
            "mean_jets_per_cpu_s": round(sum(rates) / len(rates), 2),
            # Time-weighted: the rate of a run with equal jets per class.
            "balanced_jets_per_cpu_s": round(len(rates) / sum(1 / rate for rate in rates), 2),
        }
    if {"benchmark", "resonance"} <= set(summary):
        summary["benchmark_over_resonance"] = round(
            summary["benchmark"]["balanced_jets_per_cpu_s"] / summary["resonance"]["balanced_jets_per_cpu_s"],
            2,
        )
    result = {
        "benchmark": "benchmarks/bench_generator.py",
        "jets_per_class": options.jets,
        "seed": options.seed,
        "pythia8mc": version("pythia8mc"),
        "fastjet": version("fastjet"),
        "machine": platform.processor() or platform.machine(),
        "note": "CPU time of one process (one core); Pythia initialisation excluded from jets_per_cpu_s",
        "summary": summary,
        "measurements": records,
    }
    text = json.dumps(result, indent=1)
    if options.output is not None:
        options.output.write_text(text + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
