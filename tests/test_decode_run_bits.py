"""The roofline's ``decode_run`` (the fast engine's hot loop) against the step model's own definition.

Each iteration of a run must be the very float :meth:`RooflineModel.step_time` gives for a pure-decode
batch of that context, and each end the sequential sum ``t = t + step`` (the reference engine's clock),
bit for bit: on memory-bound configurations (every bundled one: the KV read wins ``max``) and on a
configuration made compute-bound on purpose (the attention FLOPs win).
"""
from __future__ import annotations

import math

import pytest

from sim.perf.base import BatchShape
from sim.perf.kernels import KERNEL_SETS, KernelSet
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model

PYTORCH = KERNEL_SETS["pytorch"]
#: attention FLOPs at a millionth of the GPU's rate: a decode step's attention is then compute-bound
SLOW_FLOPS = KernelSet("slow-attention-flops", attention_flops_fraction=1e-6)

CASES = [("llama-3-8b", "h100-sxm", 1, None), ("llama-2-7b", "a100-80gb", 1, PYTORCH),
         ("llama-2-70b", "h100-sxm", 4, None), ("mixtral-8x7b", "b200", 2, None),
         ("llama-3-8b", "h100-sxm", 1, SLOW_FLOPS)]


def _model(name: str, gpu: str, tp: int, kernels) -> RooflineModel:
    return RooflineModel(get_model(name), get_gpu(gpu), tp, kernels=kernels)


def _by_steps(m: RooflineModel, n: int, ctx: int, k: int, t: float, stop: float):
    """The run as the reference engine clocks it: one ``step_time`` per iteration."""
    steps, ends = [], []
    for i in range(k):
        dt = m.step_time(BatchShape(decode_seqs=n, decode_context_tokens=ctx + i * n))
        t = t + dt
        steps.append(dt)
        ends.append(t)
        if t >= stop:
            break
    return steps, ends


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-tp{c[2]}-{c[3].name if c[3] else 'default'}"
                                             for c in CASES])
def test_decode_run_is_step_time_iteration_by_iteration(case):
    m = _model(*case)
    for n in (1, 7, 64, 256):
        for ctx in (n, n * 333 + 5, n * 8000 + 1):
            want = _by_steps(m, n, ctx, 90, 12.5, math.inf)
            assert m.decode_run(n, ctx, 90, 12.5, math.inf) == want
            assert [m.decode_step(n, ctx + i * n) for i in range(90)] == want[0]
            # cut by an event: the run stops after the first end at or after it
            stop = want[1][40] - 1e-9
            cut = m.decode_run(n, ctx, 90, 12.5, stop)
            assert cut == (want[0][:41], want[1][:41])
            assert cut[1][-1] >= stop > cut[1][-2]


def test_both_sides_of_max_are_exercised():
    """Which side of ``max`` wins: the KV read on a bundled configuration, the FLOPs with SLOW_FLOPS
    (otherwise the test above would not check the compute-bound case)."""
    for kernels, flops_win in ((None, False), (SLOW_FLOPS, True)):
        m = _model("llama-3-8b", "h100-sxm", 1, kernels)
        _, kv_fixed, _, read, flops, peak, bw = m._decode_terms(8)
        ctx = 8 * 4000
        assert (flops * ctx / peak > (kv_fixed + read * ctx) / bw) is flops_win


def test_memory_bound_shortcut_is_taken_only_where_the_kv_read_always_wins():
    """``decode_run`` skips the FLOPs side of ``max`` when the KV read's slope beats the FLOPs' (every
    bundled configuration); made compute-bound, the FLOPs win at a large context and it must not."""
    assert _model("llama-3-8b", "h100-sxm", 1, None)._decode_memory_bound
    assert _model("llama-2-70b", "h100-sxm", 4, None)._decode_memory_bound
    assert not _model("llama-3-8b", "h100-sxm", 1, SLOW_FLOPS)._decode_memory_bound


@pytest.mark.parametrize("fraction", [3e-3, 1e-2, 1.05e-2, 1.066e-2, 1.0663e-2, 1.07e-2, 1.2e-2])
def test_decode_run_near_the_crossover(fraction):
    """Attention FLOPs slowed until the two sides of ``max`` cross inside a run (the KV read wins at
    small contexts, where the batch's own KV writes add to it, the FLOPs at large ones) or nearly tie
    (their slopes are equal near 1.0663e-2 on this pair): each step is still ``step_time``'s, bit for
    bit, whichever loop ``decode_run`` takes. The runs start 100 iterations before the crossover."""
    m = _model("llama-3-8b", "h100-sxm", 1, KernelSet("slowed", attention_flops_fraction=fraction))
    for n in (1, 16, 128):
        _, kv_fixed, _, read, flops, peak, bw = m._decode_terms(n)
        gap = flops / peak - read / bw
        cross = kv_fixed / bw / gap if gap > 0 else 1e6
        for ctx in (n, max(n, int(min(cross, 1e7)) - 100 * n), n * 6000):
            want = _by_steps(m, n, ctx, 200, 3.25, math.inf)
            assert m.decode_run(n, ctx, 200, 3.25, math.inf) == want
