"""The ``checks:`` section: strict keys per stage (a budget on a figure the stage does not record is an
unknown key), checked against the run's models."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.checks.config import ChecksConfig, budget_keys
from pipeline.checks.hook import has_budgets, validate_checks
from pipeline.config import load_config
from pipeline.errors import PipelineError

REPO_ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, checks: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\nmodels: [jet_dnn_q6]\nmodels_dir: {REPO_ROOT / 'models'}\nchecks:\n{checks}")
    return path


@pytest.mark.parametrize(
    ("checks", "key"),
    [
        ("  all: {firmware: {max_lutz: 5}}", "checks.all.firmware.max_lutz"),
        ("  all: {train: {max_luts: 5}}", "checks.all.train.max_luts"),  # train records no LUTs
        (
            "  all: {train: {max_accuracy_drop_vs_previous: 1}}",
            "checks.all.train.max_accuracy_drop_vs_previous",
        ),
        ("  modes: gate", "checks.modes"),
    ],
)
def test_unknown_keys_are_errors_naming_the_key(tmp_path, checks, key):
    with pytest.raises(PipelineError) as error:
        load_config(_config(tmp_path, checks))
    assert f"unknown key '{key}'" in error.value.message


def test_wrong_mode_is_an_error(tmp_path):
    with pytest.raises(PipelineError, match=r"checks\.mode"):
        load_config(_config(tmp_path, "  mode: stop"))


def test_cross_checks_against_the_models():
    with pytest.raises(PipelineError, match=r"checks\.models\.nope"):
        validate_checks(ChecksConfig.model_validate({"models": {"nope": {}}}), ["a"])
    needs_reference = ChecksConfig.model_validate({"all": {"prune": {"max_accuracy_drop_vs_float": 1}}})
    with pytest.raises(PipelineError, match="float_reference"):
        validate_checks(needs_reference, ["a"])
    with pytest.raises(PipelineError, match="not a model of this run"):
        validate_checks(needs_reference.model_copy(update={"float_reference": "b"}), ["a"])


def test_default_has_no_budgets_and_the_shipped_config_has_some():
    assert not has_budgets(ChecksConfig())
    shipped = load_config(REPO_ROOT / "pipeline.yaml").values.checks
    assert has_budgets(shipped)
    validate_checks(shipped, load_config(REPO_ROOT / "pipeline.yaml").models)
    assert "max_luts_percent" in budget_keys()["firmware"]
