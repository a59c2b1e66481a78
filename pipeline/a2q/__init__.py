"""Accumulator-aware quantization for QKeras: A2Q (Colbert et al., ICCV 2023) and A2Q+ (Colbert et
al., 2024), with an exact worst-case accumulator check of the deployed (hls4ml) integer layer.

Modules: :mod:`~pipeline.a2q.bounds` (closed-form widths and L1 bounds),
:mod:`~pipeline.a2q.projection` (exact Euclidean projections onto the A2Q and A2Q+ sets, EP-init),
:mod:`~pipeline.a2q.check` (exact worst-case check; it never changes a weight),
:mod:`~pipeline.a2q.layers` (Keras training parametrisation and strip; imports TensorFlow),
:mod:`~pipeline.a2q.report` (per-layer widths for ``accumulators.json``).
"""
