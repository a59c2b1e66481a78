"""Modified mass-drop (mMDT) grooming, implemented on FastJet's Cambridge/Aachen clustering.

Dasgupta, Fregoso, Marzani, Salam, "Towards an understanding of jet substructure", JHEP 09 (2013) 029
(arXiv:1307.0007); equivalent to soft drop with ``beta = 0`` (Larkoski, Marzani, Soyez, Thaler,
arXiv:1402.2657). The jet's constituents are reclustered into a single C/A tree; starting from the
top, the last clustering ``j -> j1 + j2`` is undone while ``min(pT1, pT2) / (pT1 + pT2) <= z_cut``,
following the harder branch; the first splitting that passes the cut defines the groomed jet. A jet
that is declustered down to one particle is groomed to that particle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Constituents:
    """Particles of a (groomed) jet: transverse momenta, rapidities, azimuths, the jet's mass, energies."""

    pt: np.ndarray
    rapidity: np.ndarray
    phi: np.ndarray
    mass: float
    energy: np.ndarray | None = None


def constituents_of(jet) -> Constituents:
    """Arrays of a FastJet ``PseudoJet``'s constituents (needs its ``ClusterSequence`` alive)."""
    particles = jet.constituents()
    values = np.array([(p.pt(), p.rap(), p.phi(), p.e()) for p in particles], dtype=np.float64).reshape(-1, 4)
    return Constituents(values[:, 0], values[:, 1], values[:, 2], float(max(jet.m(), 0.0)), values[:, 3])


def mmdt_groom(particles: list, z_cut: float = 0.1) -> Constituents:
    """Groom the jet made of ``particles`` (FastJet ``PseudoJet``s) with mMDT at ``z_cut`` (beta = 0).

    Returns the groomed jet's constituents and invariant mass. ``particles`` must not be empty.
    """
    import fastjet

    if not particles:
        raise ValueError("mmdt_groom needs at least one particle")
    # A radius far beyond the jet size so that C/A merges everything into one tree.
    definition = fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0)
    sequence = fastjet.ClusterSequence(list(particles), definition)
    current = sequence.exclusive_jets(1)[0]
    harder, softer = fastjet.PseudoJet(), fastjet.PseudoJet()
    while current.has_parents(harder, softer):
        pt_a, pt_b = harder.pt(), softer.pt()
        if min(pt_a, pt_b) > z_cut * (pt_a + pt_b):
            break
        current = harder if pt_a >= pt_b else softer
        harder, softer = fastjet.PseudoJet(), fastjet.PseudoJet()
    return constituents_of(current)
