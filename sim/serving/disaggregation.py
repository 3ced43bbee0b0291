"""Prefill/decode disaggregation: prefill in one pool, KV cache moved, decode in another.

Under ``fleet.disaggregated: {prefill_pool, decode_pool, link_gbps}`` (as in Splitwise, Patel et
al., ISCA 2024, and DistServe, Zhong et al., OSDI 2024):

1. an arrival goes to the least outstanding replica of the prefill pool (rejected up front if no
   decode replica could ever hold its prompt and output); the prefill iteration emits the first
   token there, so TTFT involves the prefill pool only;
2. its KV cache (``tokens * kv_bytes_per_token`` of the prefill pool) then crosses the link in
   ``bytes / (link_gbps * 1e9 / 8)`` seconds; the prefill replica keeps those blocks until the
   transfer ends, which lands on the decode pool as an arrival does (before the iteration ends of its
   instant: :mod:`sim.serving.clock`);
3. the request joins the queue of the least outstanding decode replica, which admits it straight
   into its decode batch at the next iteration boundary once its KV blocks fit (head of line),
   with no prefill iteration; the decode pool produces every later token, so TPOT covers the
   transfer plus the decode pool's iterations.

A request preempted on a decode replica is recomputed there; one whose replica fails goes back to
the prefill pool. Both pools' provisioned GPU-hours are billed.

    >>> transfer_time_s(1000, 131072, 100.0)   # 1000 tokens of Llama-3-8B KV over 100 Gb/s
    0.01048576
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.serving.fleet import Fleet


def transfer_time_s(tokens: int, kv_bytes_per_token: int, link_gbps: float) -> float:
    """Seconds to move ``tokens`` tokens of KV cache over a ``link_gbps`` gigabit/s link."""
    return tokens * kv_bytes_per_token * 8.0 / (link_gbps * 1e9)


def transfer_summary(fleet: "Fleet") -> dict:
    """``transfers`` (count), ``transfer_s_mean``, ``transfer_gb`` (total, 1e9 bytes)."""
    n = fleet.transfers
    return {"prefill_pool": fleet.prefill_pool.name, "decode_pool": fleet.decode_pool.name, "transfers": n,
            "transfer_s_mean": fleet.transfer_s / n if n else None, "transfer_gb": fleet.transfer_bytes / 1e9}
