"""What the ``test_theory_round20_*`` files share: the theory each checks, computed from its formula
(and, where one exists, a second derivation to check the first), and the busy periods of one server
read back from a run's request rows.

* ``mmc_fixed_patience`` (M/M/c+D, Baccelli-Hebuterne) and ``erlang_c``;
* ``riordan`` (the moments of overflow traffic) and ``overflow_chain`` (the same from Kosten's chain);
* ``busy_periods`` (rebuilt from request rows), ``served_in_busy_period`` (Takacs' hitting-time
  theorem) and ``served_in_busy_period_mm1``;
* ``mmck_m`` (a waiting room with exponential patience, M/M/c/c+K+M);
* ``lindley`` (GI/G/1's stationary wait, Lindley's equation on a grid).

The pool is round 18's (``theory_round18_pool.one_at_a_time``: replicas serving one request at a
time, one output token, 1 ms a prompt token and nothing else, so a request's service is its prompt in
milliseconds); the runs go through ``fleetsim run --set seed=k --out`` (``theory_round19_pool.run_seeds``).
"""
from __future__ import annotations

import math
from collections import Counter
from itertools import combinations_with_replacement

import numpy as np
from scipy import integrate, signal
from scipy.stats import gamma as sps_gamma

from admission_pool import served_and_wait


def mmc_fixed_patience(c: int, lam: float, mu: float, tau: float) -> dict:
    """M/M/c+D: ``c`` exponential servers of rate ``mu``, Poisson arrivals at ``lam``, every client
    waiting at most ``tau`` for service to start (FCFS).

    Baccelli and Hebuterne, "On queues with impatient customers" (Performance '81), for M/M/c+G;
    written as in Zeltyn and Mandelbaum, "Call centers with impatient customers: many-server
    asymptotics of the M/M/n+G queue", Queueing Systems 51 (2005). A client is served iff its offered
    wait ``V`` (the wait of one who never gives up) is below its patience. While all ``c`` are busy
    ``V`` falls at rate 1 and an arrival that will be served (``V <= tau``) lifts it by an
    exponential of rate ``c mu``; an arrival finding ``c - 1`` busy starts it there. Level crossing:
    ``V`` has density ``f(x) = lam p_{c-1} exp(lam min(x, tau) - c mu x)`` on ``x > 0``; below ``c``
    busy the chain is Poisson's, ``p_j = p_{c-1} (c-1)! / j! (mu / lam)^{c-1-j}``.

    Returns the share abandoned ``P(V > tau)``, the mean wait of the served ``E[V | V <= tau]`` and
    the share of the served that waited at all ``P(0 < V <= tau) / P(V <= tau)``."""
    r = lam / mu
    below = math.fsum(math.factorial(c - 1) / math.factorial(j) * r ** (j - (c - 1)) for j in range(c))
    g = lam - c * mu
    body = integrate.quad(lambda x: math.exp(g * x), 0.0, tau)[0]
    tail = math.exp(g * tau) / (c * mu)
    p_last = 1.0 / (below + lam * (body + tail))
    abandoned = lam * p_last * tail
    served = 1.0 - abandoned
    wait = lam * p_last * integrate.quad(lambda x: x * math.exp(g * x), 0.0, tau)[0]
    return {"abandoned": abandoned, "wait_served": wait / served, "waited_share": lam * p_last * body / served}


def erlang_c(c: int, r: float) -> float:
    """The probability of waiting in M/M/c at offered load ``r`` (< c), from its closed form."""
    top = r ** c / math.factorial(c) * c / (c - r)
    return top / (math.fsum(r ** k / math.factorial(k) for k in range(c)) + top)


def riordan(c: int, a: float, erlang_b) -> tuple[float, float]:
    """Mean and variance of the traffic a loss group of ``c`` servers at offered load ``a`` overflows,
    carried on infinitely many servers of the same exponential holding time (Riordan 1956, "Derivation
    of moments of overflow traffic", in Wilkinson, "Theories for toll traffic engineering in the
    U.S.A.", Bell Syst. Tech. J. 35): ``M = a B(c, a)``, ``V = M (1 - M + a / (c + 1 + M - a))``."""
    m = a * erlang_b(c, a)
    return m, m * (1.0 - m + a / (c + 1.0 + m - a))


