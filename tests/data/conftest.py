"""Shared fixtures: real jets from the bundled Pythia sample (no random stand-ins).

``JETS_SAMPLE=<file>`` points the sample fixtures at another sample file, to check a new sample
with the physics tests before it replaces the bundled one.
"""

import os
from pathlib import Path

import numpy as np
import pytest

SAMPLE = Path(
    os.environ.get("JETS_SAMPLE", Path(__file__).resolve().parents[2] / "triggers_data" / "jets_pythia.h5")
)


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


@pytest.fixture(scope="session")
def generated_benchmark_jets():
    """100 fresh jets per class of the default (``benchmark``) recipe with their kinematics.

    Returns ``{class: (features (100, 16), kinematics (100, 3): pT, eta, mass)}``; ~20 s of CPU.
    """
    from pipeline.data.generator import GeneratorSettings, generate_chunk
    from pipeline.data.io import CLASS_NAMES

    settings = GeneratorSettings()
    jets = {}
    for class_name in CLASS_NAMES:
        kinematics: list = []
        features = generate_chunk(class_name, 100, 20261, settings, kinematics=kinematics)
        jets[class_name] = (features, np.array(kinematics))
    return jets
