"""A small real generation run: cuts, feature sanity, and byte-identical output for a fixed seed."""

import numpy as np

from pipeline.data.generator import GeneratorSettings, chunk_seed, generate_jets, plan_chunks
from pipeline.data.io import FEATURE_NAMES
from pipeline.data.sample import write_sample

SETTINGS = GeneratorSettings(chunk_jets=4)


def test_plan_and_seeds_do_not_depend_on_worker_count():
    units = plan_chunks(10, 4, ("w", "t"))
    assert [(name, chunk, count) for name, _, chunk, count in units] == [
        ("w", 0, 4),
        ("w", 1, 4),
        ("w", 2, 2),
        ("t", 0, 4),
        ("t", 1, 4),
        ("t", 2, 2),
    ]
    assert chunk_seed(1, 2, 0) != chunk_seed(1, 2, 1) != chunk_seed(2, 2, 1)
    assert 1 <= chunk_seed(5, 4, 3) <= 900_000_000


def test_same_seed_gives_identical_bytes_for_one_and_two_workers(tmp_path):
    ticks = []
    features, labels = generate_jets(8, 11, SETTINGS, workers=1, advance=ticks.append, classes=("q", "w"))
    assert features.shape == (16, len(FEATURE_NAMES)) and len(ticks) == 16
    assert np.isfinite(features).all()
    assert labels.tolist() == [1] * 8 + [2] * 8
    multiplicity = features[:, FEATURE_NAMES.index("j_multiplicity")]
    assert (multiplicity >= 1).all() and (features[:, FEATURE_NAMES.index("j_zlogz")] <= 0).all()
    again, labels_again = generate_jets(8, 11, SETTINGS, workers=2, classes=("q", "w"))
    write_sample(tmp_path / "a.h5", features, labels, {"seed": 11})
    write_sample(tmp_path / "b.h5", again, labels_again, {"seed": 11})
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    other, _ = generate_jets(4, 12, SETTINGS, workers=1, classes=("q",))
    assert not np.array_equal(other, features[:4])
