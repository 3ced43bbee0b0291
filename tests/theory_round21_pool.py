"""What the ``test_theory_round21_*`` files share: the theory each checks, computed from its formula
(and, where one exists, a second derivation or a known limit to check the first), and the number in
system read back from a run's request rows.

* ``cobham`` (non-preemptive priority M/G/1, any number of classes) and ``kleinrock_conserved``;
* ``ctmc_stationary`` (a finite Markov chain's stationary law, solved as a linear system);
* ``jsq_rooms`` (join the shortest of ``c`` exponential servers each with a waiting room of ``K``)
  and ``round_robin_rooms`` (each server an E_c/M/1/K+1 queue);
* ``gim1_sigma`` (GI/M/1's root) with ``gim1_arrival_law`` and ``gim1_time_law``;
* ``engset`` (the finite-source loss system: time and call congestion);
* ``mg1_number_law`` (M/G/1's number in system, Kendall's embedded chain) and ``mg1_number_chain``
  (the same chain solved as a linear system);
* ``number_seen_by_arrivals``, ``number_left_by_departures`` and ``time_average_law`` (from request rows).

The pool is round 18's (``theory_round18_pool.one_at_a_time``: replicas serving one request at a
time, one output token, 1 ms a prompt token and nothing else, so a request's service is its prompt in
milliseconds); the runs go through ``fleetsim run --set seed=k --out`` (``theory_round19_pool.run_seeds``).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import optimize, sparse
from scipy.sparse.linalg import spsolve

from theory_round19_pool import stationary


def cobham(lams: list[float], means: list[float], second: list[float]) -> list[float]:
    """Mean waits of classes 1..n (highest priority first) of a non-preemptive priority M/G/1 queue,
    class ``k`` Poisson at ``lams[k]`` with service moments ``means[k]`` and ``second[k]``
    (Cobham, "Priority assignment in waiting line problems", Oper. Res. 2, 1954; Kleinrock, Queueing
    Systems II, eq. 3.30): ``W_k = W_0 / ((1 - σ_{k-1}) (1 - σ_k))``, ``W_0 = Σ_i λ_i E[S_i²] / 2``
    (the mean residual work found in service), ``σ_k = Σ_{i<=k} λ_i E[S_i]``."""
    w0 = math.fsum(lam * s2 for lam, s2 in zip(lams, second)) / 2.0
    out, prev, cum = [], 0.0, 0.0
    for lam, s in zip(lams, means):
        cum += lam * s
        out.append(w0 / ((1.0 - prev) * (1.0 - cum)))
        prev = cum
    return out


def kleinrock_conserved(lams: list[float], means: list[float], second: list[float]) -> float:
    """Kleinrock's conservation law for a work-conserving non-preemptive M/G/1 discipline:
    ``Σ_k ρ_k W_k = ρ W_0 / (1 - ρ)`` whatever the order of service (Kleinrock, "A conservation law
    for a wide class of queueing disciplines", Nav. Res. Log. Q. 12, 1965). Returned divided by
    ``ρ``: the load-weighted mean wait, Pollaczek-Khinchine's FCFS wait of the merged stream."""
    rho = math.fsum(lam * s for lam, s in zip(lams, means))
    w0 = math.fsum(lam * s2 for lam, s2 in zip(lams, second)) / 2.0
    return w0 / (1.0 - rho)


def ctmc_stationary(states: list, rates) -> dict:
    """The stationary law of a finite continuous-time Markov chain on ``states``, whose transitions
    out of a state ``s`` are ``rates(s)``, pairs ``(next state, rate)``: ``π Q = 0`` with one balance
    equation replaced by ``Σ π = 1``, solved as a sparse system (the chain must be irreducible).
    Returns ``{state: probability}``."""
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    rows, cols, vals = [], [], []
    for s, i in index.items():
        for t, rate in rates(s):
            rows += [index[t], i]                       # Q transposed: inflow to t, outflow from s
            cols += [i, i]
            vals += [rate, -rate]
    qt = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n)).tolil()
    qt[0, :] = np.ones(n)
    rhs = np.zeros(n)
    rhs[0] = 1.0
    p = spsolve(qt.tocsc(), rhs)
    assert np.abs(sparse.csr_matrix((vals, (rows, cols)), shape=(n, n)) @ p).max() < 1e-10
    return {s: float(p[i]) for s, i in index.items()}


def _summary(law: dict, lam: float, full, in_system, waiting) -> dict:
    refused = math.fsum(p for s, p in law.items() if full(s))
    big_l = math.fsum(p * in_system(s) for s, p in law.items())
    lq = math.fsum(p * waiting(s) for s, p in law.items())
    return {"refused": refused, "L": big_l, "wait_admitted": lq / (lam * (1.0 - refused))}


