"""What the records and result files hold: status and rejection codes, column names, and the
range each summary metric lives in.

The lowest module that needs these names owns them: the engine (``sim.serving``) writes the
codes, the summary and the result folder (``sim.metrics``) read them, and the API re-exports
the column lists for users.

>>> STATUS_NAMES[COMPLETED], REJECT_REASONS[R_KV]
('completed', 'kv_capacity')
"""
from __future__ import annotations

import math

# status codes of a request row
IN_FLIGHT, COMPLETED, REJECTED, FAILED = 0, 1, 2, 3
STATUS_NAMES = ("in_flight", "completed", "rejected", "failed")

# reasons a request is rejected or failed (codes in the rows; names in summaries and CSV)
REJECT_REASONS = ("", "prompt_exceeds_max_context", "prompt_exceeds_max_batched_tokens", "kv_capacity",
                  "no_replica", "max_retries", "queue_full", "timeout")
R_CONTEXT, R_BUDGET, R_KV, R_NO_REPLICA, R_RETRIES = 1, 2, 3, 4, 5
#: refused on arrival by a full waiting room (``max_waiting``); the client gave up waiting (``patience_s``)
R_QUEUE_FULL, R_TIMEOUT = 6, 7

#: columns of ``requests.csv.gz``, in file order
REQUEST_COLUMNS = ["rid", "arrival_s", "sched_s", "first_token_s", "completion_s", "prompt_tokens",
                   "output_tokens", "generated_tokens", "queue_s", "ttft_s", "e2e_s", "preemptions", "retries",
                   "pool", "replica", "class", "status", "reason"]

#: columns of a run's time series (``Result.timeseries`` and ``timeseries.csv``), one row per pool
#: and ``metrics.interval``
TS_COLUMNS = ["time_s", "pool", "replicas", "queue_len", "central_queue", "running", "kv_blocks_used",
              "kv_util", "busy_frac"]

#: summary keys whose last part names a share of something: each lies in [0, 1]
SHARE_KEYS = frozenset({"refused_share", "abandoned_share", "attainment", "gpu_busy", "kv_cache_mean", "mfu", "mbu", "availability",
                        "expected_availability", "utilization"})
# (not ``cost.utilization_billed``: busy hours over *billed* hours, which can pass 1 when hours go unbilled;
# ``mfu`` and ``mbu`` are at most the busy share by their definition: a pool's FLOPs and bytes at most its busy
# GPU time x peak, sim.metrics.fleet_summary and sim.metrics.utilization)
#: summary blocks whose every number is a time, count, rate, size, amount billed or share: >= 0
NON_NEGATIVE_BLOCKS = frozenset({"requests", "latency", "throughput", "slo", "utilization", "gpu_hours",
                                 "cost", "pools", "workload", "disaggregation", "autoscale", "failures",
                                 "simulated_seconds"})
#: ``stability`` keys that are >= 0 (``backlog_growth_per_s`` is signed: a backlog can shrink)
NON_NEGATIVE_STABILITY = frozenset({"in_flight_at_end", "in_flight_peak", "window_s", "arrival_rate_per_s",
                                    "offered_load_factor", "resolution", "admitted_load_factor"})
#: ``cashflow`` keys that are amounts of one direction, >= 0 (net, margins, NPV and IRR are signed)
NON_NEGATIVE_CASHFLOW = frozenset({"revenue", "compute_cost", "revenue_share_paid", "revenue_share_received",
                                   "training_cost", "energy_cost", "sla_credits", "revenue_lost",
                                   "requests_lost", "partner_revenue", "compute_commit_shortfall",
                                   "revenue_share_shortfall_paid", "revenue_share_shortfall_received"})


