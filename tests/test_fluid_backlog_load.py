"""Latencies behind a fluid backlog read at the load served while it lasts, not at the step's mean load.

One batching replica (at most 8 sequences, 10 prompt and 10 output tokens, a ``linear`` step of
``0.1 s + 0.02 s`` per decoding sequence, the prompt free). Saturated, the batch holds 8: per request one
prefill and 9 decodes, so a step carries 0.8 prefills and 7.2 decodes and lasts ``0.1 + 0.02 x 7.2 =
0.244`` s on average; ``mu = 0.8 / 0.244 = 3.2787`` requests/s (the curve's ``max_rps``). A request's TPOT
there is the step time weighted by the decodes in it: 0.2444 s with the prefills one to a step
(``(0.8 x 7 x 0.24 + 0.2 x 8 x 0.26) / 7.2``), 0.2467 s with them in pairs, two steps in five
(``(2 x 6 x 0.22 + 3 x 8 x 0.26) / 36``, what the fixed lengths settle into, and what the saturated run
measures), 0.2511 s all four in one step of five. The curve's top grid point, at 95 % of ``mu``, reads
0.2389 s: its batch is not quite full.

The overload: ``1.25 mu`` for an hour, then ``0.25 mu`` for an hour, in hourly steps. The backlog of
``900 mu`` at 3,600 s drains at ``0.75 mu``, gone 1,200 s into the second step, which serves ``1,200 mu``
at capacity, then ``600 mu`` as they arrive. Its mean load is ``0.5 mu``. So ``4,800 mu`` of the ``5,400 mu``
served run at capacity and ``600 mu`` at ``0.25 mu``: TPOT mean ``(4,800 T(sat) + 600 T(0.25 mu)) / 5,400``,
0.2346 s with the saturated run's 0.2467 s. Reading the whole second step at its mean load (as before)
gave its ``1,800 mu`` the TPOT of ``0.5 mu``, and the rest the top grid point's: 0.2135 s; read at the
load served at each instant but at the top grid point while at capacity, 0.2277 s.

The service part (E2E less the queue, what a request takes once the replica picks it up) at capacity is
the saturated replica's too: its first token comes with the step that prefills it, one with two prefills
and six decodes, ``0.1 + 0.02 x 6 = 0.22`` s, then nine tokens at its TPOT, ``0.22 + 9 x 0.2467 = 2.44`` s
(the top grid point reads 2.379 s). Served behind the backlog: ``(4,800 x 2.44 + 600 x 1.348) / 5,400 =
2.319`` s; read at the top grid point while at capacity, 2.264 s; the whole second step at its mean load,
2.12 s. The request level, per request: 2.3219 +- 0.0014 s (10 seeds; the summary's means
differ by more, 2.362 s, as its queue-time mean also counts the requests still running at the end).

The request level (mean of 20 seeds, ``slow``) reads a TPOT mean of 0.2343 +- 0.0003 s; the fluid tier
0.2346 s (0.2344 s when a step was read at 64 instants, interpolated between them).
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

import sim
from conftest import scenario
from sim.fluid.backlog import REF

MU = 0.8 / (0.1 + 0.02 * 7.2)           # requests/s: 0.8 prefills per 0.244 s step
HOUR = 3600.0
ARRIVAL = {"process": "piecewise", "times": [0, 3600], "rates": [1.25 * MU, 0.25 * MU]}


def batching_pool(fidelity: str, *, seed: int = 1, step_s: float = HOUR) -> dict:
    sc = scenario(seed=seed, duration=2 * HOUR, warmup=0, metrics={"interval": 60.0, "records": "none"})
    sc["workload"] = {"arrival": copy.deepcopy(ARRIVAL), "prompt_tokens": {"dist": "fixed", "value": 10},
                      "output_tokens": {"dist": "fixed", "value": 10}}
    sc["fleet"] = {"router": "random", "pools": [{"name": "b", "gpu": "h100-sxm", "replicas": 1,
                                                  "batching": {"max_num_seqs": 8, "max_batched_tokens": 4096}}]}
    sc["perf"] = {"model": "linear", "base_s": 0.1, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.02,
                  "per_context_token_s": 0.0}
    sc["slo"] = {"ttft_s": 5.0, "tpot_s": 0.3}
    sc["fidelity"] = fidelity
    if fidelity == "fluid":
        sc["fluid"] = {"step": step_s}
    return sc


@pytest.fixture(scope="module")
def curve():
    from sim.fluid.run import measured_curves
    from sim.scenario.load import scenario_from_dict

    return measured_curves(scenario_from_dict(batching_pool("fluid")))[0]


@pytest.fixture(scope="module")
def hourly() -> dict:
    return sim.run(batching_pool("fluid")).summary["latency"]


def _hand(curve, metric: str) -> float:
    """The hand mix: 4,800 of 5,400 served at the curve's top, 600 at a quarter of ``mu``."""
    def at(v, rate):
        return float(np.interp(rate, curve.rates_rps, np.asarray(v, dtype=np.float64)))
    lat = curve.latency
    if metric == "service":            # E2E less the queue: what a request takes once it is picked up
        top = curve.sat_service_mean["e2e"]             # a saturated replica's
        low = at(lat["e2e"]["mean"], 0.25 * MU) - at(lat["queue"]["mean"], 0.25 * MU)
    else:                              # TPOT: a saturated replica's at capacity
        top, low = curve.sat_tpot_mean, at(lat[metric]["mean"], 0.25 * MU)
    return (4800.0 * top + 600.0 * low) / 5400.0


