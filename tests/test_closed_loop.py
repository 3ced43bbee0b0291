"""Closed-loop clients (``workload.arrival: {process: closed, ...}``) against queueing theory.

With the linear step-time model, ``max_num_seqs: 1`` and single-token outputs, every request is
one prefill iteration of ``per_prefill_token_s x prompt`` seconds on one server, FCFS: a closed
network of ``N`` clients (a delay station of think time ``Z``) and one queue.

* Zero think time and a deterministic service ``D``: the server never idles, a completion every
  ``D`` (throughput ``1 / D``), and once the start-up wave has passed every request waits for the
  ``N - 1`` ahead of it: response ``N D``.
* Exponential think and service: the machine-repairman model M/M/1//N, whose exact throughput is
  ``X = (1 - p0) / S`` with ``p0 = 1 / sum_{k=0..N} N! / (N-k)! (S / Z)^k``. Service is ``0.001 x``
  the prompt, ``ceil(Exp(1000))`` tokens: mean ``S = 0.001 / (1 - exp(-1/1000)) = 1.0005 s``,
  squared coefficient of variation 0.999 (geometric; the model's exponential has 1). Replications
  (seeds 1..R) give i.i.d. estimates of X; their 99 % interval must contain the theory and be
  narrower than 5 % of it.
* On any run, the interactive response-time law ``R = N / X - Z`` (Little's law over the clients).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats as sps

import sim
from sim.api import COMPLETED
from sim.cli import main

from conftest import scenario
from test_queueing_theory import LONG_CONTEXT_MODEL

EXP_SERVICE_S = 0.001 / (1.0 - math.exp(-1.0 / 1000.0))


def _closed(*, n: int, think_s: float = 0.0, think: str = "fixed", prompt: dict, seed: int = 3,
            duration: float = 100.5, warmup: float = 10.5, replicas: int = 1, model: str | None = None) -> dict:
    sc = scenario(seed=seed, duration=duration, warmup=warmup, metrics={"interval": 1.0, "records": "all"},
                  model=LONG_CONTEXT_MODEL if model is None else model)
    sc["workload"] = {"arrival": {"process": "closed", "concurrency": n, "think_time_s": think_s, "think": think},
                      "prompt_tokens": prompt, "output_tokens": {"dist": "fixed", "value": 1}}
    sc["fleet"] = {"pools": [{"name": "server", "gpu": "a100-80gb", "replicas": replicas,
                              "batching": {"max_num_seqs": 1, "max_batched_tokens": 200_000}}]}
    sc["perf"] = {"model": "linear", "base_s": 0.0, "per_prefill_token_s": 0.001, "per_decode_token_s": 0.0,
                  "per_context_token_s": 0.0}
    return sc


def repairman_throughput(n: int, service_s: float, think_s: float) -> float:
    """M/M/1//N (machine repairman) throughput ``(1 - p0) / S``."""
    r = service_s / think_s
    p0 = 1.0 / sum(math.factorial(n) / math.factorial(n - k) * r ** k for k in range(n + 1))
    return (1.0 - p0) / service_s


@pytest.mark.parametrize("n", [1, 4, 9])
def test_zero_think_deterministic_service_is_one_over_d_and_n_times_d(n):
    """D = 1000 tokens x 1 ms = 1 s exactly. Completions fall at 1, 2, 3, ... s; the window
    [10.5, 100.5) holds 90 of them: 90 / 90 s = 1 / D. Requests sent after the warm-up each wait
    for the other N - 1 clients' requests and their own: N x D."""
    r = sim.run(_closed(n=n, prompt={"dist": "fixed", "value": 1000}))
    s = r.summary
    assert s["throughput"]["requests_per_s"] == 1.0
    assert s["latency"]["e2e"]["mean"] == float(n)
    assert s["latency"]["e2e"]["p99"] == float(n)
    done = r.records[r.records["status"] == COMPLETED]
    assert sorted(done["completion_s"].tolist()) == [float(k) for k in range(1, 101)]   # one every D, no idle
    assert s["requests"]["in_flight"] == n            # every client holds one request at the end
    assert s["requests"]["arrived"] == s["requests"]["completed"] + n


def _mm1n(seed: int):
    return sim.run(_closed(n=5, think_s=4.0, think="exponential", prompt={"dist": "exponential", "mean": 1000},
                           seed=seed, duration=3000, warmup=100))


