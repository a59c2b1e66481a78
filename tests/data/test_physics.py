"""Physics sanity of the bundled Pythia sample: mass peaks, no peak for q/g, gluon vs quark multiplicity."""

import numpy as np
import pytest

from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES

MASS = FEATURE_NAMES.index("j_mass_mmdt")
MULTIPLICITY = FEATURE_NAMES.index("j_multiplicity")
BINS = np.arange(50.0, 252.5, 5.0)


def groomed_masses(sample, class_name):
    features, labels, _ = sample
    return features[labels == CLASS_NAMES.index(class_name), MASS]


def peak_position(masses: np.ndarray) -> float:
    counts, edges = np.histogram(masses, BINS)
    top = int(np.argmax(counts))
    return float(0.5 * (edges[top] + edges[top + 1]))


def test_sample_has_all_classes_and_provenance(bundled_sample):
    features, labels, generator = bundled_sample
    assert features.shape[1] == 16 and np.isfinite(features).all()
    counts = np.bincount(labels, minlength=5)
    assert counts.min() == counts.max() >= 1000
    assert generator["pythia8mc"] and generator["seed"] is not None and "settings" in generator


@pytest.mark.parametrize(("class_name", "mass"), [("w", 80.4), ("z", 91.2), ("t", 172.5)])
def test_resonance_peaks_in_groomed_mass(bundled_sample, class_name, mass):
    assert abs(peak_position(groomed_masses(bundled_sample, class_name)) - mass) <= 10.0


@pytest.mark.parametrize("class_name", ["q", "g"])
def test_quark_and_gluon_jets_have_no_boson_peak(bundled_sample, class_name):
    masses = groomed_masses(bundled_sample, class_name)
    window = (masses > 70) & (masses < 100)
    w_masses = groomed_masses(bundled_sample, "w")
    w_window = (w_masses > 70) & (w_masses < 100)
    assert window.mean() < 0.4 * w_window.mean()
    # The spectrum falls: no local excess around the W/Z mass compared to the 50-70 GeV side band.
    assert window.sum() / 30 < ((masses > 50) & (masses <= 70)).sum() / 20


def test_gluon_jets_have_more_particles_than_quark_jets(bundled_sample):
    features, labels, _ = bundled_sample
    gluon = features[labels == CLASS_NAMES.index("g"), MULTIPLICITY].mean()
    quark = features[labels == CLASS_NAMES.index("q"), MULTIPLICITY].mean()
    assert gluon > 1.2 * quark