def test_the_saturated_replica_is_the_hand_one(curve):
    assert curve.max_rps == pytest.approx(MU, rel=1e-3)
    assert curve.rates_rps[-1] == pytest.approx(0.95 * curve.max_rps, rel=1e-9)
    # a full batch's TPOT: between the prefills one to a step and all four in one step of five
    assert 0.2444 * 0.999 <= curve.sat_tpot_mean <= 0.2511 * 1.001
    assert curve.latency["tpot"]["mean"][-1] < 0.2444          # the top grid point's batch is not full
    # its service parts: the first token with a step of two prefills and six decodes, then nine at its TPOT
    assert curve.sat_service_mean["ttft"] == pytest.approx(0.1 + 0.02 * 6, rel=1e-3)
    assert curve.sat_service_mean["e2e"] == pytest.approx(0.22 + 9 * curve.sat_tpot_mean, rel=1e-3)
    top = curve.latency["e2e"]["mean"][-1] - curve.latency["queue"]["mean"][-1]
    assert top < 0.98 * curve.sat_service_mean["e2e"]          # the top grid point's is shorter


def test_tpot_behind_a_backlog_is_read_at_capacity_while_it_lasts(curve, hourly):
    want = _hand(curve, "tpot")
    assert 0.232 < want < 0.238                     # 0.2346 s: 4,800 at 0.2467 s, 600 at 0.138 s
    assert hourly["tpot"]["mean"] == pytest.approx(want, rel=2e-3)


def test_service_time_behind_a_backlog_is_read_at_capacity_while_it_lasts(curve, hourly):
    got = hourly["e2e"]["mean"] - hourly["queue"]["mean"]
    assert got == pytest.approx(_hand(curve, "service"), rel=2e-3)


def test_hourly_steps_read_what_minute_steps_read(hourly):
    fine = sim.run(batching_pool("fluid", step_s=60.0)).summary["latency"]
    assert hourly["tpot"]["mean"] == pytest.approx(fine["tpot"]["mean"], rel=2e-3)
    assert hourly["e2e"]["mean"] - hourly["queue"]["mean"] == pytest.approx(
        fine["e2e"]["mean"] - fine["queue"]["mean"], rel=1e-2)


def test_the_saturated_replicas_inter_token_gaps_are_the_hand_ones(curve):
    """Saturated, the prefills come in pairs two steps in five: per 36 gaps, 12 of a step with two
    prefills and six decodes (0.22 s) and 24 of a step with eight decodes (0.26 s); token-weighted mean
    ``(12 x 0.22 + 24 x 0.26) / 36 = 0.2467`` s, median and upper percentiles 0.26 s. The curve's top grid
    point, its batch not quite full, reads a mean of 0.2389 s and a median of 0.24 s."""
    assert curve.sat_itl["mean"] == pytest.approx((12 * 0.22 + 24 * 0.26) / 36, rel=2e-3)
    for s in ("p50", "p90", "p99"):
        assert curve.sat_itl[s] == pytest.approx(0.26, rel=1e-9)
    assert curve.latency["itl"]["mean"][-1] < 0.98 * curve.sat_itl["mean"]


