"""Hostile input, round 19: ``--allow-large`` given to one ``sim.cli.main`` call lifting the limits of
every later call in the same process, and the newest features (waiting rooms, patience, stepped
revenue-share brackets, ``--objective cost_with_commits``, ``compare`` of unlike folders) at their edges.

Each is exit 2 from the command line (an :class:`~sim.errors.InputError` or
:class:`~sim.errors.ScenarioError` from Python) with a message naming the file, the field and what is
allowed; never a traceback, an internal error, or a result that silently means something else.
"""
from __future__ import annotations

import os

import pytest
import yaml

import hostile_cases as hc
from sim.limits import ENV, MAX_REPLICAS

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ --allow-large is one command's
def test_allow_large_lifts_the_limits_of_its_own_command_only(tmp_path, capsys, monkeypatch):
    """``main([..., "--allow-large"])`` set ``FLEETSIM_ALLOW_LARGE=1`` for the rest of the process: the
    next ``main`` call without the flag ran past the limits (and a test of the limits after it failed)."""
    monkeypatch.delenv(ENV, raising=False)
    sc = hc._small()
    sc["fleet"]["pools"][0]["replicas"] = MAX_REPLICAS + 1
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--allow-large"]) == 0
    assert ENV not in os.environ
    capsys.readouterr()
    assert _main(["validate", str(path)]) == 2
    assert f"implies {MAX_REPLICAS + 1:,} replicas" in "\n".join(_err(capsys))


def test_allow_large_leaves_a_variable_set_by_the_user_as_it_was(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ENV, "yes")
    sc = hc._small()
    sc["fleet"]["pools"][0]["replicas"] = MAX_REPLICAS + 1
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--allow-large"]) == 0
    assert os.environ[ENV] == "yes"
    assert _main(["validate", str(path)]) == 0      # the user's own variable still allows it


# ------------------------------------------------------------------ a replica's waiting room of 0 places
def test_a_room_of_no_places_is_a_loss_system_not_a_replica_that_refuses_everything(tmp_path):
    """``fleet.pools[].max_waiting: 0`` refused every request, even at a replica idle for seconds (one
    request every 2 s, a 0.1 s service: 26 of 26 refused); the docs call it a loss system, served only
    if a replica takes the request at once. One replica serving one request at a time is then
    M/M/1/1: by PASTA an arrival is refused when it finds the server busy, ``p = ρ / (1 + ρ)``
    (Erlang's loss formula B(1, ρ)), and a request served never waits."""
    from admission_pool import S, queue, shares_and_waits
    from theory_round18_pool import ci99

    lam = 0.8
    data = queue("loss", c=1, lam=lam, duration=2000.0, warmup=100.0)
    data["fleet"]["pools"][0]["max_waiting"] = 0
    refused, waits = shares_and_waits(tmp_path, data, "queue_full", 6, 100.0)
    rho = lam * S
    m, half = ci99(refused)
    assert abs(m - rho / (1 + rho)) <= half and half < 0.1 * rho / (1 + rho), (m, half, rho / (1 + rho))
    assert waits == [0.0] * 6


@pytest.mark.parametrize("router,replicas", [("round_robin", 1), ("random", 2)])
def test_a_room_of_no_places_refuses_the_same_requests_on_both_engines(tmp_path, router, replicas):
    """Under real batching (8 sequences, an overload) the pre-routed lean loop, the routing at arrival
    and the reference engine take the same arrivals at an idle replica and refuse the rest."""
    from admission_pool import queue, run_rows

    data = queue(f"loss-{router}", c=replicas, lam=12.0 * replicas, duration=60.0, warmup=0.0, router=router)
    pool = data["fleet"]["pools"][0]
    pool["max_waiting"] = 0
    pool["batching"] = {"max_num_seqs": 8, "max_batched_tokens": 2048}
    data["workload"]["output_tokens"] = {"dist": "exponential", "mean": 50, "max": 400}
    data["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-4, "per_decode_token_s": 2e-3,
                    "per_context_token_s": 0.0}
    fast = run_rows(tmp_path, data, 5, "fast")
    assert fast == run_rows(tmp_path, data, 5, "reference")
    ts = [(tmp_path / f"{data['name']}-{e}-5" / "timeseries.csv").read_bytes() for e in ("fast", "reference")]
    assert ts[0] == ts[1]
    served = [r for r in fast if r["status"] == "completed"]
    assert served and all(float(r["queue_s"]) == 0.0 for r in served)
    assert sum(r["reason"] == "queue_full" for r in fast) > 0.5 * len(fast)
