"""``metrics.records: all | sample | none``: the log-histogram's error bound, and summaries under
``sample``/``none`` equal to the exact ones of ``all`` (counts, sums and means exactly,
percentiles within the histogram's stated relative error of 0.5 %)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sim
from sim.metrics.histogram import LogHistogram
from sim.metrics.records import RECORD_DTYPE, GapLog, RequestLog, sample_mask, summarize_requests
from sim.metrics.summary import weighted_stats
from sim.scenario.load import load_scenario

from conftest import scenario

BOUND = math.sqrt(1.01) - 1.0  # 0.499 %: the module's stated bound for rel_width = 1 %


def _close(est, exact, rel=BOUND, abs_tol=1e-6):
    if exact is None:
        return est is None
    return abs(est - exact) <= rel * abs(exact) + abs_tol


def test_histogram_percentiles_within_stated_bound_of_numpy():
    rng = np.random.default_rng(7)
    for sample in (rng.lognormal(-2.0, 1.5, 20_000), rng.exponential(3.0, 501), rng.uniform(1, 2, 3)):
        h = LogHistogram()
        h.add(sample)
        for q in (1, 50, 90, 99, 99.9):
            exact = float(np.percentile(sample, q))
            assert _close(h.quantile(q), exact, abs_tol=0), (q, h.quantile(q), exact)
        assert h.mean() == pytest.approx(float(np.mean(sample)), rel=1e-12)


def test_histogram_weighted_quantiles_match_inverted_cdf_and_merge_is_exact():
    rng = np.random.default_rng(8)
    gaps = rng.gamma(2.0, 0.01, 5000)
    counts = rng.integers(1, 200, 5000)
    exact = weighted_stats(gaps, counts)
    a, b, whole = LogHistogram(), LogHistogram(), LogHistogram()
    a.add(gaps[:2000], counts[:2000])
    b.add(gaps[2000:], counts[2000:])
    whole.add(gaps, counts)
    merged = a.copy().merge(b)
    assert np.array_equal(merged.counts, whole.counts)
    est = merged.stats(method="inverted_cdf")
    for k in ("p50", "p90", "p99"):
        assert _close(est[k], exact[k], abs_tol=0), (k, est[k], exact[k])
    assert est["mean"] == pytest.approx(exact["mean"], rel=1e-12)


def test_zero_waits_land_in_the_underflow_bin_and_report_zero():
    h = LogHistogram()
    h.add(np.array([0.0] * 90 + [1.0] * 10))
    assert h.quantile(50) == 0.0 and _close(h.quantile(95), 1.0)


def test_gaplog_histogram_mode_matches_exact_weighted_stats():
    rng = np.random.default_rng(9)
    full, hist = GapLog("all"), GapLog("none")
    for _ in range(70_000):          # more than one 65,536-entry freeze
        g, c = float(rng.gamma(3.0, 0.005)), int(rng.integers(1, 64))
        full.add(g, c)
        hist.add(g, c)
    arr = rng.gamma(3.0, 0.005, 300)
    full.add_array(arr, 17)
    hist.add_array(arr, 17)
    g, c = full.arrays()
    exact = weighted_stats(g, c)
    est = hist.histogram().stats(method="inverted_cdf")
    assert len(hist.arrays()[0]) == 0
    for k in ("p50", "p90", "p99"):
        assert _close(est[k], exact[k]), (k, est[k], exact[k])
    assert est["mean"] == pytest.approx(exact["mean"], rel=1e-9)


def test_sample_mask_is_deterministic_and_keeps_about_the_rate():
    rid = np.arange(200_000)
    m = sample_mask(rid, 0.05)
    assert np.array_equal(m, sample_mask(rid, 0.05))
    # binomial(200000, 0.05): sd = 97.5 requests; 5 sd either side
    assert abs(int(m.sum()) - 10_000) < 5 * 97.5
    # not aliased with round robin over 8 replicas: every residue class keeps ~5 %
    per = np.bincount(rid[m] % 8, minlength=8)
    assert per.min() > 0.8 * per.mean()


# ---------------------------------------------------------------------------------------------
# Replay: the rows of an exact (records: all) run fed through a streaming log give the same summary.

def _two_class_scenario():
    sc = scenario(duration=120, warmup=20)
    sc["workload"] = {
        "arrival": {"process": "poisson", "rate": 30.0},
        "prompt_tokens": {"dist": "lognormal", "mean": 300, "cv": 1.0, "max": 3000},
        "output_tokens": {"dist": "lognormal", "mean": 40, "cv": 1.0, "max": 400},
        "classes": [{"name": "chat", "share": 0.7, "slo": {"ttft_s": 0.5}},
                    {"name": "batch", "share": 0.3, "slo": {"ttft_s": 5.0, "tpot_s": 0.2}}],
    }
    sc["fleet"]["pools"][0]["replicas"] = 2
    return sc


@pytest.fixture(scope="module")
def exact_run():
    return sim.run(_two_class_scenario())


def _replay(result, mode: str, rate: float = 0.2) -> tuple:
    loaded = load_scenario(_two_class_scenario(), [f"metrics.records={mode}", f"metrics.sample_rate={rate}"])
    sc = loaded.scenario
    log = RequestLog.for_scenario(sc, chunk=997)   # many flushes, none aligned with anything
    rec = result.records
    finished = rec[rec["status"] != 0]
    open_rows = [tuple(r) for r in rec[rec["status"] == 0].tolist()]
    for row in finished[np.random.default_rng(1).permutation(len(finished))].tolist():  # completion order
        log.append(tuple(row))
    gaps = GapLog("all")
    out = summarize_requests(log, gaps, open_rows, sc, result.summary["simulated_seconds"])
    return out, sc


def _compare_blocks(est: dict, exact: dict) -> None:
    for key in ("arrived", "completed", "rejected", "in_flight", "failed"):
        assert est["requests"][key] == exact["requests"][key], key
    for key, v in exact["throughput"].items():
        assert est["throughput"][key] == pytest.approx(v, rel=1e-12), key
    for key in ("attainment", "goodput_rps"):
        assert est["slo"][key] == pytest.approx(exact["slo"][key], rel=1e-12), key
    for metric in ("ttft", "tpot", "e2e", "queue"):
        e, x = est["latency"][metric], exact["latency"][metric]
        assert e["mean"] == pytest.approx(x["mean"], rel=1e-9), metric
        for q in ("p50", "p90", "p99"):
            assert _close(e[q], x[q]), (metric, q, e[q], x[q])


@pytest.mark.parametrize("mode", ["sample", "none"])
def test_streaming_summary_matches_exact_summary(exact_run, mode):
    out, sc = _replay(exact_run, mode)
    exact = exact_run.summary
    _compare_blocks(out.summary, exact)
    assert out.summary["requests"]["rejected_by_reason"] == exact["requests"]["rejected_by_reason"]
    assert set(out.classes) == {"chat", "batch"}
    for name, block in out.classes.items():
        _compare_blocks(block, exact["classes"][name])
    # usage for the money layer: same request count and token totals, times inside the horizon
    rec = exact_run.records
    done = rec[rec["status"] == 1]
    u = out.usage
    assert u.count.sum() == len(done)
    assert float(np.dot(u.count, u.input_tokens)) == pytest.approx(float(done["prompt_tokens"].sum()), rel=1e-12)
    assert float(np.dot(u.count, u.output_tokens)) == pytest.approx(float(done["generated_tokens"].sum()),
                                                                    rel=1e-12)
    assert u.completion_s.min() >= done["completion_s"].min() and u.completion_s.max() <= done["completion_s"].max()


def test_sample_keeps_the_hashed_subset_of_rows_unchanged(exact_run):
    out, sc = _replay(exact_run, "sample", rate=0.2)
    rec = exact_run.records
    expect = rec[sample_mask(rec["rid"], 0.2)]
    assert np.array_equal(out.records, expect)
    none, _ = _replay(exact_run, "none")
    assert len(none.records) == 0 and none.records.dtype == RECORD_DTYPE


# ---------------------------------------------------------------------------------------------
# Through the engine (the fleet builds its log with RequestLog.for_scenario).

@pytest.mark.parametrize("mode", ["sample", "none"])
def test_run_under_streaming_modes_matches_all(mode):
    base = _two_class_scenario()
    exact = sim.run(base).summary
    sc = dict(base, metrics={"records": mode, "sample_rate": 0.1})
    res = sim.run(sc)
    kept = len(res.records)
    assert kept == 0 if mode == "none" else 0 < kept < 0.2 * exact["requests"]["arrived"]
    _compare_blocks(res.summary, exact)
    e, x = res.summary["latency"]["itl"], exact["latency"]["itl"]
    for q in ("p50", "p90", "p99"):
        assert _close(e[q], x[q]), (q, e[q], x[q])
    assert res.summary["cost"]["output_tokens"] == pytest.approx(exact["cost"]["output_tokens"], rel=1e-12)
    assert res.summary["cost"]["requests"] == pytest.approx(exact["cost"]["requests"], rel=1e-12)
    assert res.summary["gpu_hours"] == exact["gpu_hours"]


MEMORY_RUN = textwrap.dedent("""
    import json, resource, sys
    import sim
    sc = json.loads(sys.argv[1])
    res = sim.run(sc)
    # this process's own peak: Linux keeps ru_maxrss across exec, so it would report the parent's
    # (a test process that ran a large simulation before) rather than this run's; VmHWM is per process image
    try:
        peak_kb = next(float(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"arrived": res.summary["requests"]["arrived"], "rows": len(res.records),
                      "rss_mb": peak_kb / 1024.0}))
""")


@pytest.mark.slow
def test_ten_million_requests_with_records_none_stay_under_2_gb():
    """10 M requests (single-token outputs, linear step model, 64 replicas) in a fresh process."""
    n, replicas = 10_000_000, 64
    rate = 8_000.0
    sc = scenario(duration=n / rate, warmup=60, metrics={"records": "none", "interval": 60})
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rate},
                      "prompt_tokens": {"dist": "fixed", "value": 64},
                      "output_tokens": {"dist": "fixed", "value": 1}}
    sc["fleet"]["pools"][0]["replicas"] = replicas
    sc["fleet"]["router"] = "round_robin"
    sc["perf"] = {"model": "linear", "base_s": 0.004, "per_prefill_token_s": 1e-5}
    out = subprocess.run([sys.executable, "-c", MEMORY_RUN, json.dumps(sc)], capture_output=True, text=True,
                         check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    print("10M requests, records none:", got)
    assert got["rows"] == 0
    # Poisson(10^7): sd ~ 3,162
    assert abs(got["arrived"] - n) < 20_000
    assert got["rss_mb"] < 2048, got