def _gap_mix(curve) -> np.ndarray:
    """The hand mix of the gaps: 4,800 requests of nine gaps each with a saturated replica's gaps, 600 with
    the curve's gap row at a quarter of ``mu`` (linear between its two grid points), as shares of the
    gaps per bin."""
    rates = np.asarray(curve.rates_rps, dtype=np.float64)
    k = int(np.searchsorted(rates, 0.25 * MU, side="right") - 1)
    w = (0.25 * MU - rates[k]) / (rates[k + 1] - rates[k])
    light = (1 - w) * curve.hists["itl"][k] + w * curve.hists["itl"][k + 1]
    return (4800.0 * curve.sat_itl_row + 600.0 * light) / 5400.0


def test_itl_behind_a_backlog_is_a_saturated_replicas_while_it_lasts(curve, hourly):
    """4,800 of the 5,400 served (every request nine gaps) at capacity, 600 at a quarter of ``mu``: the
    ITL mean is that mix of a saturated replica's and the curve's at ``0.25 mu`` (0.2346 s; the request
    level, 10 seeds, 0.2342 s), and its percentiles are the mixed gaps' (inverted CDF, as the request level
    reads every gap): p90 and p99 the largest step, ``0.1 + 0.02 x 8 = 0.26`` s, a full batch decoding,
    within the half bin (0.5 %) a log-histogram reads. The median falls where the mix crosses one half:
    49 % of the gaps are 0.26 s, so it is the step below, 0.24 s (the request level's seeds read 0.24 or
    0.26 s). Read at the top grid point, mean and median were 0.2275 s and 0.2276 s; averaged over the
    step's loads instead of mixed, p90 and p99 read 0.2500 and 0.2533 s."""
    def at(v):
        return float(np.interp(0.25 * MU, curve.rates_rps, np.asarray(v, dtype=np.float64)))
    want = (4800.0 * curve.sat_itl["mean"] + 600.0 * at(curve.latency["itl"]["mean"])) / 5400.0
    assert hourly["itl"]["mean"] == pytest.approx(want, rel=2e-3)
    assert hourly["itl"]["mean"] == pytest.approx(hourly["tpot"]["mean"], rel=2e-3)   # nine gaps each
    for s in ("p90", "p99"):
        assert hourly["itl"][s] == pytest.approx(0.1 + 0.02 * 8, rel=5e-3), s
    mix = _gap_mix(curve)
    assert mix.sum() == pytest.approx(1.0, rel=1e-9)
    cdf = np.cumsum(mix)
    for s, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        b = int(np.searchsorted(cdf, q * cdf[-1]))       # the first bin holding the rank: inverted CDF
        lo, hi = REF.lo * np.exp((b - 1) * REF._log_g), REF.lo * np.exp(b * REF._log_g)
        assert lo * 0.995 <= hourly["itl"][s] <= hi * 1.005, (s, hourly["itl"][s], lo, hi)
    assert 0.24 * 0.995 <= hourly["itl"]["p50"] <= 0.24 * 1.005


@pytest.mark.slow
def test_itl_behind_a_backlog_against_the_request_level(hourly):
    """Mean, p90 and p99 within 1 % of the request level's (20 seeds); the median of each seed is one of
    the two steps the mix crosses one half between (0.24 or 0.26 s), as the fluid tier's is."""
    runs = [sim.run(batching_pool("request", seed=s)).summary["latency"]["itl"] for s in range(1, 21)]
    for s in ("mean", "p90", "p99"):
        req = float(np.mean([r[s] for r in runs]))
        assert hourly["itl"][s] == pytest.approx(req, rel=0.01), (s, hourly["itl"][s], req)
    for r in runs:               # records: none, so within the half bin (0.5 %) of its gap histogram
        assert min(abs(r["p50"] / 0.24 - 1), abs(r["p50"] / 0.26 - 1)) < 0.005, r["p50"]


