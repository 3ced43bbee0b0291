"""A replica's saturation throughput from a saturated run: the top of a capacity curve (``max_rps``).

:func:`sim.fluid.capacity.measure_curve` finds a rate above a replica's capacity with short probes
and then runs it saturated (:func:`sim.fluid.capacity._saturation_rps`); this module turns that run
into ``max_rps``. Two things made the count of completions per second wander, and both are removed:

* **The window's mix.** Over ``N`` completions of a replica serving one request at a time, the
  count's relative standard error is the service time's coefficient of variation over ``√N``: 1.8 %
  for exponential service over 3,000. What the replica does per second is steadier than what it
  completes: the window's work, each request weighed by its closed-form cost
  (:func:`work_weights`), over the mean request's work in a million-request sample of the mix
  (:func:`saturated_rps`), a ratio estimator with the cost as its control variate.
* **The window's place.** It is counted in completions, the ``n`` after the first ``skip``
  (:func:`window_rps`), not in seconds: a replica ``c`` times as fast serving the same requests in
  the same order then gives exactly ``c`` times the throughput; ``skip`` covers :data:`TURNOVERS`
  batch turnovers, until the long requests a saturated batch holds in steady state are in it.
* **The window's length.** A batching replica completes its requests in correlated runs (a batch's
  sequences admitted together leave together), so the control variate removes far less of the
  noise than for one request at a time: over the ``min_requests`` = 3,000 completions the partner
  pool of ``scenarios/provider_partner_derived.yaml`` (Llama-3-70B on 8 A100s, 256 sequences, a group
  of four) read -1.1 % on average and -3.0 % on the calibration seed, with a standard deviation of
  1.4 % over seeds, against the completions per replica-second of a 40,000-second saturated run.
  The window grows, as the load factor's scheduler factor's does (:mod:`sim.serving.saturated`),
  until its standard error (batch means, :func:`settled_rps`) is within :data:`SETTLED` of it.

On the M/M/1 pool of ``docs/fleet_dynamics.md`` (``python benchmarks/bench_saturation.py``, 50
calibration seeds) the relative error went from a mean of -0.6 % and a standard deviation of 1.9 %
to -0.0 % and 0.1 %; its window settles at 3,000 completions, unchanged by the growing window. On
the bundled baseline's pool (Llama-3-8B, H100, a group of four; five calibration seeds against a
600 s saturated run) the standard deviation went from 1.3 % to 0.35 %.
"""
from __future__ import annotations

import math

import numpy as np

from sim.metrics.schema import COMPLETED

BACKLOG_SHARE = 0.1
"""A saturated probe also ends with at least this share of its arrivals still in the system."""
OVERDRIVE = 2.0
"""The saturation throughput is measured at least this many times above it (:func:`_saturation_rps`):
the probe's rate, times 4 until it is."""
TURNOVERS = 10
"""Batch turnovers (``B`` completions a replica, :func:`sim.serving.saturated.turnover_batch`) a
saturated run's warmup lasts at least: a sequence stays ``B / max_rps`` in the batch on average
(Little's law), the long ones several times that (the baseline pool: 256 sequences at 21.5
requests/s, 60 s); the partner pool's four replicas completed 1.6 % less work per second over
turnovers 5 and 6 than from the 7th to the 24th (12 seeds; a standard error of 0.6 % a turnover)."""
SETTLED = 0.005
"""The window is long enough when the standard error of its throughput is at most this share of it."""
BATCHES = 8
"""Runs of consecutive completions the window is cut into for its standard error (batch means)."""
MAX_WINDOW = 200_000
"""Completions in the window at most (the measurement stops there, settled or not)."""


def work_weights(pool, prompt_mean: float, output_mean: float) -> tuple[float, float]:
    """``(w_p, w_o)``: replica-seconds per prompt token and per decode token (every generated token
    after the first) of one replica of ``pool`` at these mean lengths, from the closed form's two
    parts at the batch limits (:func:`~sim.perf.utilization.request_seconds`): prefill seconds over
    the prompt, decode seconds over the ``o - 1`` decode steps. A request of ``p`` and ``o`` tokens
    then costs about ``w_p p + w_o (o - 1)``: exactly, for one sequence at a time on a step time
    linear in the tokens (no per-step base)."""
    from sim.metrics.utilization import pool_limits
    from sim.perf.utilization import request_seconds

    if prompt_mean <= 0:
        return 0.0, 0.0
    prefill, decode = request_seconds(pool.step_model, pool_limits(pool), prompt_mean, output_mean)
    return prefill / max(prompt_mean, 1.0), (decode / (output_mean - 1.0) if output_mean > 1.0 else 0.0)


