"""The search space of a scan and how one point of it becomes a model spec.

YAML (``space:`` of ``scan.yaml``): every key optional, an absent key keeps the base spec's value.
A dimension is a list of choices or a range ``{low, high, step}`` (inclusive)::

    input_bits: [8, 10, 12]              # input quantizer quantized_bits(bits, integer_bits)
    input_integer_bits: [3]
    weight_bits: [4, 5, 6]               # one value for every layer ...
    bias_bits: [[6, 6, 6, 6], [8, 6, 6, 6]]   # ... or a list with one value per dense layer
    activation_bits: [4, 6]              # quantized_relu bits (hidden layers)
    width_multiplier: {low: 0.25, high: 1.0, step: 0.25}   # hidden widths x this (rounded, >= 1)
    hidden_layers: [1, 2, 3]             # depth: keep the base's first N hidden layers (+ its output layer)
    target_sparsity: [0.0, 0.5, 0.75, 0.9]                  # QAP target; 0 = no pruning
    layer_groups: {first: [0], rest: [1, 2, 3]}             # dense layer indices (default shown)
    accumulator_method: {first: [a2q], rest: [none, a2q_plus]}   # none | a2q | a2q_plus per group
    accumulator_bits: {first: [18], rest: [12, 14]}               # P per group (ignored for none)
    learned_precision: [false, true]     # learned fixed-point precision (QFX/HGQ, pipeline.models.learned)
    learned_beta: [1.0e-7, 1.0e-6]       # its resource weight beta (with learned_precision true)
    hard_dc: [0, 2]                      # da4ml CMVM delay constraint (>= -1): overrides firmware.hard_dc
                                         # for the trial's estimate and the point's firmware flow; not a
                                         # model spec key (the spec has no firmware settings)

Integer bits of weights, biases and activations are the base spec's (QKeras ``integer``).
A point is a mapping ``parameter name -> value``; group dimensions are named ``accumulator_bits.first``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from pipeline.stage_api import StrictModel

Scalar = int | float | str | bool
ACCUMULATOR_CHOICES = ("none", "a2q", "a2q_plus")


class Range(StrictModel):
    """An inclusive range ``low, low + step, ..., <= high``."""

    low: float
    high: float
    step: float = Field(default=1, gt=0)

    def values(self) -> list[float | int]:
        """The range's values (ints when low, high and step are integers)."""
        count = int(np.floor((self.high - self.low) / self.step + 1e-9)) + 1
        values = [round(self.low + index * self.step, 10) for index in range(max(count, 0))]
        if all(float(v).is_integer() for v in (self.low, self.step)):
            return [int(v) for v in values]
        return values


Dimension = list[Any] | Range


def choices(dimension: Dimension | None) -> list[Any]:
    """The values of a dimension (empty for ``None``)."""
    if dimension is None:
        return []
    return dimension.values() if isinstance(dimension, Range) else list(dimension)


