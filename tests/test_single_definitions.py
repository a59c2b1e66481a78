"""One definition of each figure and helper (issue 15, item 10): softmax, bias alignment, JSON writer,
AUC and working point each exist once in the package; everything else imports them."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from pipeline.deploy.integer_network import DenseLayer

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"


def function_definitions(name: str) -> list[str]:
    """``module:line`` of every function called ``name`` defined in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == name:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


@pytest.mark.parametrize(
    ("names", "home"),
    [
        (("softmax",), "pipeline/measure/physics.py"),
        (("roc_auc", "area_under_curve", "roc_curve", "working_point"), "pipeline/measure/physics.py"),
        (("write_json", "save_json", "_write_json", "json_text"), "pipeline/manifest.py"),
        (("bias_at", "align_bias", "shift_floor_bias"), "pipeline/deploy/integer_network.py"),
    ],
)
def test_each_helper_is_defined_once(names: tuple[str, ...], home: str) -> None:
    definitions = [entry for name in names for entry in function_definitions(name)]
    assert definitions and all(entry.startswith(home + ":") for entry in definitions), definitions


def test_no_module_shifts_a_bias_by_hand() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "integer_network.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "bias" in line and ("<<" in line or ">> -" in line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_bias_alignment_is_hls4mls_truncating_cast() -> None:
    layer = DenseLayer(
        name="dense",
        weight_raw=np.zeros((1, 4), dtype=np.int64),
        weight_fractional_bits=0,
        bias_raw=np.array([-3, -1, 1, 5], dtype=np.int64),
        bias_fractional_bits=2,
        accumulator=None,
        activation="linear",
        output=None,
    )
    assert layer.bias_at(4).tolist() == [-12, -4, 4, 20]  # exact: two more fractional bits
    assert layer.bias_at(1).tolist() == [-2, -1, 0, 2]  # AP_TRN: floor(-1.5) = -2, floor(-0.5) = -1
    assert layer.bias_at(2).tolist() == [-3, -1, 1, 5]
