"""benchmarks/bench_peer_hgq.py: the goal-2 summary of issue 13 (configurations over seeds, met or not)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_peer_hgq", REPO / "benchmarks" / "bench_peer_hgq.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _point(beta: float, seed: int, accuracy: float, floor: int | None = None) -> dict:
    return {
        "model": "ours",
        "spec": "models/x.yaml",
        "architecture": "16-24-12-12-5",
        "target_sparsity": 0.5,
        "input_min_bits": floor,
        "beta": beta,
        "seed": seed,
        "accuracy": accuracy,
        "da4ml_lut_estimate": 5000.0,
    }


def _synthesized(point: dict, luts: int) -> dict:
    return {**point, "yosys": {"luts": luts}}


def test_goal2_groups_seeds_and_needs_every_seed_synthesized_and_under_the_target() -> None:
    bench = load_benchmark()
    # beta 1: 3 seeds, mean 72.5 % >= 73.4 - 1, every seed <= 20 000 / 4 LUTs -> met
    good = [_point(1.0, seed, accuracy) for seed, accuracy in ((0, 0.72), (1, 0.73), (2, 0.725))]
    # beta 2: mean 72.5 % but one seed over the LUT target -> not met
    over = [_point(2.0, seed, accuracy) for seed, accuracy in ((0, 0.72), (1, 0.73))]
    # beta 1 with an input floor: another configuration, one seed not synthesized -> not met
    unsynthesized = [_point(1.0, seed, 0.75, floor=8) for seed in (0, 1)]
    results = {
        "baseline": {"yosys_luts": 20000},
        "float_accuracy": 0.734,
        "points": good + over + unsynthesized + [{"model": "hgq", "beta": 1.0, "accuracy": 0.8}],
        "rtl_points": [_synthesized(p, 4900 + p["seed"]) for p in good]
        + [_synthesized(over[0], 5000), _synthesized(over[1], 5001)]
        + [_synthesized(unsynthesized[0], 3000)],
    }
    summary = bench.goal2_summary(results)
    assert summary["target_yosys_luts"] == 5000
    rows = {(row["beta"], row["input_min_bits"]): row for row in summary["configurations"]}
    assert set(rows) == {(1.0, None), (2.0, None), (1.0, 8)}
    assert rows[(1.0, None)]["seeds"] == [0, 1, 2]
    assert rows[(1.0, None)]["yosys_luts"] == [4900, 4901, 4902]
    assert abs(rows[(1.0, None)]["accuracy_mean"] - 0.725) < 1e-9
    assert abs(rows[(1.0, None)]["accuracy_std"] - 0.005) < 1e-9
    assert [rows[key]["met"] for key in ((1.0, None), (2.0, None), (1.0, 8))] == [True, False, False]
    # the same passing numbers on fewer than 3 seeds are not yet "met"
    two_seeds = {**results, "points": good[:2] + over, "rtl_points": results["rtl_points"][:2]}
    row = next(r for r in bench.goal2_summary(two_seeds)["configurations"] if r["beta"] == 1.0)
    assert row["passes_on_its_seeds"] and not row["met"]
    table = bench.goal2_table({**results, "baseline": {**results["baseline"], "source": "test"}})
    assert table.count("| met (3 seeds) |") == 1 and table.count("| not met |") == 2
