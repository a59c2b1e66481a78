"""Jet generator throughput: jets/s on one core per class (Pythia 8 + FastJet + features).

Usage: ``python benchmarks/bench_generator.py [--jets 60] [--seed 1]``. Prints one JSON line per class
and the mean; the Pythia initialisation (once per chunk) is timed separately from the event loop.
Run it with ``nice`` on a shared machine: the numbers are per *used* core, so load inflates them.
"""

from __future__ import annotations

import argparse
import json
import time

from pipeline.data import generator
from pipeline.data.io import CLASS_NAMES


def measure(class_name: str, jets: int, seed: int) -> dict:
    """Seconds of CPU time for init and for generating ``jets`` jets of one class."""
    settings = generator.GeneratorSettings()
    start = time.process_time()
    generator._make_pythia(class_name, seed, settings)
    init_seconds = time.process_time() - start
    start = time.process_time()
    generator.generate_chunk(class_name, jets, seed, settings)
    total_seconds = time.process_time() - start
    loop_seconds = total_seconds - init_seconds
    return {
        "class": class_name,
        "jets": jets,
        "init_cpu_s": round(init_seconds, 2),
        "jets_per_cpu_s": round(jets / loop_seconds, 2),
    }


def main() -> None:
    """Measure each class and print the mean jets/s/core."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jets", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    rates = []
    for class_name in CLASS_NAMES:
        record = measure(class_name, options.jets, options.seed)
        rates.append(record["jets_per_cpu_s"])
        print(json.dumps(record), flush=True)
    print(json.dumps({"mean_jets_per_cpu_s": round(sum(rates) / len(rates), 2)}))


if __name__ == "__main__":
    main()
