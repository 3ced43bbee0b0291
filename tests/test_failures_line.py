"""The terminal summary's failures line names every way a retried request was turned away on its retry.

``failures.retries_rejected_by_reason`` counts them by reason (``queue_full``, ``no_replica``,
``timeout``); the line named the full waiting room's alone, so a run whose retries found no replica up
(a one-replica pool, or every replica down at once) read "N requests retried, 0 failed" with nothing
said of where the retries went. Checked against the records: the requests rejected with ``retries > 0``.
"""
from __future__ import annotations

import re

import numpy as np

import sim
from sim.metrics.schema import R_NO_REPLICA, REJECTED
from sim.report_text import format_summary

from test_review_pp24 import _retry_case


def _failures_line(res) -> str:
    return next(line for line in format_summary(res).splitlines() if line.startswith("failures  "))


def test_retries_with_no_replica_up_are_named_on_the_failures_line():
    # _retry_case's replica 0 fails at 0.7 s; alone in its pool, the requests it held have nowhere to go
    sc = _retry_case("fast")
    sc["fleet"]["pools"][0].update(replicas=1)
    res = sim.run(sc)
    rec = res.records
    refused = int(np.sum((rec["status"] == REJECTED) & (rec["reason"] == R_NO_REPLICA) & (rec["retries"] > 0)))
    assert refused > 0
    assert res.summary["failures"]["retries_rejected_by_reason"] == {"no_replica": refused}
    word = "retry" if refused == 1 else "retries"
    assert _failures_line(res).endswith(f", {refused} {word} refused with no replica up")


def test_the_full_waiting_room_keeps_its_words():
    res = sim.run(_retry_case("fast"))
    assert res.summary["failures"]["retries_rejected_by_reason"] == {"queue_full": 2}
    assert _failures_line(res).endswith(", 2 retries refused by a full waiting room")


def test_the_report_page_lists_the_failures_in_its_metrics_table():
    """``report.html``'s metrics table has the failures block's counts (before, only the collapsed dump
    of every summary value had them), as the summary holds them; a run without failures has no such rows."""
    from sim.report.html_report import metrics_section

    res = sim.run(_retry_case("fast"))
    f = res.summary["failures"]
    page = metrics_section(res.summary).split("<details>")[0]     # the table, not the dump
    for words, value in (("replica availability", f"{f['availability']:.1%}"), ("replica failures", "1"),
                         ("requests retried after a failure", f"{f['requests_retried']}"),
                         ("requests failed (no retries left)", f"{f['requests_failed']}")):
        assert re.search(rf"<tr><td>{re.escape(words)}</td><td[^>]*>{re.escape(value)}</td>", page), words
    assert f["failures"] == 1
    sc = _retry_case("fast")
    del sc["fleet"]["pools"][0]["failures"]
    assert "replica availability" not in metrics_section(sim.run(sc).summary)
