"""Jet generator: Pythia 8 (pp, 13 TeV) + FastJet anti-kT R=0.8 -> the 16 benchmark features.

One hard process per class (Pythia 8.3 settings names). Light jets come from QCD 2 -> 2 scattering in a
pTHat window (default 900-1100 GeV):

* ``g``: ``HardQCD:gg2gg``, ``HardQCD:qqbar2gg``; truth = each outgoing gluon,
* ``q``: ``HardQCD:qg2qg``, ``HardQCD:qq2qq``; truth = each outgoing light quark (u, d, s).

Heavy jets (``heavy_production = "resonance"``, the default) come from all-hadronic decays of a heavy
s-channel resonance of mass ``resonance_mass`` (default 2 TeV, so the daughters have pT up to ~1 TeV),
like the benchmark's W/Z/top samples (Coleman et al., JINST 13 (2018) T01003; Duarte et al.,
JINST 13 (2018) P07027):

* ``w``: ``NewGaugeBoson:ffbar2gmZZprime`` (pure Z', ``Zprime:coup2WW = 1``), Z' -> W+ W-, W -> q q';
  truth = each W,
* ``z``: ``NewGaugeBoson:ffbar2Wprime`` (``Wprime:coup2WZ = 1``), W' -> W Z, Z -> q qbar, W -> e/mu nu;
  truth = the Z,
* ``t``: the same Z' with Z' -> t tbar, W -> q q'; truth = each top.

A resonance's W and Z are mostly longitudinally polarised, so they decay symmetrically (decay-quark
momentum fraction z ~ 6 z (1 - z)) and only ~5 % of them fail the mMDT z_cut = 0.1 and lose their
mass peak. ``heavy_production = "recoil"`` (the first bundled sample) instead makes ``qqbar2Wg``,
``qqbar2gmZg`` (pure Z) and ``gg2ttbar``/``qqbar2ttbar`` in the pTHat window: those W/Z are mostly
transverse (z ~ 1 + (2z - 1)^2), ~25 % of them are groomed down to one prong (mass < 30 GeV), and a
float MLP loses ~8 points of accuracy (measured in the data helper's report; PROVENANCE.md).

Final-state visible particles (no neutrinos) are clustered with anti-kT (Cacciari, Salam, Soyez, JHEP 04
(2008) 063); a jet is kept when it passes the pT and |eta| cuts and lies within ``match_radius`` of a
truth object (the boson or top after recoil, before decay; the parton of the hard process). Features:
:mod:`pipeline.data.features`.

Determinism: the work is cut into chunks of ``chunk_jets`` jets per class; chunk ``k`` of class ``c``
runs Pythia with a seed derived from ``(seed, c, k)``, so the output does not depend on the number of
worker processes. Pythia and FastJet print nothing.
"""

from __future__ import annotations

import math
import queue
from collections.abc import Callable
from typing import Literal

import numpy as np

from pipeline.data.features import jet_features
from pipeline.data.grooming import constituents_of, mmdt_groom
from pipeline.data.io import CLASS_NAMES, FEATURE_NAMES
from pipeline.stage_api import StrictModel

HADRONIC_W = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
HADRONIC_Z = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")
PROCESS_SETTINGS: dict[str, tuple[str, ...]] = {
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "q": ("HardQCD:qg2qg = on", "HardQCD:qq2qq = on"),
    "w": ("WeakBosonAndParton:qqbar2Wg = on", *HADRONIC_W),
    "z": ("WeakBosonAndParton:qqbar2gmZg = on", "WeakZ0:gmZmode = 2", *HADRONIC_Z),
    "t": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *HADRONIC_W),
}
"""Hard processes with ``heavy_production = "recoil"`` (and always for ``g`` and ``q``)."""
Z_PRIME, W_PRIME = 32, 34
RESONANCE_SETTINGS: dict[str, tuple[str, ...]] = {
    "w": (
        "NewGaugeBoson:ffbar2gmZZprime = on",
        "Zprime:gmZmode = 3",
        "Zprime:coup2WW = 1.0",
        "32:onMode = off",
        "32:onIfAny = 24",
        *HADRONIC_W,
    ),
    "z": (
        "NewGaugeBoson:ffbar2Wprime = on",
        "Wprime:coup2WZ = 1.0",
        "34:onMode = off",
        "34:onIfAny = 23",
        "24:onMode = off",
        "24:onIfAny = 11 13",
        *HADRONIC_Z,
    ),
    "t": (
        "NewGaugeBoson:ffbar2gmZZprime = on",
        "Zprime:gmZmode = 3",
        "32:onMode = off",
        "32:onIfAny = 6",
        *HADRONIC_W,
    ),
}
"""Hard processes of the heavy classes with ``heavy_production = "resonance"``."""
RESONANCE_IDS: dict[str, int] = {"w": Z_PRIME, "z": W_PRIME, "t": Z_PRIME}
TRUTH_IDS: dict[str, tuple[int, ...]] = {"g": (21,), "q": (1, 2, 3), "w": (24,), "z": (23,), "t": (6,)}
QUIET_SETTINGS = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
)