class SearchSpace(StrictModel):
    """The ``space:`` section (see the module docstring)."""

    input_bits: Dimension | None = None
    input_integer_bits: Dimension | None = None
    weight_bits: Dimension | None = None
    bias_bits: Dimension | None = None
    activation_bits: Dimension | None = None
    width_multiplier: Dimension | None = None
    hidden_layers: Dimension | None = None
    target_sparsity: Dimension | None = None
    layer_groups: dict[str, tuple[int, ...]] = Field(
        default_factory=lambda: {"first": (0,), "rest": (1, 2, 3)}
    )
    accumulator_method: dict[str, Dimension] = Field(default_factory=dict)
    accumulator_bits: dict[str, Dimension] = Field(default_factory=dict)
    learned_precision: Dimension | None = None
    learned_beta: Dimension | None = None
    hard_dc: Dimension | None = None

    @model_validator(mode="after")
    def _check(self) -> SearchSpace:
        for name, values in self.dimensions().items():
            _check_dimension(name, values)
        return self

    def dimensions(self) -> dict[str, list[Any]]:
        """Every given dimension by parameter name, in a fixed order."""
        result: dict[str, list[Any]] = {}
        for name in (
            "input_bits",
            "input_integer_bits",
            "weight_bits",
            "bias_bits",
            "activation_bits",
            "width_multiplier",
            "hidden_layers",
            "target_sparsity",
        ):
            dimension = getattr(self, name)
            if dimension is not None:
                result[name] = choices(dimension)
        for prefix in ("accumulator_method", "accumulator_bits"):
            for group, dimension in sorted(getattr(self, prefix).items()):
                if group not in self.layer_groups:
                    raise ValueError(f"space.{prefix}.{group}: unknown layer group (see space.layer_groups)")
                result[f"{prefix}.{group}"] = choices(dimension)
        if self.learned_precision is not None:
            result["learned_precision"] = choices(self.learned_precision)
        if self.learned_beta is not None:
            result["learned_beta"] = choices(self.learned_beta)
        if self.hard_dc is not None:
            result["hard_dc"] = choices(self.hard_dc)
        return result


def _bits_values(values: list[Any]) -> list[int]:
    flat = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def _check_dimension(name: str, values: list[Any]) -> None:
    key = f"space.{name}"
    if not values:
        raise ValueError(f"{key}: empty range (no value to try)")
    base = name.split(".")[0]
    if base in (
        "input_bits",
        "input_integer_bits",
        "weight_bits",
        "bias_bits",
        "activation_bits",
        "accumulator_bits",
    ):
        flat = _bits_values(values)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
            raise ValueError(f"{key}: bit widths must be integers, got {values}")
        minimum = {"input_integer_bits": 0, "activation_bits": 1, "accumulator_bits": 2}.get(base, 2)
        if min(flat) < minimum:
            raise ValueError(f"{key}: impossible bit width {min(flat)} (must be >= {minimum})")
        if max(flat) > 32:
            raise ValueError(f"{key}: impossible bit width {max(flat)} (at most 32 in this pipeline)")
    elif base == "width_multiplier":
        if min(values) <= 0:
            raise ValueError(f"{key}: must be > 0, got {min(values)}")
    elif base == "hidden_layers":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or min(values) < 1:
            raise ValueError(f"{key}: hidden layer counts must be integers >= 1, got {values}")
    elif base == "target_sparsity":
        if min(values) < 0 or max(values) >= 1:
            raise ValueError(f"{key}: must be in [0, 1), got {values}")
    elif base == "accumulator_method":
        unknown = [v for v in values if v not in ACCUMULATOR_CHOICES]
        if unknown:
            raise ValueError(f"{key}: unknown method {unknown} (one of {list(ACCUMULATOR_CHOICES)})")
    elif base == "learned_precision":
        if not all(isinstance(v, bool) for v in values):
            raise ValueError(f"{key}: must be true or false")
        if True in values and not learned_precision_available():
            raise ValueError(f"{key}: learned precision is not available in this pipeline yet (use [false])")
    elif base == "hard_dc":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or min(values) < -1:
            raise ValueError(f"{key}: da4ml delay constraints must be integers >= -1, got {values}")
    elif base == "learned_beta" and not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        raise ValueError(f"{key}: beta must be numbers >= 0, got {values}")


def learned_precision_available() -> bool:
    """Hook for learned precision (QFX / HGQ, separate issue): True once model specs have a
    ``precision: {mode: learned}`` section; a point with ``learned_precision: true`` then sets it and
    the trial trains whatever the spec asks for."""
    from pipeline.models.spec import ModelSpec

    return "precision" in ModelSpec.model_fields


