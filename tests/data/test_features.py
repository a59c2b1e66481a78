"""The 16-feature vector of hand-made jets."""

import math

import numpy as np
import pytest

from pipeline.data.features import jet_features, zlogz
from pipeline.data.grooming import Constituents
from pipeline.data.io import FEATURE_NAMES


def test_zlogz_by_hand():
    assert zlogz(np.array([1.0, 3.0])) == pytest.approx(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert zlogz(np.array([5.0])) == 0.0


def test_feature_vector_order_and_values():
    energy = np.array([3.0, 1.0, 2.0, 0.5])
    jet = Constituents(
        np.array([2.0, 1.0, 1.0, 0.5]), np.zeros(4), np.array([0.0, 0.1, 0.2, 0.3]), 40.0, energy
    )
    groomed = Constituents(np.array([1.0, 3.0]), np.zeros(2), np.array([0.0, 0.5]), 31.5)
    values = dict(zip(FEATURE_NAMES, jet_features(jet, groomed), strict=True))
    assert values["j_multiplicity"] == 4  # ungroomed jet
    assert values["j_mass_mmdt"] == 31.5  # groomed jet
    assert values["j_zlogz"] == pytest.approx(zlogz(energy))  # benchmark: z = E_i / E_jet
    by_pt = dict(zip(FEATURE_NAMES, jet_features(jet, groomed, zlogz_weight="pt"), strict=True))
    assert by_pt["j_zlogz"] == pytest.approx(zlogz(jet.pt)) != values["j_zlogz"]
    with pytest.raises(ValueError, match="zlogz_weight"):
        jet_features(jet, groomed, zlogz_weight="mass")
    assert values["j_c1_b0_mmdt"] == pytest.approx(0.1875)  # groomed: z = 1/4, 3/4
    assert values["j_c1_b2_mmdt"] == pytest.approx(0.1875 * 0.25)
    assert values["j_d2_b1_mmdt"] == 0.0 and values["j_n2_b2_mmdt"] == 0.0  # no triplets