@pytest.mark.slow
def test_tpot_behind_a_backlog_against_the_request_level(hourly):
    seeds = [sim.run(batching_pool("request", seed=s)).summary["latency"]["tpot"]["mean"] for s in range(1, 21)]
    req = float(np.mean(seeds))
    assert 0.2444 * 0.9 < req < 0.2467              # mostly saturated, some at a quarter load
    assert hourly["tpot"]["mean"] == pytest.approx(req, rel=0.01)


@pytest.mark.slow
def test_service_time_behind_a_backlog_against_the_request_level(hourly):
    from sim.metrics.summary import latency_columns

    per_seed = []
    for s in range(1, 11):
        sc = batching_pool("request", seed=s)
        sc["metrics"]["records"] = "all"
        lat = latency_columns(sim.run(sc).records)
        done = ~np.isnan(lat["e2e"])
        per_seed.append(float(np.mean((lat["e2e"] - lat["queue"])[done])))
    req = float(np.mean(per_seed))                  # 2.3219 s
    assert 2.30 < req < 2.34
    assert hourly["e2e"]["mean"] - hourly["queue"]["mean"] == pytest.approx(req, rel=5e-3)


def test_a_class_behind_a_backlog_is_read_at_the_pools_load_not_its_share_of_it():
    """Two classes of one mix and one objective (half each of every step, as the ``tiers_pool`` server
    sees them: 0.5/s for half an hour, 1.5/s for the next, 0.5/s after) have the fleet's SLO attainment.
    Each class's instants were read at its own share of the rate served (half of it), a lighter load than
    the pool's: 0.3317 and 0.3316 for the fleet's 0.3336."""
    from tiers_pool import pool

    sc = pool("fluid", {"process": "piecewise", "times": [0, 1800, 3600], "rates": [0.5, 1.5, 0.5]},
              duration=2 * HOUR, step_s=HOUR)
    sc["workload"]["classes"] = [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]
    s = sim.run(sc).summary
    for cls in ("a", "b"):
        assert s["classes"][cls]["slo"]["attainment"] == pytest.approx(s["slo"]["attainment"], abs=5e-4)


def test_itl_percentiles_are_the_mixed_gaps_not_the_average_of_each_steps():
    """Two steps of a hand-made curve: one at a light load whose gaps are all 0.1 s, one at a heavy load
    whose gaps are all 0.3 s, each serving 100 requests of 11 output tokens (10 gaps each). The mixed gaps
    are half 0.1 s and half 0.3 s: mean 0.2 s, p50 0.1 s (the inverted CDF: the 1,000th of 2,000 gaps),
    p90 and p99 0.3 s. The average of each step's percentiles read 0.2 s for all three."""
    from sim.fluid.backlog import StepWaits
    from sim.fluid.curve import CapacityCurve
    from sim.fluid.sums import FleetSums

    def row(v: float) -> np.ndarray:
        r = np.zeros(REF.n_bins)
        r[REF.bin_index(np.array([v]))[0]] = 1.0
        return r

    rates = np.array([0.0, 1.0, 2.0])
    gaps = np.array([0.1, 0.1, 0.3])                    # the idle point as the lightest
    lat = {m: {s: np.full(3, 0.5) for s in ("mean", "p50", "p90", "p99")} for m in ("ttft", "tpot", "e2e", "queue")}
    lat["itl"] = {s: gaps.copy() for s in ("mean", "p50", "p90", "p99")}
    hists = {m: np.vstack([row(0.5)] * 3) for m in ("ttft", "tpot", "e2e", "queue")}
    hists["itl"] = np.vstack([row(g) for g in gaps])
    curve = CapacityCurve(key="k", pool="p", max_rps=2.1, rates_rps=rates, served_rps=rates, attainment=np.ones(3),
                          busy=rates / 2.1, kv=np.zeros(3), mfu=np.zeros(3), latency=lat, hists=hists,
                          prompt_tokens_mean=10.0, output_tokens_mean=11.0, reject_share=0.0)
    i, w = np.array([0, 1]), np.array([1.0, 1.0])           # the steps at grid points 1 and 2

    def at(values):
        v = np.asarray(values, dtype=np.float64)
        return v[i] * (1 - w) + v[i + 1] * w

    sums = FleetSums({m: np.zeros(REF.n_bins) for m in ("ttft", "tpot", "e2e", "queue")})
    sums.add_latency(curve, i, w, at, np.array([100.0, 100.0]), StepWaits.single(np.zeros(2)))
    sc = SimpleNamespace(slo=SimpleNamespace(ttft_s=1.0, tpot_s=1.0))
    itl = sums.blocks(sc, 200.0, 1.0)["latency"]["itl"]
    assert itl["mean"] == pytest.approx(0.2, rel=1e-9)
    assert itl["p50"] == pytest.approx(0.1, rel=0.005)
    for s in ("p90", "p99"):
        assert itl[s] == pytest.approx(0.3, rel=0.005), s


