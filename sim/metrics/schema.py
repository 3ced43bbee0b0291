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
                  "no_replica", "max_retries")
R_CONTEXT, R_BUDGET, R_KV, R_NO_REPLICA, R_RETRIES = 1, 2, 3, 4, 5

#: columns of ``requests.csv.gz``, in file order
REQUEST_COLUMNS = ["rid", "arrival_s", "sched_s", "first_token_s", "completion_s", "prompt_tokens",
                   "output_tokens", "generated_tokens", "queue_s", "ttft_s", "e2e_s", "preemptions", "retries",
                   "pool", "replica", "class", "status", "reason"]

#: columns of a run's time series (``Result.timeseries`` and ``timeseries.csv``), one row per pool
#: and ``metrics.interval``
TS_COLUMNS = ["time_s", "pool", "replicas", "queue_len", "central_queue", "running", "kv_blocks_used",
              "kv_util", "busy_frac"]

#: summary keys whose last part names a share of something: each lies in [0, 1]
SHARE_KEYS = frozenset({"attainment", "gpu_busy", "kv_cache_mean", "mfu", "mbu", "availability",
                        "expected_availability", "utilization"})
# (not ``cost.utilization_billed``: busy hours over *billed* hours, which can pass 1 when hours go unbilled)
#: summary blocks whose every number is a time, count, rate, size, amount billed or share: >= 0
NON_NEGATIVE_BLOCKS = frozenset({"requests", "latency", "throughput", "slo", "utilization", "gpu_hours",
                                 "cost", "pools", "workload", "disaggregation", "autoscale", "failures",
                                 "simulated_seconds"})
#: ``stability`` keys that are >= 0 (``backlog_growth_per_s`` is signed: a backlog can shrink)
NON_NEGATIVE_STABILITY = frozenset({"in_flight_at_end", "in_flight_peak", "window_s", "arrival_rate_per_s",
                                    "offered_load_factor", "resolution"})
#: ``cashflow`` keys that are amounts of one direction, >= 0 (net, margins, NPV and IRR are signed)
NON_NEGATIVE_CASHFLOW = frozenset({"revenue", "compute_cost", "revenue_share_paid", "revenue_share_received",
                                   "training_cost", "energy_cost", "sla_credits", "revenue_lost",
                                   "requests_lost", "partner_revenue"})


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
