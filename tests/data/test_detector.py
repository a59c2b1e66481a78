"""The benchmark's simplified detector (anaSubstructure.cpp): particle kinds, cells, smearing widths."""

import math

import numpy as np
import pytest

from pipeline.data.detector import (
    CHARGED,
    DROPPED,
    LEPTON,
    NEUTRAL,
    PHOTON,
    DetectorSettings,
    emulate,
    grid,
    merge_into_cells,
    particle_kinds,
    resolution,
)

EXACT = DetectorSettings(resolution_scale=0.0)  # cells and tracks, no smearing


def momenta(pt, eta, phi, mass=0.0):
    """``(n, 4)`` px, py, pz, E of particles given by pT, eta, phi (GeV)."""
    pt, eta, phi = (np.asarray(value, dtype=np.float64) for value in (pt, eta, phi))
    pz = pt * np.sinh(eta)
    energy = np.sqrt(pt**2 + pz**2 + mass**2)
    return np.column_stack([pt * np.cos(phi), pt * np.sin(phi), pz, energy])


def test_kinds_follow_the_benchmark_id_lists_and_drop_neutrinos():
    ids = np.array([211, -211, -321, 2212, 22, 111, 130, 2112, -3122, 11, -13, 12, -14, 16, 3334])
    expected = [CHARGED] * 4 + [PHOTON] * 2 + [NEUTRAL] * 3 + [LEPTON] * 2 + [DROPPED] * 4
    assert particle_kinds(ids).tolist() == expected


def test_grid_is_binned_like_root_th2d():
    eta_bins, eta_width, phi_bins, phi_width = grid(0.022, 3.0)
    assert (eta_bins, phi_bins) == (272, 285)  # floor(6 / 0.022), floor(2 pi / 0.022)
    assert eta_width == pytest.approx(6 / 272) and phi_width == pytest.approx(2 * math.pi / 285)
    assert grid(0.0175, 3.0)[0] == 342


def test_cells_merge_deposits_in_one_cell_and_keep_separate_cells_apart():
    _, eta_width, _, phi_width = grid(0.022, 3.0)
    eta = np.array([0.001, 0.002, 0.001 + eta_width, 0.0, 3.5])
    phi = np.array([0.001, 0.003, 0.001, 0.001 + phi_width, 0.0])
    energy = np.array([10.0, 5.0, 7.0, 1.0, 100.0])
    cell_eta, cell_phi, cell_energy = merge_into_cells(eta, phi, energy, 0.022, 3.0)
    assert sorted(cell_energy.tolist()) == [1.0, 7.0, 15.0]  # the |eta| = 3.5 deposit is lost
    merged = int(np.argmax(cell_energy))
    assert cell_eta[merged] == pytest.approx(0.5 * eta_width)  # cell centre: bin 136 of 272 starts at 0
    assert cell_phi[merged] == pytest.approx(0.5 * phi_width)
    wrapped = merge_into_cells(np.array([0.0]), np.array([-0.001]), np.array([1.0]), 0.022, 3.0)
    assert wrapped[1][0] == pytest.approx(2 * math.pi - 0.5 * phi_width)  # phi wrapped into [0, 2 pi)


def test_tracks_stay_high_pt_charged_and_neutrals_become_cells_and_neutrinos_vanish():
    ids = np.array([211, 211, 2112, 22, 14, 13])
    particles = momenta(
        [100.0, 300.0, 50.0, 40.0, 80.0, 30.0],
        [0.3, 0.3, -0.5, 1.0, 0.0, 2.0],
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    )
    objects = emulate(ids, particles, EXACT, np.random.default_rng(0))
    assert objects.kind.tolist() == [CHARGED, LEPTON, NEUTRAL, NEUTRAL, PHOTON]
    np.testing.assert_allclose(objects.px[:2], particles[[0, 5], 0])  # tracks untouched
    hcal_energy = sorted(objects.energy[objects.kind == NEUTRAL].tolist())
    np.testing.assert_allclose(
        hcal_energy, sorted([particles[1, 3], particles[2, 3]])
    )  # 300 GeV pion: a cell
    np.testing.assert_allclose(objects.energy[objects.kind == PHOTON], particles[3, 3])
    assert objects.energy.sum() == pytest.approx(particles.sum(axis=0)[3] - particles[4, 3])  # the neutrino
    masses = objects.energy**2 - objects.px**2 - objects.py**2 - objects.pz**2
    np.testing.assert_allclose(masses[2:], 0.0, atol=1e-6)  # cells are massless
    hcal_eta = np.arcsinh(objects.pz / np.hypot(objects.px, objects.py))[objects.kind == NEUTRAL]
    eta_width = grid(0.022, 3.0)[1]
    offsets = (hcal_eta + 3.0) / eta_width - 0.5
    np.testing.assert_allclose(offsets, np.round(offsets), atol=1e-6)  # at cell centres


@pytest.mark.parametrize(
    ("pdg", "energy", "expected_sigma"),
    [
        (2112, 100.0, math.hypot(1.2 / math.sqrt(100.0 / 7.0), 0.05)),
        (22, 50.0, math.sqrt((0.027 / math.sqrt(50.0 / 1.6)) ** 2 + (0.15 * 1.6 / 50.0) ** 2 + 0.005**2)),
        (211, 100.0, math.hypot(2.5e-4 * 100.0, 0.015)),
    ],
)
def test_smearing_width_matches_the_resolution_formula(pdg, energy, expected_sigma):
    """4000 particles, each in its own cell at eta = 0: the spread of E_out / E_in is the formula's sigma."""
    count = 4000
    phi = (np.arange(count) % 200 + 0.5) * grid(0.022, 3.0)[3]
    eta = (np.arange(count) // 200 - 10 + 0.5) * grid(0.022, 3.0)[1]
    particles = momenta(np.full(count, energy) / np.cosh(eta), eta, phi)
    objects = emulate(np.full(count, pdg), particles, DetectorSettings(), np.random.default_rng(1))
    assert len(objects.energy) == count
    ratio = np.sort(objects.energy) / np.sort(particles[:, 3])
    assert np.mean(ratio) == pytest.approx(1.0, abs=4 * expected_sigma / math.sqrt(count))
    assert np.std(ratio) == pytest.approx(expected_sigma, rel=0.06)
    kind = particle_kinds(np.array([pdg]))
    assert resolution(kind, np.array([energy]), np.array([energy]))[0] == pytest.approx(expected_sigma)


def test_smearing_is_seeded():
    particles = momenta([50.0, 60.0], [0.1, 0.2], [0.5, 1.5])
    first = emulate(np.array([2112, 22]), particles, DetectorSettings(), np.random.default_rng(5))
    again = emulate(np.array([2112, 22]), particles, DetectorSettings(), np.random.default_rng(5))
    other = emulate(np.array([2112, 22]), particles, DetectorSettings(), np.random.default_rng(6))
    np.testing.assert_array_equal(first.energy, again.energy)
    assert not np.array_equal(first.energy, other.energy)


def test_a_zero_energy_photon_makes_no_cell_and_no_nan():
    """A cell is made only from deposited energy (``curbincontent > 0``); a 0 GeV photon once gave NaN."""
    zero_energy = np.array([[0.0, 0.0, 0.0, 0.0], [1e-300, 0.0, 0.0, 0.0]])  # at rest / at eta = 0
    particles = np.vstack([momenta([50.0], [0.2], [1.0]), zero_energy])
    objects = emulate(np.array([22, 22, 22]), particles, DetectorSettings(), np.random.default_rng(2))
    assert len(objects.energy) == 1 and np.isfinite(objects.energy).all()
