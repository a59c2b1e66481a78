"""A small real generation run: cuts, feature sanity, and byte-identical output for a fixed seed."""

import numpy as np
import pytest

from pipeline.data.generator import (
    GeneratorSettings,
    _make_pythia,
    chunk_seed,
    generate_chunk,
    generate_jets,
    plan_chunks,
    pythia_settings,
    truth_directions,
)
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


RECOIL = GeneratorSettings(chunk_jets=60, heavy_production="recoil")
RESONANCE = GeneratorSettings(chunk_jets=60, heavy_production="resonance")


def test_light_classes_do_not_depend_on_heavy_production_and_heavy_ones_get_a_mass_window():
    for class_name in ("g", "q"):
        assert pythia_settings(class_name, 5, RESONANCE) == pythia_settings(class_name, 5, RECOIL)
    lines = pythia_settings("z", 5, GeneratorSettings(resonance_mass=1800.0, resonance_mass_window=300.0))
    assert {"34:m0 = 1800.0", "PhaseSpace:mHatMin = 1500.0", "PhaseSpace:mHatMax = 2100.0"} <= set(lines)
    assert "NewGaugeBoson:ffbar2Wprime = on" in lines and "23:onIfAny = 1 2 3 4 5" in lines
    assert "WeakBosonAndParton:qqbar2gmZg = on" in pythia_settings("z", 5, RECOIL)
    assert not any("MPI" in line for line in lines)
    no_underlying_event = GeneratorSettings(multiparton_interactions=False)
    assert "PartonLevel:MPI = off" in pythia_settings("g", 5, no_underlying_event)


@pytest.mark.parametrize(("class_name", "resonance", "count"), [("w", 32, 2), ("z", 34, 1), ("t", 32, 2)])
def test_truth_objects_are_the_resonance_daughters(class_name, resonance, count):
    pythia = _make_pythia(class_name, 3, RESONANCE)
    assert pythia.next()
    directions = truth_directions(pythia.event, class_name, resonance)
    assert len(directions) == count
    if count == 2:  # the two daughters of a (nearly) transversely resting resonance are back to back
        delta_phi = abs(directions[0][1] - directions[1][1]) % (2 * np.pi)
        assert min(delta_phi, 2 * np.pi - delta_phi) > 2.5
    assert truth_directions(pythia.event, class_name, resonance=6 if class_name != "t" else 24) == []


def test_recoil_truth_is_the_hard_process_boson():
    pythia = _make_pythia("w", 3, RECOIL)
    assert pythia.next()
    assert len(truth_directions(pythia.event, "w")) == 1  # q qbar -> W g: one W
    assert truth_directions(pythia.event, "w", resonance=32) == []  # no Z' in this process


def test_resonance_w_keeps_its_groomed_mass_more_often_than_a_recoiling_w():
    """Longitudinal W (Z' -> WW) decay symmetrically: fewer are groomed to one prong than W + g's W."""
    mass = FEATURE_NAMES.index("j_mass_mmdt")
    resonance = generate_chunk("w", 60, 21, RESONANCE)[:, mass]
    recoil = generate_chunk("w", 60, 21, RECOIL)[:, mass]
    assert np.mean(resonance < 30) < 0.12 < np.mean(recoil < 30)
    assert abs(np.median(resonance) - 80.4) < 5.0
