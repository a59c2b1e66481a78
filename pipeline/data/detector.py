"""The benchmark's simplified detector: per-particle type, calorimeter cells, energy smearing.

A numpy transcription of ``discretizeEvent`` and ``smearJetPt`` in ``processing/anaSubstructure.cpp``
of the benchmark's generation code (repository ``nhanvtran/trackObservables``, branch
``boostedPrecision-hls4ml``), run there with the detector tag ``r1.0:h0.022:e0.0175:t220.0``
(``steerScript.sh``, analysis ``r1_h022_e0175_t220_nonu``); Coleman et al., "The importance of
calorimetry for highly-boosted jet tagging", JINST 13 (2018) T01003 (arXiv:1709.08705), Sec. 2.

1. Each final-state particle is a *kind* by its PDG id (the code's ``ids`` map): charged hadron
   (pi, K, p, Sigma+-, Xi-), photon (gamma, pi0), neutral hadron (n, K0L, K0S, Lambda, Xi0) or
   charged lepton (e, mu, tau). Anything else (neutrinos, and the few unlisted hadrons) is dropped.
2. Charged hadrons with pT <= ``track_pt_max`` (220 GeV) and leptons stay as particles (tracks).
   Charged hadrons above it (failed tracking in a dense core) and neutral hadrons deposit their
   energy in HCAL cells of ``hcal_cell`` x ``hcal_cell`` (eta x phi); photons in ECAL cells of
   ``ecal_cell``. The grid covers |eta| < 3 and phi in [0, 2 pi) with ``floor(range / size)`` bins
   per axis (ROOT ``TH2D`` binning); energy outside it is lost. Each non-empty cell becomes one
   massless object at the cell centre with pT = E / cosh(eta): HCAL cells are neutral hadrons,
   ECAL cells photons.
3. Every object's four-momentum is scaled by ``max(1e-10, N(1, sigma))`` with ``sigma`` by kind:
   tracks and leptons ``sqrt((2.5e-4 pT)^2 + 0.015^2)``, photons (ECAL cells)
   ``sqrt((0.027 / sqrt(E / 1.6))^2 + (0.15 * 1.6 / E)^2 + 0.005^2)``, neutral hadrons (HCAL
   cells) ``sqrt((1.2 / sqrt(E / 7))^2 + 0.05^2)`` (E, pT in GeV), times ``resolution_scale``.

No pileup (the tag has no ``q``/``p``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from pipeline.stage_api import StrictModel

CHARGED, PHOTON, NEUTRAL, LEPTON, DROPPED = 0, 1, 2, 3, -1
"""Particle kinds (``ids`` keys ``c``, ``p``, ``n``, ``l`` of anaSubstructure.cpp)."""
KIND_IDS: dict[int, tuple[int, ...]] = {
    CHARGED: (211, 321, 2212, 3112, 3222, 3312),
    PHOTON: (22, 111),
    NEUTRAL: (3122, 130, 310, 2112, 3322),
    LEPTON: (11, 13, 15),
}
"""Absolute PDG ids of each kind (the C++ lists hold both signs)."""
_KIND_OF_ID = {pdg: kind for kind, ids in KIND_IDS.items() for pdg in ids}


class DetectorSettings(StrictModel):
    """Detector emulation (config ``data: pythia: detector:``); ``enabled: false``: all visible particles."""

    enabled: bool = True
    hcal_cell: float = Field(default=0.022, gt=0)
    ecal_cell: float = Field(default=0.0175, gt=0)
    track_pt_max: float = Field(default=220.0, gt=0)
    eta_max: float = Field(default=3.0, gt=0)
    resolution_scale: float = Field(default=1.0, ge=0)


@dataclass(frozen=True)
class Objects:
    """Reconstructed objects of one event: four-momenta (GeV) and kinds."""

    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    energy: np.ndarray
    kind: np.ndarray


def particle_kinds(pdg_ids: np.ndarray) -> np.ndarray:
    """Kind (CHARGED, PHOTON, NEUTRAL, LEPTON or DROPPED) of each PDG id (sign ignored)."""
    return np.array([_KIND_OF_ID.get(abs(int(pdg)), DROPPED) for pdg in pdg_ids], dtype=np.int64)


def grid(cell: float, eta_max: float) -> tuple[int, float, int, float]:
    """``(eta bins, eta width, phi bins, phi width)`` of a cell grid, binned like ROOT's ``TH2D``."""
    eta_bins = math.floor(2 * eta_max / cell)
    phi_bins = math.floor(2 * math.pi / cell)
    return eta_bins, 2 * eta_max / eta_bins, phi_bins, 2 * math.pi / phi_bins


