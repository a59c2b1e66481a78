"""Which model specs a stage would turn into the same network: equal stage-relevant content.

The default run trains ``jet_dnn_q6``, ``jet_dnn_q6_qap`` and ``jet_dnn_q6_a2q_plus_qap`` from one seed
with one architecture and training recipe: the train stage produced the same weights three times, and
the prune stage the same pruned network twice. The model stages train (prune) each identity once and
write the other models' outputs from it (:func:`pipeline.stages.train.train_one`,
:func:`pipeline.stages.prune.prune_one`), with the model's own name and spec, and the metrics measured
with that spec.

An identity is a hash of the spec with the keys the stage never reads removed; ``None`` means "never
shared" (learned precision and post-training quantization write spec-specific files: they always run
on their own).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.models.spec import ModelSpec

#: read by no stage up to and including prune: labels, and what the constrain stage uses
_NOT_TRAINED: tuple[str, ...] = ("name", "description", "pruning")
_ACCUMULATOR_KEYS: tuple[str, ...] = ("accumulator_bits", "accumulator_method")


def _digest(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _trained_content(spec: ModelSpec) -> dict[str, Any] | None:
    if spec.learned_precision or spec.quantization.mode != "qat":
        return None
    content = spec.model_dump(mode="json")
    for key in _NOT_TRAINED:
        content.pop(key, None)
    for options in (content["defaults"], *content["layers"]):
        for key in _ACCUMULATOR_KEYS:
            options.pop(key, None)
    return content


def training_identity(spec: ModelSpec) -> str | None:
    """Equal for two specs the train stage turns into the same weights (same seed and data): all keys
    but the name, description, pruning and accumulator settings (``None``: never shared)."""
    content = _trained_content(spec)
    return None if content is None else _digest(content)


def pruning_identity(spec: ModelSpec) -> str | None:
    """Equal for two specs the prune stage turns into the same pruned weights: the training identity
    plus the whole ``pruning`` section (``None`` without pruning, or when training is never shared)."""
    content = _trained_content(spec)
    if content is None or spec.pruning is None:
        return None
    return _digest({"trained": content, "pruning": spec.pruning.model_dump(mode="json")})


def group_by_identity(identities: list[str | None]) -> list[list[int]]:
    """Indices grouped by identity in first-appearance order; ``None`` identities stay alone.

    ``group_by_identity(["a", None, "a", "b"]) == [[0, 2], [1], [3]]``: the first index of each group
    does the work, the others get copies."""
    groups: dict[str, list[int]] = {}
    ordered: list[list[int]] = []
    for index, identity in enumerate(identities):
        if identity is None:
            ordered.append([index])
        elif identity in groups:
            groups[identity].append(index)
        else:
            groups[identity] = [index]
            ordered.append(groups[identity])
    return ordered


@dataclass(frozen=True)
class SameWork:
    """A model that gets another model's result (same stage identity, :mod:`pipeline.models.identity`)."""

    name: str
    spec_path: Path
    out: Path


def write_copies(model, dataset, task, details: dict, history: dict, stage: str) -> dict[str, dict]:
    """Write ``task.copies`` from ``task``'s finished ``model``: each gets the model under its own name
    (Keras 2 saves the model's name in ``model.h5``), its spec file, the history and metrics measured
    with its own spec; returns their summary entries."""
    from pipeline.measure import measure_model, save_metrics
    from pipeline.models.io import save_model
    from pipeline.models.spec import load_spec

    summaries = {}
    for copy in task.copies:
        spec = load_spec(copy.spec_path)
        model._name = spec.name  # what build_model names a model trained from this spec
        copy.out.mkdir(parents=True, exist_ok=True)
        save_model(model, copy.out / "model.h5")
        if (task.out / "spec.yaml").is_file():  # the stage writes the spec file (train does)
            (copy.out / "spec.yaml").write_text(copy.spec_path.read_text())
        (copy.out / "history.json").write_text(json.dumps(history, indent=2) + "\n")
        metrics = measure_model(
            model, dataset, spec, stage=stage, details={**details, "same_result_as": task.name}
        )
        save_metrics(metrics, copy.out / "metrics.json")
        summaries[copy.name] = {"same_result_as": task.name}
    return summaries


def with_copies(tasks: list, identities: list[str | None]) -> list:
    """One task per identity group (:func:`pipeline.models.identity.group_by_identity`), the group's
    other models as its ``copies``."""
    grouped = []
    for group in group_by_identity(identities):
        first, others = tasks[group[0]], [tasks[index] for index in group[1:]]
        copies = tuple(SameWork(other.name, other.spec_path, other.out) for other in others)
        grouped.append(dataclasses.replace(first, copies=copies))
    return grouped
