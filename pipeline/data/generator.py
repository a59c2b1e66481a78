"""Jet generator: Pythia 8 (pp, 13 TeV) + detector emulation + FastJet anti-kT -> the 16 benchmark features.

Two recipes (``GeneratorSettings.recipe``); ``triggers_data/PROVENANCE.md`` documents both.

``benchmark`` (default) reproduces the hls4ml LHC jet benchmark's own generation (repository
``nhanvtran/trackObservables``, branch ``boostedPrecision-hls4ml``: ``generation/run_card_ptbin.dat``,
``steerScript.sh``, ``processing/anaSubstructure.cpp``; Coleman et al., JINST 13 (2018) T01003;
Duarte et al., JINST 13 (2018) P07027) with Pythia's own 2 -> 2 processes instead of MadGraph LO:
one pair-production sample per class in a pTHat window of 995-1005 GeV (the run card's
``ptj``/``ptjmax`` and ``pt_min_pdg``/``pt_max_pdg`` for 6, 23, 24), Monash tune, MPI on:

* ``g``: ``HardQCD:gg2gg``, ``qqbar2gg`` (both outgoing partons are gluons),
* ``q``: ``HardQCD:qq2qq``, ``qqbar2qqbarNew``, ``gg2qqbar``; events whose outgoing quarks are not both
  u, d or s (c, b from the PDF sea in ``qq2qq``) are skipped, so no jet of the sample starts as a gluon
  or a heavy quark (label purity),
* ``w``: ``WeakDoubleBoson:ffbar2WW``, ``z``: ``ffbar2gmZgmZ`` (pure Z), both bosons -> q qbar,
* ``t``: ``Top:gg2ttbar``, ``qqbar2ttbar``, W -> q q'.

The final-state particles pass the detector emulation of :mod:`pipeline.data.detector`, are clustered
with anti-kT (R = 0.8) and the two hardest jets of the event are kept if 800 < pT < 1600 GeV; every
kept jet carries its sample's label (no truth matching, as in the benchmark).

``resonance`` (the previous default, ``heavy_production``): QCD 2 -> 2 in 900-1100 GeV for g/q and
W/Z/t from 2 TeV Z'/W' decays, no detector, jets 700-1400 GeV with |eta| < 2 matched within
``match_radius`` to the truth parton / boson / top, ``j_zlogz`` with pT fractions.

Determinism: the work is cut into chunks (:mod:`pipeline.data.chunks`); a chunk runs Pythia and the
detector smearing with seeds derived from ``(seed, class, chunk)`` only. Pythia and FastJet print nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from pipeline.data import detector as detector_emulation
from pipeline.data.detector import DetectorSettings
from pipeline.data.features import jet_features
from pipeline.data.grooming import constituents_of, mmdt_groom
from pipeline.stage_api import StrictModel

HADRONIC_W = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
HADRONIC_Z = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")
BENCHMARK_PROCESSES: dict[str, tuple[str, ...]] = {
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "q": (
        *("HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:gg2qqbar = on"),
        "HardQCD:nQuarkNew = 3",
    ),
    "w": ("WeakDoubleBoson:ffbar2WW = on", *HADRONIC_W),
    "z": ("WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", *HADRONIC_Z),
    "t": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *HADRONIC_W),
}
"""Hard processes of the ``benchmark`` recipe."""
PROCESS_SETTINGS: dict[str, tuple[str, ...]] = {
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "q": ("HardQCD:qg2qg = on", "HardQCD:qq2qq = on"),
    "w": ("WeakBosonAndParton:qqbar2Wg = on", *HADRONIC_W),
    "z": ("WeakBosonAndParton:qqbar2gmZg = on", "WeakZ0:gmZmode = 2", *HADRONIC_Z),
    "t": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *HADRONIC_W),
}
"""Hard processes of the ``resonance`` recipe with ``heavy_production = "recoil"`` (always for g, q)."""
Z_PRIME, W_PRIME = 32, 34
RESONANCE_SETTINGS: dict[str, tuple[str, ...]] = {
    "w": (
        *("NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3", "Zprime:coup2WW = 1.0"),
        *("32:onMode = off", "32:onIfAny = 24", *HADRONIC_W),
    ),
    "z": (
        *("NewGaugeBoson:ffbar2Wprime = on", "Wprime:coup2WZ = 1.0", "34:onMode = off", "34:onIfAny = 23"),
        *("24:onMode = off", "24:onIfAny = 11 13", *HADRONIC_Z),
    ),
    "t": (
        *("NewGaugeBoson:ffbar2gmZZprime = on", "Zprime:gmZmode = 3", "32:onMode = off", "32:onIfAny = 6"),
        *HADRONIC_W,
    ),
}
"""Heavy-class processes of the ``resonance`` recipe with ``heavy_production = "resonance"``."""
RESONANCE_IDS: dict[str, int] = {"w": Z_PRIME, "z": W_PRIME, "t": Z_PRIME}
TRUTH_IDS: dict[str, tuple[int, ...]] = {"g": (21,), "q": (1, 2, 3), "w": (24,), "z": (23,), "t": (6,)}
QUIET_SETTINGS = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
)
RESONANCE_PRESET: dict[str, Any] = {
    "pt_hat_min": 900.0,
    "pt_hat_max": 1100.0,
    "jet_pt_min": 700.0,
    "jet_pt_max": 1400.0,
    "jet_abs_eta_max": 2.0,
    "match_truth": True,
    "detector": {"enabled": False},
    "zlogz_weight": "pt",
}
"""Defaults of ``recipe: resonance`` that differ from the field defaults (those of ``benchmark``)."""


class GeneratorSettings(StrictModel):
    """Physics settings of the generator (config ``data: pythia:``).

    ``recipe`` picks the processes and the defaults (module docstring; keys given explicitly win over
    :data:`RESONANCE_PRESET`). ``pt_hat_*`` bound every 2 -> 2 process; ``heavy_production`` and
    ``resonance_*`` only matter for ``recipe: resonance``. ``match_truth`` keeps only jets within
    ``match_radius`` of a truth object; otherwise the ``jets_per_event`` hardest jets in the pT and |eta|
    window are kept. ``multiparton_interactions: false`` switches off the underlying event.
    """

    recipe: Literal["benchmark", "resonance"] = "benchmark"
    energy_cm: float = 13000.0
    pt_hat_min: float = 995.0
    pt_hat_max: float = 1005.0
    jet_radius: float = 0.8
    jet_pt_min: float = 800.0
    jet_pt_max: float = 1600.0
    jet_abs_eta_max: float = 10.0
    jets_per_event: int = Field(default=2, ge=1)
    match_truth: bool = False
    match_radius: float = 0.8
    z_cut: float = 0.1
    zlogz_weight: Literal["energy", "pt"] = "energy"
    detector: DetectorSettings = DetectorSettings()
    heavy_production: Literal["resonance", "recoil"] = "resonance"
    multiparton_interactions: bool = True
    resonance_mass: float = 2000.0
    resonance_mass_window: float = 500.0
    chunk_jets: int = Field(default=250, ge=1)
    max_events_per_jet: int = Field(default=50, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _recipe_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("recipe") == "resonance":
            return {**RESONANCE_PRESET, **data}
        return data


def uses_resonance(class_name: str, settings: GeneratorSettings) -> bool:
    """Whether jets of ``class_name`` come from a heavy resonance's decay under ``settings``."""
    return (
        settings.recipe == "resonance"
        and settings.heavy_production == "resonance"
        and class_name in RESONANCE_SETTINGS
    )


