"""The arrivals a pool's capacity curve is measured under when the workload's are burstier than Poisson.

A capacity curve is measured under Poisson arrivals (:mod:`sim.fluid.capacity`), and the fluid tier
follows the rate only from sub-step to sub-step (:mod:`sim.fluid.substep`). A workload whose arrivals
clump inside a sub-step queues longer than such a curve says (:mod:`sim.fluid.burst`), so where they
do, the curve's grid runs are measured under the workload's own arrival process instead
(:func:`curve_arrivals`, one ``workload.arrival`` per pool for its template,
:func:`sim.fluid.capacity.pool_template`):

* **a trace replay** (``process: trace``, no classes, its index of dispersion above the warning's
  threshold): the trace's own requests as the run replays them (``rate_scale``'s copies drawn with the
  scenario's seed, each with its row's lengths), each step's requests time-scaled so that every step runs
  at the run's mean rate (:func:`detrended`: the swings from one step to the next are the fluid tier's
  steps, and would otherwise count twice), written as a ``fleetsim`` trace in the cache
  (:func:`replay_file`) and looped over those steps' window (``loop_period``, however its rows cluster
  inside it), time-scaled to each grid rate, each grid run at least one pass of it
  (:func:`replay_span`), thinned to the curve's group's share of the fleet (``rate_scale`` ``g /
  replicas``: each request routed on its own). Why the trace itself rather than a model of it: the
  clumping in the bundled Azure samples is not one number. The code sample's index grows with the
  window (5.3, 8.7, 17.6, 29 over 0.5, 1, 2, 5 s: bursts of seconds, not instants), so a batch Poisson
  process matched at 1 s leaves its longer bursts out (TTFT p99 1.10 s against 1.78 s at request level,
  code at 1x); and ``rate_scale``'s copies share their row's lengths, so the prompt tokens arriving are
  as clumped as the requests (their index 9.3 at 1 s for the conversation sample at 10x, where a batch of
  independent lengths with the same count index has 6.0): the same times with lengths drawn independently
  read a TTFT p99 of 0.74-0.78 s against 1.43 s. The swings between sub-steps inside a step stay in the
  replay, so a run reads the steps the replay holds evenly over their sub-steps (:func:`held_spread`), where
  it served each sub-step at its own rate and counted them twice (the code sample at 10x on 4 H100s: TTFT
  p99 58.6 s, now 23.2 s, against 20.9 s); detrending each 35 s sub-step instead (its requests stretched to
  the mean rate) stretches its bursts too, and read the code sample at 1x at 0.44 s against 1.78 s
  (``docs/scaling.md``, "Trace arrivals burstier than Poisson").
* **batch Poisson** (``compound_poisson``, or a trace with classes: the index measured, every class's
  lengths drawn as the workload's): ``{process: compound_poisson, clump_mean}`` with the clump of
  :func:`sim.fluid.burst.pool_clumps`.

Poisson arrivals, other processes and a trace within Poisson's noise keep their curve as it was (its
template, and so its cache key, unchanged). A replay's curve is keyed by the replay file's content
(:func:`sim.fluid.template.keyed`), not by the folder it is in: another seed or ``rate_scale`` measures
another curve, another cache folder the same one.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from sim.fluid.burst import CLUMPED, measure, modelled_index, pool_clumps
from sim.fluid.substep import sub_arrivals

REPLAY_MAX = 50_000
"""The most requests a replay holds: the run's first, whole steps of them (a grid run replays them once
at least, :func:`replay_span`; the Azure conversation service sends 50,000 in about 2.5 hours)."""


def detrended(t: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, int]:
    """Arrival times ``t`` (ascending) with each sub-step between ``cuts`` time-scaled to last its requests
    over the mean rate (the sub-steps without requests left out), and how many of ``t`` that keeps (those
    inside ``cuts``): the arrivals' clumping within each sub-step, without its swings from one to the next.

        >>> t, n = detrended(np.array([0.5, 1.0, 1.5, 2.0, 4.0]), np.array([0.0, 3.0, 6.0]))   # 4, then 1
        >>> np.round(t, 9).tolist(), n             # mean rate 5/6: the first 4 over 4.8 s, then 1 over 1.2 s
        ([0.8, 1.6, 2.4, 3.2, 5.2], 5)
    """
    t = np.asarray(t, dtype=np.float64)
    t = t[(t >= cuts[0]) & (t < cuts[-1])]
    n = np.histogram(t, bins=cuts)[0]
    rate = t.size / float(cuts[-1] - cuts[0])
    if rate <= 0:
        return t, 0
    length = n / rate
    start = np.concatenate(([0.0], np.cumsum(length)[:-1]))
    i = np.clip(np.searchsorted(cuts, t, side="right") - 1, 0, len(n) - 1)
    return start[i] + (t - cuts[i]) * (length[i] / np.diff(cuts)[i]), int(t.size)


def _requests(sc, base_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run's requests (arrival time, prompt and output tokens), the first :data:`REPLAY_MAX`."""
    from sim.workload import generate

    t, p, o, n = [], [], [], 0
    for ch in generate(sc.workload, float(sc.duration), sc.seed, start=sc.start, base_dir=base_dir):
        t.append(ch.arrival_s), p.append(ch.prompt_tokens), o.append(ch.output_tokens)
        n += len(ch.arrival_s)
        if n >= REPLAY_MAX:
            break
    if not t:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return (np.concatenate(t)[:REPLAY_MAX], np.concatenate(p)[:REPLAY_MAX].astype(np.int64),
            np.concatenate(o)[:REPLAY_MAX].astype(np.int64))


