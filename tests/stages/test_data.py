"""The data stage end to end, called directly with hand-made StageInputs."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES, load_dataset, read_raw_splits
from pipeline.errors import PipelineError
from pipeline.stage_api import StageInputs
from pipeline.stages import data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_real_jets():
    """40 jets per class from the bundled Pythia sample."""
    from pipeline.data.sample import read_sample

    features, labels, *_ = read_sample(REPO / "triggers_data" / "jets_pythia.h5")
    keep = np.concatenate([np.flatnonzero(labels == label)[:40] for label in range(5)])
    return features[keep], labels[keep]


def stage_inputs(output_dir: Path, seed: int = 7) -> StageInputs:
    output_dir.mkdir(parents=True, exist_ok=True)
    return StageInputs(
        output_dir=output_dir, upstream={}, models=(), model_specs={}, repo_root=REPO, seed=seed, quiet=True
    )


def test_default_config_uses_the_bundled_sample_and_is_deterministic(tmp_path):
    config = data.Config(max_jets_per_class=300)
    assert config.source == "pythia" and config.sample == "triggers_data/jets_pythia.h5"
    summary = data.run(stage_inputs(tmp_path / "a"), config).summary
    assert summary["jets"] == 1500
    assert summary["counts"]["train"] == dict.fromkeys(CLASS_NAMES, 180)
    assert summary["counts"]["test"] == dict.fromkeys(CLASS_NAMES, 60)
    dataset = load_dataset(tmp_path / "a")
    assert dataset.feature_names == FEATURE_NAMES and dataset.class_names == CLASS_NAMES
    assert dataset.x_train.dtype == np.float32 and dataset.y_train.dtype == np.int64
    np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(dataset.x_train.std(axis=0), 1, atol=1e-3)
    raw = read_raw_splits(tmp_path / "a")
    np.testing.assert_allclose(dataset.scaler_mean, raw.features["train"].astype(np.float64).mean(axis=0))
    assert not np.allclose(dataset.x_test.mean(axis=0), 0, atol=1e-4)  # scaler fitted on train only
    data.run(stage_inputs(tmp_path / "b"), config)
    for name in ("dataset.h5", "scaler.json", "provenance.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    data.run(stage_inputs(tmp_path / "c", seed=8), config)
    assert (tmp_path / "a" / "dataset.h5").read_bytes() != (tmp_path / "c" / "dataset.h5").read_bytes()


def test_file_source_csv(tmp_path, small_real_jets):
    features, labels = small_real_jets
    frame = pd.DataFrame(features, columns=list(FEATURE_NAMES)).assign(
        **{"class": [CLASS_NAMES[i] for i in labels]}
    )
    frame.to_csv(tmp_path / "jets.csv", index=False)
    config = data.Config(source="file", path=str(tmp_path / "jets.csv"))
    summary = data.run(stage_inputs(tmp_path / "out"), config).summary
    assert summary["jets"] == len(labels)
    dataset = load_dataset(tmp_path / "out")
    assert len(dataset.y_train) + len(dataset.y_val) + len(dataset.y_test) == len(labels)


def test_bad_file_writes_nothing(tmp_path, small_real_jets):
    features, _ = small_real_jets
    frame = pd.DataFrame(features, columns=list(FEATURE_NAMES)).assign(**{"class": "g"})
    frame.to_csv(tmp_path / "jets.csv", index=False)
    output = tmp_path / "out"
    with pytest.raises(PipelineError, match="have no jets"):
        data.run(stage_inputs(output), data.Config(source="file", path=str(tmp_path / "jets.csv")))
    assert list(output.iterdir()) == []


def test_config_errors():
    with pytest.raises(ValueError, match=r"data\.path"):
        data.Config(source="file")
    with pytest.raises(ValueError):
        data.Config(unknown_key=1)


def test_generated_source_runs_the_generator_and_caches_chunks(tmp_path):
    config = data.Config(
        sample=None,
        generate_jets_per_class=3,
        pythia={"chunk_jets": 3},
        generate_cache=str(tmp_path / "chunks"),
    )
    assert config.pythia.recipe == "benchmark" and config.cluster is None
    summary = data.run(stage_inputs(tmp_path / "gen"), config).summary
    assert summary["jets"] == 15
    provenance = json.loads((tmp_path / "gen" / "provenance.json").read_text())
    assert provenance["generator"]["seed"] == 7
    assert provenance["generator"]["settings"]["detector"]["hcal_cell"] == 0.022
    assert len(list((tmp_path / "chunks").glob("*/*_00000_3.npy"))) == 5  # one finished chunk per class


def test_cluster_section_is_the_engine_config():
    config = data.Config(cluster={"kind": "slurm", "workers": 4, "walltime": "01:00:00"})
    assert config.cluster.kind == "slurm" and config.cluster.workers == 4
    with pytest.raises(ValueError):
        data.Config(cluster={"kind": "local", "nodes": 3})
    with pytest.raises(ValueError):
        data.Config(pythia={"recipe": "madgraph"})