class GeneratorSettings(StrictModel):
    """Physics settings of the generator (config ``data: pythia:``).

    ``pt_hat_*`` bound the QCD (and ``recoil``) 2 -> 2 processes; ``heavy_production`` chooses how W, Z
    and t jets are made (module docstring); ``resonance_mass`` (GeV) is the Z'/W' pole mass and the
    resonance's mHat is generated within ``resonance_mass +- resonance_mass_window``.
    ``multiparton_interactions = False`` switches off Pythia's underlying event (``PartonLevel:MPI``).
    """

    energy_cm: float = 13000.0
    pt_hat_min: float = 900.0
    pt_hat_max: float = 1100.0
    jet_radius: float = 0.8
    jet_pt_min: float = 700.0
    jet_pt_max: float = 1400.0
    jet_abs_eta_max: float = 2.0
    match_radius: float = 0.8
    z_cut: float = 0.1
    heavy_production: Literal["resonance", "recoil"] = "resonance"
    multiparton_interactions: bool = True
    resonance_mass: float = 2000.0
    resonance_mass_window: float = 500.0
    chunk_jets: int = 250
    max_events_per_jet: int = 50


def chunk_seed(seed: int, class_index: int, chunk_index: int) -> int:
    """Pythia seed (1..900000000) of one chunk, derived from the run seed by numpy's SeedSequence."""
    state = np.random.SeedSequence([seed, class_index, chunk_index]).generate_state(1)[0]
    return int(state % 900_000_000) + 1


def uses_resonance(class_name: str, settings: GeneratorSettings) -> bool:
    """Whether jets of ``class_name`` come from a heavy resonance's decay under ``settings``."""
    return settings.heavy_production == "resonance" and class_name in RESONANCE_SETTINGS


def pythia_settings(class_name: str, seed: int, settings: GeneratorSettings) -> tuple[str, ...]:
    """The Pythia setting strings of one chunk (light classes: identical for both ``heavy_production``)."""
    lines = (
        *QUIET_SETTINGS,
        f"Beams:eCM = {settings.energy_cm}",
        f"PhaseSpace:pTHatMin = {settings.pt_hat_min}",
        f"PhaseSpace:pTHatMax = {settings.pt_hat_max}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        *(() if settings.multiparton_interactions else ("PartonLevel:MPI = off",)),
    )
    if not uses_resonance(class_name, settings):
        return (*lines, *PROCESS_SETTINGS[class_name])
    resonance = RESONANCE_IDS[class_name]
    return (
        *lines,
        f"{resonance}:m0 = {settings.resonance_mass}",
        f"PhaseSpace:mHatMin = {settings.resonance_mass - settings.resonance_mass_window}",
        f"PhaseSpace:mHatMax = {settings.resonance_mass + settings.resonance_mass_window}",
        *RESONANCE_SETTINGS[class_name],
    )


def _make_pythia(class_name: str, seed: int, settings: GeneratorSettings):
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(class_name, seed, settings):
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise for class {class_name}")
    return pythia


def truth_directions(event, class_name: str, resonance: int | None = None) -> list[tuple[float, float]]:
    """(rapidity, phi) of the truth objects of one Pythia event.

    Without ``resonance``: the wanted ones among the two outgoing hard-process particles (5, 6). With a
    ``resonance`` id: the wanted particles whose mother is that resonance (its decay products). Bosons
    and tops are taken at their last copy (after recoil, before decay).
    """
    wanted = TRUTH_IDS[class_name]
    if resonance is None:
        candidates = [event[index] for index in (5, 6) if event[index].idAbs() in wanted]
    else:
        candidates = [
            particle
            for particle in event
            if particle.idAbs() in wanted and event[particle.mother1()].idAbs() == resonance
        ]
    directions = []
    for particle in candidates:
        if class_name in ("w", "z", "t"):
            particle = event[particle.iBotCopyId()]
        directions.append((particle.y(), particle.phi()))
    return directions


def _delta_r(rapidity_a: float, phi_a: float, rapidity_b: float, phi_b: float) -> float:
    delta_phi = abs(phi_a - phi_b) % (2 * math.pi)
    delta_phi = min(delta_phi, 2 * math.pi - delta_phi)
    return math.hypot(rapidity_a - rapidity_b, delta_phi)


