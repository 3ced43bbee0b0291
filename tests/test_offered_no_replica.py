"""A request turned away because no replica was up to take it (``no_replica``: a pool scaled to zero,
every replica still warming) is demand the fleet did not serve: it counts as offered work, as a
request refused by a full waiting room (``queue_full``) or abandoned (``timeout``) does.

Before, ``stability.offered_load_factor`` counted the admitted requests and those two reasons only, so
a pool scaling up from zero read the load of what it served (here half the demand) as all of it.

Hand arithmetic on a trace: one pool at ``replicas: 0`` with ``autoscale: {min: 0}``; identical requests
(100-token prompts, 4 output tokens, 1 s each on the linear step model of 0.25 s an iteration). The
requests arriving before the replica the autoscaler adds is ready are rejected for want of a replica;
with ``N`` arrivals and ``k`` of them turned away, ``N - k`` served:

* offered load factor = load factor x N / (N - k) (every request is the same work);
* SLO attainment = (requests meeting the SLO) / N: a rejection is a miss, in the denominator.
"""
from __future__ import annotations

import csv
import gzip
import io
import json

import pytest

import sim
from sim.metrics.stability import overload_words

from scale_from_zero import from_zero

ARRIVALS = [0.5, 0.7, 2.0, 20.0, 22.0, 24.0]


def _run(tmp_path, engine: str) -> tuple[dict, list[dict], bytes]:
    sc = from_zero(tmp_path, "from-zero", ARRIVALS, engine, duration=30, max_num_seqs=4,
                   autoscale={"max": 1, "interval": 1, "scale_up_delay": 5, "cooldown": 3600},
                   slo={"ttft_s": 1.0, "tpot_s": 0.5})
    out = sim.run(sc).write(tmp_path / engine, figures="none")
    raw = (out / "requests.csv.gz").read_bytes()
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(raw).decode())))
    return json.loads((out / "summary.json").read_text()), rows, raw


def test_requests_turned_away_for_want_of_a_replica_are_offered_work(tmp_path):
    summary, rows, raw = _run(tmp_path, "fast")
    _, _, ref = _run(tmp_path, "reference")
    assert raw == ref
    n = len(ARRIVALS)
    away = [r for r in rows if r["reason"] == "no_replica"]
    # 0.5 turns the autoscaler on at its next decision (1 s); the replica is ready 5 s later: the
    # arrivals before then find none
    assert [float(r["arrival_s"]) for r in away] == [0.5, 0.7, 2.0]
    k = len(away)
    req = summary["requests"]
    assert (req["arrived"], req["completed"], req["rejected"]) == (n, n - k, k)
    assert req["rejected_by_reason"] == {"no_replica": k}
    lf = summary["utilization"]["load_factor"]
    assert lf > 0
    assert summary["stability"]["offered_load_factor"] == pytest.approx(lf * n / (n - k), rel=1e-12)
    # every served request ran alone for 1 s: TTFT 0.25 s, TPOT 0.25 s, within the SLO; the rejected missed
    assert summary["slo"]["attainment"] == pytest.approx((n - k) / n, rel=1e-12)
    assert summary["slo"]["goodput_rps"] == pytest.approx((n - k) / 30.0, rel=1e-12)
    # no waiting room and no patience: the summary's keys are those of any run without them
    assert "admitted_load_factor" not in summary["stability"] and "refused_share" not in req


def test_the_overload_words_say_the_share_turned_away_for_want_of_a_replica():
    s = {"stability": {"offered_load_factor": 2.0}, "requests": {"arrived": 6, "rejected": 3,
                                                                  "rejected_by_reason": {"no_replica": 3}}}
    assert overload_words(s) == ("overloaded: offered 2x the work its batch limits serve; of the requests "
                                 "arrived, 50.0 % were turned away (no replica up to take them)")
