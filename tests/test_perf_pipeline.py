"""A pipelined iteration as a cyclic flow shop (sim.perf.pipeline): micro-batches circulate through a CPU
stage and ``pp`` GPU stages without draining the pipeline. Checked against a simulation of the
recirculating schedule, and by hand where the lm head and the CPU work sit."""
import random
from dataclasses import replace

import pytest

from sim.perf.base import BatchShape
from sim.perf.overhead import CpuOverhead
from sim.perf.parallel import Layout
from sim.perf.pipeline import pipeline_cycle
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import Efficiency, get_gpu, get_model

H100 = get_gpu("h100-sxm")


def _recirculate(jobs, pp: int, rounds: int = 300) -> float:
    """The oracle: micro-batches passing, in a fixed order, a CPU stage and ``pp`` GPU stages, each a
    machine that takes one at a time; a micro-batch enters the CPU stage again only once its previous
    pass left the last stage (its sequences need the sampled token). Event by event for ``rounds``
    rounds; the steady-state cycle is the mean spacing of the last 100 rounds' ends."""
    free = [0.0] * (pp + 1)
    back = [0.0] * len(jobs)
    ends = []
    for _ in range(rounds):
        for j, (cpu, stage, last, handoff) in enumerate(jobs):
            ready = back[j]
            for k in range(pp + 1):
                start = max(free[k], ready)
                free[k] = start + (cpu if k == 0 else stage if k < pp else last)
                ready = free[k] + (handoff if 0 < k < pp else 0.0)
            back[j] = free[pp]
        ends.append(free[pp])
    return (ends[-1] - ends[-101]) / 100


def test_the_docstring_example_by_hand():
    """PP2, two equal decode micro-batches a and b; layers 10 ms on each stage, the lm head 1 ms on
    stage 2, the CPU 0.5 ms per micro-batch, a hand-off 0.1 ms (microseconds, exact). In the steady
    state a is on stage 2 while b is on stage 1; a's lap is 500 + 10000 + 100 + 11000 = 21600 and
    stage 2 runs both micro-batches in 2 x 11000 = 22000: the cycle. Draining the pipeline every
    iteration would take 500 + 10000 + 100 + 2 x 11000 = 32600."""
    jobs = [(500.0, 10_000.0, 11_000.0, 100.0)] * 2
    assert pipeline_cycle(jobs, pp=2) == 22_000.0
    assert _recirculate(jobs, 2) == pytest.approx(22_000.0, rel=1e-12)


def test_the_cycle_is_the_recirculating_schedule_for_the_micro_batches_engines_form():
    """Micro-batches dealt as engines deal whole sequences (sizes within one sequence, the prompts'
    micro-batches first, so the heavier ones lead): the largest circuit (a machine's load or a
    micro-batch's lap) is the simulated steady-state cycle, whatever the CPU, lm head and hand-offs."""
    rng = random.Random(11)
    for _ in range(400):
        pp, m = rng.randint(2, 8), rng.randint(1, 9)
        base, lm, h = rng.uniform(1, 10), rng.uniform(0, 3), rng.uniform(0, 0.5)
        cpu = rng.uniform(0, 3) if rng.random() < 0.8 else rng.uniform(0, 30)
        heavy = base * (rng.uniform(1, 20) if rng.random() < 0.5 else 1 + rng.uniform(0, 0.05))
        extra = rng.randint(0, m - 1)
        jobs = [(cpu * 1.5, heavy, heavy + lm, 2 * h)] + \
            [(cpu * 1.1, base * 1.02, base * 1.02 + lm, h)] * extra + [(cpu, base, base + lm, h)] * (m - 1 - extra)
        assert pipeline_cycle(jobs, pp) == pytest.approx(_recirculate(jobs, pp), rel=1e-9), (pp, jobs)


@pytest.mark.parametrize("layout", [Layout(tp=4, pp=2), Layout(tp=2, pp=4), Layout(tp=2, pp=4, micro_batches=3)])
def test_the_models_schedules_cycle_as_simulated(layout):
    """The schedules the roofline model builds (llama-3-70b, decodes and mixed iterations): its step
    time is the simulated recirculating schedule's cycle."""
    m = RooflineModel(get_model("llama-3-70b"), H100, layout=layout, cpu=CpuOverhead(per_seq_s=2e-5))
    for shape in (BatchShape(decode_seqs=7, decode_context_tokens=7 * 900),
                  BatchShape(decode_seqs=256, decode_context_tokens=256 * 1500),
                  BatchShape(prefill_tokens=3000, prefill_seqs=3, prefill_attn_pairs=1.5e6, prefill_kv_tokens=3000,
                             decode_seqs=5, decode_context_tokens=5000),
                  BatchShape(prefill_tokens=2048, prefill_seqs=1, prefill_attn_pairs=2048 * 2049 / 2,
                             prefill_kv_tokens=2048, decode_seqs=64, decode_context_tokens=64 * 700)):
        assert m.step_time(shape) == pytest.approx(_recirculate(m.pipeline_schedule(shape), layout.pp), rel=1e-9)


