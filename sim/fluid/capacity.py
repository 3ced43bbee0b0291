"""Measuring capacity curves: what one replica of a pool delivers as a function of its offered load.

The curve itself (its quantities, interpolation and JSON form) is :mod:`sim.fluid.curve`, the scenario that
measures it :mod:`sim.fluid.template`; this module runs the measurement and caches the result.

A curve is measured, never entered by hand: short request-level runs (:func:`sim.api.run`) of a
derived scenario with **one replica** of the pool (same GPU, model, tensor parallelism, batching,
perf model, token lengths, class mix and SLO) under Poisson arrivals at a grid of rates:

1. the saturation throughput ``max_rps``: short probes find a rate above capacity (the rate is
   raised x4 until fewer than 85 % of the offered requests complete and a tenth of them are still
   in the system at the end); a run at that rate, raised x4 until it is at least twice the probe's
   throughput, measures the ``min_requests`` completions after ten batch turnovers, more until the
   throughput's standard error is within 0.5 % of it (:func:`~sim.fluid.saturation.settled_rps`),
   each weighed by its cost against the mean request's (:func:`saturated_rps`: a window that drew
   long requests completes fewer, but does as much work); the same window's TPOTs, and its TTFTs and
   E2Es less the queue time, are a saturated replica's, its batch full
   (:func:`~sim.fluid.saturation.saturated_tpot`: what a request served behind a backlog sees), and so
   are the HBM bytes per busy second its iterations moved from the window's start (MBU's at capacity,
   :meth:`_LiveSaturated.busy_bandwidth`);
2. grid points at ``fractions x max_rps`` (default 2 % ... 95 %, 14 points), each ``max(min_duration_s,
   min_requests / rate)`` seconds long with the first 10 % as warmup, record per replica (:mod:`sim.fluid.grid`):
   completions/s, SLO attainment, GPU busy share, mean KV-cache use, MFU, HBM bytes per busy second
   (MBU's, as the run's iterations moved them), latency ``{mean, p50,
   p90, p99}`` of TTFT/TPOT/ITL/E2E/queue, and normalised log-histograms of TTFT/TPOT/E2E/queue and
   of the inter-token gaps (so the fluid tier can mix percentiles across steps) and of each request's SLO ratio (so a scaled
   capacity reads its attainment off the same runs, :mod:`sim.fluid.scaled_curve`); a group of replicas (below) measures one
   replica's replica-seconds, not ``g`` times them (:func:`grid_run_length`);
3. per-request token means and the refused share come from 1,000,000 requests drawn from the
   workload generator with the replica's admission rules applied (:func:`length_stats`): the
   short runs see too few requests for a 1 % token count;
4. a point at zero load closes the curve: nothing served, GPU idle, latency as the lightest point.

Between grid points every quantity is interpolated linearly in the offered rate (:mod:`sim.fluid.curve`).

**The router.** Per-replica Poisson arrivals are what random routing gives each replica, so under
``random`` one replica is measured. Any other router changes what a replica sees (round robin
spaces arrivals evenly; least outstanding and a central queue send work to the emptiest replica,
which shortens queues near saturation), so the curve is measured on a group of up to
``GROUP_MAX`` = 4 of the pool's replicas behind that router (:func:`group_size`), and every rate
is divided by the group's size. A pool larger than the group gets a little more smoothing than
the group shows; the curve errs on the pessimistic side. ``spillover`` is not modelled.

**Arrivals burstier than Poisson** (:mod:`sim.fluid.replay`): the template carries them (``workload.arrival``,
so the key too) and the grid runs are measured under them, time-scaled to each rate, a replay once through
at least; ``max_rps`` under Poisson's all the same (a clump queued at a probe's end would read as a backlog).

Curves are cached as JSON in ``$FLEETSIM_CACHE`` (default ``~/.cache/fleetsim``), keyed by a hash
of the derived scenario (pool, model, perf, lengths, classes, SLO; each file it names, a trace's or a
replay's, by its content: :func:`sim.fluid.template.keyed`), the measurement settings and the
simulator's own source and catalogs (:func:`code_fingerprint`): a curve measured by another version
of the step model, the engine or the GPU catalog's factors is measured again, never reused.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from sim.io import cache_dir, code_fingerprint
from sim.fluid.curve import CURVE_VERSION, CapacityCurve
from sim.fluid.grid import GridRuns
from sim.fluid.replay import measuring_arrival, replay_span
from sim.fluid.saturation import (BACKLOG_SHARE, BATCHES, MAX_WINDOW, OVERDRIVE, SETTLED, TURNOVERS, saturated_rps,
                                  saturated_tpot, settled_rps, window_closed, work_weights)
from sim.perf.memory import ADMISSION_WATERMARK
from sim.scenario.schedulers import budget_caps_prompts
from sim.fluid.template import GROUP_MAX, group_size, keyed, pool_template  # noqa: F401 (re-exported)

LENGTH_SAMPLE = 1_000_000
"""Requests drawn for the served mix's token means (:func:`length_stats`): a 0.1 % standard error
for exponential lengths, at about 0.1 s. A sample, not a distribution's exact mean: the served mix
applies the pool's admission rules (context, token budget, KV cache) to the joint lengths of every
class, trace rows included, which no closed form covers (``tests/test_length_sample.py`` holds the
sample to its exact mean where there is one)."""

DEFAULT_FRACTIONS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


@dataclass(frozen=True)
class CalibrationSettings:
    """How a capacity curve is measured (part of the cache key)."""

    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    min_duration_s: float = 300.0
    min_requests: int = 3000
    probe_duration_s: float = 120.0
    seed: int = 1


def curve_key(template: dict, settings: CalibrationSettings, base_dir: Path = Path(".")) -> str:
    """The cache key of the curve ``template`` measures under ``settings`` (:func:`sim.fluid.template.pool_template`;
    ``base_dir``: the scenario's folder, where the files it names are read as their content,
    :func:`sim.fluid.template.keyed`)."""
    blob = json.dumps({"v": CURVE_VERSION, "code": code_fingerprint(), "template": keyed(template, base_dir),
                       "settings": settings.__dict__},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# ---------------------------------------------------------------------------------------------
# Measurement

def _run(template: dict, base_dir: Path, rate: float, duration: float, warmup: float, seed: int):
    from sim.api import run

    # the load factor's scheduler factor is not read here (and would be measured again for every run
    # length, the sample it is measured on spanning the run)
    return run(_scenario(template, base_dir, rate, duration, warmup, seed), scheduler_factors=False)


def _grid_run(template: dict, base_dir: Path, rate: float, duration: float, warmup: float, seed: int):
    """A grid run, as :func:`_run` runs it (its clock stopped at the warmup and resumed: the same events,
    the same result), and the HBM bytes per GPU and busy replica-seconds its iterations booked after the
    warmup (:meth:`sim.api.LiveRun.moved` there and at the end; bytes ``None`` where the roofline cannot
    price the pool): ``(result, (bytes, busy))``, what :meth:`~sim.fluid.grid.GridRuns.add` reads MBU's
    bytes per busy second from."""
    from sim.api import LiveRun
    from sim.errors import workload_files_of

    loaded = _scenario(template, base_dir, rate, duration, warmup, seed)
    with workload_files_of(loaded.source):      # a replay's file problem said as sim.api.run says it
        live = LiveRun(loaded)
        live.advance(warmup)
        (b0, s0) = live.moved()
        live.advance(duration)
        (b1, s1) = live.moved()
        return live.result(), (None if b0 is None or b1 is None else b1 - b0, s1 - s0)


def _scenario(template: dict, base_dir: Path, rate: float, duration: float, warmup: float, seed: int):
    """The loaded scenario of a measuring run: ``template`` under Poisson arrivals at ``rate`` (or the
    template's own, :func:`pool_template`'s ``arrival``, :func:`sim.fluid.replay.measuring_arrival`; a
    replay's requests keep their rows' lengths)."""
    from sim.scenario.load import scenario_from_dict

    d = copy.deepcopy(template)
    d["workload"]["arrival"] = measuring_arrival(d["workload"].get("arrival"), rate)
    if d["workload"]["arrival"]["process"] == "trace":
        d["workload"].pop("prompt_tokens", None)
        d["workload"].pop("output_tokens", None)
    d.update(duration=float(duration), warmup=float(warmup), seed=int(seed))
    return scenario_from_dict(d, "<capacity curve>", base_dir)


CHECKS = 64
"""Times a saturated run's completions are looked at for a closed window (:meth:`_LiveSaturated.completions`)."""


