"""Review of the roofline decode shortcut and the fluid tier's burst warnings.

1. ``RooflineModel.decode_run`` skips the attention FLOPs side of ``max`` where ``_decode_memory_bound``
   holds. Every catalog GPU x model x tensor-parallel size x kernel set (and attention rates tuned to
   within 1e-12 .. 1e-6 of a tie with the KV read) must give, iteration by iteration, the very float
   ``step_time`` gives (the reference engine's clock), whichever loop it takes.
"""
from __future__ import annotations

import math
import pytest

from sim.perf.base import BatchShape
from sim.perf.kernels import KERNEL_SETS, KernelSet
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model, gpu_names, model_names


def _by_steps(m: RooflineModel, n: int, ctx: int, k: int, t: float):
    steps, ends = [], []
    for i in range(k):
        dt = m.step_time(BatchShape(decode_seqs=n, decode_context_tokens=ctx + i * n))
        t = t + dt
        steps.append(dt)
        ends.append(t)
    return steps, ends


def _bits(run):
    return [x.hex() for x in run[0]], [x.hex() for x in run[1]]


def test_decode_run_is_step_time_on_every_catalog_configuration():
    """Every GPU x model at tp 1 and 8 under every kernel set: ``decode_run`` (shortcut or general loop)
    is ``step_time`` bit for bit at short, long and very long contexts. Both loops are exercised: the
    H20 under the pytorch kernel set is not memory-bound on the larger models."""
    taken = {True: 0, False: 0}
    for g in gpu_names():
        for name in model_names():
            for tp in (1, 8):
                for ks in KERNEL_SETS.values():
                    m = RooflineModel(get_model(name), get_gpu(g), tp, kernels=ks)
                    if m.decode_run is None:    # sliding windows, MLA: the engine steps through step_time
                        continue
                    taken[m._decode_memory_bound] += 1
                    for n, ctx in ((1, 1), (64, 64 * 4001 + 3)):
                        assert _bits(m.decode_run(n, ctx, 12, 7.75, math.inf)) == _bits(_by_steps(m, n, ctx, 12, 7.75)), \
                            (g, name, tp, ks.name, n, ctx)
    assert taken[True] > 1000 and taken[False] > 0


@pytest.mark.parametrize("eps", [-1e-6, -1e-12, 0.0, 1e-12, 9.9e-10, 1.01e-9, 1e-8])
def test_decode_run_when_the_two_slopes_nearly_tie(eps):
    """The attention FLOPs' slope set to the KV read's over ``1 + eps``: on either side of the 1e-9 margin
    (shortcut taken or not) every step is ``step_time``'s, up to contexts of 2**40 tokens."""
    base = RooflineModel(get_model("llama-3-8b"), get_gpu("h100-sxm"), 1)
    ratio = (base._attn_flops_per_pair / base._attn_peak) / (base._decode_kv_read_bytes_per_token / base._attn_bw)
    frac = get_gpu("h100-sxm").attention_efficiency("decode", base.efficiency) * ratio * (1 + eps)
    m = RooflineModel(get_model("llama-3-8b"), get_gpu("h100-sxm"), 1,
                      kernels=KernelSet("tied", attention_flops_fraction=frac))
    assert m._decode_memory_bound is (eps > 1e-9)
    for n in (1, 3, 256):
        for ctx in (n, n * 1_000_003, n * 2 ** 40 + 7):
            assert _bits(m.decode_run(n, ctx, 40, 1.0, math.inf)) == _bits(_by_steps(m, n, ctx, 40, 1.0))
