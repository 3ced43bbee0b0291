"""The load factor counts the requests still in flight at the end by the tokens they were served.

Checked against hand arithmetic on a fleet whose true load factor is known: one replica serving one
request at a time (``max_num_seqs: 1``), a linear step time with no per-iteration cost (0.1 ms a
prompt token, 1 ms a decode token), 100-token prompts and two fixed output lengths, 200 ("short")
and 800 ("long"). A request then costs exactly ``0.01 + 0.001 x (o - 1)`` s of replica time whatever
else runs, a short 0.209 s and a long 0.809 s, so the work the replica did up to ``T`` is its busy
time and the true load factor is the busy share: 1.0 while its queue is never empty, and the share
of ``T`` it spent serving otherwise (M/G/1: ``rho`` = arrival rate x mean service). Every service is
longer than a third of the mean, so the saturated measurement of the scheduler factor never idles
and the factor is 1 (``sim.serving.saturated``).

Counted as at most one request of the served mix (the share of its own output done), a long
request in flight at the end read short: of its decode done, the share ``1 - 499 / 799`` (the mix's
decode over its own) went missing, a bias that shrinks as ``1 / T`` (0.976 at ten seconds of a
saturated replica).
"""
from __future__ import annotations

import numpy as np
import pytest

import sim

PREFILL_S, DECODE_S, PROMPT = 1e-4, 1e-3, 100
SHORT, LONG = 200, 800


def service(o: int) -> float:
    return PREFILL_S * PROMPT + DECODE_S * (o - 1)


def _write(path, times, outputs) -> str:
    rows = "".join(f"{t:.6f},{PROMPT},{o}\n" for t, o in zip(times, outputs))
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n" + rows)
    return str(path)


def _scenario(trace: str, duration: float) -> dict:
    return {"name": "in-flight", "seed": 1, "duration": duration, "warmup": 0, "model": "llama-2-7b",
            "workload": {"arrival": {"process": "trace", "path": trace, "format": "fleetsim"}},
            "fleet": {"router": "least_outstanding",
                      "pools": [{"name": "main", "gpu": "a100-80gb", "replicas": 1,
                                 "batching": {"max_num_seqs": 1, "max_batched_tokens": 4096}}]},
            "perf": {"model": "linear", "base_s": 0.0, "per_prefill_token_s": PREFILL_S,
                     "per_decode_token_s": DECODE_S, "per_context_token_s": 0.0},
            "slo": {"ttft_s": 1.0, "tpot_s": 0.05}, "economics": {"gpu_hour_usd": 2.0},
            "metrics": {"records": "none"}}


def _load_factor(trace: str, duration: float) -> float:
    return sim.run(_scenario(trace, duration)).summary["utilization"]["load_factor"]


PAIR = service(SHORT) + service(LONG)        # 1.018 s: a short, then a long
IN_LONG = 0.629                              # the long's first 0.629 s: its prefill and 619 decode tokens


@pytest.mark.parametrize("pairs", [9, 39, 99])
def test_a_saturated_replica_reads_one_with_a_long_request_in_flight(tmp_path, pairs):
    """A burst of alternating short and long requests at t = 0 keeps the replica busy: the true load
    factor is 1 at any ``T``. Stopped ``pairs`` pairs, a short and 0.629 s into a long (T = 10 s for
    9 pairs: 9 x 1.018 + 0.209 + 0.629), the old count credited the long with the 619 of its 799
    decode tokens at the mix's decode cost (19 completed, mean output (10 x 200 + 9 x 800) / 19 =
    484.2, so 0.01 + 0.48321 x 619 / 799 = 0.384 s of its 0.629 s): 0.9755 at T = 10 s, 1 - 0.232 / T
    as T grows. Its tokens' worth: 1.000."""
    outputs = [SHORT, LONG] * (pairs + 5)
    trace = _write(tmp_path / "burst.csv", np.zeros(len(outputs)), outputs)
    duration = pairs * PAIR + service(SHORT) + IN_LONG
    assert _load_factor(trace, duration) == pytest.approx(1.0, abs=2e-4)


def test_the_old_count_by_hand_is_what_the_fix_removes():
    """The hand arithmetic of the docstring above for T = 10 s, so the size of the correction is
    pinned by numbers worked outside the code: the old reading, the true one, and the gap of 0.245 s
    of replica time."""
    completed = 19
    out_mean = (10 * SHORT + 9 * LONG) / completed
    s_mix = PREFILL_S * PROMPT + DECODE_S * (out_mean - 1)
    served = completed * s_mix                                     # = 9 pairs and a short, 9.371 s
    assert served == pytest.approx(9 * PAIR + service(SHORT), rel=1e-12)
    old = PREFILL_S * PROMPT + DECODE_S * (out_mean - 1) * 619 / (LONG - 1)
    new = PREFILL_S * PROMPT + DECODE_S * 619                      # its tokens: 0.629 s
    assert (served + old) / 10.0 == pytest.approx(0.97554, abs=1e-5)
    assert (served + new) / 10.0 == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("cycles", [4, 29])
