"""A surge above capacity inside a step of a replayed trace burstier than Poisson (docs/scaling.md, "Sub-steps
on a replay's curve"): the fluid tier's curves replay the trace and its latencies read such a step evenly over
its sub-steps (:func:`sim.fluid.replay.held_spread`), but its queue builds on the trace's own sub-step counts,
so the backlog, ``in_flight_peak``, the stability verdict and the within-step warning see the surge.

The trace, made here: one H100 serving Llama-3-8B (prompts of 1,000 tokens, 400 out: ``max_rps`` 16.0/s),
background arrivals at 4.8/s (0.3 of capacity) in clumps of 3 (index of dispersion about 3 at 1 s, so the
curves replay the trace), and 100 s at 48/s (3 times capacity) from t = 700 s, inside the second of three
600 s steps, whose mean (12/s, 0.75 of capacity) the pool keeps up with. By hand, the fluid queue grows at
48 - 16 = 32/s for 100 s: a backlog of about 3,200 at t = 800 s, waiting up to 3,200 / 16 = 200 s, cleared
at 16 - 4.8 = 11.2/s some 290 s later, inside the step.

Measured (seed 1): request level ``in_flight_peak`` 3,434 (exact), TTFT p99 195 s, ``stable``; fluid 3,523
(estimate), TTFT p99 189 s, ``stable``, and it warns that requests wait up to 3 m 25 s. Before, the fluid
tier read the surge's step evenly for its queue too: ``in_flight_peak`` 698 and no warning. The latencies
keep that even reading, on a queue of their own: read from the trace's queue, a surge in a step's last 100 s,
its backlog carried into the next step, counted its waits twice (TTFT p99 365 s against 194 s).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim

CAP = 16.0          # Llama-3-8B on one H100 at 1,000 / 400 tokens, requests/s (the curve's max_rps)


def _trace(path, clump: int, start: float = 700.0) -> int:
    """Background at 0.3 of capacity plus 100 s at 3 times capacity from ``start``, in clumps of ``clump``
    requests 1 ms apart; the request count."""
    rng = np.random.default_rng(7)

    def poisson(rate: float, a: float, b: float) -> np.ndarray:
        t = a + np.cumsum(rng.exponential(1.0 / rate, size=int(rate * (b - a) * 1.5) + 10))
        return t[t < b]

    t = np.concatenate([poisson(0.3 * CAP / clump, 0.0, 1800.0), poisson(2.7 * CAP / clump, start, start + 100.0)])
    t = np.sort(np.repeat(t, clump) + np.tile(np.arange(clump) * 0.001, len(t)))
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{x:.6f},1000,400\n" for x in t))
    return len(t)


def _scenario(path) -> dict:
    return {"name": "surge", "seed": 1, "duration": 1800, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]},
            "perf": {"model": "roofline"}, "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "fluid": {"step": 600}}


def _both(tmp_path, clump: int, start: float = 700.0):
    from sim.errors import ScenarioWarning

    path = tmp_path / f"surge{clump}.csv"
    _trace(path, clump, start)
    sc = _scenario(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fluid = sim.run(sc, overrides=["fidelity=fluid"]).summary
    said = [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        request = sim.run(sc, overrides=["fidelity=request"]).summary
    return fluid, request, said


def _check_surge(fluid: dict, request: dict, said: list[str], warns: bool = True) -> None:
    f, r = fluid["stability"], request["stability"]
    assert r["verdict"] == f["verdict"] == "stable"
    # the hand arithmetic's ~3,200 waiting, plus the requests running: both tiers, within 20 % of each other
    assert 3200 < r["in_flight_peak"] < 4000
    assert f["in_flight_peak"] == pytest.approx(r["in_flight_peak"], rel=0.2)
    assert f["in_flight_peak_basis"] == "estimate"
    # the queue cleared inside the step: nothing carried to the run's end
    assert fluid["requests"]["in_flight"] == 0
    # the surge's waits: once, from the curve that replays it (both tiers ~190 s at p99, near the hand 200 s)
    assert fluid["latency"]["ttft"]["p99"] == pytest.approx(request["latency"]["ttft"]["p99"], rel=0.15)
    hidden = [m for m in said if m.startswith("fluid.step:") and "falls behind" in m]
    assert len(hidden) == int(warns), said


def test_a_surge_inside_a_replayed_step_builds_the_fluid_backlog(tmp_path, monkeypatch):
    """Clumps of 3: the curves replay the trace (``modelled: trace``), and the surge's backlog still shows."""
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    fluid, request, said = _both(tmp_path, 3)
    assert fluid["fidelity"]["arrival_dispersion"]["modelled"] == "trace"
    _check_surge(fluid, request, said)


@pytest.mark.slow
def test_the_same_surge_under_poisson_arrivals_reads_alike(tmp_path, monkeypatch):
    """No clumps (index ~1 at 1 s): Poisson's curves, each sub-step at its own rate, as before the replay's
    queue read the trace's sub-steps; the same backlog, verdict and warning (measured: fluid ``in_flight_peak``
    3,475 against 3,368, TTFT p99 199 s against 193 s)."""
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    fluid, request, said = _both(tmp_path, 1)
    assert fluid["fidelity"]["arrival_dispersion"]["modelled"] is None
    _check_surge(fluid, request, said)


@pytest.mark.slow
def test_a_surge_carried_past_its_step_counts_its_waits_once(tmp_path, monkeypatch):
    """The surge in the second step's last 100 s: its backlog (~3,200) is carried into the third step, where
    the steps' ends show it, so nothing is hidden and the run does not warn; its waits are the curve's, which
    replays it, and not again the carried backlog's (measured: fluid ``in_flight_peak`` 3,502 against 3,413,
    TTFT p99 201 s against 194 s; read from the trace's queue, 365 s)."""
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    fluid, request, said = _both(tmp_path, 3, start=1100.0)
    assert fluid["fidelity"]["arrival_dispersion"]["modelled"] == "trace"
    _check_surge(fluid, request, said, warns=False)
