"""A waiting room of ``K`` places (``fleet.pools[].max_waiting``, ``fleet.router.max_waiting``): the
M/M/c/K queue, through the command line.

A replica that serves one request at a time with exponential service (``admission_pool``) and a
waiting room of ``K`` holds at most ``N = 1 + K`` requests: the M/M/1/N queue. Behind
``router: central_queue`` with ``fleet.router.max_waiting: K``, ``c`` such replicas are the M/M/c/N
queue with ``N = c + K``. The number in the system is a birth-death chain (birth ``λ`` below ``N``,
death ``min(k, c) μ``); by PASTA an arrival is refused with probability ``p_N`` (Erlang's loss
formula for ``K = 0``), and an admitted request waits ``W_q = L_q / (λ (1 - p_N))`` on average
(Little's law on the admitted stream). For one server ``p_N = (1 - ρ) ρ^N / (1 - ρ^(N+1))``
(Kleinrock, Queueing Systems vol. 1, 1975, eq. 3.45), checked against the chain first.

Each case runs 10 seeds; the 99 % Student-t interval of the per-run estimates must contain the theory
and be narrower than a tenth of it.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from admission_pool import S, batching_overload, birth_death, queue, run_rows, shares_and_waits
from sim.cli import main
from theory_round18_pool import ci99, write

R = 10
DURATION, WARMUP = 3000.0, 200.0


def mmck(c: int, lam: float, k: int) -> tuple[float, float]:
    """``(P(refused), mean wait of the admitted)`` of M/M/c with ``k`` waiting places, service ``S``."""
    n = c + k
    p = birth_death(lambda j: lam, lambda j: min(j, c) / S, n)
    lq = sum((j - c) * p[j] for j in range(c + 1, n + 1))
    return float(p[n]), lq / (lam * (1.0 - p[n]))


def test_the_chain_is_kleinrocks_mm1n():
    for rho, n in ((0.5, 1), (1.5, 4), (0.9, 10)):
        p = birth_death(lambda j: rho, lambda j: 1.0, n)
        assert p[n] == pytest.approx((1 - rho) * rho ** n / (1 - rho ** (n + 1)), rel=1e-12)
    # no waiting room on c servers: Erlang's loss formula B(c, a)
    a, c = 2.5, 3
    p = birth_death(lambda j: a, lambda j: float(j), c)
    assert p[c] == pytest.approx((a ** c / math.factorial(c)) / sum(a ** j / math.factorial(j) for j in range(c + 1)))


def _estimates(tmp, data) -> tuple[list[float], list[float]]:
    return shares_and_waits(tmp, data, "queue_full", R, WARMUP)


@pytest.mark.parametrize("c,router,lam,k,extra", [
    (1, "round_robin", 1.2, 3, {}),                          # one M/M/1/4
    (2, "random", 2.0, 2, {}),                               # two independent M/M/1/3, each at lam / 2
    (3, "central_queue", 3.0, 4, {"max_waiting": 4}),        # M/M/3/7 behind the fleet's queue
])
def test_refused_share_and_wait_match_mmck(tmp_path, c, router, lam, k, extra):
    data = queue(f"mmck-{c}-{router}", c=c, lam=lam, duration=DURATION, warmup=WARMUP)
    data["fleet"]["router"] = {"policy": router, **extra}
    if not extra:
        data["fleet"]["pools"][0]["max_waiting"] = k
    servers, rate = (1, lam / c) if router != "central_queue" else (c, lam)
    p_block, wq = mmck(servers, rate, k)
    refused, waits = _estimates(tmp_path, data)
    for values, theory, what in ((refused, p_block, "refused share"), (waits, wq, "mean wait of the admitted")):
        m, half = ci99(values)
        assert abs(m - theory) <= half and half < 0.1 * theory, (what, m, half, theory)


def test_without_a_waiting_room_nobody_is_refused_and_a_room_never_full_changes_nothing(tmp_path):
    """An unbounded queue refuses nothing; a room larger than the queue ever grows gives the same bytes."""
    data = queue("roomy", c=1, lam=0.7, duration=600.0, warmup=0.0)
    plain = run_rows(tmp_path, data, 3)
    assert all(r["status"] != "rejected" for r in plain)
    longest = max(int(r["rid"]) for r in plain)   # the queue can never hold more requests than arrived
    data["fleet"]["pools"][0]["max_waiting"] = longest + 1
    data["name"] = "roomy-limited"
    assert run_rows(tmp_path, data, 3) == plain


@pytest.mark.parametrize("router,replicas", [("round_robin", 1), ("random", 3), ("least_outstanding", 2)])
def test_both_engines_refuse_the_same_requests(tmp_path, router, replicas):
    """The waiting room under real batching (the default vLLM V1 scheduler, 8 sequences, an
    overload): the fast engine (pre-routed lean loop, or routing at arrival) and the reference
    engine write the same rows and the same time series."""
    data = batching_overload(f"engines-{router}", c=replicas, duration=120.0, router=router)
    data["fleet"]["pools"][0]["max_waiting"] = 5
    fast = run_rows(tmp_path, data, 5, "fast")
    ref = run_rows(tmp_path, data, 5, "reference")
    assert fast == ref
    assert sum(r["reason"] == "queue_full" for r in fast) > 0.1 * len(fast)
    ts = [(tmp_path / f"{data['name']}-{e}-5" / "timeseries.csv").read_bytes() for e in ("fast", "reference")]
    assert ts[0] == ts[1]


@pytest.mark.parametrize("change,field,words", [
    ({"pools": {"max_waiting": -1}}, "fleet.pools.0.max_waiting", ">= 0"),
    ({"pools": {"max_waiting": True}}, "fleet.pools.0.max_waiting", "whole number"),
    ({"router": {"policy": "round_robin", "max_waiting": 3}}, "fleet.router.max_waiting", "central_queue"),
    ({"router": {"policy": "central_queue"}, "pools": {"max_waiting": 3}}, "fleet.pools.0.max_waiting",
     "fleet.router.max_waiting"),
])
def test_a_bad_waiting_room_is_refused_naming_the_field(tmp_path, capsys, change, field, words):
    data = queue("bad", c=1, lam=1.0, duration=10.0, warmup=0.0)
    data["fleet"]["pools"][0].update(change.get("pools", {}))
    if "router" in change:
        data["fleet"]["router"] = change["router"]
    assert main(["validate", str(write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    assert field in err and words in err, err


def test_the_fluid_tier_refuses_a_waiting_room(tmp_path, capsys):
    data = queue("fluid", c=1, lam=1.0, duration=3600.0, warmup=0.0)
    data["fidelity"] = "fluid"
    data["fleet"]["pools"][0]["max_waiting"] = 4
    assert main(["run", str(write(tmp_path, data)), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "fleet.pools.0.max_waiting" in err and "fluid" in err, err


def test_a_waiting_room_belongs_where_requests_arrive_under_disaggregation(capsys):
    """A disaggregated fleet's decode pool takes only requests whose prompt ran elsewhere: a room there
    is refused, naming the field; on the prefill pool it is taken."""
    path = str(Path(__file__).resolve().parents[1] / "scenarios" / "disaggregated.yaml")
    assert main(["validate", path, "--set", "fleet.pools.1.max_waiting=4"]) == 2
    err = capsys.readouterr().err
    assert "fleet.pools.1.max_waiting" in err and "prefill" in err, err
    assert main(["validate", path, "--set", "fleet.pools.0.max_waiting=4"]) == 0


def test_the_fluid_tier_refuses_the_central_queues_room(tmp_path, capsys):
    data = queue("fluid-central", c=2, lam=1.0, duration=3600.0, warmup=0.0, router="central_queue")
    data["fidelity"] = "fluid"
    data["fleet"]["router"] = {"policy": "central_queue", "max_waiting": 4}
    assert main(["run", str(write(tmp_path, data)), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "fleet.router.max_waiting" in err and "fluid" in err, err
