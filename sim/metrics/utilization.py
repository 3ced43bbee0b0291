"""``utilization.load_factor`` and ``utilization.mbu`` of a pool, the same in both tiers.

The definitions are :mod:`sim.perf.utilization`'s; this module feeds them what a run measured
for one pool (both tiers call :func:`pool_utilization`). A request's cost is the closed form times
the pool's measured scheduler factor (:func:`pool_seconds_per_request`), so a saturated pool's load
factor reads 1.0 whatever engine it runs:

* requests served, their mean prompt and output tokens;
* provisioned replica-seconds;
* the iterations its replicas ran, the tokens they processed and the cached KV tokens they read
  (request level: MBU's bytes, :func:`~sim.perf.utilization.steps_bytes`), or the bytes they moved
  (the fluid tier, which runs no iterations: its busy replica-seconds at the bytes per busy second its
  capacity curve's request-level runs counted, read at each step's load, :func:`sim.fluid.grid.busy_bandwidth`). Priced
  instead by a closed form at the mean running batch while busy, each prompt was an iteration of its
  own, where chunked and mixed schedulers run it inside a decode iteration with one read of the
  weights (a run of 1 x H100 at 81 % busy read 1.04), and a mean batch stood for the batches run.

Bytes are moved only while a replica is busy and at most at the GPU's peak bandwidth, so a pool's
bytes are at most its busy replica-seconds x peak: MBU never passes the busy share (the bound binds
only on an estimate, or on a step model faster than the hardware, such as a linear model of 0.1 ms
iterations; the roofline's own steps move their bytes at its bandwidth efficiency).

MBU counts the byte terms of the roofline that prices the pool's steps (its layout: tensor and
pipeline stages, expert parallelism, data-parallel attention; its weight, expert and KV
precisions). A pool whose step-time model is not the roofline (linear) still gets MBU from the
roofline byte terms of its model, GPU and layout: bytes moved are physics, not timing.

Under disaggregation (``fleet.disaggregated``) each pool is priced at its part of a request. The
prefill pool completes no request itself: its work is the prompts it ran to their first token
(:func:`prefill_served`), each costing the closed form's prefill part (a request of one output
token: ``step(prefill k x p) / k``) times the pool's scheduler factor, so a prefill pool that runs
prompts as fast as its token budget allows reads about 1 and one at half that rate about 0.5. The
decode pool's requests arrive prefilled: its scheduler factor prices them at their decode alone
(:func:`in_flight_work`).
"""
from __future__ import annotations

from sim.perf.utilization import (BatchLimits, limits_of, load_factor, mbu, part_served,
                                  request_seconds, seconds_per_request, steps_bytes)


def pool_seconds_per_request(pool, prompt_tokens: float, output_tokens: float) -> float:
    """Replica-seconds one request of this mix costs on ``pool``'s engine at its batch limits: the
    closed form :func:`~sim.perf.utilization.seconds_per_request` times the pool's measured
    ``scheduler_factor`` (:mod:`sim.serving.saturated`). The one definition the summary, the fluid
    tier and the autoscaler use."""
    s = seconds_per_request(pool.step_model, pool_limits(pool), prompt_tokens, output_tokens)
    return s * getattr(pool, "scheduler_factor", 1.0)


def prefill_served(prefills: int, prefill_tokens: int) -> tuple[float, float, float]:
    """``(requests, prompt mean, output mean)`` a prefill-role pool's load factor and MBU count: the
    ``prefills`` prompts it ran to their first token (``prefill_tokens`` tokens in all), each a
    request of one output token (the first token is the prefill's; the decode pool makes the rest).

    >>> prefill_served(4, 6000)
    (4.0, 1500.0, 1.0)
    """
    if prefills <= 0:
        return 0.0, 0.0, 1.0
    return float(prefills), prefill_tokens / prefills, 1.0


def tokens_per_request(pool, prompt_tokens: float, output_tokens: float) -> float:
    """Tokens a request of this mix has ``pool``'s replicas process (what their ``tokens_processed``
    counts): its prompt and output tokens, the prompt alone on a prefill-role pool, its decode
    tokens (``output - 1``: the first came from the prefill pool) on a decode-role pool; at least 1."""
    role = getattr(pool, "role", "both")
    tokens = (prompt_tokens if role == "prefill" else output_tokens - 1.0 if role == "decode"
              else prompt_tokens + output_tokens)
    return max(tokens, 1.0)


def in_flight_work(pool, prompt_mean: float, output_mean: float, prompt, generated) -> float:
    """Requests' worth of work ``pool`` did on the requests still in flight at the end of a run
    (``prompt`` tokens each, ``generated`` tokens out so far), in requests of the served mix: the
    tokens each was served, priced as the closed form prices a request of the mix, its prompt at
    the mix's prefill cost per prompt token and its decode at the mix's cost per decode token
    (:func:`~sim.perf.utilization.part_served`). Without it a saturated run would read about
    ``max_num_seqs / 2`` requests per replica short; counted as at most one request of the mix each
    (the share of its own output done), it read short by the work of the in-flight requests longer
    than the mix, which are most of them (a long request is more often running), e.g. 0.976 for 1.0
    on one replica ten seconds into a burst of 100-token prompts with 200 and 800 output tokens
    (``tests/test_load_factor_in_flight.py``). A decode-role pool's requests arrive with their first
    token out (the prefill pool ran the prompt): only their decode tokens count, as its scheduler
    factor prices a request at its decode alone (:func:`sim.serving.saturated.decode_window`)."""
    role = getattr(pool, "role", "both")
    if not len(generated) or role == "prefill":
        return 0.0      # a prefill-role pool completes nothing itself: it counts the prompts it ran
    if role == "decode":
        return part_served(0.0, prompt_mean, output_mean, prompt, generated)
    prefill, decode = request_seconds(pool.step_model, pool_limits(pool), max(prompt_mean, 1.0), max(output_mean, 1.0))
    share = prefill / (prefill + decode) if prefill + decode > 0 else 1.0
    return part_served(share, prompt_mean, output_mean, prompt, generated)     # (it guards means below 1)