class _LiveSaturated:
    """The saturated run continued as its window grows, instead of run again from t = 0 for each
    longer window: one run of ``horizon_s`` (:class:`sim.api.LiveRun`; Poisson arrivals, the same
    whatever the duration), its clock advanced as :func:`sim.api.completions` would advance a run of
    each duration ``D <= horizon_s`` (looking :data:`CHECKS` times over it). Where the window closes
    before ``D`` it gives that run's completions (the same run's up to that time, so the same window to
    the bit: :func:`~sim.fluid.saturation.window_closed`); where it does not, or ``D`` is past the
    horizon, a run of ``D`` afresh gives them (its completions at its end are the finished run's). One check differs: the memory limit
    on requests in the system (:func:`sim.limits.max_in_flight`) is checked at the end of each chunk
    of arrivals, and a run of ``D`` cuts its last chunk at ``D``; a window that closes after that
    chunk's last arrival with the system past the limit there stops a run of ``D`` with that error,
    not this one."""

    def __init__(self, template: dict, base_dir: Path, rate: float, horizon_s: float, seed: int) -> None:
        from sim.api import LiveRun

        self.template, self.base_dir, self.rate, self.seed = template, base_dir, rate, seed
        self.run = LiveRun(_scenario(template, base_dir, rate, horizon_s, 0.0, seed), check=False)
        self.continued = False          # whether the last completions came from the continued run
        # (time, HBM bytes, busy replica-seconds) booked at each look of the continued run, and of the run
        # the last completions came from (:meth:`busy_bandwidth`)
        self.live_marks: list[tuple[float, float | None, float]] = [(0.0, 0.0, 0.0)]
        self.marks = self.live_marks

    def itl(self) -> dict | None:
        """The continued run's inter-token gaps so far, token-weighted (``{mean, p50, p90, p99}``, as a
        summary's ``latency.itl``): a saturated replica's, its batch full, what the requests served while a
        backlog lasts see between tokens (:attr:`~sim.fluid.curve.CapacityCurve.sat_itl`). The gaps carry
        no time, so they are the run's from its start (the batch filling in its first seconds included),
        not the window's alone; ``None`` where the last completions came from a fresh run."""
        from sim.metrics.summary import weighted_stats

        if not self.continued:
            return None
        g, c = self.run.gaps()
        return weighted_stats(g, c) if len(g) else None

    def itl_row(self) -> np.ndarray | None:
        """The same gaps as a normalised log-histogram row (each gap one entry): what the fluid tier mixes
        into its ITL percentiles at the instants at capacity
        (:attr:`~sim.fluid.curve.CapacityCurve.sat_itl_row`); ``None`` where :meth:`itl` is."""
        from sim.metrics.histogram import LogHistogram

        if not self.continued:
            return None
        g, c = self.run.gaps()
        if not len(g):
            return None
        h = LogHistogram()
        h.add(np.asarray(g, dtype=np.float64), np.asarray(c, dtype=np.float64))
        return h.counts / h.total

    def completions(self, duration: float, enough) -> np.ndarray:
        """The completed requests of a saturated run of ``duration`` (no warmup), stopped once ``enough``
        of them are known: from the continued run where it can tell, else from a fresh run."""
        from sim.api import LiveRun
        from sim.limits import check_work

        loaded = _scenario(self.template, self.base_dir, self.rate, duration, 0.0, self.seed)
        if duration <= self.run.loaded.scenario.duration:
            check_work(loaded)        # what a run of this duration would refuse
            done = self.run.completions_before(duration, duration / CHECKS, _marking(self.run, self.live_marks, enough))
            if done is not None:
                self.continued, self.marks = True, self.live_marks
                return done
        self.continued, self.marks = False, [(0.0, 0.0, 0.0)]
        fresh = LiveRun(loaded)       # as sim.api.completions: the completions before the window closes,
        done = fresh.completions_before(duration, duration / CHECKS, _marking(fresh, self.marks, enough))
        return done if done is not None else fresh.finish()     # else the whole run's

    def busy_bandwidth(self, since: float) -> float | None:
        """HBM bytes per GPU per busy replica-second of the run the last completions came from, saturated:
        between its first look at or after ``since`` (the window's start, :func:`~sim.fluid.saturation.window_rps`,
        after :data:`~sim.fluid.saturation.TURNOVERS` batch turnovers) and its last, its batches full
        (:attr:`~sim.fluid.curve.CapacityCurve.hbm_sat`); from its start where no two looks span busy time
        after ``since``. ``None`` where the roofline cannot price the pool."""
        last = self.marks[-1]
        first = next((m for m in self.marks if m[0] >= since), last)
        if not last[2] > first[2]:
            first = self.marks[0]
        if last[1] is None or first[1] is None or not last[2] > first[2]:
            return None
        return (last[1] - first[1]) / (last[2] - first[2])


