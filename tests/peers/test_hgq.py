"""HGQ as a peer (pipeline/peers/hgq.py): the proxy model read into numpy is exact, and its da4ml RTL
equals it on every jet (Verilator)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "numba_cache"))

pytest.importorskip("HGQ")


@pytest.mark.parametrize(
    ("rounding", "overflow"), [("RND", "WRAP"), ("TRN", "WRAP"), ("TRN", "SAT"), ("RND", "SAT")]
)
def test_quantize_exact_equals_hgq_fixed_point_quantizer(rounding, overflow):
    from HGQ.proxy.fixed_point_quantizer import gfixed_quantizer

    from pipeline.peers.hgq import Quantizer, quantize_exact

    rng = np.random.default_rng(0)
    size = 12
    keep = rng.integers(0, 2, size)
    bits = rng.integers(0, 9, size)
    bits[0] = 0  # a pruned element: always 0
    integers = rng.integers(-2, 5, size)
    x = (rng.normal(size=(3000, size)) * 6).astype(np.float32)
    x[:40] = np.round(x[:40] * 8) / 16  # ties
    reference = gfixed_quantizer(x, keep, bits, integers, rounding, overflow).numpy()
    ours = quantize_exact(x, Quantizer(keep, bits, integers, rounding, overflow))
    np.testing.assert_array_equal(ours, reference.astype(np.float64))


@pytest.fixture(scope="module")
def tiny_proxy():
    import tensorflow as tf
    from HGQ import FreeBOPs, ResetMinMax, to_proxy_model, trace_minmax

    from pipeline.models.training import configure_determinism, one_hot
    from pipeline.peers.hgq import build_hgq_model, read_proxy

    configure_determinism(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.3).astype(int)
    model = build_hgq_model(1e-4, seed=0, input_features=6, units=(8, 3))
    model.compile(tf.keras.optimizers.Adam(3e-3), tf.keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(x, one_hot(y, 3), epochs=2, batch_size=128, verbose=0, callbacks=[ResetMinMax(), FreeBOPs()])
    trace_minmax(model, x, cover_factor=1.0, verbose=False)
    proxy = to_proxy_model(model, aggressive=True)
    return proxy, read_proxy(proxy), x


def test_emulator_equals_hgq_proxy_on_every_sample(tiny_proxy):
    from pipeline.peers.hgq import emulate

    proxy, network, x = tiny_proxy
    assert [kind for kind, _ in network.ops][:3] == ["quantize", "dense", "quantize"]
    assert network.input_quantizer.bits.shape == (6,)  # per-feature input precision
    np.testing.assert_array_equal(emulate(network, x), proxy.predict(x, verbose=0).astype(np.float64))


@pytest.mark.slow
def test_rtl_equals_the_emulator_on_every_sample(tiny_proxy, tmp_path):
    from pipeline.peers.hgq import emulate, input_raw, trace
    from pipeline.rtl.design import compile_design, simulate_raw, write_design

    _, network, x = tiny_proxy
    traced = trace(network, 5.0)
    design = write_design(traced, tmp_path / "rtl", 5.0, "xcvu13p-flga2577-2-e")
    simulator = compile_design(design, tmp_path / "build")
    x_raw, fractional = input_raw(network, x)
    rtl = simulate_raw(simulator, x_raw, fractional, traced.output_fractional_bits)
    expected = np.round(emulate(network, x) * 2.0**traced.output_fractional_bits).astype(np.int64)
    assert rtl.shape == expected.shape
    np.testing.assert_array_equal(rtl, expected)


def test_zero_weight_fraction_counts_the_zero_weights_of_every_dense_layer(tiny_proxy):
    from pipeline.peers.hgq import ProxyNetwork, zero_weight_fraction

    _, network, _ = tiny_proxy
    kernels = [payload[0] for kind, payload in network.ops if kind == "dense"]
    expected = sum(int((k == 0).sum()) for k in kernels) / sum(k.size for k in kernels)
    assert zero_weight_fraction(network) == pytest.approx(expected)
    ops = [
        (kind, (np.where(np.arange(p[0].size).reshape(p[0].shape) % 2 == 0, 0.0, 1.0), p[1]))
        if kind == "dense"
        else (kind, p)
        for kind, p in network.ops
    ]
    assert zero_weight_fraction(ProxyNetwork(tuple(ops))) == pytest.approx(
        sum((k.size + 1) // 2 for k in kernels) / sum(k.size for k in kernels)
    )
