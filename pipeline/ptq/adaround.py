"""Learned rounding of the weights (AdaRound) with the whole network as the reconstruction block.

Round-to-nearest and GPTQ choose each weight's grid point from the layer alone. AdaRound (Nagel et
al., "Up or Down? Adaptive Rounding for Post-Training Quantization", ICML 2020) learns, for every
weight, whether to round down or up: with ``s`` the weight step of the chosen format,

    W_q = s * clip(floor(W / s) + h(V), code_min, code_max),
    h(V) = clip(sigmoid(V) * (zeta - gamma) + gamma, 0, 1),  zeta = 1.1, gamma = -0.1,

``V`` initialised so that ``h(V)`` equals the fractional part of ``W / s`` (the soft network starts
at the float weights), and the loss is a reconstruction error plus ``lambda * sum(1 - |2 h(V) - 1|**beta)``
with ``beta`` annealed from 20 to 2 after a warm-up, which drives every ``h`` to 0 or 1. BRECQ (Li et
al., ICLR 2021) reconstructs blocks instead of single layers; the jet tagger is small enough to be one
block: the reconstruction error here is the KL divergence between the float network's and the
quantized network's class probabilities on the unlabeled calibration jets
(:func:`pipeline.ptq.search.output_divergence`), with the chosen input, bias and activation formats in
the forward pass (straight-through rounding for the activations), so the rounding compensates the
activation quantization too -- what per-layer methods cannot see, and what limits 4-bit PTQ on jets
(``benchmarks/results/ptq_ablation.json``). The minifloat PTQ study (Aggarwal et al. 2023) lists
learned rounding among the PTQ techniques it combines.

Formats, biases and equalization are those of the start (the GPTQ result, with searched formats when
asked); only the up/down choice of each weight changes, so every weight stays within one step of the
(equalized) float weight and on the QKeras grid of its format.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.ptq.fixed_point import quantize
from pipeline.ptq.mmse import PTQResult, PTQSettings

ZETA, GAMMA = 1.1, -0.1  # AdaRound's stretch of the rectified sigmoid


@dataclass(frozen=True)
class AdaRoundSettings:
    """The optimisation: Adam on minibatches of calibration jets; ``regularization`` is lambda, applied
    after ``warmup`` (fraction of the iterations) while beta goes linearly from ``beta_start`` to
    ``beta_end`` (AdaRound's schedule)."""

    iterations: int = 2000
    batch_size: int = 500
    learning_rate: float = 1e-2
    regularization: float = 0.01
    warmup: float = 0.2
    beta_start: float = 20.0
    beta_end: float = 2.0


def learned_rounding(
    weights: Sequence[tuple[np.ndarray, np.ndarray]],
    start: PTQResult,
    calibration: np.ndarray,
    settings: PTQSettings,
    options: AdaRoundSettings | None = None,
    seed: int = 0,
) -> PTQResult:
    """``start`` with every weight's rounding learned on ``calibration`` (AdaRound, network-wise).

    ``weights`` are the float weights ``start`` was quantized from, after its equalization
    (:func:`pipeline.ptq.mmse.prepared_weights`). Contract: formats and biases are ``start``'s; every
    weight is ``floor`` or ``ceil`` of its float value on its format's grid (saturated at the format's
    ends), so the result is an ordinary :class:`PTQResult` that deploys like any other; the same
    inputs and ``seed`` give the same result (minibatches drawn from a seeded NumPy generator, no TF
    randomness). ``settings`` is recorded in the result (``rounding: adaround``).
    """
    import tensorflow as tf

    from pipeline.ptq.search import float_logits

    options = options or AdaRoundSettings()
    calibration = np.asarray(calibration, dtype=np.float64)
    formats = start.settings
    inputs = quantize(calibration, formats.input_bits, start.input_integer_bits, signed=True)
    teacher = tf.nn.softmax(tf.constant(float_logits(weights, calibration), tf.float32))
    code_min, code_max = -(2 ** (formats.weight_bits - 1)), 2 ** (formats.weight_bits - 1) - 1
    rounding, layers = [], []
    for (kernel, _), layer in zip(weights, start.layers, strict=True):
        step = 2.0 ** (layer.weight_integer_bits - formats.weight_bits + 1)
        scaled = np.asarray(kernel, dtype=np.float64) / step
        floor = np.floor(scaled)
        rest = np.clip(scaled - floor, 0.01, 0.99)
        rounding.append(tf.Variable(-np.log((ZETA - GAMMA) / (rest - GAMMA) - 1.0), dtype=tf.float32))
        activation = None
        if layer.activation_integer_bits is not None:
            activation_step = 2.0 ** (layer.activation_integer_bits - formats.activation_bits)
            activation = (activation_step, 2.0**layer.activation_integer_bits - activation_step)
        layers.append((tf.constant(floor, tf.float32), step, tf.constant(layer.bias, tf.float32), activation))

    def soft(variable: tf.Variable) -> tf.Tensor:
        return tf.clip_by_value(tf.sigmoid(variable) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)

    def logits(x: tf.Tensor) -> tf.Tensor:
        for variable, (floor, step, bias, activation) in zip(rounding, layers, strict=True):
            kernel = step * tf.clip_by_value(floor + soft(variable), code_min, code_max)
            x = tf.matmul(x, kernel) + bias
            if activation is not None:
                activation_step, top = activation
                scaled = tf.nn.relu(x) / activation_step
                rounded = scaled + tf.stop_gradient(tf.round(scaled) - scaled)  # straight-through
                x = tf.clip_by_value(activation_step * rounded, 0.0, top)
        return x

    optimizer = tf.keras.optimizers.Adam(options.learning_rate)

    @tf.function
    def step_once(x: tf.Tensor, target: tf.Tensor, beta: tf.Tensor, weight: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            log_probabilities = tf.nn.log_softmax(logits(x))
            divergence = tf.reduce_mean(
                tf.reduce_sum(target * (tf.math.log(target + 1e-30) - log_probabilities), axis=1)
            )
            penalty = tf.add_n([tf.reduce_sum(1.0 - tf.abs(2.0 * soft(v) - 1.0) ** beta) for v in rounding])
            loss = divergence + weight * penalty
        optimizer.apply_gradients(zip(tape.gradient(loss, rounding), rounding, strict=True))

    rng = np.random.default_rng(seed)
    inputs32 = inputs.astype(np.float32)
    batch = min(options.batch_size, len(inputs32))
    warmup = int(options.warmup * options.iterations)
    for iteration in range(options.iterations):
        rows = rng.choice(len(inputs32), batch, replace=False)
        progress = max(0.0, (iteration - warmup) / max(1, options.iterations - warmup))
        beta = options.beta_start + (options.beta_end - options.beta_start) * progress
        step_once(
            tf.constant(inputs32[rows]),
            tf.gather(teacher, rows),
            tf.constant(beta, tf.float32),
            tf.constant(0.0 if iteration < warmup else options.regularization, tf.float32),
        )
    quantized = []
    for variable, layer, (floor, step, _, _) in zip(rounding, start.layers, layers, strict=True):
        up = variable.numpy() >= 0.0  # h(V) >= 1/2
        kernel = step * np.clip(floor.numpy().astype(np.float64) + up, code_min, code_max)
        quantized.append(dataclasses.replace(layer, weight=kernel))
    return PTQResult(settings=settings, input_integer_bits=start.input_integer_bits, layers=tuple(quantized))