def merge_into_cells(
    eta: np.ndarray, phi: np.ndarray, energy: np.ndarray, cell: float, eta_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum ``energy`` into the cells of :func:`grid`; returns ``(cell eta, cell phi, cell energy)``.

    ``phi`` may be in any range (it is wrapped into [0, 2 pi)); deposits with |eta| >= ``eta_max``
    are lost, and so are cells without energy. Cells come out in grid order (eta bin, then phi bin).
    """
    eta_bins, eta_width, phi_bins, phi_width = grid(cell, eta_max)
    inside = np.abs(eta) < eta_max
    eta_index = np.minimum(((eta[inside] + eta_max) / eta_width).astype(np.int64), eta_bins - 1)
    phi_index = np.minimum((np.mod(phi[inside], 2 * np.pi) / phi_width).astype(np.int64), phi_bins - 1)
    cells, inverse = np.unique(eta_index * phi_bins + phi_index, return_inverse=True)
    cell_energy = np.bincount(inverse, weights=energy[inside], minlength=len(cells))
    filled = cell_energy > 0  # like the C++ code (`curbincontent > 0`): a zero-energy photon makes no cell
    cells, cell_energy = cells[filled], cell_energy[filled]
    cell_eta = -eta_max + (cells // phi_bins + 0.5) * eta_width
    cell_phi = (cells % phi_bins + 0.5) * phi_width
    return cell_eta, cell_phi, cell_energy


def resolution(kind: np.ndarray, pt: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Relative energy resolution ``sigma`` of each object (formulas in the module docstring)."""
    sigma = np.zeros(len(kind))
    tracks = (kind == CHARGED) | (kind == LEPTON)
    sigma[tracks] = np.hypot(2.5e-4 * pt[tracks], 0.015)
    photons = kind == PHOTON
    e_photon = energy[photons]
    sigma[photons] = np.sqrt((0.027 / np.sqrt(e_photon / 1.6)) ** 2 + (0.15 * 1.6 / e_photon) ** 2 + 0.005**2)
    neutrals = kind == NEUTRAL
    sigma[neutrals] = np.hypot(1.2 / np.sqrt(energy[neutrals] / 7.0), 0.05)
    return sigma


def _cell_objects(eta, phi, energy, cell, eta_max, kind):
    cell_eta, cell_phi, cell_energy = merge_into_cells(eta, phi, energy, cell, eta_max)
    pt = cell_energy / np.cosh(cell_eta)
    return pt * np.cos(cell_phi), pt * np.sin(cell_phi), pt * np.sinh(cell_eta), cell_energy, kind


def emulate(
    pdg_ids: np.ndarray,
    momenta: np.ndarray,
    settings: DetectorSettings,
    rng: np.random.Generator,
) -> Objects:
    """Reconstructed objects of one event from its final-state particles.

    ``momenta`` is ``(n, 4)`` with columns px, py, pz, E (GeV). Steps 1-3 of the module docstring;
    the smearing draws one normal number per object from ``rng`` in output order (tracks and
    leptons in input order, then HCAL cells, then ECAL cells).
    """
    kind = particle_kinds(pdg_ids)
    px, py, pz, energy = (momenta[:, column] for column in range(4))
    pt = np.hypot(px, py)
    momentum = np.sqrt(pt**2 + pz**2)
    eta = np.arctanh(np.divide(pz, momentum, out=np.zeros_like(pz), where=momentum > 0))
    phi = np.arctan2(py, px)
    is_track = ((kind == CHARGED) & (pt <= settings.track_pt_max)) | (kind == LEPTON)
    to_hcal = (kind == NEUTRAL) | ((kind == CHARGED) & ~is_track)
    to_ecal = kind == PHOTON
    parts = [(px[is_track], py[is_track], pz[is_track], energy[is_track], kind[is_track])]
    calorimeters = ((to_hcal, settings.hcal_cell, NEUTRAL), (to_ecal, settings.ecal_cell, PHOTON))
    for mask, cell, cell_kind in calorimeters:
        parts.append(_cell_objects(eta[mask], phi[mask], energy[mask], cell, settings.eta_max, cell_kind))
    out_px, out_py, out_pz, out_energy = (np.concatenate([part[i] for part in parts]) for i in range(4))
    out_kind = np.concatenate([np.broadcast_to(part[4], part[0].shape) for part in parts]).astype(np.int64)
    sigma = resolution(out_kind, np.hypot(out_px, out_py), out_energy) * settings.resolution_scale
    scale = np.maximum(1e-10, 1.0 + sigma * rng.standard_normal(len(out_kind)))
    return Objects(out_px * scale, out_py * scale, out_pz * scale, out_energy * scale, out_kind)
