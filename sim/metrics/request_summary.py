"""A finished run's requests summarised (:func:`summarize_requests`): the ``requests``, ``latency``,
``throughput`` and ``slo`` blocks, the rejections by reason, the abandoned and refused shares, and each
class's blocks, exact from the rows under ``metrics.records: all``, from the streaming statistics
otherwise (:mod:`sim.metrics.records` keeps them); with the usage columns the money layer prices
(:class:`RequestOutcome`). :mod:`sim.metrics.records` re-exports both names.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.metrics.schema import R_QUEUE_FULL, R_TIMEOUT, REJECT_REASONS, REJECTED

if TYPE_CHECKING:
    from sim.metrics.records import GapLog, RequestLog, UsageColumns


@dataclass
class RequestOutcome:
    """The request-level part of a run's result, the same shape under every ``records`` mode."""

    records: np.ndarray          # kept rows (in-flight ones included), sorted by rid
    summary: dict                # requests (with rejected_by_reason), latency, throughput, slo
    classes: dict | None         # per-class blocks when the workload has more than one class
    usage: UsageColumns          # completed requests for the money layer


def _share(count: int, arrived: int) -> float:
    """``count`` of ``arrived`` requests (0 when none arrived)."""
    return count / arrived if arrived > 0 else 0.0


def _abandoned(req: dict, sc, rejected: Callable[[int], int]) -> None:
    """Into a ``requests`` block (the run's or a class's) ``abandoned``: the rejected requests whose
    clients gave up waiting (reason ``timeout``), and ``abandoned_share`` of the arrived; with a waiting
    room ``refused_share``: the arrived ones a full room refused (reason ``queue_full``). The shares a
    planner bounds (``--constraint 'requests.abandoned_share<=0.01'``). ``rejected(code)``: how many
    of the block's requests were rejected for that reason."""
    if sc.workload.patient:     # every requests block has abandoned: its keys depend on the scenario, not its numbers
        req["abandoned"] = int(rejected(R_TIMEOUT))
        req["abandoned_share"] = _share(req["abandoned"], req["arrived"])
    if sc.fleet.has_waiting_room:
        req["refused_share"] = _share(int(rejected(R_QUEUE_FULL)), req["arrived"])


def summarize_requests(log: RequestLog, gaps: GapLog, open_rows: list[tuple], scenario,
                       end_s: float) -> RequestOutcome:
    """Summaries of a finished run's requests, exact under ``records: all``, streaming otherwise.

    ``open_rows`` are the rows of requests still in flight at ``end_s``. Per-class blocks use the
    class's own SLO (falling back to the scenario's) and the scenario's ``duration`` as the end of
    the throughput window, and carry no ITL (gaps are not attributed to classes).
    """
    from sim.metrics.summary import core_summary
    from sim.workload import class_names, classes

    sc = scenario
    names = class_names(sc.workload)
    specs = classes(sc.workload)
    ttft, tpot = sc.slo.ttft_s, sc.slo.tpot_s
    if log.mode == "all":
        rec = log.array(open_rows)
        g, c = gaps.arrays() if gaps.mode == "all" else (gaps.histogram(), None)
        summary = core_summary(rec, g, c, sc.warmup, end_s, ttft, tpot)
        rej = rec[rec["status"] == REJECTED]["reason"]
        summary["requests"]["rejected_by_reason"] = by_reason = {REJECT_REASONS[k]: int(np.sum(rej == k))
                                                                 for k in sorted(set(rej.tolist()))}
        _abandoned(summary["requests"], sc, lambda k: by_reason.get(REJECT_REASONS[k], 0))
        per_class = None
        if len(names) > 1:
            per_class = {}
            empty = np.zeros(0)
            for i, name in enumerate(names):
                sub = rec[rec["cls"] == i]
                block = core_summary(sub, empty, np.zeros(0, dtype=np.int64), sc.warmup, sc.duration,
                                     specs[i].slo_ttft_s or ttft, specs[i].slo_tpot_s or tpot,
                                     censor_ttft_s=ttft)
                block["latency"].pop("itl", None)
                _abandoned(block["requests"], sc,
                           lambda k, sub=sub: np.sum((sub["status"] == REJECTED) & (sub["reason"] == k)))
                per_class[name] = block
        return RequestOutcome(rec, summary, per_class, log.usage_columns(rec))
    log.add_open(open_rows, end_s)
    rec = log.array()
    st = log.request_stats()
    summary = core_summary(st, gaps.histogram(), None, sc.warmup, end_s, ttft, tpot)
    summary["requests"]["rejected_by_reason"] = by_reason = {REJECT_REASONS[k]: int(st.reasons[k])
                                                             for k in np.nonzero(st.reasons)[0].tolist()}
    _abandoned(summary["requests"], sc, lambda k: by_reason.get(REJECT_REASONS[k], 0))
    summary["requests"]["records_kept"] = int(len(rec))
    per_class = None
    if len(names) > 1:
        per_class = {}
        for i, name in enumerate(names):
            st_i = log.request_stats(i)
            block = core_summary(st_i, None, None, sc.warmup, sc.duration,
                                 specs[i].slo_ttft_s or ttft, specs[i].slo_tpot_s or tpot)
            block["latency"].pop("itl", None)
            _abandoned(block["requests"], sc, lambda k, st_i=st_i: st_i.reasons[k])
            per_class[name] = block
    return RequestOutcome(rec, summary, per_class, log.usage_columns())