def overflow_chain(c: int, a: float, n: int = 60) -> tuple[float, float]:
    """The same two numbers from the Markov chain itself (Kosten 1937): states ``(i, j)``, ``i`` busy
    of the ``c`` and ``j`` on the overflow servers (cut at ``n``), arrivals at ``a`` (holding time 1)
    to the first group if it has room, else to the second; each busy server ends at rate 1. The
    stationary law solved as a linear system."""
    idx = lambda i, j: i * (n + 1) + j                          # noqa: E731
    size = (c + 1) * (n + 1)
    q = np.zeros((size, size))
    for i in range(c + 1):
        for j in range(n + 1):
            s = idx(i, j)
            if i < c:
                q[s, idx(i + 1, j)] += a
            elif j < n:
                q[s, idx(i, j + 1)] += a
            if i > 0:
                q[s, idx(i - 1, j)] += i
            if j > 0:
                q[s, idx(i, j - 1)] += j
            q[s, s] = -q[s].sum()
    lhs = q.T.copy()                                            # π Q = 0, one (redundant) balance equation
    lhs[-1] = 1.0                                               # replaced by Σ π = 1: solved directly, where
    rhs = np.zeros(size)                                        # a least-squares solve of all of them did
    rhs[-1] = 1.0                                               # ~10x the work (an SVD)
    p = np.linalg.solve(lhs, rhs).reshape(c + 1, n + 1)
    assert p[:, -1].sum() < 1e-12                                # the cut holds no mass
    marg = p.sum(axis=0)
    j = np.arange(n + 1)
    m = float((j * marg).sum())
    return m, float((j * j * marg).sum() - m * m)