def generate_chunk(
    class_name: str,
    jet_count: int,
    seed: int,
    settings: GeneratorSettings,
    on_jet: Callable[[], None] | None = None,
) -> np.ndarray:
    """Generate ``jet_count`` matched jets of one class; returns their features, float64 ``(n, 16)``.

    Raises RuntimeError if fewer jets than requested pass the cuts within
    ``jet_count * max_events_per_jet`` events (the cuts do not fit the pTHat window).
    """
    import fastjet
    import fastjet._swig

    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    pythia = _make_pythia(class_name, seed, settings)
    resonance = RESONANCE_IDS[class_name] if uses_resonance(class_name, settings) else None
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, settings.jet_radius)
    rows: list[np.ndarray] = []
    for _ in range(jet_count * settings.max_events_per_jet):
        if len(rows) >= jet_count:
            break
        if not pythia.next():
            continue
        event = pythia.event
        truths = truth_directions(event, class_name, resonance)
        if not truths:
            continue
        particles = [
            fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()) for p in event if p.isFinal() and p.isVisible()
        ]
        sequence = fastjet.ClusterSequence(particles, definition)
        jets = [
            jet
            for jet in sequence.inclusive_jets(settings.jet_pt_min)
            if jet.pt() <= settings.jet_pt_max and abs(jet.eta()) <= settings.jet_abs_eta_max
        ]
        used: set[int] = set()
        for truth_rapidity, truth_phi in truths:
            distances = [_delta_r(jet.rap(), jet.phi(), truth_rapidity, truth_phi) for jet in jets]
            candidates = [i for i in np.argsort(distances, kind="stable") if i not in used]
            if not candidates or distances[candidates[0]] >= settings.match_radius:
                continue
            best = int(candidates[0])
            used.add(best)
            jet = jets[best]
            rows.append(jet_features(constituents_of(jet), mmdt_groom(jet.constituents(), settings.z_cut)))
            if on_jet is not None:
                on_jet()
            if len(rows) >= jet_count:
                break
    if len(rows) < jet_count:
        raise RuntimeError(
            f"only {len(rows)} of {jet_count} {class_name} jets passed the cuts; "
            "widen the cuts or the pTHat window"
        )
    return np.vstack(rows)


def plan_chunks(jets_per_class: int, chunk_jets: int, classes: tuple[str, ...] = CLASS_NAMES):
    """Work units ``(class_name, class_index, chunk_index, jet_count)`` in output order."""
    units = []
    for class_name in classes:
        class_index = CLASS_NAMES.index(class_name)
        for chunk_index in range(math.ceil(jets_per_class / chunk_jets)):
            count = min(chunk_jets, jets_per_class - chunk_index * chunk_jets)
            units.append((class_name, class_index, chunk_index, count))
    return units


_WORKER_QUEUE = None


def _init_worker(progress_queue) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = progress_queue


def _run_unit(unit, seed: int, settings: GeneratorSettings) -> np.ndarray:
    class_name, class_index, chunk_index, count = unit
    tick = (lambda: _WORKER_QUEUE.put(1)) if _WORKER_QUEUE is not None else None
    return generate_chunk(class_name, count, chunk_seed(seed, class_index, chunk_index), settings, tick)


def generate_jets(
    jets_per_class: int,
    seed: int,
    settings: GeneratorSettings,
    workers: int = 1,
    advance: Callable[[float], None] | None = None,
    classes: tuple[str, ...] = CLASS_NAMES,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``jets_per_class`` jets of each class; returns ``(features float32 (n,16), labels int64)``.

    ``workers > 1`` runs chunks in that many processes; the result is identical for any worker count.
    ``advance(1)`` is called once per generated jet (progress bar).
    """
    units = plan_chunks(jets_per_class, settings.chunk_jets, classes)
    if workers <= 1:
        tick = (lambda: advance(1)) if advance is not None else None
        blocks = [
            generate_chunk(name, count, chunk_seed(seed, index, chunk), settings, tick)
            for name, index, chunk, count in units
        ]
    else:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        progress_queue = context.Queue()
        with context.Pool(workers, initializer=_init_worker, initargs=(progress_queue,)) as pool:
            pending = [pool.apply_async(_run_unit, (unit, seed, settings)) for unit in units]
            while not all(result.ready() for result in pending):
                try:
                    progress_queue.get(timeout=0.2)
                    if advance is not None:
                        advance(1)
                except queue.Empty:
                    pass
            blocks = [result.get() for result in pending]
    labels = np.concatenate(
        [np.full(len(block), unit[1], dtype=np.int64) for unit, block in zip(units, blocks, strict=True)]
    )
    features = np.vstack(blocks).astype(np.float32)
    assert features.shape[1] == len(FEATURE_NAMES)
    return features, labels
