"""A small real generation run: cuts, feature sanity, and byte-identical output for a fixed seed."""

import numpy as np
import pytest

from pipeline.data.generator import (
    RESONANCE_PRESET,
    GeneratorSettings,
    generate_chunk,
    hard_process_is_pure,
    make_pythia,
    pythia_settings,
    truth_directions,
)
from pipeline.data.io import FEATURE_NAMES


def test_benchmark_recipe_is_the_default_and_reproduces_the_run_card():
    settings = GeneratorSettings()
    assert settings.recipe == "benchmark" and settings.detector.enabled and not settings.match_truth
    assert (settings.pt_hat_min, settings.pt_hat_max) == (995.0, 1005.0)  # run_card_ptbin.dat
    assert (settings.jet_pt_min, settings.jet_pt_max, settings.jet_radius) == (800.0, 1600.0, 0.8)
    lines = pythia_settings("w", 5, settings)
    assert {"Tune:pp = 14", "PhaseSpace:pTHatMin = 995.0", "WeakDoubleBoson:ffbar2WW = on"} <= set(lines)
    assert "24:onIfAny = 1 2 3 4 5" in lines and not any("MPI" in line for line in lines)
    assert "WeakZ0:gmZmode = 2" in pythia_settings("z", 5, settings)
    assert "HardQCD:qg2qg = on" not in pythia_settings("q", 5, settings)  # no mixed q g final states
    assert "HardQCD:gg2qqbar = on" in pythia_settings("q", 5, settings)


def test_resonance_recipe_keeps_its_own_defaults_unless_overridden():
    settings = GeneratorSettings(recipe="resonance")
    assert (settings.pt_hat_min, settings.pt_hat_max, settings.jet_pt_min) == (900.0, 1100.0, 700.0)
    assert settings.match_truth and not settings.detector.enabled and settings.zlogz_weight == "pt"
    assert set(RESONANCE_PRESET) <= set(GeneratorSettings.model_fields)
    assert GeneratorSettings(recipe="resonance", pt_hat_min=950.0).pt_hat_min == 950.0
    assert "Tune:pp = 14" not in pythia_settings("g", 5, settings)


def test_quark_sample_events_have_two_light_quarks_out():
    pythia = make_pythia("q", 3, GeneratorSettings())
    pure = 0
    for _ in range(30):
        assert pythia.next()
        if hard_process_is_pure(pythia.event, "q"):
            pure += 1
            assert {pythia.event[5].idAbs(), pythia.event[6].idAbs()} <= {1, 2, 3}
    assert pure >= 20  # c, b from the PDF sea in q q -> q q are rare; those events are skipped


RECOIL = GeneratorSettings(recipe="resonance", chunk_jets=60, heavy_production="recoil")
RESONANCE = GeneratorSettings(recipe="resonance", chunk_jets=60, heavy_production="resonance")


def test_light_classes_do_not_depend_on_heavy_production_and_heavy_ones_get_a_mass_window():
    for class_name in ("g", "q"):
        assert pythia_settings(class_name, 5, RESONANCE) == pythia_settings(class_name, 5, RECOIL)
    lines = pythia_settings(
        "z", 5, GeneratorSettings(recipe="resonance", resonance_mass=1800.0, resonance_mass_window=300.0)
    )
    assert {"34:m0 = 1800.0", "PhaseSpace:mHatMin = 1500.0", "PhaseSpace:mHatMax = 2100.0"} <= set(lines)
    assert "NewGaugeBoson:ffbar2Wprime = on" in lines and "23:onIfAny = 1 2 3 4 5" in lines
    assert "WeakBosonAndParton:qqbar2gmZg = on" in pythia_settings("z", 5, RECOIL)
    assert not any("MPI" in line for line in lines)
    no_underlying_event = GeneratorSettings(recipe="resonance", multiparton_interactions=False)
    assert "PartonLevel:MPI = off" in pythia_settings("g", 5, no_underlying_event)


@pytest.mark.parametrize(("class_name", "resonance", "count"), [("w", 32, 2), ("z", 34, 1), ("t", 32, 2)])
def test_truth_objects_are_the_resonance_daughters(class_name, resonance, count):
    pythia = make_pythia(class_name, 3, RESONANCE)
    assert pythia.next()
    directions = truth_directions(pythia.event, class_name, resonance)
    assert len(directions) == count
    if count == 2:  # the two daughters of a (nearly) transversely resting resonance are back to back
        delta_phi = abs(directions[0][1] - directions[1][1]) % (2 * np.pi)
        assert min(delta_phi, 2 * np.pi - delta_phi) > 2.5
    assert truth_directions(pythia.event, class_name, resonance=6 if class_name != "t" else 24) == []


def test_recoil_truth_is_the_hard_process_boson():
    pythia = make_pythia("w", 3, RECOIL)
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
