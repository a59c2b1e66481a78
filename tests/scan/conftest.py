"""Shared pieces of the scan tests: a small pipeline config on the bundled sample and scan YAMLs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

#: A trial of a few seconds: 16-8-8-5 network, 600 training jets, one epoch per phase.
TINY_SCAN = {
    "name": "tiny",
    "pipeline_config": "pipeline.yaml",
    "base_model": str(REPO / "models" / "jet_dnn_q6_qap.yaml"),
    "strategy": "random",
    "trials": 4,
    "seed": 3,
    "space": {
        "input_bits": [8, 10],
        "weight_bits": [4, 6],
        "width_multiplier": [0.125],
        "target_sparsity": [0.0, 0.5],
    },
    "trial": {
        "train_jets": 600,
        "epochs": 1,
        "prune_epochs": 1,
        "constrain_epochs": 1,
        "batch_size": 256,
        "test_jets": 400,
    },
    "firmware": {"max_points": 0},
    "accuracy_floor": 0.0,
    "cluster": {"kind": "local", "workers": 2},
}


def write_scan(directory: Path, **changes) -> Path:
    """Write ``pipeline.yaml`` (bundled sample, 300 jets per class) and ``scan.yaml`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    pipeline = {
        "name": "tiny",
        "seed": 7,
        "data": {
            "source": "pythia",
            "sample": str(REPO / "triggers_data" / "jets_pythia.h5"),
            "max_jets_per_class": 300,
        },
    }
    (directory / "pipeline.yaml").write_text(yaml.safe_dump(pipeline))
    scan = {**TINY_SCAN, **changes}
    path = directory / "scan.yaml"
    path.write_text(yaml.safe_dump(scan, sort_keys=False))
    return path


@pytest.fixture
def scan_file(tmp_path: Path) -> Path:
    return write_scan(tmp_path)