def _marking(run, marks: list, enough):
    """``enough``, first noting the run's clock and the bytes and busy time its iterations booked by then
    in ``marks`` (:meth:`sim.api.LiveRun.moved`) at each look."""
    def look(done: np.ndarray) -> bool:
        marks.append((run.now, *run.moved()))
        return enough(done)
    return look


def length_stats(template: dict, base_dir: Path, n: int = LENGTH_SAMPLE, seed: int = 7) -> dict:
    """Token means per served request and the refused share, from ``n`` requests of the workload.

    The calibration runs see a few thousand requests each; served tokens need a tighter mean, so
    lengths are drawn straight from the workload generator (no simulation) and the replica's
    admission rules are applied (:meth:`sim.serving.replica.Replica.can_fit`: a prompt at or over
    the context limit, over ``max_batched_tokens`` without chunked prefill, or whose whole
    sequence exceeds the KV cache is refused; generation stops at the context limit). With them come
    ``work_weights``, the replica-seconds a prompt token and a decode token cost at these means
    (:func:`work_weights`), what :func:`saturated_rps` weighs a window's tokens by, and the
    ``turnover_batch`` a saturated replica turns over (:func:`sim.serving.saturated.turnover_batch`).
    """
    from sim.api import build_pools
    from sim.scenario.load import scenario_from_dict
    from sim.serving.saturated import turnover_batch
    from sim.workload import generate

    d = copy.deepcopy(template)
    d["workload"]["arrival"] = {"process": "poisson", "rate": 1000.0}
    d.update(duration=n / 1000.0, warmup=0.0, seed=seed)
    loaded = scenario_from_dict(d, "<capacity curve>", base_dir)
    pool = build_pools(loaded)[0]
    b = pool.cfg.batching
    prompt, output, cls = [], [], []
    for ch in generate(loaded.scenario.workload, n / 1000.0, seed, base_dir=base_dir):
        prompt.append(ch.prompt_tokens)
        output.append(ch.output_tokens)
        cls.append(ch.class_idx)
    p = np.concatenate(prompt).astype(np.int64)
    o = np.concatenate(output).astype(np.int64)
    c = np.concatenate(cls).astype(np.int64)
    ctx = pool.max_context
    out = np.maximum(np.minimum(o, ctx - p), 1)
    context = p > ctx
    budget = ~context & (p > b.max_batched_tokens) if budget_caps_prompts(b) \
        else np.zeros(len(p), dtype=bool)
    need = -(-(p + np.maximum(out, 1) - 1) // b.block_size)
    kv = ~context & ~budget & (need > pool.kv_blocks - int(ADMISSION_WATERMARK * pool.kv_blocks))
    refused = context | budget | kv
    ok = ~refused
    n_cls = max(1, len(d["workload"].get("classes") or []))
    per_class = []
    for k in range(n_cls):
        m = ok & (c == k)
        per_class.append([float(p[m].mean()), float(out[m].mean())] if m.any() else None)
    p_mean = float(p[ok].mean()) if ok.any() else 0.0
    o_mean = float(out[ok].mean()) if ok.any() else 0.0
    return {"prompt_tokens_mean": p_mean, "output_tokens_mean": o_mean,
            "work_weights": work_weights(pool, p_mean, o_mean),
            "turnover_batch": turnover_batch(pool, p_mean, o_mean) if ok.any() else 1,
            "reject_share": float(refused.mean()), "class_tokens": per_class, "n": int(len(p)),
            "reject_reasons": {"prompt_exceeds_max_context": float(context.mean()),
                               "prompt_exceeds_max_batched_tokens": float(budget.mean()),
                               "kv_capacity": float(kv.mean())}}


def grid_run_length(settings: CalibrationSettings, rate: float, group: int) -> tuple[float, float]:
    """(warmup, duration) in seconds of the grid run at ``rate`` (the group's requests/s).

    One replica runs ``max(min_duration_s, min_requests / rate)``, the first 10 % as warmup. A
    group of ``g`` replicas keeps that warmup (the start transient -- batches filling from empty --
    lasts as long per replica whatever the group) but measures ``g`` times fewer seconds after it,
    down to ``min_requests`` requests: the same replica-seconds and at least as many requests
    as one replica's run, and a pooled queue relaxes about ``g`` times faster than one replica's
    at the same load (M/M/c against M/M/1), so the shorter window holds as many independent stretches.
    """
    one = max(settings.min_duration_s, settings.min_requests / rate)
    warm = 0.1 * one
    measured = 0.9 * max(settings.min_duration_s / group, settings.min_requests / rate)
    return warm, (one if measured >= 0.9 * one else warm + measured)   # one replica: as always


def measure_curve(template: dict, base_dir: Path, settings: CalibrationSettings = CalibrationSettings(),
                  pool_name: str = "") -> CapacityCurve:
    """Run the calibration (see the module docstring) and return the curve."""
    group = int(template["fleet"]["pools"][0]["replicas"])
    lengths = length_stats(template, base_dir, seed=settings.seed + 1000)
    plain = {**template, "workload": {k: v for k, v in template["workload"].items() if k != "arrival"}}
    max_rps, probe_rate, sat = _saturation_rps(plain, base_dir, settings, group, pool_name, lengths)
    g = GridRuns(template)
    for f in settings.fractions:
        r = f * max_rps
        warm, dur = grid_run_length(settings, r, group)
        dur = max(dur, warm + replay_span(template["workload"].get("arrival"), r))   # a replay once through at least
        g.add(r, warm, *_grid_run(template, base_dir, r, dur, warm, settings.seed + len(g.rates) + 1))  # independent draws
    g.add_idle_point()
    group = float(group)                                       # rates are the group's: per replica below
    clumped = {"arrival": template["workload"]["arrival"]} if template["workload"].get("arrival") else {}
    return CapacityCurve(
        key="", pool=pool_name, max_rps=float(max_rps) / group, rates_rps=np.array(g.rates) / group,
        served_rps=np.array(g.served) / group,
        attainment=np.array(g.att), busy=np.array(g.busy), kv=np.array(g.kv), mfu=np.array(g.mfu),
        latency={m: {st: np.array(v) for st, v in d.items()} for m, d in g.lat.items()},
        hists={m: np.array(v) for m, v in g.hists.items()},
        prompt_tokens_mean=lengths["prompt_tokens_mean"], output_tokens_mean=lengths["output_tokens_mean"],
        reject_share=lengths["reject_share"],
        class_attainment=np.array(g.c_att), class_latency_mean={m: np.array(v) for m, v in g.c_mean.items()},
        class_hists={m: np.array(v) for m, v in g.c_hist.items()},
        slo_ratio=np.array(g.ratio), class_slo_ratio=np.array(g.c_ratio), **_saturated_fields(sat),
        hbm_busy=g.hbm_busy(), hbm_rps=g.hbm_rates() / group,
        hbm_sat=None if sat is None or g.hbm_busy() is None else sat["hbm"],
        meta={"settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.__dict__.items()},
              "probe_rate_rps": probe_rate, "group_replicas": int(group),
              "group_router": template["fleet"]["router"],
              "class_tokens": lengths["class_tokens"], "length_sample": lengths["n"],
              "reject_reasons": lengths["reject_reasons"],
              "runs": {"requests": g.n_req, "rejected": g.n_rej, "completed": g.n_done,
                       "prompt_tokens_mean": g.tok_in / max(g.n_done, 1),
                       "output_tokens_mean": g.tok_out / max(g.n_done, 1),
                       "class_completed": [a[0] for a in g.cls_acc.tolist()]}, **clumped})


def _saturation_rps(template: dict, base_dir: Path, settings: CalibrationSettings, group: int,
                    pool_name: str, lengths: dict) -> tuple[float, float, dict | None]:
    """Step 1: the saturation throughput (requests/s of the group), the probe rate that found it and the
    TPOT and TTFT and E2E service parts of the last window's requests, the one ``max_rps`` is read from
    (:func:`~sim.fluid.saturation.saturated_tpot`), and the HBM bytes the run moved per busy second from
    that window's start (``"hbm"``, :meth:`_LiveSaturated.busy_bandwidth`) (``None`` when the first window could not be read,
    :func:`~sim.fluid.saturation.settled_rps`, and ``max_rps`` is the probe's).

    A group measures 1/g of one replica's seconds after the same warmup, as the grid runs do; a
    saturated probe with fewer than ``min_requests`` completions is run again long enough. The
    saturated run's completions are weighed by their cost against the mix's ``lengths``
    (:func:`saturated_rps`).
    """
    rate = 1.0
    probe = settings.probe_duration_s
    max_rps = None
    for _ in range(16):
        res = _run(template, base_dir, rate, probe if group == 1 else probe / 4 + 0.75 * probe / group,
                   probe / 4, settings.seed)
        served = res.summary["throughput"]["requests_per_s"]
        req = res.summary["requests"]
        admitted_rate = rate * (1.0 - req["rejected"] / req["arrived"]) if req["arrived"] else rate
        # a backlog too: a probe of ~100 arrivals completes < 85 % of them by chance alone (7 % of
        # seeds at 1 request/s), with the replica mostly idle and nothing queued at the end
        if served < 0.85 * admitted_rate and req["in_flight"] >= BACKLOG_SHARE * req["arrived"]:
            max_rps = saturated_rps(res.summary["throughput"], lengths)
            break
        rate *= 4.0
    if not max_rps:
        raise RuntimeError(f"capacity curve of pool {pool_name!r}: no saturation found up to {rate:g} requests/s")
    # The measuring run: min_requests completions of a saturated replica (the probe's are too few or
    # too coarse: a 1-request/s replica completes ~90 requests in a probe, +-11 %), counted in
    # completions, not seconds (:func:`window_rps`), at a rate at least OVERDRIVE x max_rps on the
    # probes' grid of rates. So a replica c times as fast, whose probes find the same rate, is
    # measured on the same requests in the same order over the same completions, its time scaled.
    # Far enough above capacity that the queue never empties: a probe that found saturation barely
    # over capacity (a short probe at rho ~ 1 completes < 85 % of its arrivals one time in five)
    # idled now and then, read as lost capacity (M/M/1: -0.8 % on average over those seeds). After
    # TURNOVERS batch turnovers: a saturated batch fills from empty with the short requests first,
    # and until the long ones it holds in steady state are in it, it completes a shorter mix and less
    # work per second (the baseline pool's four replicas: 1 % less over 150 s after 30 s, none after 60 s).
    # The window then grows until its standard error is within SETTLED of it (:func:`settled_rps`: a
    # batching replica's completions come in correlated runs), each longer run the same seed's.
    while rate < OVERDRIVE * max_rps:
        rate *= 4.0
    turnover = lengths["turnover_batch"] * group
    skip = max(TURNOVERS * turnover, settings.min_requests // 3)
    n = max(settings.min_requests, BATCHES * turnover)     # each of the batch means a turnover at least
    # the run long enough for the window doubled once (at the probe's max_rps): a window that
    # settles at once pays for few arrivals past its run's end (a feed builds a chunk's requests
    # at once), one that doubles more often runs its later windows afresh
    live = _LiveSaturated(template, base_dir, rate, 1.5 * (skip + 2 * n) / max_rps + probe / 4, settings.seed)
    sat = None
    n_classes = max(1, len(template["workload"].get("classes") or []))
    while True:
        # the probe's max_rps may be high by its noise: a margin of time, so the run completes skip + n;
        # it stops once the window is known (its completions are the whole run's: window_closed)
        duration = 1.5 * (skip + n) / max_rps + probe / 4
        done = live.completions(duration, partial(window_closed, skip=skip, n=n))
        got = settled_rps(done, skip, n, lengths)
        if got is None:
            break
        max_rps, se = got
        sat = saturated_tpot(done, skip, n, n_classes)
        sat["itl"], sat["itl_row"] = live.itl(), live.itl_row()
        sat["hbm"] = live.busy_bandwidth(float(np.sort(done["completion_s"])[skip]))   # after the same turnovers
        if se <= SETTLED * max_rps or n >= MAX_WINDOW:
            break
        n = min(MAX_WINDOW, 2 * n)
    return max_rps, rate, sat


def _saturated_fields(sat: dict | None) -> dict:
    """The curve's saturated-replica fields from :func:`~sim.fluid.saturation.saturated_tpot`: its TPOT
    row and mean, and its TTFT and E2E service means where every metric has one (none without a TPOT
    row; a class without requests in the window takes the fleet's)."""
    if sat is None or sat["row"] is None:
        return {}
    rows = [r if r is not None else sat["row"] for r in sat["class_rows"]]
    means = [m if m is not None else sat["mean"] for m in sat["class_means"]]
    out = {"sat_tpot": sat["row"], "sat_tpot_mean": sat["mean"], "class_sat_tpot": np.array(rows),
           "class_sat_tpot_mean": np.array(means, dtype=np.float64)}
    if sat.get("itl") is not None and all(v is not None for v in sat["itl"].values()):
        out["sat_itl"] = sat["itl"]
        if sat.get("itl_row") is not None:
            out["sat_itl_row"] = sat["itl_row"]
    svc = sat.get("service") or {}
    if svc and all(v[0] is not None for v in svc.values()):
        out["sat_service_mean"] = {m: v[0] for m, v in svc.items()}
        out["class_sat_service_mean"] = {m: np.array([x if x is not None else v[0] for x in v[1]], dtype=np.float64)
                                         for m, v in svc.items()}
    return out


def capacity_curve(scenario, pool_index: int, base_dir: Path = Path("."),
                   settings: CalibrationSettings = CalibrationSettings(), *, use_cache: bool = True,
                   arrival: dict | None = None) -> CapacityCurve:
    """The pool's curve from the cache, or measured (and cached); ``arrival``: its grid runs' arrivals where
    not Poisson's (:func:`pool_template`)."""
    template = pool_template(scenario, pool_index, base_dir, arrival)
    key = curve_key(template, settings, base_dir)
    path = cache_dir() / f"capacity-{key}.json"
    if use_cache and path.exists():
        try:
            return CapacityCurve.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            pass  # unreadable cache entry: measure again
    name = scenario.fleet.pools[pool_index].name
    curve = measure_curve(template, base_dir, settings, name)
    curve = CapacityCurve(**{**curve.__dict__, "key": key})
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(curve.to_json()))
            os.replace(tmp, path)
        except OSError:     # $FLEETSIM_CACHE read-only, full or a file: the run stops there no more; the next
            pass            # process measures again, as for the scheduler factors (sim.serving.factor_cache)
    return curve