def check_against_spec(space: SearchSpace, spec: Any) -> None:
    """Check the space against the base spec: per-layer lengths, layer groups, integer bits.

    Raises ``ValueError("space.<key>: problem")``.
    """
    n_layers = len(spec.layers)
    dims = space.dimensions()
    too_deep = [count for count in dims.get("hidden_layers", []) if count > n_layers - 1]
    if too_deep:
        raise ValueError(
            f"space.hidden_layers: the base spec has {n_layers - 1} hidden layers, "
            f"cannot keep {max(too_deep)}"
        )
    for name in ("weight_bits", "bias_bits", "activation_bits"):
        for value in dims.get(name, []):
            if isinstance(value, list) and len(value) != n_layers:
                raise ValueError(f"space.{name}: a per-layer list needs {n_layers} values, got {value}")
    for group, indices in space.layer_groups.items():
        bad = [index for index in indices if not 0 <= index < n_layers]
        if bad:
            raise ValueError(f"space.layer_groups.{group}: no dense layer {bad} (the base has {n_layers})")
    input_bits = dims.get("input_bits") or [spec.input_quantizer.bits if spec.input_quantizer else 16]
    integer_bits = dims.get("input_integer_bits") or [
        spec.input_quantizer.integer_bits if spec.input_quantizer else 6
    ]
    if max(integer_bits) > min(input_bits) - 1:
        key = "input_integer_bits" if "input_integer_bits" in dims else "input_bits"
        raise ValueError(
            f"space.{key}: impossible bits: input integer_bits {max(integer_bits)} needs input bits >= "
            f"{max(integer_bits) + 1} (sign bit not counted), the space allows {min(input_bits)}"
        )
    layers = spec.resolved_layers()
    for name, attribute, signed in (
        ("weight_bits", "weight", True),
        ("bias_bits", "bias", True),
        ("activation_bits", "activation_quantizer", False),
    ):
        for value in dims.get(name, []):
            per_layer = value if isinstance(value, list) else [value] * n_layers
            for layer, bits in zip(layers, per_layer, strict=True):
                quantizer = getattr(layer, attribute)
                integer = quantizer.integer_bits if quantizer is not None else 0
                if integer > bits - int(signed):
                    raise ValueError(
                        f"space.{name}: impossible bits: {bits} bits cannot hold the base spec's "
                        f"integer_bits {integer} of {layer.dense_name}"
                    )


def point_key(point: dict[str, Any]) -> str:
    """A canonical text of a point (dedupes equal points)."""
    return json.dumps(point, sort_keys=True)


def grid_points(space: SearchSpace, limit: int, seed: int) -> list[dict[str, Any]]:
    """The grid (cartesian product); if it has more than ``limit`` points, a seeded sample of them."""
    dims = space.dimensions()
    names = list(dims)
    points = [dict(zip(names, values, strict=True)) for values in itertools.product(*dims.values())]
    if len(points) > limit:
        order = np.random.default_rng(seed).permutation(len(points))[:limit]
        points = [points[index] for index in sorted(order)]
    return points


