"""A pipelined iteration as a permutation flow shop (sim.perf.pipeline): hand-worked Gantt charts, the
proportionate flow shop's closed form, and where the lm head and the CPU work sit."""
import random
from dataclasses import replace

import pytest

from sim.perf.base import BatchShape
from sim.perf.overhead import CpuOverhead
from sim.perf.parallel import Layout
from sim.perf.pipeline import pipeline_makespan
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import Efficiency, get_gpu, get_model

H100 = get_gpu("h100-sxm")


def _old_formula(t: list[float], h: list[float], pp: int) -> float:
    """The proportionate flow shop: ``sum_j t_j + (pp - 1) * max_j (t_j + h_j)`` (every stage equal)."""
    return sum(t) + (pp - 1) * max(a + b for a, b in zip(t, h))


def test_the_brief_example_by_gantt_chart():
    """PP2, two equal decode micro-batches a and b; their layers take 10 ms on each stage, the lm head
    1 ms on stage 2, the CPU 0.5 ms per micro-batch, a hand-off 0.1 ms (microseconds below, exact)::

        CPU   a 0-500 | b 500-1000
        GPU1          a 500-10500 | b 10500-20500
        GPU2                 (hand-off 10500-10600) a 10600-21600 | b 21600-32600

    Stage 2 (layers + lm head) is the bottleneck from a's arrival on: 500 + 10000 + 100 + 2 x 11000.
    Every stage paying the lm head and the CPU as one 11.5 ms slot would give 2 x 11500 + 11600 = 34600."""
    assert pipeline_makespan([(500.0, 10_000.0, 11_000.0, 100.0)] * 2, pp=2) == 32_600.0
    assert _old_formula([11_500.0] * 2, [100.0] * 2, 2) == 34_600.0


def test_equal_stages_give_the_old_formula_exactly():
    """Lm head and CPU at zero: every GPU stage takes t_j for micro-batch j, and the flow shop is the
    proportionate one. PP3, micro-batches of 10, 7 and 12 ms with hand-offs 0.5, 0.25, 0.125 ms:
    29 + 2 x max(10.5, 7.25, 12.125) = 53.25 ms."""
    t, h = [10.0, 7.0, 12.0], [0.5, 0.25, 0.125]
    assert pipeline_makespan([(0.0, x, x, y) for x, y in zip(t, h)], pp=3) == _old_formula(t, h, 3) == 53.25
    # any sizes, stage counts and hand-offs (multiples of 1/64: every sum exact in floating point)
    rng = random.Random(7)
    for _ in range(300):
        m, pp = rng.randint(1, 6), rng.randint(2, 5)
        t = [rng.randint(1, 2000) / 64 for _ in range(m)]
        h = [rng.randint(0, 200) / 64 for _ in range(m)]
        assert pipeline_makespan([(0.0, x, x, y) for x, y in zip(t, h)], pp) == _old_formula(t, h, pp)


def test_an_empty_flow_shop_takes_no_time():
    assert pipeline_makespan([], pp=3) == 0.0


def test_the_lm_head_runs_on_the_last_stage_and_the_cpu_once_per_micro_batch():
    """llama-3-70b TP4 x PP2, 8 decodes in 2 micro-batches of 4: each job of the flow shop is the CPU
    work of its micro-batch, stage 1 (its layers) and stage 2 (the same layers + the lm head)."""
    m = RooflineModel(get_model("llama-3-70b"), H100, layout=Layout(tp=4, pp=2))
    shape = BatchShape(decode_seqs=8, decode_context_tokens=8000)
    jobs = m.pipeline_schedule(shape)
    four = m.breakdown(BatchShape(decode_seqs=4, decode_context_tokens=4000))
    assert len(jobs) == 2 and jobs[0] == jobs[1]
    cpu, first, last, handoff = jobs[0]
    assert cpu == four.overhead_s == m.efficiency.overhead_s > 0   # the catalog fixed overhead, once per micro-batch
    assert last - first == pytest.approx(four.lm_head_s, rel=1e-9)
    assert first == pytest.approx(four.linear_s + four.attention_s + four.activation_s + four.comm_s, rel=1e-12)
    assert handoff > 0.0
    assert m.step_time(shape) == pipeline_makespan(jobs, 2)
    # the engine's pure-decode path builds the same schedule
    assert m.decode_step(8, 8000) == m.step_time(shape)


