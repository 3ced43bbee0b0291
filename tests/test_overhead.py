"""CPU overheads in the roofline step model (sim.perf.overhead)."""
from __future__ import annotations

import numpy as np
import pytest

from sim.perf.base import BatchShape
from sim.perf.overhead import CpuOverhead
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model
from sim.scenario.perf import parse_perf


def _model(cpu=None):
    return RooflineModel(get_model("llama-2-7b"), get_gpu("h100-sxm"), 1, cpu=cpu)


def test_per_sequence_and_per_token_terms_add_by_hand():
    shape = BatchShape(prefill_tokens=300, prefill_seqs=2, prefill_attn_pairs=300 * 75.5, prefill_kv_tokens=300,
                       decode_seqs=40, decode_context_tokens=40 * 500)
    base = _model().step_time(shape)
    more = _model(CpuOverhead(per_seq_s=1e-5, per_token_s=1e-6)).step_time(shape)
    # 42 sampling sequences, 340 tokens
    assert more - base == pytest.approx(42 * 1e-5 + 340 * 1e-6, rel=1e-9)


def test_decode_paths_stay_bit_identical_with_batch_dependent_overhead():
    m = _model(CpuOverhead(per_seq_s=2e-5, per_token_s=3e-7))
    ctx = np.arange(1000, 1000 + 64 * 30, 64)
    ref = [m.step_time(BatchShape(decode_seqs=64, decode_context_tokens=int(c))) for c in ctx]
    assert list(m.decode_times(64, ctx)) == ref
    assert [m.decode_step(64, int(c)) for c in ctx] == ref
    steps, _ = m.decode_run(64, int(ctx[0]), len(ctx), 0.0, float("inf"))
    assert steps == ref


def test_zero_terms_leave_the_model_unchanged():
    shape = BatchShape(decode_seqs=8, decode_context_tokens=8000)
    assert _model(CpuOverhead()).step_time(shape) == _model().step_time(shape)


def test_scenario_keys_reach_the_model_and_are_checked():
    import pathlib

    from sim.perf import build_step_model
    cfg = parse_perf({"model": "roofline", "cpu_per_seq_s": 1e-5})
    sm = build_step_model(cfg, get_model("llama-2-7b"), get_gpu("h100-sxm"), 1, pathlib.Path("."))
    assert sm.cpu.per_seq_s == 1e-5 and sm.cpu.fixed_s == get_gpu("h100-sxm").efficiency("bf16").overhead_s
    with pytest.raises(ValueError, match="cpu_per_token_s"):
        parse_perf({"model": "roofline", "cpu_per_token_s": -1})


def test_streamed_tokens_cost_per_sampling_sequence_and_only_when_streaming():
    import pathlib

    from sim.perf import build_step_model
    shape = BatchShape(prefill_tokens=300, prefill_seqs=2, prefill_attn_pairs=300 * 75.5, prefill_kv_tokens=300,
                       decode_seqs=40, decode_context_tokens=40 * 500)

    def step(**perf):
        cfg = parse_perf({"model": "roofline", **perf})
        return build_step_model(cfg, get_model("llama-2-7b"), get_gpu("h100-sxm"), 1, pathlib.Path(".")).step_time(shape)
    base = step()
    # 42 sequences sample a token (2 first tokens, 40 decodes): each is one token sent to its client
    assert step(cpu_per_stream_token_s=7e-6) - base == pytest.approx(42 * 7e-6, rel=1e-9)
    assert step(cpu_per_stream_token_s=7e-6, cpu_per_seq_s=1e-5) - base == pytest.approx(42 * 17e-6, rel=1e-9)
    # an offline run returns each request once: no streaming work
    assert step(cpu_per_stream_token_s=7e-6, streaming=False) == base
    with pytest.raises(ValueError, match="cpu_per_stream_token_s"):
        parse_perf({"model": "roofline", "cpu_per_stream_token_s": -1e-6})


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_streaming_cost_lengthens_every_iteration_by_its_sampling_sequences(engine):
    """A burst of 6 requests (100 prompt, 10 output tokens): one prefill iteration where all 6 sample their
    first token, then 9 decodes of 6. Streaming 1 ms per token adds 6 ms to each of the 10 iterations."""
    import sim
    from conftest import scenario

    def makespan(**perf):
        sc = scenario(duration=1, drain=True, engine=engine, perf={"model": "roofline", **perf})
        sc["workload"]["arrival"] = {"process": "burst", "count": 6}
        return float(sim.run(sc).records["completion_s"].max())
    base = makespan()
    assert makespan(cpu_per_stream_token_s=1e-3) - base == pytest.approx(10 * 6 * 1e-3, rel=1e-9)
    assert makespan(cpu_per_stream_token_s=1e-3, streaming=False) == base