def test_machine_repairman_throughput_and_response_time_law():
    n, z = 5, 4.0
    runs = [_mm1n(seed) for seed in range(1, 9)]
    x = np.array([r.summary["throughput"]["requests_per_s"] for r in runs])
    theory = repairman_throughput(n, EXP_SERVICE_S, z)
    m = float(x.mean())
    half = float(sps.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    assert half < 0.05 * theory, (m, half, theory)
    assert abs(m - theory) <= half, (m, half, theory)
    # the response-time law on each measured run: N / X = R + (the run's mean think time), whose
    # mean of k exponential draws is Z within 4 Z / sqrt(k); 1 % more for the window's edges
    for r in runs:
        rx = r.summary["throughput"]["requests_per_s"]
        k = r.summary["requests"]["completed"]
        resp = r.summary["latency"]["e2e"]["mean"]
        assert abs(resp - (n / rx - z)) <= 4 * z / math.sqrt(k) + 0.01 * resp, (resp, n / rx - z, k)
    # and the exact M/M/1//N response time, N / X - Z, inside the replications' interval
    resp = np.array([r.summary["latency"]["e2e"]["mean"] for r in runs])
    half_r = float(sps.t.ppf(0.995, len(resp) - 1) * resp.std(ddof=1) / math.sqrt(len(resp)))
    assert abs(float(resp.mean()) - (n / theory - z)) <= half_r, (resp.mean(), half_r, n / theory - z)


def test_response_time_law_with_fixed_think_and_batching():
    """Little's law over the clients holds whatever the server does: a batching replica (default
    batching of the small scenario) with lognormal prompts and outputs, fixed think time."""
    n, z = 16, 2.0
    sc = scenario(seed=5, duration=2000, warmup=100)
    sc["workload"] = {"arrival": {"process": "closed", "concurrency": n, "think_time_s": z},
                      "prompt_tokens": {"dist": "lognormal", "mean": 400, "cv": 1.0, "max": 2000},
                      "output_tokens": {"dist": "lognormal", "mean": 100, "cv": 1.0, "max": 500}}
    s = sim.run(sc).summary
    x = s["throughput"]["requests_per_s"]
    assert s["latency"]["e2e"]["mean"] == pytest.approx(n / x - z, rel=0.02)


def test_same_seed_same_bytes_and_seed_moves_think_times():
    sc = _closed(n=5, think_s=4.0, think="exponential", prompt={"dist": "exponential", "mean": 1000},
                 duration=400, warmup=0)
    a, b = sim.run(sc), sim.run(sc)
    assert a.records.tobytes() == b.records.tobytes()
    drop = lambda s: json.dumps({k: v for k, v in s.items() if k != "wall_seconds"}, sort_keys=True)  # noqa: E731
    assert drop(a.summary) == drop(b.summary)
    c = sim.run({**sc, "seed": 4})
    assert c.records.tobytes() != a.records.tobytes()


def test_clients_start_together_and_each_has_one_request_outstanding():
    """Every client sends at t = 0; at no time are more than N requests in the system."""
    sc = _closed(n=7, think_s=0.5, think="exponential", prompt={"dist": "exponential", "mean": 300},
                 duration=200, warmup=0)
    rec = sim.run(sc).records
    assert int(np.sum(rec["arrival_s"] == 0.0)) == 7
    t = np.concatenate([rec["arrival_s"], rec["completion_s"][rec["completion_s"] >= 0]])
    d = np.concatenate([np.ones(len(rec)), -np.ones(int(np.sum(rec["completion_s"] >= 0)))])
    order = np.lexsort((d, t))           # a completion before an arrival at the same instant
    assert int(np.cumsum(d[order]).max()) == 7


def test_rejected_requests_free_their_client():
    """Prompts past the model's context are rejected at arrival; the client sends the next at once
    (zero think), so the run goes on and serves the requests that fit."""
    sc = _closed(n=3, prompt={"dist": "empirical", "values": [1000, 9000]}, duration=50, warmup=0,
                 model="llama-2-7b")
    s = sim.run(sc).summary
    assert s["requests"]["rejected"] > 0 and s["requests"]["completed"] > 0


def test_stability_says_closed_loop():
    """Four clients that never think keep one server of one sequence busy, each request queueing
    behind the other three: bounded, and queueing (the work sent is past what the server serves:
    the requests in flight at the end too). Two clients thinking 20 s between 1 s requests leave it
    idle most of the time: bounded, no more."""
    from sim.metrics.stability import growth_words, warning

    s = sim.run(_closed(n=4, prompt={"dist": "fixed", "value": 1000})).summary
    st = s["stability"]
    assert st["closed_loop_clients"] == 4 and st["stable"] is True and st["verdict"] == "stable"
    assert st["offered_load_factor"] > 1.0
    assert growth_words(st).startswith("bounded (closed loop: 4 clients, queueing: they send 1.0")
    assert warning(s) is None
    s = sim.run(_closed(n=2, think_s=20.0, prompt={"dist": "fixed", "value": 1000}, duration=600)).summary
    assert s["stability"]["offered_load_factor"] < 0.2
    assert growth_words(s["stability"]) == "bounded (closed loop: 2 clients)"


def _write(tmp_path: Path, sc: dict) -> Path:
    p = tmp_path / "closed.yaml"
    p.write_text(yaml.safe_dump(sc))
    return p


@pytest.mark.parametrize("arrival, field", [
    ({"process": "closed", "concurrency": 0}, "workload.arrival.concurrency"),
    ({"process": "closed", "concurrency": 2.5}, "workload.arrival.concurrency"),
    ({"process": "closed", "concurrency": 4, "think_time_s": -1}, "workload.arrival.think_time_s"),
    ({"process": "closed", "concurrency": 4, "think": "gamma"}, "workload.arrival.think"),
])
def test_bad_closed_loop_input_exits_2_naming_file_and_field(tmp_path, capsys, arrival, field):
    sc = _closed(n=1, prompt={"dist": "fixed", "value": 10})
    sc["workload"]["arrival"] = arrival
    path = _write(tmp_path, sc)
    assert main(["run", str(path), "--quiet", "--figures", "none"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path.name) in err and field in err, err


@pytest.mark.parametrize("over, field", [
    ({"fidelity": "fluid"}, "workload.arrival.process"),
    ({"workload.growth": {"monthly": 0.1}}, "workload.growth"),
])
def test_closed_loop_refused_where_it_cannot_run(tmp_path, capsys, over, field):
    sc = _closed(n=2, prompt={"dist": "fixed", "value": 10})
    for k, v in over.items():
        if k.startswith("workload."):
            sc["workload"][k.split(".", 1)[1]] = v
        else:
            sc[k] = v
    path = _write(tmp_path, sc)
    assert main(["run", str(path), "--quiet", "--figures", "none"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path.name) in err and field in err, err


def test_closed_as_a_class_arrival_is_refused(tmp_path, capsys):
    sc = _closed(n=2, prompt={"dist": "fixed", "value": 10})
    sc["workload"]["arrival"] = {"process": "poisson", "rate": 1}
    sc["workload"]["classes"] = [{"name": "a", "share": 1.0},
                                 {"name": "b", "arrival": {"process": "closed", "concurrency": 2}}]
    path = _write(tmp_path, sc)
    assert main(["run", str(path), "--quiet", "--figures", "none"]) == 2
    err = capsys.readouterr().err
    assert "workload.classes.1.arrival.process" in err and "Traceback" not in err, err


def test_classes_take_their_share_of_the_clients_requests():
    sc = _closed(n=4, think_s=0.2, think="exponential", prompt={"dist": "fixed", "value": 100}, duration=300,
                 warmup=0)
    sc["workload"]["classes"] = [{"name": "chat", "share": 0.25}, {"name": "batch", "share": 0.75}]
    r = sim.run(sc)
    cls = r.records["cls"]
    share = float(np.mean(cls == 0))
    n = len(cls)
    assert abs(share - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n), (share, n)


@pytest.mark.parametrize("think", ["fixed", "exponential"])
def test_fast_engine_gives_the_reference_engines_requests(think):
    """The event-skipping engine's decode runs end at each completion, when a client's next request
    may come: the same requests, bit for bit, as one event per iteration (batching replicas, two of
    them behind least-outstanding routing, lognormal lengths)."""
    from test_equivalence import _assert_same

    sc = scenario(seed=8, duration=300, warmup=0, metrics={"interval": 1.0, "records": "all"})
    sc["workload"] = {"arrival": {"process": "closed", "concurrency": 24, "think_time_s": 0.5, "think": think},
                      "prompt_tokens": {"dist": "lognormal", "mean": 300, "cv": 1.0, "max": 2000},
                      "output_tokens": {"dist": "lognormal", "mean": 60, "cv": 1.0, "max": 400}}
    sc["fleet"]["pools"][0]["replicas"] = 2
    fast, ref = sim.run(dict(sc, engine="fast")), sim.run(dict(sc, engine="reference"))
    assert len(fast.records) > 1000
    _assert_same(fast.records, ref.records)


def test_drain_finishes_the_requests_in_flight_and_sends_no_more():
    sc = _closed(n=6, think_s=0.5, think="exponential", prompt={"dist": "exponential", "mean": 300},
                 duration=120, warmup=0)
    sc["drain"] = True
    r = sim.run(sc)
    s = r.summary["requests"]
    assert s["in_flight"] == 0 and s["completed"] == s["arrived"]
    assert float(r.records["arrival_s"].max()) < 120.0
    assert r.summary["simulated_seconds"] >= float(r.records["completion_s"].max()) > 120.0