def test_a_huge_vocabulary_makes_the_last_stage_the_bottleneck():
    """A 2-layer model with a 2-million-token vocabulary on PP2: stage 2's lm head (a 16 GB table in
    bf16) dwarfs one layer, so after the first micro-batch reaches it the iteration is stage 2 running
    every micro-batch: CPU + stage 1 + hand-off + m x (layers + lm head)."""
    tiny = replace(get_model("llama-2-7b"), n_layers=2, vocab=2_000_000)
    m = RooflineModel(tiny, H100, layout=Layout(tp=1, pp=2, micro_batches=4))
    shape = BatchShape(decode_seqs=16, decode_context_tokens=16 * 500)
    jobs = m.pipeline_schedule(shape)
    assert len(jobs) == 4
    cpu, layers, last, handoff = jobs[0]
    assert last > 30 * layers and last > 3 * cpu
    assert m.step_time(shape) == pytest.approx(cpu + layers + handoff + 4 * last, rel=1e-12)
    # every stage paying the lm head and the CPU (the old rule: m + pp - 1 = 5 slots of CPU + layers + lm
    # head) cost one lm head more (the bubble's) and the CPU work 4 times more
    lm = last - layers
    old = _old_formula([cpu + last] * 4, [handoff] * 4, 2)
    assert old - m.step_time(shape) == pytest.approx(lm + 4 * cpu, rel=1e-9)


def test_a_slow_scheduler_is_a_serial_cpu_stage():
    """CPU work of 10 ms per sequence dwarfs the GPU: the CPU prepares the two micro-batches of 4 one
    after the other (40 ms each), and the second then runs both GPU stages:
    2 x CPU + stage 1 + hand-off + stage 2 (every stage paying the CPU would take 3 x CPU and more)."""
    llama = get_model("llama-3-70b")
    eff = H100.efficiency("bf16")
    m = RooflineModel(llama, H100, layout=Layout(tp=4, pp=2), efficiency=Efficiency(
        eff.flops_efficiency, eff.bw_efficiency, 0.0), cpu=CpuOverhead(per_seq_s=0.01))
    cpu, first, last, handoff = m.pipeline_schedule(BatchShape(decode_seqs=8, decode_context_tokens=8000))[1]
    assert cpu == 0.04 and cpu > first + last
    assert m.step_time(BatchShape(decode_seqs=8, decode_context_tokens=8000)) == pytest.approx(
        2 * cpu + first + handoff + last, rel=1e-12)


@pytest.mark.parametrize("layout", [Layout(tp=4, pp=2), Layout(tp=2, pp=4, micro_batches=3)])
def test_without_lm_head_and_cpu_the_pipeline_is_the_proportionate_flow_shop(layout):
    """A model with no vocabulary and no CPU overhead: every stage takes the same time per micro-batch,
    and the step time is the old closed form (to rounding: the two sum in different orders)."""
    llama = replace(get_model("llama-3-70b"), vocab=0)
    eff = H100.efficiency("bf16")
    m = RooflineModel(llama, H100, layout=layout, efficiency=Efficiency(eff.flops_efficiency, eff.bw_efficiency, 0.0))
    for shape in (BatchShape(decode_seqs=7, decode_context_tokens=7 * 900),
                  BatchShape(prefill_tokens=3000, prefill_seqs=3, prefill_attn_pairs=1.5e6, prefill_kv_tokens=3000,
                             decode_seqs=5, decode_context_tokens=5000)):
        jobs = m.pipeline_schedule(shape)
        assert all(cpu == 0.0 and stage == last for cpu, stage, last, _ in jobs)
        t, h = [job[1] for job in jobs], [job[3] for job in jobs]
        assert m.step_time(shape) == pytest.approx(_old_formula(t, h, layout.pp), rel=1e-14)


def test_the_module_examples_hold():
    import doctest

    import sim.perf.parallel
    import sim.perf.pipeline
    import sim.perf.roofline

    for module in (sim.perf.pipeline, sim.perf.parallel, sim.perf.roofline):
        assert doctest.testmod(module).failed == 0, module.__name__