def natural_range(key: str) -> tuple[float, float]:
    """The range a summary metric cannot leave, from its dotted key: ``(0, 1)`` for shares
    (SLO attainment, utilizations, availability), ``(0, inf)`` for latencies, counts, rates,
    GPU-hours and costs, ``(-inf, inf)`` for signed quantities (net cash, NPV, backlog growth) and
    for keys not known here. A class's block (``classes.<name>.slo.attainment``) is read as the
    fleet's, and so is a capacity band side's (``capacity_band.slower.latency.ttft.p99``).

    >>> natural_range("slo.attainment"), natural_range("latency.ttft.p99")
    ((0.0, 1.0), (0.0, inf))
    >>> natural_range("classes.chat.slo.attainment"), natural_range("cashflow.net")
    ((0.0, 1.0), (-inf, inf))
    >>> natural_range("capacity_band.slower.slo.attainment")
    (0.0, 1.0)
    """
    parts = key.split(".")
    if parts[0] in ("classes", "capacity_band") and len(parts) > 2:
        parts = parts[2:]
    block, last = parts[0], parts[-1]
    if last in SHARE_KEYS and block in NON_NEGATIVE_BLOCKS:
        return 0.0, 1.0
    if (block in NON_NEGATIVE_BLOCKS
            or block == "stability" and last in NON_NEGATIVE_STABILITY
            or block == "cashflow" and len(parts) == 2 and last in NON_NEGATIVE_CASHFLOW):
        return 0.0, math.inf
    return -math.inf, math.inf


# ------------------------------------------------------------------ the keys a summary holds
#: the summary's top-level keys holding numbers (a block, or a number itself); ``engine``,
#: ``scenario``, ``repriced`` and ``fingerprints`` (``summary.json`` only: :mod:`sim.report.fingerprint`) hold text
SUMMARY_BLOCKS = ("requests", "latency", "throughput", "slo", "utilization", "stability", "gpu_hours", "cost",
                  "cashflow", "pools", "classes", "workload", "disaggregation", "autoscale", "failures",
                  "fidelity", "capacity_band", "simulated_seconds")
#: top-level numbers no table holds: they differ between replications of one configuration
PER_RUN_KEYS = ("seed", "wall_seconds")
#: the latency measures and their statistics (``latency.ttft.p99``; a class's block has no ``itl``)
LATENCY_KEYS = tuple(f"latency.{m}.{s}" for m in ("ttft", "tpot", "itl", "e2e", "queue")
                     for s in ("mean", "p50", "p90", "p99"))
#: every numeric key of the blocks whose keys name no pool, class or period: the whole block
FIXED_KEYS = frozenset({
    *LATENCY_KEYS,
    "requests.arrived", "requests.completed", "requests.rejected", "requests.in_flight", "requests.failed",
    "requests.preemptions", "requests.abandoned", "requests.abandoned_share", "requests.refused_share",
    "throughput.requests_per_s", "throughput.input_tokens_per_s", "throughput.output_tokens_per_s",
    "slo.attainment", "slo.goodput_rps", "slo.ttft_s", "slo.tpot_s",
    "utilization.gpu_busy", "utilization.kv_cache_mean", "utilization.mfu", "utilization.mbu",
    "utilization.load_factor",
    "stability.window_s", "stability.arrival_rate_per_s", "stability.backlog_growth_per_s",
    "stability.in_flight_at_end", "stability.in_flight_peak", "stability.offered_load_factor",
    "stability.resolution", "stability.admitted_load_factor",
    "gpu_hours.busy", "gpu_hours.provisioned",
    "simulated_seconds",
})
#: the blocks of a workload class's own summary (``classes.<name>.slo.attainment``), keyed as the fleet's
CLASS_BLOCKS = ("requests", "latency", "throughput", "slo")
#: the sides of the capacity band, each with its numeric keys (:func:`sim.metrics.band.side`): its capacity
#: scale and load factor, the fleet's latency and SLO blocks, its offered load factor, GPU-hours and compute
#: cost, and each workload class's latency (no ``itl``, as a class's own block) and SLO blocks
#: (``capacity_band.slower.classes.chat.slo.attainment``); nothing else of a summary is kept
BAND_SIDES = ("slower", "faster")
BAND_SIDE_KEYS = frozenset({"capacity", "load_factor", *LATENCY_KEYS, "slo.attainment", "slo.goodput_rps",
                            "stability.offered_load_factor", "gpu_hours.provisioned", "gpu_hours.busy",
                            "cost.compute_usd", "cost.per_million_output_tokens"})
