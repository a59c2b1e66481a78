"""The file/openml sources and their validation, with small files made from real generated jets."""

import numpy as np
import pandas as pd
import pytest

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES
from pipeline.data.loaders import ZENODO_FEATURE_COLUMNS, load_file, load_openml, load_sample
from pipeline.errors import PipelineError


def frame_of(features, labels, label_column="class"):
    frame = pd.DataFrame(features, columns=list(FEATURE_NAMES))
    frame[label_column] = [CLASS_NAMES[label] for label in labels]
    return frame


def write_zenodo(path, features, labels, names=True):
    import h5py

    jets = np.zeros((len(labels), 59), dtype=np.float32)
    jets[:, list(ZENODO_FEATURE_COLUMNS)] = features
    jets[np.arange(len(labels)), 53 + labels] = 1.0
    with h5py.File(path, "w") as handle:
        handle["jets"] = jets
        if names:
            column_names = [f"other_{index}" for index in range(59)]
            for column, name in zip(ZENODO_FEATURE_COLUMNS, FEATURE_NAMES, strict=True):
                column_names[column] = name
            column_names[53:58] = ["j_g", "j_q", "j_w", "j_z", "j_t"]
            handle["jetFeatureNames"] = np.array([name.encode() for name in column_names])


@pytest.mark.parametrize("suffix", ["csv", "parquet", "h5"])
def test_file_formats_round_trip(tmp_path, small_real_jets, suffix):
    features, labels = small_real_jets
    path = tmp_path / f"jets.{suffix}"
    if suffix == "csv":
        frame_of(features, labels, "jet_type").to_csv(path, index=False)
    elif suffix == "parquet":
        frame_of(features, labels).to_parquet(path)
    else:
        write_zenodo(path, features, labels)
    loaded_features, loaded_labels = load_file(path)
    np.testing.assert_allclose(loaded_features, features, rtol=1e-6)
    np.testing.assert_array_equal(loaded_labels, labels)


def test_zenodo_feature_names_are_checked(tmp_path, small_real_jets):
    import h5py

    path = tmp_path / "jets.h5"
    write_zenodo(path, *small_real_jets)
    with h5py.File(path, "r+") as handle:
        names = handle["jetFeatureNames"][...]
        names[12] = b"j_pt"
        handle["jetFeatureNames"][...] = names
    with pytest.raises(PipelineError, match="jetFeatureNames"):
        load_file(path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda frame: frame.drop(columns=["j_c2_b1_mmdt"]), "missing columns.*j_c2_b1_mmdt"),
        (lambda frame: frame.assign(j_pt=1.0), "unexpected columns.*j_pt"),
        (
            lambda frame: frame.assign(j_zlogz=frame["j_zlogz"].where(frame.index != 3)),
            "NaN or infinite.*j_zlogz",
        ),
        (
            lambda frame: frame.assign(
                j_mass_mmdt=frame["j_mass_mmdt"].replace(frame["j_mass_mmdt"][0], np.inf)
            ),
            "NaN",
        ),
        (
            lambda frame: frame.assign(**{"class": frame["class"].replace("w", "higgs")}),
            "unknown class.*higgs",
        ),
        (lambda frame: frame[frame["class"] != "z"], r"classes \['z'\] have no jets"),
    ],
)
def test_bad_tables_name_file_and_problem(tmp_path, small_real_jets, damage, message):
    path = tmp_path / "bad.csv"
    damage(frame_of(*small_real_jets)).to_csv(path, index=False)
    with pytest.raises(PipelineError, match=message) as error:
        load_file(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("suffix", ["h5", "parquet"])
def test_truncated_files_are_reported(tmp_path, small_real_jets, suffix):
    path = tmp_path / f"jets.{suffix}"
    if suffix == "h5":
        write_zenodo(path, *small_real_jets)
    else:
        frame_of(*small_real_jets).to_parquet(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(PipelineError, match="truncated or corrupt") as error:
        load_file(path)
    assert str(path) in str(error.value)


def test_truncated_sample_is_reported(tmp_path, sample_path):
    path = tmp_path / "sample.h5"
    path.write_bytes(sample_path.read_bytes()[:4000])
    with pytest.raises(PipelineError, match="truncated or corrupt"):
        load_sample(path)


def test_openml_offline_names_the_other_sources(tmp_path):
    with pytest.raises(PipelineError, match="OpenML dataset 42468") as error:
        load_openml(tmp_path / "openml_cache", retries=0)
    assert "source: pythia" in str(error.value) and "source: file" in str(error.value)
