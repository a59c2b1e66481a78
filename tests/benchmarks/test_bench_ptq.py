"""benchmarks/bench_ptq.py: the converged-budget options (--bits, --spec-budget) and the goals per seed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COSTS = {"4:int4": {"luts": 10}, "4:mf_E2M1": {"luts": 12}, "6:int6": {"luts": 20}, "6:mf_E2M1": {"luts": 25}}
MINIFLOATS = {"mf_E2M1": (0.69, 0.69), "mf_E2M1-nosub": (0.6, 0.6)}


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_ptq", REPO / "benchmarks" / "bench_ptq.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spec_budget_is_the_training_block_of_the_model_specs() -> None:
    import yaml

    from pipeline.models.spec import load_spec

    bench = load_benchmark()
    float_yaml = yaml.safe_load((REPO / "models" / "jet_dnn_float.yaml").read_text())["training"]
    q6_yaml = yaml.safe_load((REPO / "models" / "jet_dnn_q6.yaml").read_text())["training"]
    float_spec = load_spec(REPO / "models" / "jet_dnn_float.yaml")
    assert bench.training_budget(float_spec, True, 10, 512) == float_yaml
    assert bench.training_budget(bench.qat_spec(4), True, 10, 512) == q6_yaml
    assert bench.training_budget(float_spec, True, 10, 512, batch_size_override=256) == {
        **float_yaml,
        "batch_size": 256,
    }
    assert bench.training_budget(float_spec, False, 10, 512) == {
        "epochs": 10,
        "batch_size": 512,
        "learning_rate": 1e-3,
        "patience": 5,
    }


def _run(seed: int, float_test: float, qat6: float, arms: dict[str, tuple[float, float]]) -> dict:
    """One seed's record at widths 4 and 6; ``arms``: name -> (val, test), the same at both widths."""
    ptq = {arm: {"val": val, "test": test} for arm, (val, test) in arms.items()}
    return {
        "seed": seed,
        "float": {"test": float_test},
        "ptq": {"4": ptq, "6": ptq},
        "qat": {"4": {"test": 0.70}, "6": {"test": qat6}},
    }


def test_summary_on_goal_widths_picks_arms_on_validation_and_reports_each_seed() -> None:
    bench = load_benchmark()
    # int_b is better on test but worse on validation: the choice must follow validation (int_a).
    arms_0 = {
        "int_a": (0.72, 0.70),
        "int_b": (0.71, 0.73),
        "mf_E2M1": (0.69, 0.69),
        "mf_E2M1-nosub": (0.6, 0.6),
    }
    arms_1 = {
        "int_a": (0.72, 0.72),
        "int_b": (0.70, 0.74),
        "mf_E2M1": (0.69, 0.69),
        "mf_E2M1-nosub": (0.6, 0.6),
    }
    per_seed = [_run(0, 0.73, 0.71, arms_0), _run(1, 0.75, 0.73, arms_1)]
    summary = bench.summarise(per_seed, COSTS, (4, 6))
    assert set(summary["by_bits"]) == {"4", "6"}
    goals = summary["goals"]
    assert goals["best_integer_ptq_6bit"] == goals["best_integer_ptq_4bit"] == "int_a"
    assert [row["mmse_6bit_minus_qat_6bit_points"] for row in goals["per_seed"]] == pytest.approx(
        [-1.0, -1.0]
    )
    assert [row["mmse_4bit_minus_float_points"] for row in goals["per_seed"]] == pytest.approx([-3.0, -3.0])
    assert goals["mmse_4bit_minus_float_points"] == pytest.approx(-3.0)
    assert goals["mmse_4bit_minus_float_points_std"] == pytest.approx(0.0)
    assert goals["met_6bit_within_0.5_of_qat"] is False
    assert goals["met_4bit_within_2_of_float"] is False
    assert summary["by_bits"]["6"]["ptq_pareto_optimal_format"] == "integer"


def test_resummarise_keeps_the_widths_given(tmp_path: Path) -> None:
    bench = load_benchmark()
    arms = {"int_a": (0.72, 0.725), "mf_E2M1": (0.69, 0.69), "mf_E2M1-nosub": (0.6, 0.6)}
    out = tmp_path / "ptq_converged.json"
    out.write_text(json.dumps({"per_seed": [_run(0, 0.74, 0.728, arms)], "mac_costs": COSTS}))
    bench.main(["--resummarise", "--bits", "4", "6", "--out", str(out)])
    goals = json.loads(out.read_text())["summary"]["goals"]
    assert goals["mmse_6bit_minus_qat_6bit_points"] == pytest.approx(-0.3)
    assert goals["met_6bit_within_0.5_of_qat"] is True
    assert goals["mmse_4bit_minus_float_points"] == pytest.approx(-1.5)
    assert (tmp_path / "ptq_converged_pareto.png").is_file()


def test_batch_size_override_without_spec_budget_is_refused(tmp_path: Path) -> None:
    bench = load_benchmark()
    with pytest.raises(SystemExit) as excinfo:
        bench.main(["--batch-size-override", "256", "--out", str(tmp_path / "x.json")])
    assert excinfo.value.code == 2
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("bits", [["4", "5"], ["4", "6", "9"]])
def test_bits_without_the_goal_widths_or_out_of_range_are_refused(bits: list[str], tmp_path: Path) -> None:
    bench = load_benchmark()
    with pytest.raises(SystemExit) as excinfo:
        bench.main(["--bits", *bits, "--out", str(tmp_path / "x.json")])
    assert excinfo.value.code == 2
    assert not (tmp_path / "x.json").exists()
