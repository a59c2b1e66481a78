"""Chunked generation: seeds, plan, cache/resume, and identical output for any worker count (Dask)."""

import numpy as np
import pytest

from pipeline.data.chunks import (
    cache_key,
    chunk_path,
    chunk_seed,
    generate_jets,
    interleaved,
    plan_chunks,
)
from pipeline.data.generator import GeneratorSettings
from pipeline.data.io import FEATURE_NAMES
from pipeline.data.sample import write_sample

SETTINGS = GeneratorSettings(chunk_jets=4)


def test_plan_and_seeds_do_not_depend_on_worker_count():
    chunks = plan_chunks(10, 4, ("w", "t"))
    assert [(chunk.class_name, chunk.index, chunk.count) for chunk in chunks] == [
        ("w", 0, 4),
        ("w", 1, 4),
        ("w", 2, 2),
        ("t", 0, 4),
        ("t", 1, 4),
        ("t", 2, 2),
    ]
    assert [(chunk.class_name, chunk.index) for chunk in interleaved(chunks)][:3] == [
        ("w", 0),
        ("t", 0),
        ("w", 1),
    ]
    assert chunk_seed(1, 2, 0) != chunk_seed(1, 2, 1) != chunk_seed(2, 2, 1)
    assert 1 <= chunk_seed(5, 4, 3) <= 900_000_000
    assert cache_key(1, SETTINGS) != cache_key(2, SETTINGS)
    assert cache_key(1, SETTINGS) != cache_key(
        1, GeneratorSettings(chunk_jets=4, detector={"enabled": False})
    )


@pytest.mark.slow  # starts a Dask LocalCluster and runs Pythia (~25 s CPU)
def test_same_seed_gives_identical_bytes_for_one_and_two_dask_workers_and_resumes_from_cache(tmp_path):
    ticks = []
    features, labels = generate_jets(8, 11, SETTINGS, workers=1, advance=ticks.append, classes=("q", "w"))
    assert features.shape == (16, len(FEATURE_NAMES)) and sum(ticks) == 16
    assert np.isfinite(features).all()
    assert labels.tolist() == [1] * 8 + [2] * 8
    multiplicity = features[:, FEATURE_NAMES.index("j_multiplicity")]
    assert (multiplicity >= 1).all() and (features[:, FEATURE_NAMES.index("j_zlogz")] <= 0).all()
    progress = []
    again, labels_again = generate_jets(
        8, 11, SETTINGS, workers=2, advance=progress.append, classes=("q", "w"), cache=tmp_path / "cache"
    )
    assert sorted(progress) == [4, 4, 4, 4]  # one report per finished chunk
    write_sample(tmp_path / "a.h5", features, labels, {"seed": 11})
    write_sample(tmp_path / "b.h5", again, labels_again, {"seed": 11})
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    # Resume: a finished chunk is read from the cache, not regenerated (a marked copy proves it).
    directory = tmp_path / "cache" / cache_key(11, SETTINGS)
    first_q = chunk_path(directory, plan_chunks(8, 4, ("q",))[0])
    np.save(first_q, np.full((4, len(FEATURE_NAMES)), 7.0))
    resumed, _ = generate_jets(8, 11, SETTINGS, workers=1, classes=("q", "w"), cache=tmp_path / "cache")
    assert (resumed[:4] == 7.0).all() and np.array_equal(resumed[4:], features[4:])
    other, _ = generate_jets(4, 12, SETTINGS, workers=1, classes=("q",))
    assert not np.array_equal(other, features[:4])