def pythia_settings(class_name: str, seed: int, settings: GeneratorSettings) -> tuple[str, ...]:
    """The Pythia setting strings of one chunk."""
    lines = (
        *QUIET_SETTINGS,
        f"Beams:eCM = {settings.energy_cm}",
        *(("Tune:pp = 14",) if settings.recipe == "benchmark" else ()),  # Monash 2013 (also the default)
        f"PhaseSpace:pTHatMin = {settings.pt_hat_min}",
        f"PhaseSpace:pTHatMax = {settings.pt_hat_max}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        *(() if settings.multiparton_interactions else ("PartonLevel:MPI = off",)),
    )
    if settings.recipe == "benchmark":
        return (*lines, *BENCHMARK_PROCESSES[class_name])
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


def make_pythia(class_name: str, seed: int, settings: GeneratorSettings):
    """An initialised, silent ``pythia8mc.Pythia`` for one chunk; RuntimeError on a rejected setting."""
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(class_name, seed, settings):
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise for class {class_name}")
    return pythia


_make_pythia = make_pythia


def hard_process_is_pure(event, class_name: str) -> bool:
    """Both outgoing hard-process particles (event records 5, 6) have the class's truth ids."""
    wanted = TRUTH_IDS[class_name]
    return event[5].idAbs() in wanted and event[6].idAbs() in wanted


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