def replay_file(t: np.ndarray, prompt: np.ndarray, output: np.ndarray) -> Path:
    """The requests as a ``fleetsim`` trace in the cache (:func:`sim.io.cache_dir`), named by its content; where
    the cache cannot be written (read-only, full, under a file), in a folder of this process's own, removed
    at its exit: the run goes on, as where a curve cannot be cached (:func:`sim.fluid.capacity.capacity_curve`).
    The curve's key reads the file's content, not where it is (:func:`sim.fluid.template.keyed`)."""
    from sim.io import cache_dir

    text = "timestamp_s,prompt_tokens,output_tokens\n" + "".join(
        f"{a:.6f},{b},{c}\n" for a, b, c in zip(t.tolist(), prompt.tolist(), output.tolist()))
    name = f"replay-{hashlib.sha256(text.encode()).hexdigest()[:24]}.csv"
    try:
        return _written(cache_dir() / name, text)
    except OSError:
        return _written(_own_folder() / name, text)


def _written(path: Path, text: str) -> Path:
    """``path`` holding ``text``: as it is where it does already (a file of another content, such as one cut
    short, is written again), else written whole (a temporary file of a unique name, then renamed)."""
    try:
        if path.read_text() == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_OWN: list[Path] = []


def _own_folder() -> Path:
    """A temporary folder of this process's own for replays the cache cannot hold, removed at its exit."""
    if not _OWN:
        _OWN.append(Path(tempfile.mkdtemp(prefix="fleetsim-replay-")))
        atexit.register(shutil.rmtree, _OWN[0], True)
    return _OWN[0]


def _replayable(sc) -> bool:
    """Whether the workload is one trace replay, without classes (a replay keeps each row's lengths)."""
    wl = sc.workload
    return not wl.classes and wl.arrival is not None and wl.arrival.process == "trace"


def curve_arrivals(sc, edges: np.ndarray, dt_s: np.ndarray, base_dir: Path, groups: list[int]
                   ) -> tuple[list[dict | None], np.ndarray | None]:
    """Each pool's ``workload.arrival`` for its curve's template (``None``: Poisson's, the template as it was;
    module docstring), for the steps between ``edges``, and each class's arrivals per sub-step
    (:func:`~sim.fluid.substep.sub_arrivals`). ``groups``: the replicas each pool's curve is measured on."""
    arrivals, fine, _ = counted_arrivals(sc, edges, dt_s, base_dir, groups)
    return arrivals, fine


def counted_arrivals(sc, edges: np.ndarray, dt_s: np.ndarray, base_dir: Path, groups: list[int]
                     ) -> tuple[list[dict | None], np.ndarray | None, dict | None]:
    """:func:`curve_arrivals`' two, and the trace's measurement they were chosen by
    (:func:`sim.fluid.burst.measure`, ``None`` without one), which the run's warning and summary read
    (:func:`sim.fluid.burst.warn_bursty`) without counting the trace again."""
    fine = sub_arrivals(sc, edges, dt_s, base_dir)
    m = measure(sc, edges, fine, base_dir)
    if _replayable(sc):
        if m is None or not m["index"] > m["threshold"]:
            return [None] * len(groups), fine, m
        t, p, o = _requests(sc, base_dir)
        cuts = np.asarray(edges, dtype=np.float64)
        if t.size >= REPLAY_MAX:        # whole steps of the first REPLAY_MAX requests (else up to the last)
            whole = int(np.searchsorted(cuts, t[-1], side="right")) - 1
            cuts = cuts[:whole + 1] if whole >= 1 else np.array([cuts[0], float(t[-1])])
        times, n = detrended(t, cuts)
        if n < 2:
            return [None] * len(groups), fine, m
    if _replayable(sc) and times[-1] > times[0]:    # (rows all at one instant: clumps, as below)
        keep = (t >= cuts[0]) & (t < cuts[-1])
        path = replay_file(times, p[keep], o[keep])
        span = float(cuts[-1] - cuts[0])
        rps = n / span
        total = sum(int(pool.replicas) for pool in sc.fleet.pools)
        # looped over its steps' window, as the run's steps hold them: not its last row plus the mean gap, which
        # for rows clumped at a step's start (time_scale 1e-6: a 1,800 s trace's rows within 2 ms) is a loop of
        # milliseconds; the rows as written (to the microsecond) never span more
        period = max(span, float(f"{times[-1]:.6f}") - float(f"{times[0]:.6f}"))
        return [{"process": "trace", "path": str(path), "format": "fleetsim", "loop": True, "loop_period": period,
                 "rate_scale": min(1.0, g / total), "replay_rps": rps * min(1.0, g / total),
                 "replay_s": span} for g in groups], fine, m
    index, _ = modelled_index(sc, edges, fine, base_dir, m)
    clumps = pool_clumps(sc, index, groups)
    return [None if c is None else {"process": CLUMPED, "clump_mean": c} for c in clumps], fine, m


