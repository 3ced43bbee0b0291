"""What one replica of a pool serves when its queue never empties, measured on its own engine.

The load factor's per-request cost ``s(p, o)`` (:mod:`sim.perf.utilization`) is a closed form from
the *means* of the lengths with vLLM V0's prefill/decode split. The engine a pool runs differs from
it in ways a closed form of the means does not see: mixed iterations read the weights once for
prompts and decodes (vLLM V1, TensorRT-LLM); TensorRT-LLM's ``GUARANTEED_NO_EVICT`` reserves every
sequence's whole KV cache, and without chunked context a whole prompt waits, head of line, until the
running decodes leave it room in the token budget; SGLang runs prompts in iterations of their own;
lengths vary around their means (a batch limited by KV cache holds fewer long sequences); preemption
recomputes. So the pool's engine is asked instead:

1. the requests the scenario's own workload generator gives under a fixed internal seed
   (:data:`SEED`, a stream of its own: the run's random streams are untouched) that the pool can
   serve (:func:`servable`: the admission rules every router respects, so a request the pool's
   context, token budget or KV cache refuses goes to another pool and is not in its mix; an output
   longer than the context leaves is cut there as a replica cuts it,
   :func:`~sim.serving.request.served_output`, so the sample's lengths, the arrival spacing and
   ``B`` below are those of the requests the pool serves), spread
   evenly over the whole run (:func:`workload_sample`: every ``k``-th request, shuffled, so a trace
   or a class mix that changes over the day is measured on the whole run's mix, not its first
   minutes; the generator is read for at most :data:`MAX_DRAWN` requests, so a longer run is
   sampled over its start), cycled if the workload has fewer, arrive at **one replica** of the
   pool (same GPU, model, layout, step-time model, KV cache and batching; no autoscaler or
   failures; a disaggregated decode pool's replica fed by prefill replicas, below)
   :data:`OVERLOAD` times faster than the closed form serves them, so its queue never empties. That is the pool's mix where the scenario fixes it before the run: a pool that
   refuses a class's requests (a shorter ``max_model_len``, say) serves the others in the
   proportions they arrive in, whatever the router; classes pinned to pools (``fleet.router.classes``)
   reach only their pools, so a pool is measured on the classes that can reach it (those pinned to
   it and those not pinned: :func:`reaching`). Where pools share requests the router decides
   during the run how many each gets (least outstanding, spillover, weights): a pool that alone
   can serve some requests also gets a share of the others that only the run knows, and its
   factor is measured on all it can serve (the whole mix, for a pool that can serve every request);
2. completions after the first ``3 B`` (a few batch turnovers, the synchronized start left out;
   ``B`` = :func:`turnover_batch`: ``max_num_seqs``, or twice the sequences of the mean lengths the
   KV cache holds if that is fewer, so a huge ``max_num_seqs`` the KV cache never fills does not
   make the measurement simulate millions of requests) are the saturated window. It grows until its factor's standard
   error (batch means) is within :data:`SETTLED` of it (at least :data:`MIN_WINDOW_REQUESTS`, at most
   :data:`MAX_WINDOW_REQUESTS` completions): an engine whose cost comes in rare, large events
   (TensorRT-LLM without chunked context drains its whole batch before a prompt as long as the
   token budget, one request in a few hundred under a clipped lognormal) needs a long window, a
   steady one stops early;
3. the **scheduler factor** is the window's replica-seconds per completed request over the closed
   form at the window's own mean prompt and output tokens, for the ``n`` requests completed after
   the window's first completion time ``t_first`` up to the last one, ``t_last``:

       factor = (t_last - t_first) / n  /  s(mean p, mean o)

so ``factor x s(p, o)`` is what a request costs on this engine: the load factor of a saturated pool
reads 1.0 whatever its scheduler, and the closed form still follows the mix a run serves (the
factor is measured once per pool configuration; a run whose mix differs much from its workload's
gets the closed form's shape, scaled).

A batch-of-one engine with a linear step model serves each request in exactly the closed form's
time (its cost is linear in the lengths), so there the factor is 1 to rounding and an underloaded
pool's load factor is its utilization ``rho``. A window with fewer than :data:`MIN_WINDOW`
completions (every request refused, or too few requests) gives factor 1: the closed form alone.

Measurements are cached in the process and on disk, keyed by what they depend on
(:mod:`sim.serving.factor_cache`: the requests' lengths and classes, the pool's configuration, the
files its ``perf:`` block reads; a sweep over arrival rates measures once); a capacity-scaled engine
is measured unscaled (:func:`scheduler_factor`), so a ``--capacity-band`` run measures once for its
three runs.

On the baseline (Llama-3-8B, H100) one measurement costs about 0.5 s of CPU under vLLM or SGLang
(the baseline's run: about 6 s; ``benchmarks/bench_scheduler_factor.py``) and 1-3 s under
TensorRT-LLM without chunked context, whose window runs to :data:`MAX_WINDOW_REQUESTS`; a factor
read from the disk cache costs nothing measurable beyond drawing the sample its key hashes: the
whole run's requests, up to :data:`MAX_DRAWN` (the baseline's 43,000: 0.01 s; a run of a million
requests or more: about 0.3 s a pool).

Under ``fleet.disaggregated`` the decode pool is measured the same way on one decode replica fed
by enough replicas of the prefill pool (:func:`decode_window`) over the scenario's link: its
factor prices a request at its decode alone (the closed form counts a prefill the pool does not
run), so a saturated decode pool reads 1.0 too. The prefill pool keeps factor 1: it completes no
request and its load factor reads 0. On ``scenarios/disaggregated.yaml`` the decode measurement
costs about 0.6 s of CPU (five TP4 prefill replicas for one decode replica).
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np
import simpy

from sim.perf.memory import ADMISSION_WATERMARK
from sim.perf.scaled import ScaledCapacity
from sim.perf.utilization import decode_batch, limits_of, request_seconds, seconds_per_request
from sim.scenario.schedulers import budget_caps_prompts
from sim.scenario.workload import PoissonArrival
from sim.serving.factor_cache import FACTOR_VERSION, _CACHE, cached_factor, measurement_key  # noqa: F401 (re-exported)
from sim.serving.fleet import Fleet
from sim.serving.pool import PoolRuntime
from sim.serving.request import served_output
from sim.workload import classes, generate
from sim.workload.generator import RequestChunk

SEED = 20261204
"""The internal seed of the requests a factor is measured with (never the run's own)."""
MIN_WINDOW_REQUESTS = 2000
"""Completions in the saturated window before the measurement may stop."""
MAX_WINDOW_REQUESTS = 40_000
"""Completions in the saturated window at most (the measurement stops there, settled or not)."""
SETTLED = 0.0075
"""The window is long enough when the standard error of its factor is at most this share of it."""
BATCHES = 8
"""Runs of consecutive completions the window is cut into for its standard error (batch means)."""
OVERLOAD = 3.0
"""Requests arrive this many times faster than the closed form serves them (the engine is never
that much faster than the closed form: mixed iterations save at most the second weight read)."""
STEP_REQUESTS = 1000
"""Simulated time between checks of the window: about this many requests' closed-form cost."""
MIN_WINDOW = 200
"""Fewest completions in the saturated window for a factor other than 1."""
SAMPLE = 262_144
"""Requests of the workload's span held at most for a measurement (:func:`workload_sample`)."""
MAX_PREFILL_REPLICAS = 32
"""Prefill replicas at most in a disaggregated decode pool's measurement (:func:`prefill_replicas`)."""
MAX_DRAWN = 1_000_000
"""Requests of the workload generated at most to draw the sample from (about 0.3 s)."""

def servable(pool: PoolRuntime, prompt: np.ndarray, output: np.ndarray, role: str = "both") -> np.ndarray:
    """Which requests (``prompt``, ``output`` tokens) one replica of ``pool`` in ``role`` can ever
    serve: the admission rules of :meth:`sim.serving.replica.Replica.can_fit`, on arrays (a prompt
    over the context limit, over ``max_batched_tokens`` without chunked prefill (not in the decode
    role), or whose whole sequence, output cut at the context limit (the prompt alone in the prefill
    role), needs more KV blocks than the cache holds above its 1 % watermark is refused; every
    router passes such a request to a pool that can serve it)."""
    b = pool.cfg.batching
    ctx = pool.max_context
    prompt = np.asarray(prompt, dtype=np.int64)
    ok = prompt <= ctx
    if budget_caps_prompts(b) and role != "decode":     # (an sglang pool runs such a prompt alone)
        ok &= prompt <= b.max_batched_tokens
    out = served_output(prompt, np.asarray(output, dtype=np.int64), ctx)
    need = -(-(prompt + (out - 1 if role != "prefill" else 0)) // b.block_size)
    return ok & (need <= pool.kv_blocks - int(ADMISSION_WATERMARK * pool.kv_blocks))


def workload_sample(workload, horizon_s: float, base_dir: Path, start=None, pool: PoolRuntime | None = None,
                    prefill: PoolRuntime | None = None, reach: np.ndarray | None = None) -> RequestChunk:
    """Requests spread evenly over the whole of ``workload``'s span ``[0, horizon_s)`` under
    :data:`SEED`, in a shuffled order (arrival times left at 0): every ``k``-th request of the
    generator's (of those ``pool`` can serve, :func:`servable`, if a pool is given; as the decode
pool of a disaggregated pair whose prefill pool is ``prefill``, if that is given; of the classes
    whose ``reach[class_idx]`` is true, if ``reach`` is given: :func:`reaching`), ``k`` doubling
    whenever more than :data:`SAMPLE` are held, so between ``SAMPLE / 2`` and ``SAMPLE`` are kept
    once the workload has that many. The generator is read for at most :data:`MAX_DRAWN` requests:
    a longer workload is sampled over the span those cover (its start). Shuffled (a permutation
    under :data:`SEED`), so the first requests of the sample, all a short measurement serves, are
    spread over the span too."""
    parts: list[RequestChunk] = []
    held = seen = drawn = 0
    stride = 1
    # bad trace rows are left out here; the run's own generator reports them (or skips them if asked)
    for ch in generate(workload, horizon_s, SEED, start=start, base_dir=base_dir, chunk_size=65536,
                       skip_bad_rows=True):
        drawn += len(ch)
        if pool is None:
            keep = np.ones(len(ch), dtype=bool)
        elif prefill is None:
            keep = servable(pool, ch.prompt_tokens, ch.output_tokens)
        else:
            keep = (servable(pool, ch.prompt_tokens, ch.output_tokens, "decode")
                    & servable(prefill, ch.prompt_tokens, ch.output_tokens, "prefill"))
        if reach is not None:
            keep &= reach[ch.class_idx]
        rows = np.flatnonzero(keep)
        rows = rows[(seen + np.arange(len(rows))) % stride == 0]
        seen += int(keep.sum())
        if len(rows):
            parts.append(RequestChunk(ch.arrival_s[rows], ch.prompt_tokens[rows],
                                      _served(ch.prompt_tokens[rows], ch.output_tokens[rows], pool, prefill),
                                      ch.class_idx[rows]))
            held += len(rows)
        while held > SAMPLE:          # keep every other one: the multiples of the doubled stride
            parts = [_concat(parts, slice(None, None, 2))]
            held, stride = len(parts[0]), 2 * stride
        if drawn >= MAX_DRAWN:
            break
    if not held:
        return RequestChunk(np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int16))
    return _concat(parts, np.random.default_rng(SEED).permutation(held))


def _served(prompt: np.ndarray, output: np.ndarray, pool: PoolRuntime | None,
            prefill: PoolRuntime | None) -> np.ndarray:
    """The output tokens ``pool`` serves of requests of ``prompt`` / ``output`` tokens: cut at its
    context limit as its replicas cut them (:func:`~sim.serving.request.served_output`), first at
    the ``prefill`` pool's where a disaggregated request passes through that first; as generated
    without a pool."""
    for p in (prefill, pool):
        if p is not None:
            output = served_output(prompt, output, p.max_context)
    return output


def reaching(scenario, pool: PoolRuntime) -> np.ndarray | None:
    """Which classes (by ``class_idx``) may reach ``pool`` under ``fleet.router.classes``: those
    pinned to it and those not pinned; None without the key (every class may)."""
    router = scenario.fleet.router
    if not router.classes or scenario.fleet.disaggregated is not None:
        return None
    pins = [router.pools_of(c.name) for c in classes(scenario.workload)]
    return np.array([p is None or pool.cfg.name in p for p in pins], dtype=bool)


def _concat(parts: list[RequestChunk], idx) -> RequestChunk:
    """The requests of ``parts`` (concatenated) at ``idx``, arrival times 0."""
    cat = (lambda name: np.concatenate([getattr(c, name) for c in parts])[idx])
    p = cat("prompt_tokens")
    return RequestChunk(np.zeros(len(p)), p, cat("output_tokens"), cat("class_idx"))


def measurement_requests(workload, horizon_s: float, n: int, base_dir: Path, start=None,
                         pool: PoolRuntime | None = None) -> RequestChunk:
    """``n`` requests of ``workload`` spread over its span (:func:`workload_sample`), cycled if the
    sample has fewer."""
    return _first(workload_sample(workload, horizon_s, base_dir, start, pool), n)


def _first(sample: RequestChunk, n: int) -> RequestChunk:
    """The first ``n`` requests of ``sample``, cycled if it has fewer."""
    if not len(sample):
        return sample
    idx = np.arange(n) % len(sample)
    return RequestChunk(np.zeros(n), sample.prompt_tokens[idx], sample.output_tokens[idx], sample.class_idx[idx])


def _one_replica(scenario, pool: PoolRuntime):
    """The derived scenario and pool: one replica of ``pool``, nothing else in the fleet."""
    sc, (one,) = _measured_fleet(scenario, [(pool, 1)], None)
    return sc, one


def _measured_fleet(scenario, pools: list[tuple[PoolRuntime, int]], disaggregated):
    """The derived scenario and pools of a measurement: ``pools`` as ``(pool, replicas)`` (no
    autoscaler or failures), under ``disaggregated`` (None: one engine per replica), records kept; no
    waiting room refuses a request and no client gives up (the measurement overloads the replica).
    A closed loop's clients are replaced by open arrivals: the measurement's own feed
    (:func:`_arriving`) is what arrives, never ``concurrency`` clients that would hold the replica
    below saturation (5 clients thinking 4 s on 1-s requests kept it 80 % busy and read a factor of
    1.22, which the cache, blind to the clients, then gave every scenario of those lengths)."""
    cfgs = [p.cfg.model_copy(update={"replicas": n, "autoscale": None, "failures": None, "max_waiting": None})
            for p, n in pools]
    fleet = scenario.fleet.model_copy(update={
        "pools": cfgs, "disaggregated": disaggregated,
        "router": scenario.fleet.router.model_copy(update={"policy": "round_robin", "classes": None, "batcher": None,
                                                           "max_waiting": None})})
    metrics = scenario.metrics.model_copy(update={"records": "all", "interval": 1e9})
    wl = scenario.workload
    if wl.patient:
        wl = wl.model_copy(update={"patience_s": None, "classes": [c.model_copy(update={"patience_s": None})
                                                                   for c in wl.classes]})
    if wl.closed is not None:
        wl = wl.model_copy(update={"arrival": PoissonArrival(process="poisson", rate=1.0)})
    sc = scenario.model_copy(update={"fleet": fleet, "metrics": metrics, "warmup": 0.0, "workload": wl})
    return sc, [PoolRuntime(index=i, cfg=cfg, gpu=p.gpu, model=p.model, step_model=p.step_model,
                            kv_blocks=p.kv_blocks, kv_bytes_per_token=p.kv_bytes_per_token,
                            weight_dtype=p.weight_dtype, max_context=p.max_context)
                for i, ((p, _), cfg) in enumerate(zip(pools, cfgs))]


def _ratio(pool: PoolRuntime, rec: np.ndarray, t0: float) -> float:
    """Replica-seconds per request completed after ``t0`` (of ``rec``, in completion order; the span
    ends at the last completion) over the closed form at their own mean lengths."""
    rec = rec[rec["completion_s"] > t0]
    if not len(rec):
        return 1.0
    per_request = (float(rec["completion_s"][-1]) - t0) / len(rec)
    closed = seconds_per_request(pool.step_model, limits_of(pool.cfg.batching, pool.kv_blocks),
                                 float(np.mean(rec["prompt_tokens"])), float(np.mean(rec["generated_tokens"])))
    return per_request / closed if closed > 0 and per_request > 0 else 1.0


def turnover_batch(pool: PoolRuntime, prompt_mean: float, output_mean: float) -> int:
    """``B``: the sequences one replica of ``pool`` turns over in a batch: ``max_num_seqs``, or
    twice the KV cache's batch at the mean lengths (:func:`~sim.perf.utilization.decode_batch`;
    lengths vary around their means, so the batch a KV cache holds varies too) when that is fewer."""
    limits = limits_of(pool.cfg.batching, pool.kv_blocks)
    return max(1, min(int(limits.max_num_seqs), 2 * decode_batch(limits, prompt_mean, output_mean)))


def _arriving(reqs: RequestChunk, gap_s: float, size: int = 1024):
    """``reqs`` as chunks of arrivals ``gap_s`` apart (built as the replica gets to them)."""
    for i in range(0, len(reqs), size):
        j = min(i + size, len(reqs))
        yield RequestChunk(np.arange(i, j) * gap_s, reqs.prompt_tokens[i:j], reqs.output_tokens[i:j],
                           reqs.class_idx[i:j])


def saturated_window(scenario, pool: PoolRuntime, reqs: RequestChunk) -> tuple[np.ndarray, float]:
    """One replica of ``pool`` serves ``reqs`` (arriving :data:`OVERLOAD` times faster than the
    closed form serves them) until its window is long enough (module docstring): the window's
    completion records in completion order, starting with the completion whose time opens it, and
    that time."""
    sc, one = _one_replica(scenario, pool)
    s_guess = seconds_per_request(one.step_model, limits_of(one.cfg.batching, one.kv_blocks),
                                  float(np.mean(reqs.prompt_tokens)), float(np.mean(reqs.output_tokens)))
    return _window(sc, [one], one, reqs, s_guess)


def decode_window(scenario, prefill: PoolRuntime, decode: PoolRuntime, reqs: RequestChunk) -> tuple[np.ndarray, float]:
    """:func:`saturated_window` of one replica of a disaggregated ``decode`` pool, fed by enough
    replicas of its ``prefill`` pool (:func:`prefill_replicas`) over the scenario's link: requests
    arrive :data:`OVERLOAD` times faster than the closed form's decode part (:func:`~sim.perf.utilization.request_seconds`)
    serves them, so the prefill pool's queue grows and it hands prefilled requests on faster than
    the decode replica takes them."""
    n = prefill_replicas(prefill, decode, reqs)
    sc, (pre, dec) = _measured_fleet(scenario, [(prefill, n), (decode, 1)], scenario.fleet.disaggregated.model_copy(
        update={"prefill_pool": prefill.cfg.name, "decode_pool": decode.cfg.name}))
    p, o = float(np.mean(reqs.prompt_tokens)), float(np.mean(reqs.output_tokens))
    return _window(sc, [pre, dec], dec, reqs, request_seconds(dec.step_model, limits_of(dec.cfg.batching, dec.kv_blocks),
                                                            p, o)[1])


def prefill_replicas(prefill: PoolRuntime, decode: PoolRuntime, reqs: RequestChunk) -> int:
    """Prefill replicas a decode replica's measurement needs: twice the closed form's ratio of a
    request's prefill seconds on ``prefill`` to its decode seconds on ``decode`` (the engines differ
    from it by far less than that margin), at least 1, at most :data:`MAX_PREFILL_REPLICAS`."""
    p, o = float(np.mean(reqs.prompt_tokens)), float(np.mean(reqs.output_tokens))
    pre = request_seconds(prefill.step_model, limits_of(prefill.cfg.batching, prefill.kv_blocks), p, o)[0]
    dec = request_seconds(decode.step_model, limits_of(decode.cfg.batching, decode.kv_blocks), p, o)[1]
    return int(min(MAX_PREFILL_REPLICAS, max(1, math.ceil(2 * pre / dec)))) if dec > 0 else 1


def _window(sc, pools: list[PoolRuntime], one: PoolRuntime, reqs: RequestChunk, s_guess: float,
            ) -> tuple[np.ndarray, float]:
    """The saturated window of ``one`` (of ``pools``, the fleet of scenario ``sc``), requests
    ``s_guess / OVERLOAD`` apart."""
    env = simpy.Environment()
    fleet = Fleet(env, sc, pools, [c.priority for c in classes(sc.workload)], fast=sc.engine == "fast", seed=SEED)
    b = turnover_batch(one, float(np.mean(reqs.prompt_tokens)), float(np.mean(reqs.output_tokens)))
    lo = 3 * b
    fleet.start(_arriving(reqs, s_guess / OVERLOAD), math.inf, sc.metrics.interval)
    step = max(STEP_REQUESTS * s_guess, 1e-3)
    t = 0.0
    rec = np.zeros(0)
    for _ in range(100_000):
        t += step
        fleet.set_horizon(t)
        env.run(until=t)
        done = fleet.pool_done[one.index][0]
        if done - lo < MIN_WINDOW_REQUESTS and fleet.in_flight:
            continue
        rec = fleet.log.array()
        rec = rec[rec["status"] == 1]
        rec = rec[np.argsort(rec["completion_s"], kind="stable")]
        if not fleet.in_flight or len(rec) - lo >= MAX_WINDOW_REQUESTS or _settled(one, rec, lo):
            break
    if not fleet.in_flight:        # everything served: leave out the drain of the last batch
        rec = rec[:max(len(rec) - 2 * b, 0)]
    if len(rec) - lo < MIN_WINDOW:
        return rec[:0], 0.0
    return rec[lo:], float(rec["completion_s"][lo])


def _settled(pool: PoolRuntime, rec: np.ndarray, lo: int) -> bool:
    """Whether the window's factor is known within :data:`SETTLED` (its standard error by batch
    means: the window cut into :data:`BATCHES` runs of consecutive completions, each run the
    completions after its first completion's time, so requests finishing together stay together)."""
    cuts = np.linspace(lo, len(rec) - 1, BATCHES + 1).astype(int)
    r = np.array([_ratio(pool, rec[i:j + 1], float(rec["completion_s"][i])) for i, j in zip(cuts[:-1], cuts[1:])])
    return float(np.std(r, ddof=1)) / math.sqrt(BATCHES) <= SETTLED * float(np.mean(r))


def _unscaled(pool: PoolRuntime) -> PoolRuntime:
    """``pool`` with the step-time model :class:`~sim.perf.scaled.ScaledCapacity` wraps, if any."""
    if not isinstance(pool.step_model, ScaledCapacity):
        return pool
    return dataclasses.replace(pool, step_model=pool.step_model.inner)


def scheduler_factor(scenario, pool: PoolRuntime, base_dir: Path = Path("."), start=None,
                     prefill_pool: PoolRuntime | None = None) -> float:
    """The pool's scheduler factor (module docstring): its engine's replica-seconds per request at
    saturation over the closed form's, on the scenario's own length distribution.

    A pool whose step times are scaled (``--capacity-band``'s sides, ``capacity``) gets the factor
    of its unscaled engine: scaling every iteration by ``1 / capacity`` scales the replica's whole
    saturated run and the closed form alike, so the factor does not change (the baseline's, measured
    on the scaled engines at 0.5, 0.97 and 1.03: equal to 14 digits), and measuring it again would
    only cost a measurement per side and make the sides' factors differ in their last bits.

    Under ``fleet.disaggregated`` the decode pool's factor is measured on one decode replica fed by
    its ``prefill_pool`` (:func:`decode_window`; without ``prefill_pool``, and for the prefill
    pool, the factor is 1)."""
    pool = _unscaled(pool)
    d = scenario.fleet.disaggregated
    prefill = None
    if d is not None:
        if pool.cfg.name != d.decode_pool or prefill_pool is None:
            return 1.0    # the prefill pool: the closed form's prefill (within 1 % on a saturated pool)
        prefill = _unscaled(prefill_pool)
    sample = workload_sample(scenario.workload, float(scenario.duration), base_dir, start, pool, prefill,
                             reaching(scenario, pool))
    if len(sample) == 0:
        return 1.0
    b = turnover_batch(pool, float(np.mean(sample.prompt_tokens)), float(np.mean(sample.output_tokens)))
    # the warm-up and the drain on top of the window: the sample's means size them
    reqs = _first(sample, 5 * b + MAX_WINDOW_REQUESTS)
    key = measurement_key(scenario, pool, reqs, base_dir)
    if prefill is not None:        # the pair: the prefill pool's engine and the link price the decode window too
        key = hashlib.sha256((key + measurement_key(scenario, prefill, reqs, base_dir)
                              + repr(d.link_gbps)).encode()).hexdigest()

    def measure() -> float:
        win, t0 = saturated_window(scenario, pool, reqs) if prefill is None else \
            decode_window(scenario, prefill, pool, reqs)
        return float(_ratio(pool, win, t0)) if len(win) else 1.0

    return cached_factor(key, measure)