def random_points(space: SearchSpace, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct points drawn uniformly (fewer if the space is smaller), seeded."""
    dims = space.dimensions()
    rng = np.random.default_rng(seed)
    size = int(np.prod([len(values) for values in dims.values()])) if dims else 1
    points: dict[str, dict[str, Any]] = {}
    while len(points) < min(count, size):
        point = {name: values[int(rng.integers(len(values)))] for name, values in dims.items()}
        points.setdefault(point_key(point), point)
    return list(points.values())


def _per_layer(value: Any, n_layers: int) -> list[Any]:
    return list(value) if isinstance(value, list) else [value] * n_layers


def _effective(point: dict[str, Any]) -> dict[str, Any]:
    """The point without values that change nothing: ``learned_beta`` of a fixed-precision point
    (equal models then get equal specs, so equal trial keys: trained once)."""
    if point.get("learned_precision") is False:
        return {name: value for name, value in point.items() if name != "learned_beta"}
    return point


def resolve_spec(base: Any, point: dict[str, Any], space: SearchSpace, name: str) -> dict[str, Any]:
    """The model spec (a YAML-ready mapping, every layer explicit) of ``point`` applied to ``base``.

    Validated by the caller with :func:`pipeline.models.spec.parse_spec`. ``hidden_layers`` keeps the
    base's first N hidden layers and its output layer; per-layer values and layer groups keep the base's
    layer indices (the output layer is always index ``len(base layers) - 1``).
    """
    layers = base.resolved_layers()
    n_layers = len(layers)
    if "hidden_layers" in point:
        kept = int(point["hidden_layers"])
        layers = [layer for layer in layers if layer.index < kept or layer.index == n_layers - 1]
    spec: dict[str, Any] = {
        "name": name,
        "description": f"{base.name} with {point_key(_effective(point))}",
        "input_features": base.input_features,
    }
    if base.input_quantizer is not None or "input_bits" in point:
        current = base.input_quantizer
        spec["input_quantizer"] = {
            "bits": int(point.get("input_bits", current.bits if current else 16)),
            "integer_bits": int(point.get("input_integer_bits", current.integer_bits if current else 6)),
        }
    groups = {index: group for group, indices in space.layer_groups.items() for index in indices}
    multiplier = float(point.get("width_multiplier", 1.0))
    out_layers = []
    for layer in layers:
        entry: dict[str, Any] = {"activation": layer.activation}
        last = layer.index == n_layers - 1
        entry["units"] = layer.units if last else max(1, round(layer.units * multiplier))
        for key, attribute in (
            ("weight_bits", "weight"),
            ("bias_bits", "bias"),
            ("activation_bits", "activation_quantizer"),
        ):
            quantizer = getattr(layer, attribute)
            if key in point and not (attribute == "activation_quantizer" and layer.activation == "linear"):
                bits = int(_per_layer(point[key], n_layers)[layer.index])
                integer = quantizer.integer_bits if quantizer is not None else 0
                quantizer_dict = {"bits": bits, "integer_bits": integer}
            else:
                quantizer_dict = quantizer.model_dump() if quantizer is not None else None
            if attribute != "activation_quantizer" or layer.activation == "relu":
                entry[attribute] = quantizer_dict
        method, bits = layer.accumulator_method, layer.accumulator_bits
        group = groups.get(layer.index)
        if group is not None and f"accumulator_method.{group}" in point:
            method = point[f"accumulator_method.{group}"]
            method = None if method == "none" else method
        if group is not None and f"accumulator_bits.{group}" in point:
            bits = int(point[f"accumulator_bits.{group}"])
        if method is None:
            bits = None
        elif bits is None:
            raise ValueError(f"space.accumulator_bits.{group}: method {method} needs accumulator bits")
        entry["accumulator_bits"] = bits
        entry["accumulator_method"] = method
        entry["batch_norm"] = layer.batch_norm
        out_layers.append(entry)
    spec["layers"] = out_layers
    spec["output_quantizer"] = base.output_quantizer.model_dump() if base.output_quantizer else None
    sparsity = float(point.get("target_sparsity", base.pruning.target_sparsity if base.pruning else 0.0))
    if sparsity > 0:
        pruning = base.pruning.model_dump() if base.pruning else {"schedule": "polynomial", "epochs": 10}
        pruning["target_sparsity"] = sparsity
        pruning["initial_sparsity"] = min(pruning.get("initial_sparsity", 0.0), sparsity / 2)
        spec["pruning"] = pruning
    else:
        spec["pruning"] = None
    spec["training"] = base.training.model_dump()
    base_precision = getattr(base, "precision", None)  # learned-precision hook (see above)
    if base_precision is not None:
        spec["precision"] = base_precision.model_dump()
    if point.get("learned_precision"):  # false keeps the base's precision section (or none)
        spec["precision"] = {**spec.get("precision", {}), "mode": "learned"}
        if "learned_beta" in point:
            spec["precision"]["beta"] = float(point["learned_beta"])
    return spec