def held_spread(spread: np.ndarray | None, edges: np.ndarray, arrival: dict | None) -> np.ndarray | None:
    """A pool's demand over its sub-steps (:func:`sim.fluid.substep.sub_spread`) as the fluid tier reads it on a
    curve measured under ``arrival`` (:func:`curve_arrivals`): even over the sub-steps of every step the replay
    holds (the first ``replay_s`` seconds), whose swings between sub-steps are in the curve's grid runs (the
    replay is detrended per step only), so that they count once, in the curve, and not again in the load the
    curve is read at nor in a backlog of the sub-steps; as it was elsewhere, and for other arrivals.

        >>> spread = np.array([[0.75, 0.25], [0.5, 0.5], [0.9, 0.1]])
        >>> held_spread(spread, np.array([0.0, 10.0, 20.0, 30.0]), {"process": "trace", "replay_s": 20.0}).tolist()
        [[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]]
        >>> held_spread(spread, np.array([0.0, 10.0, 20.0, 30.0]), None) is spread
        True
    """
    held = held_steps(edges, arrival) if spread is not None else None
    if held is None or not held.any():
        return spread
    out = np.array(spread, dtype=np.float64)
    out[held] = 1.0 / out.shape[1]
    return out


def held_steps(edges: np.ndarray, arrival: dict | None) -> np.ndarray | None:
    """Per step (``edges``), whether a curve measured under ``arrival`` (:func:`curve_arrivals`) replays it (the
    replay's first ``replay_s`` seconds hold it); ``None`` for other arrivals.

        >>> held_steps(np.array([0.0, 10.0, 20.0, 30.0]), {"process": "trace", "replay_s": 20.0}).tolist()
        [True, True, False]
    """
    if arrival is None or arrival.get("process") != "trace":
        return None
    edges = np.asarray(edges, dtype=np.float64)
    return edges[1:] <= edges[0] + float(arrival["replay_s"]) * (1.0 + 1e-9)


def replay_span(arrival: dict | None, rate: float) -> float:
    """Seconds the replay of ``arrival`` (:func:`curve_arrivals`) lasts at ``rate`` (the group's requests/s), once
    through: what a grid run measures at least, so that it sees every clump of the trace; 0 for other arrivals.

        >>> replay_span({"process": "trace", "replay_rps": 4.0, "replay_s": 425.0}, 8.0), replay_span(None, 8.0)
        (212.5, 0.0)
    """
    if arrival is None or arrival.get("process") != "trace":
        return 0.0
    return float(arrival["replay_s"]) * float(arrival["replay_rps"]) / float(rate)


def measuring_arrival(arrival: dict | None, rate: float) -> dict:
    """The ``workload.arrival`` of a curve's run at ``rate`` (the group's requests/s) under the template's
    ``arrival`` (:func:`curve_arrivals`): Poisson's, the batch Poisson process's, or the replay time-scaled.

        >>> measuring_arrival(None, 2.0), measuring_arrival({"process": "compound_poisson", "clump_mean": 3.0}, 2.0)
        ({'process': 'poisson', 'rate': 2.0}, {'process': 'compound_poisson', 'clump_mean': 3.0, 'rate': 2.0})
        >>> measuring_arrival({"process": "trace", "path": "r.csv", "loop_period": 9.0, "rate_scale": 0.5,
        ...                    "replay_rps": 4.0, "replay_s": 9.0}, 8.0)
        {'process': 'trace', 'path': 'r.csv', 'loop_period': 9.0, 'rate_scale': 0.5, 'time_scale': 0.5}
    """
    if arrival is None:
        return {"process": "poisson", "rate": float(rate)}
    if arrival["process"] == "trace":
        out = {k: v for k, v in arrival.items() if k not in ("replay_rps", "replay_s")}
        return {**out, "time_scale": float(arrival["replay_rps"]) / float(rate)}
    return {**arrival, "rate": float(rate)}


__all__ = ["REPLAY_MAX", "counted_arrivals", "curve_arrivals", "detrended", "held_spread", "held_steps", "measuring_arrival", "replay_file",
           "replay_span"]
