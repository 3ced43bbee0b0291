"""Hostile input, round 16: what changed most recently (closed-loop saturation, compare, reprice, report)
and what earlier rounds did not reach (odd encodings, odd ``--set`` values, odd trace rows, odd output
folders, API misuse).

Each is exit 2 with a message naming the file (or flag) and the field, or, where the input is reasonable,
accepted and run as meant; never a traceback, an internal error, a silently ignored option or a lost file.
"""
from __future__ import annotations

import pytest

import hostile_cases as hc

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


def _closed(tmp_path, **arrival):
    sc = hc._small()
    sc["slo"] = {"ttft_s": 0.5}
    sc["workload"]["arrival"] = {"process": "closed", "concurrency": 4, **arrival}
    return _scenario(tmp_path, sc)


# ------------------------------------------------------------------ closed-loop saturation
def test_an_explicit_rate_path_on_a_closed_loop_is_refused_even_the_default(tmp_path, capsys):
    """``--rate-path workload.arrival.rate`` was taken and ignored (it equals the open loop's default,
    which the check compared against), and the search ran over client counts all the same."""
    path = _closed(tmp_path)
    assert _main(["saturation", str(path), "--rate-path", "workload.arrival.rate", "--quiet",
                  "--out", str(tmp_path / "sat")]) == 2
    assert _err(capsys) == [
        f"{path}: workload.arrival.process: closed: the search varies the client count "
        "(workload.arrival.concurrency), there is no arrival rate to search; drop --rate-path "
        "(got workload.arrival.rate)"]
    assert not (tmp_path / "sat" / "saturation.json").exists()


# ------------------------------------------------------------------ plan refusing load knobs
@pytest.mark.parametrize("arrival,knob", [
    ({"process": "offline", "count": 10}, "workload.arrival.count=1..64"),
    ({"process": "burst", "count": 10, "at": 1}, "workload.arrival.count=1..64"),
    (None, "workload.growth.monthly=0..2"),
])
def test_plan_refuses_to_bisect_a_request_count_or_growth(tmp_path, capsys, arrival, knob):
    """The request count of an offline job was bisected like a capacity knob: the smallest count (1)
    always meets a latency bound, so the plan answered ``cheapest meeting all constraints:
    workload.arrival.count=1``. More requests, or more growth a month, is more load."""
    sc = hc._small()
    if arrival:
        sc["workload"]["arrival"] = arrival
    path = _scenario(tmp_path, sc)
    assert _main(["plan", str(path), "--vary", knob, "--quiet", "--out", str(tmp_path / "pl"),
                  "--constraint", "latency.ttft.p99<=0.5"]) == 2
    field, _, rng = knob.partition("=")
    low, _, high = rng.partition("..")
    assert _err(capsys) == [
        f"--vary: {knob}: plan bisects its first range assuming more of it never breaks a constraint, and more "
        f"of {field} is more load (it only ever makes latency worse); for the most load within the SLO use "
        f"fleetsim saturation, or list the values (as {field}={low},{high}) to evaluate each"]
    assert not (tmp_path / "pl" / "plan.json").exists()
