"""mMDT grooming on hand-made particle configurations (FastJet C/A runs here)."""

import math

import pytest

from pipeline.data.grooming import mmdt_groom


def massless(pt: float, rapidity: float, phi: float):
    import fastjet

    return fastjet.PseudoJet(
        pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(rapidity), pt * math.cosh(rapidity)
    )


def test_soft_wide_particle_is_groomed_away_two_prongs_kept():
    # Two hard prongs 0.4 apart; a 5 GeV particle 0.7 away is clustered last and fails z > 0.1.
    particles = [massless(500, 0.0, 0.0), massless(400, 0.4, 0.0), massless(5, -0.7, 0.0)]
    groomed = mmdt_groom(particles, z_cut=0.1)
    assert len(groomed.pt) == 2
    expected_mass = math.sqrt(2 * 500 * 400 * (math.cosh(0.4) - 1.0))
    assert groomed.mass == pytest.approx(expected_mass, rel=1e-9)


def test_asymmetric_splitting_is_declustered_to_the_harder_branch():
    # z = 50 / 950 < 0.1: the soft prong is dropped, leaving one massless particle.
    groomed = mmdt_groom([massless(900, 0.0, 0.0), massless(50, 0.0, 0.3)], z_cut=0.1)
    assert len(groomed.pt) == 1
    assert groomed.pt[0] == pytest.approx(900)
    assert groomed.mass == pytest.approx(0.0, abs=1e-3)
    # With a looser cut the same splitting passes and both particles stay.
    assert len(mmdt_groom([massless(900, 0.0, 0.0), massless(50, 0.0, 0.3)], z_cut=0.05).pt) == 2