def event_objects(event, settings: GeneratorSettings, rng: np.random.Generator) -> list:
    """FastJet ``PseudoJet`` inputs of one event: detector objects, or all visible final particles."""
    import fastjet

    if not settings.detector.enabled:
        visible = [p for p in event if p.isFinal() and p.isVisible()]
        return [fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()) for p in visible]
    rows = [(p.id(), p.px(), p.py(), p.pz(), p.e()) for p in event if p.isFinal()]
    table = np.array(rows, dtype=np.float64).reshape(-1, 5)
    objects = detector_emulation.emulate(table[:, 0].astype(np.int64), table[:, 1:], settings.detector, rng)
    columns = (objects.px.tolist(), objects.py.tolist(), objects.pz.tolist(), objects.energy.tolist())
    return [fastjet.PseudoJet(*values) for values in zip(*columns, strict=True)]


def select_jets(jets: list, truths: list[tuple[float, float]] | None, settings: GeneratorSettings) -> list:
    """Jets to keep: truth-matched ones (``truths`` given) or the hardest ``jets_per_event`` in the window."""
    in_window = [
        jet
        for jet in jets
        if settings.jet_pt_min < jet.pt() < settings.jet_pt_max and abs(jet.eta()) <= settings.jet_abs_eta_max
    ]
    if truths is None:
        hardest = sorted(jets, key=lambda jet: -jet.pt())[: settings.jets_per_event]
        return [jet for jet in hardest if any(jet is kept for kept in in_window)]
    kept, used = [], set()
    for truth_rapidity, truth_phi in truths:
        distances = [_delta_r(jet.rap(), jet.phi(), truth_rapidity, truth_phi) for jet in in_window]
        candidates = [i for i in np.argsort(distances, kind="stable") if i not in used]
        if candidates and distances[candidates[0]] < settings.match_radius:
            used.add(int(candidates[0]))
            kept.append(in_window[int(candidates[0])])
    return kept


def generate_chunk(
    class_name: str,
    jet_count: int,
    seed: int,
    settings: GeneratorSettings,
    on_jet: Callable[[], None] | None = None,
    kinematics: list[tuple[float, float, float]] | None = None,
) -> np.ndarray:
    """Generate ``jet_count`` jets of one class; returns their features, float64 ``(n, 16)``.

    ``seed`` seeds Pythia and (through numpy's SeedSequence) the detector smearing. A ``kinematics``
    list receives each kept jet's ``(pT, eta, ungroomed mass)`` (GeV), which are not features. Raises
    RuntimeError if fewer jets than requested pass within ``jet_count * max_events_per_jet`` events.
    """
    import fastjet
    import fastjet._swig

    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)
    pythia = make_pythia(class_name, seed, settings)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    resonance = RESONANCE_IDS[class_name] if uses_resonance(class_name, settings) else None
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, settings.jet_radius)
    rows: list[np.ndarray] = []
    for _ in range(jet_count * settings.max_events_per_jet):
        if len(rows) >= jet_count:
            break
        if not pythia.next():
            continue
        event = pythia.event
        truths = truth_directions(event, class_name, resonance) if settings.match_truth else None
        if truths is not None and not truths:
            continue
        if settings.recipe == "benchmark" and not hard_process_is_pure(event, class_name):
            continue
        sequence = fastjet.ClusterSequence(event_objects(event, settings, rng), definition)
        for jet in select_jets(sequence.inclusive_jets(0.5 * settings.jet_pt_min), truths, settings):
            groomed = mmdt_groom(jet.constituents(), settings.z_cut)
            rows.append(jet_features(constituents_of(jet), groomed, settings.zlogz_weight))
            if kinematics is not None:
                kinematics.append((jet.pt(), jet.eta(), jet.m()))
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


def generate_jets(*args, **kwargs):
    """Moved to :func:`pipeline.data.chunks.generate_jets` (kept here for existing callers)."""
    from pipeline.data.chunks import generate_jets as chunked

    return chunked(*args, **kwargs)
