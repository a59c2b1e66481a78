"""Config loading: unknown keys, wrong types and missing files are errors naming the key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import PipelineError
from tests.toy_pipeline import STAGES

REPO_ROOT = Path(__file__).resolve().parents[1]


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: toy\nnumbers: {cuont: 3}\n", "unknown key 'numbers.cuont'"),
        ("name: toy\nbogus: 1\n", "unknown key 'bogus'"),
        ("name: toy\nnumbers: {count: many}\n", "invalid value for 'numbers.count'"),
        ("name: toy\nseed: [1]\n", "invalid value for 'seed'"),
        ("name: toy\nmodels: [nope]\n", "models[0] = 'nope' has no spec file"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("name: toy\nnumbers: {count: 3\n", "not valid YAML"),
        ("name: toy\nmodels: [../escape]\n", "invalid value for 'models.0'"),
        ("name: toy\nmodels: [ok, /abs]\n", "invalid value for 'models.1'"),
        ("name: ..\n", "invalid value for 'name'"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, text: str, expected: str) -> None:
    path = config_file(tmp_path, text)
    with pytest.raises(PipelineError) as caught:
        load_config(path, stages=STAGES)
    assert expected in caught.value.message
    assert str(path) in caught.value.message
    assert caught.value.stage == "config"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="config file not found"):
        load_config(tmp_path / "absent.yaml", stages=STAGES)


def test_config_is_frozen_and_defaults_apply(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, "numbers: {count: 2}\n"), stages=STAGES)
    assert config.name == "c"  # defaults to the file name
    assert config.section("numbers").count == 2
    assert config.section("squares").delay_seconds == 0.0
    with pytest.raises(Exception, match="frozen"):
        config.section("numbers").count = 3


def test_repository_default_config_is_valid() -> None:
    config = load_config(REPO_ROOT / "pipeline.yaml")
    assert config.name == "default"
    assert all(path.is_file() for path in config.model_specs.values())
    assert "jet_dnn_q6_qap" in config.models


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "x" * 65, "1abc", "a b"])
def test_unsafe_model_names_exit_2_naming_the_key(tmp_path: Path, bad: str) -> None:
    """Model names become run-directory paths: anything but a safe identifier is refused."""
    import subprocess
    import sys

    path = config_file(tmp_path, f"name: toy\nexport:\n  external_models:\n    {bad!r}: {{path: m.h5}}\n")
    with pytest.raises(PipelineError) as caught:
        load_config(path)
    assert (
        "export.external_models" in caught.value.message and "not a safe identifier" in caught.value.message
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "status", "--config", str(path), "--run-dir", str(tmp_path / "r")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "export.external_models" in result.stderr