def jsq_rooms(c: int, lam: float, mu: float, room: int) -> dict:
    """``c`` exponential servers of rate ``mu``, each serving one at a time with a waiting room of
    ``room`` places, Poisson arrivals at ``lam`` each sent to a server holding the fewest (join the
    shortest queue); one finding every server full (``1 + room`` each) is refused. The state is the
    sorted vector of the servers' counts (which of equal servers takes an arrival does not change
    it). Returns the share refused (the full state's probability, by PASTA), the mean number in the
    system and the mean wait of the admitted (Little: the mean number waiting over the admitted rate)."""
    top = 1 + room
    states = sorted(set(tuple(sorted(v)) for v in itertools.product(range(top + 1), repeat=c)))

    def rates(s):
        out = []
        if s[0] < top:                                   # the shortest takes it
            out.append((tuple(sorted((s[0] + 1,) + s[1:])), lam))
        for i in range(c):
            if s[i] > 0 and (i == 0 or s[i] != s[i - 1]):
                k = s.count(s[i])                         # any of the k equal servers ends
                out.append((tuple(sorted(s[:i] + (s[i] - 1,) + s[i + 1:])), k * mu))
        return out

    law = ctmc_stationary(states, rates)
    return _summary(law, lam, lambda s: s[0] == top, sum, lambda s: sum(max(n - 1, 0) for n in s))


def round_robin_rooms(c: int, lam: float, mu: float, room: int) -> dict:
    """The same servers fed in turn (round robin): server ``i`` receives every ``c``-th arrival, so
    its arrivals are a renewal stream of Erlang-``c`` gaps of rate ``lam`` per phase, whatever the
    others hold, and it refuses one finding it full: the E_c/M/1/K+1 queue, a chain on (arrival phase
    ``0..c-1``, number ``0..1+room``). An arrival happens from phase ``c - 1`` (at rate ``lam``), so
    the share of the server's arrivals (``lam / c``) finding ``n`` is ``c p(c-1, n)``. Returns what
    :func:`jsq_rooms` returns, for the fleet (``c`` such servers)."""
    top = 1 + room
    states = [(j, n) for j in range(c) for n in range(top + 1)]

    def rates(s):
        j, n = s
        out = [((j + 1, n), lam) if j < c - 1 else ((0, min(n + 1, top)), lam)]
        if n > 0:
            out.append(((j, n - 1), mu))
        return [(t, r) for t, r in out if t != s]

    law = ctmc_stationary(states, rates)
    refused = c * math.fsum(p for (j, n), p in law.items() if j == c - 1 and n == top)
    one = _summary(law, lam / c, lambda s: False, lambda s: s[1], lambda s: max(s[1] - 1, 0))
    return {"refused": refused, "L": c * one["L"],
            "wait_admitted": one["wait_admitted"] * 1.0 / (1.0 - refused)}


def gim1_sigma(lam: float, mu: float, cv: float) -> float:
    """GI/M/1 with gamma gaps (mean ``1 / lam``, coefficient of variation ``cv``): the root in (0, 1)
    of ``σ = A*(mu (1 - σ))``, ``A*(s) = (k lam / (k lam + s))^k`` the gaps' Laplace transform,
    ``k = 1 / cv²`` (Kleinrock, Queueing Systems I, §6.4)."""
    k = 1.0 / cv ** 2
    return optimize.brentq(lambda s: (k * lam / (k * lam + mu * (1.0 - s))) ** k - s, 1e-12, 1.0 - 1e-12)


def gim1_arrival_law(sigma: float, n: int) -> np.ndarray:
    """What an arrival finds in GI/M/1: geometric, ``P(N = j) = (1 - σ) σ^j``, ``j = 0 .. n``."""
    return (1.0 - sigma) * sigma ** np.arange(n + 1)


def gim1_time_law(rho: float, sigma: float, n: int) -> np.ndarray:
    """The time-average number in GI/M/1: ``P(0) = 1 - ρ``, ``P(j) = ρ (1 - σ) σ^(j-1)`` for ``j >= 1``
    (Kleinrock, Queueing Systems I, eq. 6.30). Poisson arrivals give ``σ = ρ`` and the two laws
    agree (PASTA); any other renewal stream sees a law of its own."""
    out = np.empty(n + 1)
    out[0] = 1.0 - rho
    out[1:] = rho * (1.0 - sigma) * sigma ** np.arange(n)
    return out


