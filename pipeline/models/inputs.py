"""The deployed model's inputs: per-feature input precision applied where the features are computed.

A spec with ``input_feature_quantizers`` (a learned-precision model's frozen spec,
:func:`pipeline.models.learned.frozen_spec`, or a hand-written one) deploys each input feature at its
own fixed-point format, upstream of the network; the network's ``input_quantizer`` is the container
that holds every per-feature format exactly (checked by the spec). Every stage that evaluates a model
on features passes them through :func:`model_inputs` (or the whole split set through
:func:`model_dataset`) first, so its figures are those of the deployed chain: features quantized per
feature, then the network with its container input. For a spec without per-feature formats (or no
spec: a bring-your-own model) both are the identity.

How the formats travel: QONNX carries them as one ``Quant`` node per feature in front of the network
(:mod:`pipeline.deploy.feature_quant`); hls4ml 1.3 gets the graph without them
(:func:`pipeline.deploy.qonnx_fixes.strip_feature_quantizers_for_hls4ml`) and its C-simulation the
per-feature-quantized features; da4ml sizes the first layer from them
(:func:`pipeline.rtl.trace.trace_network`, ``input_formats``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pipeline.data.io import Dataset
    from pipeline.deploy.integer_network import FixedFormat
    from pipeline.models.spec import ModelSpec

SPLITS: tuple[str, ...] = ("x_train", "x_val", "x_test")


def input_formats(spec: ModelSpec | None) -> tuple[FixedFormat, ...] | None:
    """The spec's per-feature input formats as ``ap_fixed`` formats (sign in the integer bits), or
    ``None`` when the spec has none (or there is no spec)."""
    if spec is None or spec.input_feature_quantizers is None:
        return None
    from pipeline.models.learned import feature_formats

    widths = {"input_features": [fmt.model_dump() for fmt in spec.input_feature_quantizers]}
    return feature_formats(widths)


def model_inputs(spec: ModelSpec | None, features: np.ndarray) -> np.ndarray:
    """``features`` as the deployed network receives them: each column quantized to its per-feature
    format (:func:`pipeline.models.learned.quantize_features`: half to even, saturating); unchanged
    when the spec has no per-feature formats. Idempotent."""
    formats = input_formats(spec)
    if formats is None:
        return features
    from pipeline.models.learned import quantize_features

    return quantize_features(features, formats)


def model_dataset(spec: ModelSpec | None, dataset: Dataset) -> Dataset:
    """``dataset`` with every split's features passed through :func:`model_inputs` (labels, names and
    the scaler unchanged); the same object when the spec has no per-feature formats."""
    if input_formats(spec) is None:
        return dataset
    return replace(dataset, **{name: model_inputs(spec, getattr(dataset, name)) for name in SPLITS})