def pool_limits(pool) -> BatchLimits:
    """The batch limits of one replica of ``pool`` (a :class:`~sim.serving.fleet.PoolRuntime`)."""
    return limits_of(pool.cfg.batching, pool.kv_blocks)


def _roofline(pool, kv_dtype: str):
    """The roofline whose byte terms MBU counts: the pool's own step-time model when it is one (also
    under a capacity scale, :mod:`sim.perf.scaled`, or a table's roofline fallback), so layout, expert
    precision and KV precision are the ones that price its steps; otherwise one built for the pool's
    layout (:func:`sim.scenario.pool_setup.pool_layout`)."""
    from sim.perf.roofline import RooflineModel
    from sim.scenario.pool_setup import pool_layout

    step = pool.step_model
    for model in (step, getattr(step, "inner", None), getattr(step, "fallback", None)):
        if isinstance(model, RooflineModel):
            return model
    try:
        return RooflineModel(pool.model, pool.gpu, pool.cfg.tensor_parallel, pool.weight_dtype, kv_dtype,
                             layout=pool_layout(pool.cfg, pool.gpu), expert_dtype=pool.model.expert_weight_dtype)
    except (ValueError, KeyError):   # a precision the roofline cannot price: no MBU
        return None


def pool_bytes(pool, kv_dtype: str = "bf16", *, steps: tuple[int, ...] | None = None,
               hbm_bytes: float | None = None, busy_replica_seconds: float | None = None) -> float | None:
    """HBM bytes per GPU (the mean GPU of a replica, summed over the pool's replicas) one pool moved over
    a run, what its MBU counts: of ``steps``, ``(iterations, tokens, kv_read[, micro_batches, token_mix])``
    its replicas ran (request level), or ``hbm_bytes`` as the fluid tier read them off its curve; at
    most ``busy_replica_seconds`` x the GPU's peak bandwidth (no GPU moves bytes faster). ``None``
    where the roofline cannot price the pool or neither is given."""
    roof = _roofline(pool, kv_dtype)
    if roof is None:
        return None
    if steps is not None:
        per_gpu = steps_bytes(roof, *steps)
    elif hbm_bytes is not None:
        per_gpu = float(hbm_bytes)
    else:
        return None
    peak = pool.gpu.hbm_bytes_per_s
    if busy_replica_seconds is not None and per_gpu > busy_replica_seconds * peak:
        per_gpu = busy_replica_seconds * peak    # no GPU moves bytes faster than its peak
    return per_gpu


def pool_utilization(pool, *, requests: float, prompt_mean: float, output_mean: float, replica_seconds: float,
                     moved: float | None, ran: bool = False) -> dict:
    """``{"load_factor", "mbu"}`` of one pool over a run (see the module docstring). ``moved``: the HBM
    bytes per GPU MBU counts (:func:`pool_bytes`; ``None``: no MBU); ``ran``: whether its replicas ran
    iterations (a pool that ran some and completed nothing still has an MBU)."""
    if replica_seconds <= 0 or requests <= 0 and not ran:
        return {"load_factor": 0.0, "mbu": 0.0}
    s_each = pool_seconds_per_request(pool, prompt_mean, output_mean)
    return {"load_factor": load_factor(requests, replica_seconds, s_each) if requests > 0 else 0.0,
            "mbu": None if moved is None else mbu(moved, replica_seconds, pool.gpu.hbm_bytes_per_s)}


def pool_kv_dtype(scenario, pool) -> str:
    """The KV-cache precision of ``pool`` (its own ``perf:`` block, else the scenario's)."""
    perf = getattr(pool.cfg, "perf", None) or scenario.perf
    return getattr(perf, "kv_dtype", None) or "bf16"


def fleet_utilization(per_pool: list[tuple[dict, float, float]]) -> dict:
    """Fleet load factor (weighted by replica-seconds) and MBU (by GPU-seconds) from
    ``(pool block, replica-seconds, GPU-seconds)`` triples."""
    return {"load_factor": weighted([(u["load_factor"], r) for u, r, _ in per_pool]) or 0.0,
            "mbu": weighted([(u["mbu"], g) for u, _, g in per_pool])}


def weighted(values: list[tuple[float, float]]) -> float | None:
    """Weighted mean of ``(value, weight)`` pairs (None values skipped; None without weight)."""
    num = sum(v * w for v, w in values if v is not None)
    den = sum(w for v, w in values if v is not None)
    return num / den if den > 0 else None
