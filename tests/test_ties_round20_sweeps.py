"""Both engines write the same bytes on tie-heavy traces where autoscaler checks, drains and start-ups,
KV transfers, failures with their retries and clients' deadlines fall on the instants arrivals come
and iterations end (:mod:`sim.serving.clock`'s order of one instant; the cases worked by hand are in
``test_ties_round20.py``).

Every time is a binary fraction, so every sum is exact and the instants coincide: arrivals on eighths
and quarters of a second, several at one instant; linear step models of 0.25 s per iteration, or of
0.125 s + 2^-10 s a prompt token + 2^-7 s a decoding sequence; KV links moving 100 tokens in 2^-k s;
failures, repairs, checks and start-up delays on quarters; a time-series row every 0.25 s. The
default runs a slice of each sweep (a few seconds); the ``slow`` ones run it whole (thousands of runs).
"""
from __future__ import annotations

import itertools

import pytest

import sim
from test_ties_round20 import FLAT, QUARTER_LINK_GBPS, differs, fixed_failures, pool, scenario, trace

VARY = {"model": "linear", "base_s": 0.125, "per_prefill_token_s": 0.0009765625, "per_decode_token_s": 0.0078125,
        "per_context_token_s": 0.0}
PERFS = {"flat": FLAT, "vary": VARY}
_EIGHTHS = [0.125 * k for k in (0, 0, 1, 3, 4, 4, 6, 8, 8, 9, 12, 13, 16, 16, 18, 20, 21, 24, 24, 25, 28, 30,
                                32, 32, 33, 36, 40, 41, 44, 45)]
TRACES = {
    "doubles": ([0, 0, 0.25, 0.5, 0.5, 0.75, 1, 1, 1.25, 1.5, 2, 2, 2.25, 3, 3, 3.5, 4, 4, 4, 5, 5.25, 6, 6, 6.5, 7, 8],
                None),
    "eighths": (_EIGHTHS, None),
    "mixed": ([0.25 * i for i in range(40)], [1 + (i * 7) % 9 for i in range(40)]),
    "burst": ([0.0] * 6 + [2.0] * 6 + [4.5] * 5 + [7.0] * 4, [2 + i % 5 for i in range(21)]),
}
ROUTERS = ["least_outstanding", "round_robin", "random", "central_queue"]


def _traces(tmp_path, names):
    out = []
    for name in names:
        arrivals, outputs = TRACES[name]
        out.append((name, trace(tmp_path, arrivals, outputs or [4] * len(arrivals), name=f"{name}.csv")))
    return out


def _compare(label: str, of, bad: list[str], before=None) -> None:
    runs = []
    for e in ("fast", "reference"):
        if before is not None:
            before()
        runs.append(sim.run(of(e)))
    what = differs(*runs)
    if what:
        bad.append(f"{label}: {what}")


# --------------------------------------------------------------------------- autoscaler
def autoscaler_sweep(tmp_path, names, perfs, routers, metrics, delays, cooldowns, pool_counts, seqs) -> list[str]:
    bad: list[str] = []
    for (name, path), perf in itertools.product(_traces(tmp_path, names), perfs):
        for router, metric, delay, cd, npools, s in itertools.product(routers, metrics, delays, cooldowns,
                                                                      pool_counts, seqs):
            a = {"metric": metric, "interval": 1.25 if metric == "queue" else 2.5, "target": 0.5, "min": 1,
                 "max": 3, "scale_up_delay": delay, "cooldown": cd}
            pools = [pool("p", 1, s, autoscale=a)] + ([pool("q", 1, s, autoscale=dict(a, min=0))] if npools == 2 else [])
            _compare(f"{name} {perf} {router} {metric} delay={delay} cooldown={cd} pools={npools} seqs={s}",
                     lambda e: scenario(path, e, pools, router=router, perf=PERFS[perf]), bad)
    return bad


def test_autoscaler_ties(tmp_path):
    assert autoscaler_sweep(tmp_path, ["eighths", "mixed"], ["flat"], ["random", "central_queue"],
                            ["load_factor", "queue", "kv"], [0, 1.25], [0], [2], [1, 2]) == []


@pytest.mark.slow
def test_autoscaler_ties_full(tmp_path):
    assert autoscaler_sweep(tmp_path, list(TRACES), list(PERFS), ROUTERS,
                            ["queue", "kv", "load_factor", "utilization", "ttft"], [0, 0.5, 1.25], [0, 1.25],
                            [1, 2], [1, 2]) == []


# --------------------------------------------------------------------------- disaggregation
LINKS = {"quarter": QUARTER_LINK_GBPS, "half": QUARTER_LINK_GBPS / 2, "eighth": QUARTER_LINK_GBPS * 2}


