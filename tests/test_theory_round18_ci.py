"""Do the 95 % intervals ``fleetsim sweep --seeds 3`` writes cover the truth 95 % of the time?

A planner reads ``mean ± half-width`` off a sweep of a few seeds and trusts it at its stated level
(docs/planning.md, "Confidence intervals": ``mean ± t(0.975, n-1) s / sqrt(n)``). Checked from the
outside, where the truth is known: an M/D/1 queue (one replica serving one request at a time, fixed
1,000-token prompts at 1 ms a token: service ``D = 1 s``; Poisson arrivals at ``λ = 0.5``/s; 1,000 s
runs after a 50 s warm-up, ~475 measured requests each), whose

* throughput is ``λ = 0.5`` requests/s, and the replica busy ``ρ = λD = 0.5`` of the time;
* mean wait in queue is Pollaczek–Khinchine's ``ρD / (2(1 - ρ)) = 0.5 s``, and the mean end-to-end
  time ``0.5 + D = 1.5 s``.

``K = 200`` sweeps of ``--seeds 3`` (each its own ``--set seed``, seeds 1000k .. 1000k + 2, so the
sweeps are independent) each give one interval per metric, read from ``sweep_ci.csv``. The number
of intervals missing the truth is then Binomial(200, 0.05) if the level is right: 10 on average; we
accept at most 22 (the chance of more is 2e-4). A z-interval (1.96 in place of t(0.975, 2) = 4.30)
would cover only ~81 % and miss ~38. Coverage cannot tell a too-wide interval (a 99 % level would
miss ~2), so the intervals' mean half-width must also be ``t(0.975, 2) c4 σ / sqrt(3)`` within
10 % (15 % for the waits, whose run means are skewed), with ``σ`` the run-to-run standard deviation
estimated from all 600 runs of ``sweep.csv`` and ``c4 = sqrt(π) / 2`` the mean of ``s / σ`` for
three normal draws.

Measured (this checkout): misses 7 (throughput), 8 (busy), 13 (queue mean), 13 (E2E mean) of 200.
The waits' run means are right-skewed (a run's mean is pulled up by its longest busy period), where
the t-interval covers a little under its level, as expected of it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from sim.cli import main
from theory_round18_pool import one_at_a_time, read_csv, write

K, N = 200, 3
LAM, D = 0.5, 1.0
TRUTH = {"throughput.requests_per_s": LAM, "utilization.gpu_busy": LAM * D,
         "latency.queue.mean": LAM * D * D / (2 * (1 - LAM * D)),
         "latency.e2e.mean": LAM * D * D / (2 * (1 - LAM * D)) + D}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ci")
    path = write(tmp, one_at_a_time("md1", replicas=1, router="round_robin",
                                     arrival={"process": "poisson", "rate": LAM},
                                     prompt={"dist": "fixed", "value": 1000}, duration=1000.0, warmup=50.0))
    intervals, runs = [], []
    for k in range(1, K + 1):
        out = tmp / f"s{k}"
        assert main(["sweep", str(path), "--seeds", str(N), "--grid", f"workload.arrival.rate={LAM}",
                     "--set", f"seed={1000 * k}", "--executor", "serial", "--out", str(out), "--quiet",
                     "--no-figures"]) == 0
        (ci,) = read_csv(out / "sweep_ci.csv")
        assert int(ci["n"]) == N
        intervals.append(ci)
        runs.extend(read_csv(out / "sweep.csv"))
    assert sorted(int(r["seed"]) for r in runs) == sorted(1000 * k + i for k in range(1, K + 1) for i in range(N))
    return intervals, runs


@pytest.mark.parametrize("key", list(TRUTH))
def test_three_seed_intervals_cover_the_truth_at_their_level(sweeps, key):
    intervals, runs = sweeps
    truth = TRUTH[key]
    low = np.array([float(c[f"{key}.ci_low"]) for c in intervals])
    high = np.array([float(c[f"{key}.ci_high"]) for c in intervals])
    mean = np.array([float(c[f"{key}.mean"]) for c in intervals])
    assert np.all(low <= mean) and np.all(mean <= high)
    misses = int(((low > truth) | (high < truth)).sum())
    assert misses <= 22, (key, misses)          # P(Binomial(200, 0.05) > 22) = 2e-4
    # the width: E[half-width] = t(0.975, 2) E[s] / sqrt(3), E[s] = c4 σ
    sigma = float(np.std([float(r[key]) for r in runs], ddof=1))
    expected_half = sps.t.ppf(0.975, N - 1) * math.sqrt(math.pi) / 2 * sigma / math.sqrt(N)
    tol = 0.15 if key.startswith("latency") else 0.10
    assert float(np.mean((high - low) / 2)) == pytest.approx(expected_half, rel=tol), key
    # and every run's value is what the truth says on average (all 600 runs: a tight check of the truth used)
    values = np.array([float(r[key]) for r in runs])
    assert abs(values.mean() - truth) < 4 * sigma / math.sqrt(len(values)), (key, values.mean(), truth)