BAND_CLASS_KEYS = frozenset({*(k for k in LATENCY_KEYS if not k.startswith("latency.itl.")), "slo.attainment",
                             "slo.goodput_rps"})


def _band_key_problem(rest: str, classes: tuple[str, ...] | None) -> str | None:
    """Why ``rest`` (after ``capacity_band.<side>.``) is no key of a band side (:data:`BAND_SIDE_KEYS`)."""
    if rest in BAND_SIDE_KEYS:
        return None
    kept = "capacity, load_factor, latency.*, slo.attainment, slo.goodput_rps, stability.offered_load_factor, " \
           "gpu_hours.provisioned, gpu_hours.busy, cost.compute_usd, cost.per_million_output_tokens, classes.*"
    if not rest.startswith("classes."):
        return f"a capacity band side keeps only {kept} (got {rest!r})"
    if classes is not None and not classes:
        return "the scenario has no classes block: it lists no workload class"
    from sim.economics.summary_keys import named_part

    name, leaf = named_part(rest[len("classes."):], classes)
    if classes is not None and name not in classes:
        return f"the scenario has no workload class {name!r} (its classes: {', '.join(classes)})"
    if leaf not in BAND_CLASS_KEYS:
        return (f"a class's part of a capacity band side keeps only its latency (ttft, tpot, e2e, queue) and "
                f"slo.attainment, slo.goodput_rps (got {leaf!r})")
    return None


def summary_key_problem(key: str, pools: tuple[str, ...] | None = None,
                        classes: tuple[str, ...] | None = None) -> str | None:
    """Why ``key`` (dotted) can be no numeric key of a run's summary, or ``None`` when it may be one.

    Decided from :data:`SUMMARY_BLOCKS` and :data:`FIXED_KEYS`, and from the scenario's pool and
    workload class names where given (``pools.<name>...``, ``classes.<name>...``); the money blocks'
    by :func:`sim.economics.summary_keys.money_key_problem`; keys of the other blocks (autoscale,
    failures, ...) are named after pools, classes and periods, and only a run says whether one is there.

    >>> summary_key_problem("latency.ttft.p99") is None, summary_key_problem("pools.a.load_factor", ("a",)) is None
    (True, True)
    >>> summary_key_problem("nosuch")
    "the summary has no block 'nosuch'"
    >>> summary_key_problem("latency.ttft.p98")
    'not a key of the summary block latency'
    >>> summary_key_problem("classes.bulk.slo.attainment", classes=("chat",))
    "the scenario has no workload class 'bulk' (its classes: chat)"
    """
    parts = key.split(".")
    head = parts[0]
    if head == "capacity_band" and len(parts) > 2 and parts[1] in BAND_SIDES:
        return _band_key_problem(".".join(parts[2:]), classes)
    if head in PER_RUN_KEYS:
        return f"{head} differs between the replications of a configuration: it is no metric of one"
    if head not in SUMMARY_BLOCKS:
        return f"the summary has no block {head!r}"
    if head in {k.split(".")[0] for k in FIXED_KEYS}:
        return None if key in FIXED_KEYS else f"not a key of the summary block {head}"
    if head in ("cost", "cashflow"):
        from sim.economics.summary_keys import money_key_problem    # (the money layer: loaded when asked)

        return money_key_problem(key, pools, classes)
    for block, names, what, example in (("pools", pools, "pool", "load_factor"),
                                        ("classes", classes, "workload class", "slo.attainment")):
        if head != block or names is None:
            continue
        if len(parts) < 3 and names:
            return f"a {what}'s metric is {block}.<name>.<key>, e.g. {block}.{names[0]}.{example}"
        if not names:
            return f"the scenario has no {block} block: it lists no {what}"
        from sim.economics.summary_keys import named_part    # (pool and class names, as the money blocks')

        name, rest = named_part(key[len(block) + 1:], names)
        if name not in names:
            return f"the scenario has no {what} {name!r} (its {block}: {', '.join(names)})"
        if block == "classes":
            if rest.split(".")[0] not in CLASS_BLOCKS:
                return f"a class's block holds {', '.join(CLASS_BLOCKS)} (got {rest.split('.')[0]!r})"
            return summary_key_problem(rest)
    return None