def test_an_empty_pipeline_takes_no_time():
    assert pipeline_cycle([], pp=3) == 0.0


def test_the_lm_head_runs_on_the_last_stage_and_the_cpu_once_per_micro_batch():
    """llama-3-70b TP4 x PP2, 8 decodes in 2 micro-batches of 4: each job is the CPU work of its
    micro-batch, stage 1 (its layers) and stage 2 (the same layers + the lm head)."""
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
    # with the CPU work a micro-batch's lap (CPU, stage 1, hand-off, stage 2) is longer than stage 2's load
    assert cpu + first + handoff + last > 2 * last
    assert m.step_time(shape) == pytest.approx(cpu + first + handoff + last, rel=1e-12)
    # the engine's pure-decode path builds the same schedule
    assert m.decode_step(8, 8000) == m.step_time(shape)


def test_a_full_pipeline_beats_draining_it():
    """Two micro-batches on PP2 without CPU work, lm head or hand-off time: the stages take turns and
    the pipeline never drains, so a cycle is 2 slots, not the 3 of fill, run and drain."""
    llama = replace(get_model("llama-3-70b"), vocab=0)
    eff = H100.efficiency("bf16")
    m = RooflineModel(llama, H100, layout=Layout(tp=4, pp=2), efficiency=Efficiency(
        eff.flops_efficiency, eff.bw_efficiency, 0.0))
    (cpu, t, last, h), second = m.pipeline_schedule(BatchShape(decode_seqs=8, decode_context_tokens=8000))
    assert cpu == 0.0 and t == last and second == (cpu, t, last, h)
    assert m.step_time(BatchShape(decode_seqs=8, decode_context_tokens=8000)) == 2 * t + h


def test_a_huge_vocabulary_makes_the_last_stage_the_bottleneck():
    """A 2-layer model with a 2-million-token vocabulary on PP2: stage 2's lm head (a 16 GB table in
    bf16) dwarfs one layer, so the cycle is stage 2 running every micro-batch: m x (layers + lm head)."""
    tiny = replace(get_model("llama-2-7b"), n_layers=2, vocab=2_000_000)
    m = RooflineModel(tiny, H100, layout=Layout(tp=1, pp=2, micro_batches=4))
    shape = BatchShape(decode_seqs=16, decode_context_tokens=16 * 500)
    jobs = m.pipeline_schedule(shape)
    assert len(jobs) == 4 and len(set(jobs)) == 1
    cpu, layers, last, handoff = jobs[0]
    assert last > 30 * layers and last > 3 * cpu
    assert m.step_time(shape) == 4 * last > cpu + layers + handoff + last


def test_a_slow_scheduler_is_a_serial_cpu_stage():
    """CPU work of 10 ms per sequence dwarfs the GPU: the CPU prepares the two micro-batches of 4 one
    after the other (40 ms each), and the cycle is the CPU's load, 2 x 40 ms."""
    llama = get_model("llama-3-70b")
    eff = H100.efficiency("bf16")
    m = RooflineModel(llama, H100, layout=Layout(tp=4, pp=2), efficiency=Efficiency(
        eff.flops_efficiency, eff.bw_efficiency, 0.0), cpu=CpuOverhead(per_seq_s=0.01))
    cpu, first, last, handoff = m.pipeline_schedule(BatchShape(decode_seqs=8, decode_context_tokens=8000))[1]
    assert cpu == 0.04 and cpu > first + handoff + last
    assert m.step_time(BatchShape(decode_seqs=8, decode_context_tokens=8000)) == 2 * cpu


def test_the_module_examples_hold():
    import doctest

    import sim.perf.parallel
    import sim.perf.pipeline
    import sim.perf.roofline

    for module in (sim.perf.pipeline, sim.perf.parallel, sim.perf.roofline):
        assert doctest.testmod(module).failed == 0, module.__name__
