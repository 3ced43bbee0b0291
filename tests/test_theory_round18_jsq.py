"""``router: least_outstanding`` is join-the-shortest-queue: its mean wait against the exact Markov
chain, through the command line (``fleetsim sweep --seeds``, its ``sweep.csv``).

``test_routing_queueing`` only bounds the router's wait (between the pooled M/M/c queue and round
robin), for want of a closed form. There is none, but with exponential service the queue lengths of
``c`` identical servers under JSQ are a continuous-time Markov chain, and its stationary law can be
solved numerically to any precision: the state is the sorted vector of the replicas' outstanding
requests (``n_1 >= ... >= n_c``; servers are alike and memoryless, so which of tied shortest queues
an arrival joins does not change the law of the sorted vector, and the router's rotating ties are
covered); an arrival at rate ``λ`` adds one to a shortest queue, each non-empty queue loses one at
rate ``μ``. Each queue is cut at ``n`` (the chain's mass within two of the cut is below 1e-7 at the
sizes used), the balance equations are solved as a sparse system, and
``W_q = E[Σ max(n_i - 1, 0)] / λ`` (Little), ``P(wait) = P(every replica busy)`` (PASTA).

The pool of ``test_queueing_theory``: ``max_num_seqs: 1``, one output token, prompts of ``ceil(X)``
tokens, ``X ~ Exp(1000)``, at 1 ms a token: service of mean ``S = 0.001 / (1 - e^{-1/1000}) =
1.0005 s``, squared coefficient of variation 0.999 (memoryless on the millisecond grid; the chain
takes exponential service of the same mean).

Confidence bounds as in ``test_queueing_theory``: 16 replications (``--seeds 16``) of 8,000 s; the
99 % Student-t interval of the mean wait must contain the chain's value and be narrower than 10 % of
it. On two servers at ρ = 0.8 the chain's 1.957 s lies 10 % above the pooled queue's 1.779 s (Erlang
C) and 31 % below round robin's 2.845 s, so the check tells JSQ from both neighbours.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import spsolve

from theory_round18_pool import both_engines_write_the_same_requests, ci99, one_at_a_time, sweep_rows

S = 0.001 / (1.0 - math.exp(-1.0 / 1000.0))        # 1.0005 s
RHO = 0.8
R = 16


def jsq_chain(c: int, lam: float, mu: float, n: int) -> tuple[float, float]:
    """``(W_q, P(wait))`` of join-the-shortest-queue on ``c`` exponential servers, each queue cut at ``n``."""
    states = list(itertools.combinations_with_replacement(range(n, -1, -1), c))   # non-increasing tuples
    index = {s: i for i, s in enumerate(states)}
    rows, cols, rates = [], [], []
    leaving = np.zeros(len(states))

    def move(i: int, to: list[int], rate: float) -> None:
        rows.append(index[tuple(sorted(to, reverse=True))])
        cols.append(i)
        rates.append(rate)
        leaving[i] += rate

    for s, i in index.items():
        if s[-1] < n:
            move(i, [*s[:-1], s[-1] + 1], lam)                  # joins a shortest queue
        for k in range(c):
            if s[k] > 0:
                move(i, [*s[:k], s[k] - 1, *s[k + 1:]], mu)     # a completion
    gen = (sparse.csr_matrix((rates, (rows, cols)), shape=(len(states),) * 2) - sparse.diags(leaving)).tolil()
    gen[0, :] = 1.0                                             # one balance equation replaced by Σ p = 1
    rhs = np.zeros(len(states))
    rhs[0] = 1.0
    p = spsolve(gen.tocsc(), rhs)
    arr = np.array(states)
    assert p[arr[:, 0] >= n - 2].sum() < 1e-7                   # the cut holds (almost) no mass
    lq = float(np.dot(p, np.maximum(arr - 1, 0).sum(axis=1)))
    return lq / lam, float(p[arr[:, -1] >= 1].sum())


def erlang_c(c: int, a: float) -> float:
    top = a ** c / math.factorial(c) * c / (c - a)
    return top / (math.fsum(a ** k / math.factorial(k) for k in range(c)) + top)


def test_the_chain_on_one_server_is_mm1_and_on_two_lies_between_its_neighbours():
    w, pw = jsq_chain(1, 0.7, 1.0, 200)
    assert w == pytest.approx(0.7 / (1.0 - 0.7), rel=1e-9) and pw == pytest.approx(0.7, rel=1e-9)
    w, pw = jsq_chain(2, 1.6, 1.0, 120)
    pooled = erlang_c(2, 1.6) / (2.0 - 1.6)
    assert pooled < w < 2.845
    # a request waits when every replica is busy, which happens less often than in the pooled queue:
    # without jockeying a replica can empty while the other still has requests waiting
    assert pw < erlang_c(2, 1.6)


def jsq_scenario(**over) -> dict:
    kw = {"replicas": 2, "router": "least_outstanding", "arrival": {"process": "poisson", "rate": 1.0},
          "prompt": {"dist": "exponential", "mean": 1000, "max": 100_000}, "duration": 8000.0, "warmup": 300.0,
          **over}
    return one_at_a_time("jsq", **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The sweep's rows of ``c`` servers at ρ = 0.8 (each size its own sweep, run when first asked for)."""
    done = {}

    def rows(c: int) -> list[dict]:
        if c not in done:
            done[c] = sweep_rows(tmp_path_factory.mktemp(f"jsq{c}"), jsq_scenario(), seeds=R,
                                 grid=f"fleet.pools.0.replicas&workload.arrival.rate={c}&{RHO * c / S!r}")
        return done[c]
    return rows


# three servers are slow (16 runs of 8,000 s, ~4.5 CPU s): two check the same router against the chain
@pytest.mark.parametrize("c, cut", [(2, 120), pytest.param(3, 30, marks=pytest.mark.slow)])
def test_least_outstanding_waits_what_the_jsq_chain_says(runs, c, cut):
    """ρ = 0.8: two servers 1.957 s (pooled 1.779, round robin 2.845); three 1.286 s (pooled 1.079)."""
    rows = runs(c)
    assert len(rows) == R and all(not r["error"] for r in rows)
    w_chain = jsq_chain(c, RHO * c, 1.0, cut)[0] * S       # the chain in units of the mean service
    m, half = ci99([float(r["latency.queue.mean"]) for r in rows])
    assert abs(m - w_chain) <= half < 0.1 * w_chain, (c, m, half, w_chain)
    util = np.array([float(r["utilization.gpu_busy"]) for r in rows])
    assert abs(float(util.mean()) - RHO) < 0.01


def test_fast_and_reference_engines_agree(tmp_path):
    n = both_engines_write_the_same_requests(tmp_path, jsq_scenario(replicas=3, duration=1000.0),
                                             "workload.arrival.rate=2.5")
    assert n > 2000