def window_rps(records: np.ndarray, skip: int, n: int, lengths: dict) -> float | None:
    """The saturation throughput of a saturated run's ``records`` (:func:`saturated_rps`) over the
    ``n`` completions after its first ``skip``: from the time of completion ``skip`` to the last of
    the ``n`` (completions at one instant, a batch's, all in or all out). ``None`` when the run
    completed fewer than ``skip + n / 2``."""
    done = records[records["status"] == COMPLETED]
    done = done[np.argsort(done["completion_s"], kind="stable")]
    if len(done) <= skip:
        return None
    t0 = float(done["completion_s"][skip])
    after = done[done["completion_s"] > t0]
    if len(after) < max(n // 2, 1):
        return None
    w = after[after["completion_s"] <= after["completion_s"][min(n, len(after)) - 1]]
    span = float(w["completion_s"][-1]) - t0
    if span <= 0:
        return None
    return saturated_rps({"requests_per_s": len(w) / span,
                          "input_tokens_per_s": float(np.sum(w["prompt_tokens"])) / span,
                          "output_tokens_per_s": float(np.sum(w["generated_tokens"])) / span}, lengths)


def window_closed(done: np.ndarray, skip: int, n: int) -> bool:
    """Whether the completions ``done`` -- all those of a run before some time ``t`` -- fix
    :func:`settled_rps` over ``skip`` and ``n``: the whole window and each of its :data:`BATCHES`
    parts has its ``n`` completions after its first, all before ``t``. Then every completion either
    reads (those up to the last of a window, ties included) is before ``t``, so the whole run's
    records give the same windows, sums and standard error to the bit: a saturated run can stop there
    (:func:`sim.api.completions`)."""
    times = np.sort(done["completion_s"])
    size = max(n // BATCHES, 1)
    for first, m in [(skip, n)] + [(skip + i * size, size) for i in range(BATCHES)]:
        if len(times) <= first or len(times) - np.searchsorted(times, times[first], side="right") < m:
            return False
    return True


def settled_rps(records: np.ndarray, skip: int, n: int, lengths: dict) -> tuple[float, float] | None:
    """``(max_rps, standard error)`` of :func:`window_rps` over the ``n`` completions after the first
    ``skip``; the standard error by batch means: the window cut into :data:`BATCHES` runs of
    consecutive completions, each measured the same way. ``None`` as for :func:`window_rps`."""
    rps = window_rps(records, skip, n, lengths)
    if rps is None:
        return None
    size = max(n // BATCHES, 1)
    parts = [window_rps(records, skip + i * size, size, lengths) for i in range(BATCHES)]
    parts = [p for p in parts if p is not None]
    se = float(np.std(parts, ddof=1)) / np.sqrt(len(parts)) if len(parts) > 1 else math.inf
    return rps, se


def saturated_rps(throughput: dict, lengths: dict) -> float:
    """The saturation throughput (requests/s) from what a saturated window completed per second
    (``throughput``: requests, prompt tokens and generated tokens, as a summary's block) and the
    workload's served lengths (:func:`length_stats`: means over a million requests, and the token
    weights).

    A saturated replica's completions over a window are a sample of the mix: a window that happened
    to draw long requests completes fewer (over ``N`` completions one sequence at a time, a relative
    standard error of the service time's coefficient of variation over ``√N``, 1.8 % for exponential
    service over 3,000). What the replica does per second is steadier than what it completes: its
    work, each request weighed by its cost ``w_p p + w_o (o - 1)`` (:func:`work_weights`). So the
    throughput is the window's work per second over the work of the mean request of the million-request
    sample, a ratio estimator with the cost as its control variate,

        max_rps = (w_p · prompt/s + w_o · (generated/s - requests/s)) / (w_p p̄ + w_o (ō - 1)),

    equal to requests/s times the window's mean cost over the mix's. Where a request's cost is that
    sum (one sequence at a time, a linear step time) only the window's edges and the sample's mean
    are left of the error; where it is not (batches), the part of the cost the tokens explain is
    removed. A longer window tends to the same value either way: its mean cost tends to the mix's.
    """
    rps = float(throughput["requests_per_s"])
    w_p, w_o = lengths["work_weights"]
    work = w_p * float(throughput["input_tokens_per_s"]) + w_o * (float(throughput["output_tokens_per_s"]) - rps)
    each = w_p * lengths["prompt_tokens_mean"] + w_o * (lengths["output_tokens_mean"] - 1.0)
    return work / each if work > 0 and each > 0 else rps


#: the latencies whose service part (less the queue) a saturated replica's window gives (:func:`saturated_tpot`)
SERVICE = ("ttft", "e2e")


def saturated_tpot(records: np.ndarray, skip: int, n: int, n_classes: int) -> dict:
    """What a request's TPOT is on a saturated replica, its batch full: the normalised log-histogram
    row and mean of the TPOTs of the ``n`` completions after the first ``skip`` of a saturated run's
    ``records`` (the window :func:`window_rps` reads), fleet-wide (``row``, ``mean``) and per class
    (``class_rows``, ``class_means``: ``None`` where a class has none). What the fluid tier reads for the
    requests served while a backlog lasts (:meth:`sim.fluid.backlog.StepWaits.on_curve`): the curve's top
    grid point, at 95 % of ``max_rps``, holds a batch not quite full (the bundled baseline pool: TPOT
    38 ms there, 47 ms saturated). ``service``: per metric of :data:`SERVICE`, the mean of TTFT and E2E
    less the queue time (what a request takes once the saturated replica picks it up) and per class
    (``None`` where a class has none).

        >>> from sim.metrics.records import RECORD_DTYPE
        >>> rec = np.zeros(4, dtype=RECORD_DTYPE)
        >>> rec["status"] = COMPLETED; rec["generated_tokens"] = 11; rec["cls"] = (0, 1, 0, 1)
        >>> rec["first_token_s"] = (1.0, 2.0, 3.0, 4.0); rec["completion_s"] = (2.0, 4.0, 6.0, 8.0)
        >>> got = saturated_tpot(rec, 1, 3, 2)           # TPOTs 0.2, 0.3, 0.4 after the first
        >>> round(got["mean"], 6), [round(x, 6) for x in got["class_means"]]
        (0.3, [0.3, 0.3])
        >>> rec["arrival_s"] = 0.0; rec["sched_s"] = (0.5, 1.0, 2.0, 3.0)   # E2E less queue 3, 4, 5 (classes 1, 0, 1)
        >>> got = saturated_tpot(rec, 1, 3, 2)
        >>> round(got["service"]["e2e"][0], 6), round(got["service"]["ttft"][0], 6), got["service"]["e2e"][1]
        (4.0, 1.0, [4.0, 4.0])
    """
    from sim.metrics.histogram import LogHistogram
    from sim.metrics.summary import latency_columns

    done = records[records["status"] == COMPLETED]
    done = done[np.argsort(done["completion_s"], kind="stable")][skip:skip + n]
    tpot = latency_columns(done)["tpot"]

    def row(v: np.ndarray):
        v = v[~np.isnan(v)]
        if not len(v):
            return None, None
        h = LogHistogram()
        h.add(v)
        return h.counts / h.total, float(v.mean())

    whole = row(tpot)
    by_class = [row(tpot[done["cls"] == k]) for k in range(n_classes)]
    # the service parts, TTFT and E2E less the queue: what a request takes once a saturated replica picks it up
    lat = latency_columns(done)
    service = {}
    for m in SERVICE:
        v = lat[m] - lat["queue"]
        ok = ~np.isnan(v)
        service[m] = (float(v[ok].mean()) if ok.any() else None,
                      [float(v[ok & (done["cls"] == k)].mean()) if (ok & (done["cls"] == k)).any() else None
                       for k in range(n_classes)])
    return {"row": whole[0], "mean": whole[1], "class_rows": [r for r, _ in by_class],
            "class_means": [m for _, m in by_class], "service": service}
