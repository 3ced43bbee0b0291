"""``fleetsim plan --objective cost_with_commits``: candidates ranked by the billed compute plus the
compute commits' shortfalls (what compute costs in cash under a commit), the default ranking unchanged.

Worked by hand: one hour from 2025-01-01, pool ``a`` at $2 per GPU-hour under a commit of $2,976 a
month (744 hours: $4 an hour, so the hour commits $4), pool ``b`` at $1 with no commit. At least 3 GPU-
hours must be provisioned. The feasible candidates (replicas of a, of b):

* (1, 2): bills 2 + 2 = $4, pool a $2 short of its $4: $6 in all;
* (2, 1): bills 4 + 1 = $5, no shortfall: $5;
* (2, 2): bills 4 + 2 = $6, no shortfall: $6.

Ranked by the billed compute (the default) (1, 2) wins; counting the shortfall, (2, 1) does.
"""
from __future__ import annotations

import json

import pytest

from sim.cli import main
from money_files import scenario, write_scenario


def _plan(tmp_path, objective: list[str], name: str) -> dict:
    econ = {"compute": [{"pool": "a", "usd_per_gpu_hour": 2.0}, {"pool": "b", "usd_per_gpu_hour": 1.0}],
            "commits": [{"name": "a_commit", "pool": "a", "commit_usd": 2976, "period": "month"}]}
    path = write_scenario(tmp_path, scenario("commit_plan", econ, duration="1h", pools=("a", "b")), "plan")
    out = tmp_path / name
    assert main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1,2", "--vary", "fleet.pools.1.replicas=1,2",
                 "--constraint", "gpu_hours.provisioned>=3", *objective, "--out", str(out), "--no-figures",
                 "--quiet"]) == 0
    return json.loads((out / "plan.json").read_text())


def _replicas(row: dict) -> tuple:
    return row["fleet.pools.0.replicas"], row["fleet.pools.1.replicas"]


def test_counting_the_commits_shortfall_changes_the_answer(tmp_path):
    billed = _plan(tmp_path, [], "billed")
    assert billed["objective"] == "cost.compute_usd"
    assert _replicas(billed["best"]) == (1, 2)
    with_commits = _plan(tmp_path, ["--objective", "cost_with_commits"], "with_commits")
    assert with_commits["objective"] == "cost.compute_with_commits_usd"
    assert _replicas(with_commits["best"]) == (2, 1)
    cost = {_replicas(r): (r["cost.compute_usd.mean"], r["cost.compute_with_commits_usd.mean"])
            for r in with_commits["evaluated"] if r["feasible"]}
    assert cost == {(1, 2): pytest.approx((4.0, 6.0)), (2, 1): pytest.approx((5.0, 5.0)),
                    (2, 2): pytest.approx((6.0, 6.0))}
