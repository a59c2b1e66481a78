"""A bad scan.yaml exits with status 2 and names the key (no cluster is started)."""

from __future__ import annotations

import pytest

from pipeline.cli import main
from pipeline.scan.config import load_scan
from tests.scan.conftest import TINY_SCAN, write_scan


@pytest.mark.parametrize(
    ("space", "key", "words"),
    [
        ({"widht_multiplier": [0.5]}, "space.widht_multiplier", "unknown key"),
        ({"weight_bits": []}, "space.weight_bits", "empty range"),
        ({"target_sparsity": {"low": 0.9, "high": 0.5, "step": 0.1}}, "space.target_sparsity", "empty range"),
        ({"weight_bits": [1, 4]}, "space.weight_bits", "impossible bit width 1"),
        ({"input_bits": [4, 8], "input_integer_bits": [3, 4]}, "space.input_integer_bits", "impossible bits"),
        ({"accumulator_bits": {"first": [1]}}, "space.accumulator_bits.first", "impossible bit width"),
        ({"accumulator_method": {"first": ["a3q"]}}, "space.accumulator_method.first", "unknown method"),
        (
            {"accumulator_method": {"middle": ["a2q"]}},
            "space.accumulator_method.middle",
            "unknown layer group",
        ),
        ({"weight_bits": [[4, 4]]}, "space.weight_bits", "per-layer list needs 4 values"),
        ({"learned_precision": ["yes"]}, "space.learned_precision", "true or false"),
        ({"learned_beta": [-1.0]}, "space.learned_beta", "beta must be numbers >= 0"),
        ({"hard_dc": [0, -2]}, "space.hard_dc", "integers >= -1"),
        ({"hard_dc": [0.5]}, "space.hard_dc", "integers >= -1"),
    ],
)
def test_bad_space_exits_2_naming_the_key(tmp_path, capsys, space, key, words):
    path = write_scan(tmp_path, space=space)
    code = main(["scan", "--config", str(path), "--run-dir", str(tmp_path / "run")])
    error = capsys.readouterr().err
    assert code == 2
    assert f"'{key}'" in error and words in error
    assert not (tmp_path / "run").exists()  # nothing started, nothing written


def test_unknown_top_level_key_and_strategy(tmp_path, capsys):
    path = write_scan(tmp_path, stratgy="grid")
    assert main(["scan", "--config", str(path)]) == 2
    assert "'stratgy'" in capsys.readouterr().err
    path = write_scan(tmp_path, strategy="annealing")
    assert main(["scan-status", "--config", str(path)]) == 2
    assert "'strategy'" in capsys.readouterr().err


def test_good_space_loads(tmp_path):
    loaded = load_scan(write_scan(tmp_path))
    assert loaded.config.space.dimensions()["input_bits"] == TINY_SCAN["space"]["input_bits"]
    assert loaded.base_model.name == "jet_dnn_q6_qap.yaml"