def disaggregation_sweep(tmp_path, names, perfs, links, prefill, decode, seqs, decode_seqs) -> list[str]:
    bad: list[str] = []
    for (name, path), perf in itertools.product(_traces(tmp_path, names), perfs):
        for link, npre, ndec, s, ds in itertools.product(links, prefill, decode, seqs, decode_seqs):
            fleet = {"disaggregated": {"prefill_pool": "pre", "decode_pool": "dec", "link_gbps": LINKS[link]}}
            pools = [pool("pre", npre, s), pool("dec", ndec, ds)]
            _compare(f"{name} {perf} link={link} prefill={npre}x{s} decode={ndec}x{ds}",
                     lambda e: scenario(path, e, pools, perf=PERFS[perf], fleet=fleet), bad)
    return bad


def test_kv_transfer_ties(tmp_path):
    assert disaggregation_sweep(tmp_path, ["doubles", "burst"], ["flat", "vary"], ["quarter"], [1], [1, 2],
                                [1], [2]) == []


@pytest.mark.slow
def test_kv_transfer_ties_full(tmp_path):
    assert disaggregation_sweep(tmp_path, list(TRACES), list(PERFS), list(LINKS), [1, 2], [1, 2, 3], [1, 2],
                                [1, 2, 4]) == []


# --------------------------------------------------------------------------- failures and retries
UPS = {"a": [1.0, 2.25, 0.75, 3.0], "b": [0.5, 1.5, 2.0, 1.25], "c": [1.125, 0.625, 2.5]}


def failure_sweep(tmp_path, monkeypatch, names, perfs, routers, ups, retries, replicas, seqs, pool_counts,
                  disaggregated=False) -> list[str]:
    bad: list[str] = []
    for (name, path), perf in itertools.product(_traces(tmp_path, names), perfs):
        for router, up, mr, n, s, npools in itertools.product(routers, ups, retries, replicas, seqs, pool_counts):
            fl = {"mtbf": 10, "mttr": 1, "max_retries": mr}
            fleet = None
            if disaggregated:    # failing prefill replicas (a transfer reading from one is retried too)
                fleet = {"disaggregated": {"prefill_pool": "p", "decode_pool": "q", "link_gbps": QUARTER_LINK_GBPS}}
            pools = [pool("p", n, s, failures=fl)] + ([pool("q", 1, s)] if npools == 2 else [])
            # each replica fails after UPS[up][i], UPS[up][i+1], ... (its number i), repaired after 0.5, 0.25, 1
            schedule = [UPS[up][i:] + UPS[up][:i] for i in range(len(UPS[up]))]

            def before(schedule=schedule):
                fixed_failures(monkeypatch, ups=schedule, downs=[0.5, 0.25, 1.0])
            _compare(f"{name} {perf} {router} ups={up} max_retries={mr} replicas={n}x{s} pools={npools}",
                     lambda e: scenario(path, e, pools, router=router, perf=PERFS[perf], fleet=fleet), bad,
                     before=before)
    return bad


def test_failure_and_retry_ties(tmp_path, monkeypatch):
    assert failure_sweep(tmp_path, monkeypatch, ["doubles", "burst"], ["flat"], ["least_outstanding", "central_queue"],
                         ["a", "c"], [0, 1], [2, 3], [2], [1]) == []


def test_failure_ties_under_disaggregation(tmp_path, monkeypatch):
    assert failure_sweep(tmp_path, monkeypatch, ["doubles"], ["flat", "vary"], ["least_outstanding"],
                         ["a", "c"], [0, 2], [1, 2], [2], [2], disaggregated=True) == []


@pytest.mark.slow
def test_failure_and_retry_ties_full(tmp_path, monkeypatch):
    assert failure_sweep(tmp_path, monkeypatch, list(TRACES), list(PERFS), ROUTERS, list(UPS), [0, 1, 3], [1, 2, 3],
                         [1, 2, 4], [1, 2]) == []


# --------------------------------------------------------------------------- patience
def patience_sweep(tmp_path, names, perfs, routers, patiences, rooms, replicas, seqs) -> list[str]:
    bad: list[str] = []
    for (name, path), perf in itertools.product(_traces(tmp_path, names), perfs):
        for router, pat, room, n, s in itertools.product(routers, patiences, rooms, replicas, seqs):
            central = router == "central_queue"     # its room is the router's, any other's each replica's
            extra = {"max_waiting": room} if room is not None and not central else {}
            pools = [pool("p", n, s, **extra)]
            _compare(f"{name} {perf} {router} patience={pat} room={room} replicas={n}x{s}",
                     lambda e: scenario(path, e, pools, router=router, perf=PERFS[perf],
                                        workload={"patience_s": pat, "patience": "fixed"},
                                        central_room=room if central else None), bad)
    return bad


def test_patience_ties(tmp_path):
    """No case differed before this round's changes: the test guards the rule (a deadline at or before
    a boundary is gone there, on both engines)."""
    assert patience_sweep(tmp_path, ["doubles", "mixed"], ["flat"], ["least_outstanding", "central_queue"],
                          [0.25, 0.75, 1.0], [None, 1], [1, 2], [1, 2]) == []


@pytest.mark.slow
def test_patience_ties_full(tmp_path):
    assert patience_sweep(tmp_path, list(TRACES), list(PERFS), ROUTERS, [0.25, 0.5, 0.75, 1.0, 1.5], [None, 0, 1, 2],
                          [1, 2, 3], [1, 2]) == []