def busy_periods(rows: list[dict], until: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The busy periods of one server serving first come, first served, from its request rows: a
    request arriving before the one ahead of it completes belongs to that one's busy period. Returns
    the number served, the length of each busy period that began and ended before ``until``, and the
    idle periods between them. Every row must be a completed request."""
    assert all(r["status"] == "completed" for r in rows)
    arrive = np.array([float(r["arrival_s"]) for r in rows])
    done = np.array([float(r["completion_s"]) for r in rows])
    order = np.argsort(arrive, kind="stable")
    arrive, done = arrive[order], done[order]
    assert np.all(np.diff(done) > 0)                              # one server, first come first served
    new = np.empty(len(arrive), dtype=bool)
    new[0] = True
    new[1:] = arrive[1:] > done[:-1]
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(arrive)) - 1                 # the last request of each
    keep = done[ends] < until
    counts = (ends - starts + 1)[keep]
    lengths = (done[ends] - arrive[starts])[keep]
    idle = (arrive[starts[1:]] - done[ends[:-1]])[keep[:-1] & keep[1:]]
    return counts, lengths, idle


def served_in_busy_period(lam: float, sizes: list[float], weights: list[float], n: int) -> float:
    """``P(N = n)``: the probability that a busy period of M/G/1 serves exactly ``n`` requests, for a
    service of ``sizes[i]`` seconds with probability ``weights[i]`` (Takacs 1962, the hitting-time
    theorem: ``P(N = n) = P(A_n = n - 1) / n``, ``A_n`` the Poisson arrivals during ``n`` services).
    Fixed service gives Borel's law ``e^{-ρn} (ρn)^{n-1} / n!``."""
    total = 0.0
    for combo in combinations_with_replacement(range(len(sizes)), n):
        count = Counter(combo)
        ways = math.factorial(n)
        prob = 1.0
        for i, k in count.items():
            ways //= math.factorial(k)
            prob *= weights[i] ** k
        x = lam * sum(sizes[i] for i in combo)
        total += ways * prob * math.exp(-x + (n - 1) * math.log(x) - math.lgamma(n))
    return total / n


def served_in_busy_period_mm1(rho: float, n: int) -> float:
    """The same for exponential service: ``A_n`` is negative binomial, so
    ``P(N = n) = C(2n-2, n-1) ρ^{n-1} / (n (1 + ρ)^{2n-1})``."""
    return math.comb(2 * n - 2, n - 1) * rho ** (n - 1) / (n * (1.0 + rho) ** (2 * n - 1))


def mmck_m(c: int, lam: float, mu: float, room: int, theta: float, birth_death) -> dict:
    """M/M/c/c+K+M: ``c`` exponential servers of rate ``mu``, a waiting room of ``room`` places that
    refuses an arrival finding it full, and clients who give up after an exponential time of rate
    ``theta`` while they wait. The number in the system is a birth-death chain on ``0..c+room``
    (birth ``lam`` below the top, death ``min(k, c) mu + max(k - c, 0) theta``). By PASTA the share
    refused is the top state's probability; the share abandoned is ``theta L_q / lam`` and, counted
    again by the tagged request's race (``j`` ahead: it moves up at ``c mu + i theta`` for ``i = j ..
    0`` and gives up at ``theta``), the one minus the refused minus the served. Returns both counts of
    the abandoned share, the refused share and the mean wait of the served."""
    top = c + room
    p = birth_death(lambda k: lam, lambda k: min(k, c) * mu + max(k - c, 0) * theta, top)
    lq = sum((k - c) * p[k] for k in range(c, top + 1))
    served, wait = served_and_wait(p, c, mu, theta, top)
    return {"refused": float(p[top]), "abandoned": theta * lq / lam, "abandoned_tagged": 1.0 - p[top] - served,
            "wait_served": wait / served}


def lindley(sizes: list[float], weights: list[float], shape: float, rate: float, *, h: float = 0.01,
            wmax: float = 150.0, tol: float = 1e-10) -> tuple[np.ndarray, float]:
    """The stationary waiting time of GI/G/1 FCFS, solved numerically on a grid of step ``h``:
    Lindley's recursion ``W' = max(0, W + S - A)`` iterated on the law of ``W`` until it no longer
    moves. Service ``sizes[i]`` seconds (multiples of ``h``) with probability ``weights[i]``; gaps
    ``A`` gamma of ``shape`` and ``rate`` (mean ``shape / rate``), put on the grid by the mass of each
    cell around a grid point. Returns the probabilities of ``W = 0, h, 2h, ...`` and ``h``."""
    a_top = float(sps_gamma.isf(1e-14, shape, scale=1.0 / rate))
    ka = int(math.ceil(a_top / h)) + 1
    edges = (np.arange(ka + 1) + 0.5) * h
    cdf = sps_gamma.cdf(edges, shape, scale=1.0 / rate)
    gap = np.diff(np.concatenate([[0.0], cdf]))
    gap[-1] += 1.0 - cdf[-1]
    ks = [round(s / h) for s in sizes]
    assert all(abs(k * h - s) < 1e-12 for k, s in zip(ks, sizes))
    service = np.zeros(max(ks) + 1)
    for k, w in zip(ks, weights):
        service[k] += w
    u = np.convolve(service, gap[::-1])                   # U = S - A on offsets -ka .. max(ks)
    n = int(round(wmax / h)) + 1

    w = np.zeros(n)
    w[0] = 1.0
    for _ in range(100_000):
        full = signal.fftconvolve(w, u)                   # offset of index i: i - ka
        new = np.empty(n)
        new[0] = full[: ka + 1].sum()
        new[1:] = full[ka + 1: ka + n]
        leak = full[ka + n:].sum()
        new = np.clip(new, 0.0, None)
        new /= new.sum()
        if np.abs(new - w).sum() < tol:
            assert leak < 1e-12, leak                      # wmax holds the law
            return new, h
        w = new
    raise AssertionError("Lindley's recursion did not settle")