def engset(sources: int, servers: int, beta: float) -> dict:
    """The Engset loss system: ``sources`` clients, each idle for an exponential time of mean
    ``1 / γ`` and then asking for one of ``servers`` servers (held a time of mean ``1 / μ``, any law),
    refused if all are busy, then idle again; ``beta = γ / μ``. The number busy has the truncated
    binomial law ``p_n ∝ C(N, n) β^n`` (time congestion ``p_c``); an arrival sees the system of the
    ``N - 1`` other clients (the arrival theorem), so the share refused (call congestion) is the same
    law for ``N - 1`` at ``c`` (Engset 1918; Cooper, Introduction to Queueing Theory, §3.4). Returns
    both congestions, the mean number busy and the carried throughput ``γ (N - E[n])`` times
    ``1 - call`` (= ``μ E[n]``)."""
    def law(n_src):
        w = np.array([math.comb(n_src, n) * beta ** n for n in range(servers + 1)])
        return w / w.sum()
    time_law = law(sources)
    busy = float(np.dot(np.arange(servers + 1), time_law))
    return {"time": float(time_law[-1]), "call": float(law(sources - 1)[-1]), "busy": busy, "law": time_law}


def number_seen_by_arrivals(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """For each request (of every row, a request still in flight included), its arrival time and the
    number of requests in the system just before it: those arrived before it minus those gone
    (completed or rejected) before it. Rows need ``arrival_s``, ``status`` and ``completion_s``."""
    arrive = np.sort(np.array([float(r["arrival_s"]) for r in rows]))
    gone = np.sort(np.array([float(r["completion_s"]) for r in rows if r["status"] != "in_flight"]))
    before = np.searchsorted(arrive, arrive, side="left")
    left = np.searchsorted(gone, arrive, side="right")
    return arrive, before - left


def time_average_law(rows: list[dict], start: float, end: float, n: int) -> np.ndarray:
    """The share of ``[start, end]`` spent with ``j`` requests in the system, ``j = 0 .. n`` (the last
    one: ``n`` or more), integrated exactly over the step function rebuilt from the request rows."""
    times = [(float(r["arrival_s"]), 1) for r in rows]
    times += [(float(r["completion_s"]), -1) for r in rows if r["status"] != "in_flight"]
    times.sort()
    out = np.zeros(n + 1)
    count, last = 0, start
    for t, step in times:
        if t > start:
            out[min(count, n)] += min(t, end) - last
            last = min(t, end)
        if t >= end:
            break
        count += step
    out[min(count, n)] += end - last
    return out / (end - start)


def mg1_number_law(lam: float, sizes: list[float], weights: list[float], n: int) -> np.ndarray:
    """The number in an M/G/1 system left behind by a departure, ``P(N = j)``, ``j = 0 .. n``, for a
    service of ``sizes[i]`` seconds with probability ``weights[i]``: the embedded chain at departures
    (Kendall 1953) ``π_j = π_0 a_j + Σ_{i=1}^{j+1} π_i a_{j-i+1}``, ``a_k`` the probability of ``k``
    Poisson arrivals during one service, solved forward from ``π_0 = 1 - ρ``. By Burke's level
    crossing departures leave the law arrivals find, and by PASTA that is the time average."""
    k = np.arange(n + 2)
    a = np.zeros(n + 2)
    for s, w in zip(sizes, weights):
        a += w * np.exp(-lam * s + k * math.log(lam * s) - np.array([math.lgamma(x + 1) for x in k]))
    pi = np.zeros(n + 1)
    pi[0] = 1.0 - lam * float(np.dot(sizes, weights))
    for j in range(n):
        pi[j + 1] = (pi[j] - pi[0] * a[j] - math.fsum(pi[i] * a[j + 1 - i] for i in range(1, j + 1))) / a[0]
    return pi


def mg1_number_chain(lam: float, sizes: list[float], weights: list[float], n: int) -> np.ndarray:
    """The same law from the embedded chain's transition matrix cut at ``n`` (the last state keeps
    what would leave it), solved as a linear system: a second derivation of :func:`mg1_number_law`."""
    k = np.arange(n + 1)
    a = np.zeros(n + 1)
    for s, w in zip(sizes, weights):
        a += w * np.exp(-lam * s + k * math.log(lam * s) - np.array([math.lgamma(x + 1) for x in k]))
    p = np.zeros((n + 1, n + 1))
    for i in range(n + 1):
        base = max(i - 1, 0)
        p[i, base:] = a[: n + 1 - base]
        p[i, n] += 1.0 - p[i].sum()
    return stationary(p)


def number_left_by_departures(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """For each completed request, its completion time and the number it leaves in the system: those
    arrived by then minus those gone by then (itself included)."""
    arrive = np.sort(np.array([float(r["arrival_s"]) for r in rows]))
    gone = np.sort(np.array([float(r["completion_s"]) for r in rows if r["status"] != "in_flight"]))
    done = np.sort(np.array([float(r["completion_s"]) for r in rows if r["status"] == "completed"]))
    return done, np.searchsorted(arrive, done, side="right") - np.searchsorted(gone, done, side="right")
