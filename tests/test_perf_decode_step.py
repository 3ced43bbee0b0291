"""The scalar decode step the engine calls per iteration equals step_time and decode_times bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from sim.perf.base import BatchShape, decode_step_fn
from sim.perf.linear import LinearModel
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model

CASES = [("llama-2-7b", "a100-80gb", 1, "bf16", "bf16", "grouped"),
         ("llama-2-70b", "h100-sxm", 4, "fp8", "fp8", "per_query_head"),
         ("mixtral-8x7b", "h100-sxm", 2, "bf16", "bf16", "grouped"),
         ("llama-3-8b", "b200", 1, "fp4", "fp8", "grouped")]


@pytest.mark.parametrize("case", CASES, ids=[c[0] + "-" + c[1] for c in CASES])
def test_roofline_decode_step_is_bit_identical(case):
    name, gpu, tp, wd, kd, sharing = case
    m = RooflineModel(get_model(name), get_gpu(gpu), tp, wd, kd, kv_sharing=sharing)
    for n in (1, 2, 7, 64, 255):
        ctx = np.array([n, n * 100 + 3, n * 4000 + 17])
        vec = m.decode_times(n, ctx).tolist()
        for c, v in zip(ctx.tolist(), vec):
            ref = m.step_time(BatchShape(decode_seqs=n, decode_context_tokens=c))
            assert m.decode_step(n, c) == ref == v
            assert m.decode_step(n, c) == ref  # second call comes from the per-n cache


def test_linear_and_generic_decode_step():
    lm = LinearModel(0.01, 1e-4, 1e-3, 3e-7)
    for n, c in ((1, 10), (5, 12345)):
        ref = lm.step_time(BatchShape(decode_seqs=n, decode_context_tokens=c))
        assert lm.decode_step(n, c) == ref
        assert decode_step_fn(lm)(n, c) == ref

    class OnlyStepTime:
        def step_time(self, shape):
            return 0.5 + shape.decode_seqs * 1e-3 + shape.decode_context_tokens * 1e-6
    assert decode_step_fn(OnlyStepTime())(4, 1000) == 0.5 + 4e-3 + 1000e-6