def test_the_itl_mean_weighs_each_gap_as_its_percentiles_do():
    """Two pools' hand-made curves, 100 requests each: one of 2 output tokens whose gaps are all 0.1 s (one
    gap a request), one of 11 whose gaps are all 0.3 s (ten). Of the 1,100 gaps 100 are 0.1 s: the mean gap,
    as the request level reads it (every gap one entry), is ``(100 x 0.1 + 1,000 x 0.3) / 1,100 = 0.2818``
    s, and p50 0.3 s; weighted by requests, as it was, the mean read 0.2 s, under its own median."""
    from sim.fluid.backlog import StepWaits
    from sim.fluid.curve import CapacityCurve
    from sim.fluid.sums import FleetSums

    def row(v: float) -> np.ndarray:
        r = np.zeros(REF.n_bins)
        r[REF.bin_index(np.array([v]))[0]] = 1.0
        return r

    def curve(gap: float, output: float) -> CapacityCurve:
        lat = {m: {s: np.full(2, 0.5) for s in ("mean", "p50", "p90", "p99")} for m in ("ttft", "tpot", "e2e", "queue")}
        lat["itl"] = {s: np.full(2, gap) for s in ("mean", "p50", "p90", "p99")}
        hists = {m: np.vstack([row(0.5)] * 2) for m in ("ttft", "tpot", "e2e", "queue")}
        hists["itl"] = np.vstack([row(gap)] * 2)
        return CapacityCurve(key="k", pool="p", max_rps=2.1, rates_rps=np.array([0.0, 2.0]),
                             served_rps=np.array([0.0, 2.0]), attainment=np.ones(2), busy=np.zeros(2), kv=np.zeros(2),
                             mfu=np.zeros(2), latency=lat, hists=hists, prompt_tokens_mean=10.0,
                             output_tokens_mean=output, reject_share=0.0)

    i, w = np.array([0]), np.array([0.5])
    sums = FleetSums({m: np.zeros(REF.n_bins) for m in ("ttft", "tpot", "e2e", "queue")})
    for c in (curve(0.1, 2.0), curve(0.3, 11.0)):
        sums.add_latency(c, i, w, lambda v: np.asarray(v)[i] * (1 - w) + np.asarray(v)[i + 1] * w,
                         np.array([100.0]), StepWaits.single(np.zeros(1)))
    sc = SimpleNamespace(slo=SimpleNamespace(ttft_s=1.0, tpot_s=1.0))
    itl = sums.blocks(sc, 200.0, 1.0)["latency"]["itl"]
    assert itl["mean"] == pytest.approx((100 * 0.1 + 1000 * 0.3) / 1100, rel=1e-9)
    assert itl["p50"] == pytest.approx(0.3, rel=0.005)
    # one output token a request: no gap served, no ITL (the request level's None, not 0)
    none = FleetSums({m: np.zeros(REF.n_bins) for m in ("ttft", "tpot", "e2e", "queue")})
    none.add_latency(curve(0.1, 1.0), i, w, lambda v: np.asarray(v)[i], np.array([100.0]), StepWaits.single(np.zeros(1)))
    assert none.blocks(sc, 100.0, 1.0)["latency"]["itl"] == {"mean": None, "p50": None, "p90": None, "p99": None}
