"""What the records and result files hold: status and rejection codes, column names.

The lowest module that needs these names owns them: the engine (``sim.serving``) writes the
codes, the summary and the result folder (``sim.metrics``) read them, and the API re-exports
the column lists for users.

>>> STATUS_NAMES[COMPLETED], REJECT_REASONS[R_KV]
('completed', 'kv_capacity')
"""
from __future__ import annotations

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
