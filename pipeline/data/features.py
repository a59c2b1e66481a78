"""The 16 high-level features of the hls4ml LHC jet benchmark, computed from a jet's particles.

Benchmark: Coleman et al., "The importance of calorimetry for highly-boosted jet tagging",
JINST 13 (2018) T01003 (arXiv:1709.08705); Duarte et al., JINST 13 (2018) P07027 (arXiv:1804.06913).
The ``*_mmdt`` features are computed on the mMDT-groomed jet (:mod:`pipeline.data.grooming`), with the
ECF ratios of :mod:`pipeline.data.ecf`; ``j_zlogz`` and ``j_multiplicity`` use the ungroomed jet.
"""

from __future__ import annotations

import numpy as np

from pipeline.data.ecf import ecf_ratios, energy_correlators
from pipeline.data.grooming import Constituents
from pipeline.data.io import FEATURE_NAMES


def zlogz(weights: np.ndarray) -> float:
    """``sum_i z_i log z_i`` with ``z_i = w_i / sum w`` over the jet's particles (<= 0).

    The benchmark (``anaSubstructure.cpp``) uses energies, ``z_i = E_i / E_jet``; the resonance recipe
    used transverse momenta.
    """
    z = np.asarray(weights, dtype=np.float64) / np.sum(weights)
    z = z[z > 0]
    return float(np.sum(z * np.log(z)))


def jet_features(jet: Constituents, groomed: Constituents, zlogz_weight: str = "energy") -> np.ndarray:
    """The 16 benchmark features (order :data:`pipeline.data.io.FEATURE_NAMES`) as float64.

    ``jet`` is the ungroomed jet, ``groomed`` its mMDT-groomed version (mass in GeV).
    ``zlogz_weight`` is ``"energy"`` (the benchmark: needs ``jet.energy``) or ``"pt"``.
    """
    ratios = ecf_ratios(energy_correlators(groomed.pt, groomed.rapidity, groomed.phi))
    values = {f"j_{name}_mmdt": value for name, value in ratios.items()}
    if zlogz_weight not in ("energy", "pt"):
        raise ValueError(f"zlogz_weight must be 'energy' or 'pt', not {zlogz_weight!r}")
    values["j_zlogz"] = zlogz(jet.energy if zlogz_weight == "energy" else jet.pt)
    values["j_mass_mmdt"] = groomed.mass
    values["j_multiplicity"] = float(len(jet.pt))
    return np.array([values[name] for name in FEATURE_NAMES], dtype=np.float64)