def test_a_replica_at_half_load_reads_its_busy_share(tmp_path, cycles):
    """A short and a long arrive together every 2 x 1.018 s: the replica serves them in 1.018 s and
    idles as long, a load factor of 0.5 over whole cycles. Stopped 0.838 s into a cycle (the short
    done, the long 0.629 s in), the true load factor is (cycles x 1.018 + 0.838) / T."""
    n = cycles + 5
    times = np.repeat(np.arange(n) * 2 * PAIR, 2)
    trace = _write(tmp_path / "half.csv", times, [SHORT, LONG] * n)
    duration = cycles * 2 * PAIR + service(SHORT) + IN_LONG
    truth = (cycles * PAIR + service(SHORT) + IN_LONG) / duration
    assert _load_factor(trace, duration) == pytest.approx(truth, abs=2e-4)


def _busy_share(times, outputs, horizon: float) -> float:
    """First come, first served, one server (Lindley): the share of ``0..horizon`` it is busy."""
    done = busy = 0.0
    for t, o in zip(times, outputs):
        if t >= horizon:
            break
        start = max(t, done)
        done = start + service(o)
        busy += max(0.0, min(done, horizon) - start)
    return busy / horizon


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_poisson_at_half_the_closed_form_capacity_reads_the_realised_busy_share(tmp_path, seed):
    """Poisson arrivals at half the capacity the closed form gives (0.5 / mean service, half shorts
    and half longs: 0.5 / 0.509 requests/s) for 60 s: whatever was in flight at the end, the load
    factor is the share of the minute the replica was busy, from the arrival times by Lindley's
    recursion (within a decode step or a prefill over the minute: 2e-4)."""
    rng = np.random.default_rng(seed)
    rate = 0.5 / (0.5 * service(SHORT) + 0.5 * service(LONG))
    times = np.cumsum(rng.exponential(1.0 / rate, 120))
    outputs = np.where(rng.random(len(times)) < 0.5, SHORT, LONG)
    trace = _write(tmp_path / "poisson.csv", times, outputs)
    assert _load_factor(trace, 60.0) == pytest.approx(_busy_share(times, outputs, 60.0), abs=2e-4)


def test_a_saturated_batch_of_64_with_lognormal_outputs_reads_one_per_unit_of_scheduler_factor():
    """64 sequences a batch, lognormal outputs (mean 250, cv 1, at most 2,048), 100-token prompts and
    a linear step of 0.01 ms a prompt token and 0.1 ms a decoding sequence, no per-iteration cost:
    a request's cost does not depend on what it is batched with, so a replica whose queue never
    empties (100 requests/s offered, about 2.6 times what it serves) does work at its batch limits
    all the time and its load factor is 1 times the scheduler factor the pool measured (whose own
    estimate stands apart: 1.0035 here for a true 1). One minute in, about 64 requests are running
    and the long ones most of them: counted as at most one request of the mix each, they read
    0.987; by their tokens, 1 within a decode step per sequence."""
    from sim.api import build_pools
    from sim.scenario.load import scenario_from_dict

    sc = {"name": "batched", "seed": 1, "duration": 60, "warmup": 0, "model": "llama-2-7b",
          "workload": {"arrival": {"process": "poisson", "rate": 100.0},
                       "prompt_tokens": {"dist": "fixed", "value": PROMPT},
                       "output_tokens": {"dist": "lognormal", "mean": 250, "cv": 1.0, "max": 2048}},
          "fleet": {"router": "least_outstanding",
                    "pools": [{"name": "main", "gpu": "a100-80gb", "replicas": 1,
                               "batching": {"max_num_seqs": 64, "max_batched_tokens": 4096}}]},
          "perf": {"model": "linear", "base_s": 0.0, "per_prefill_token_s": 1e-5, "per_decode_token_s": 1e-4,
                   "per_context_token_s": 0.0},
          "slo": {"ttft_s": 1.0, "tpot_s": 0.05}, "economics": {"gpu_hour_usd": 2.0},
          "metrics": {"records": "none"}}
    factor = build_pools(scenario_from_dict(sc), scheduler_factors=True)[0].scheduler_factor
    summary = sim.run(sc).summary
    assert summary["requests"]["in_flight"] > summary["requests"]["completed"]      # overloaded
    assert summary["utilization"]["load_factor"] / factor == pytest.approx(1.0, abs=1e-3)
