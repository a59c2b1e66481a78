"""Shared fixtures: real jets from the bundled Pythia sample (no random stand-ins)."""

from pathlib import Path

import numpy as np
import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "triggers_data" / "jets_pythia.h5"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    """Path of the bundled sample ``triggers_data/jets_pythia.h5``."""
    return SAMPLE


@pytest.fixture(scope="session")
def bundled_sample():
    """``(features, labels, generator_info)`` of the bundled sample."""
    from pipeline.data.sample import read_sample

    features, labels, _, _, generator = read_sample(SAMPLE)
    return features, labels, generator


@pytest.fixture(scope="session")
def small_real_jets(bundled_sample):
    """40 jets per class from the bundled sample, as ``(features, labels)``."""
    features, labels, _ = bundled_sample
    keep = np.concatenate([np.flatnonzero(labels == label)[:40] for label in range(5)])
    return features[keep], labels[keep]
