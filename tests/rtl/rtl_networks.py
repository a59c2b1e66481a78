"""Tiny hand-made integer networks and input grids for the ``pipeline.rtl`` tests."""

from __future__ import annotations

import numpy as np

from pipeline.deploy.integer_network import DenseLayer, FixedFormat, IntegerNetwork


def tiny_network(seed: int = 0, accumulator_bits: int = 12) -> IntegerNetwork:
    """4-3-2: signed 6-bit inputs, a relu layer with a narrow (wrapping) accumulator and a finer
    bias grid, then linear logits with a wide accumulator."""
    rng = np.random.default_rng(seed)
    f_x, f_w1, f_w2 = 3, 5, 4
    return IntegerNetwork(
        input_format=FixedFormat(6, 3, True),
        layers=(
            DenseLayer(
                "dense_1",
                rng.integers(-31, 32, (4, 3)),
                f_w1,
                rng.integers(-200, 200, 3),
                f_x + f_w1 + 2,
                FixedFormat(accumulator_bits, accumulator_bits - (f_x + f_w1), True),
                "relu",
                FixedFormat(5, 2, False),
            ),
            DenseLayer(
                "output",
                rng.integers(-31, 32, (3, 2)),
                f_w2,
                rng.integers(-40, 40, 2),
                4,
                None,
                "linear",
                None,
            ),
        ),
    )


def input_grid(network: IntegerNetwork, step: int = 3) -> np.ndarray:
    """Real inputs on the input format's grid covering its range (plus out-of-range values to saturate)."""
    fmt = network.input_format
    raw = np.arange(fmt.raw_min - 4, fmt.raw_max + 5, step)
    grid = np.stack(np.meshgrid(raw, raw[::2], raw[1::3], raw[::5], indexing="ij"), axis=-1).reshape(-1, 4)
    return (grid * 2.0**-fmt.fractional_bits).astype(np.float32)
