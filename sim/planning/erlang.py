"""Erlang C: the M/M/c queue in closed form, as an analytic yardstick for capacity planning.

``c`` identical servers, Poisson arrivals at rate ``λ`` (1/s), exponential service with mean
``1/μ`` seconds, one FIFO queue (``fleet.router: central_queue`` with ``max_num_seqs: 1`` is this
system). With offered load ``a = λ/μ`` (Erlangs) and ``ρ = a/c < 1``:

.. math::

    C(c, a) = \\frac{\\frac{a^c}{c!}\\frac{c}{c-a}}{\\sum_{k<c} \\frac{a^k}{k!} + \\frac{a^c}{c!}\\frac{c}{c-a}}
    \\qquad P(W_q > t) = C(c, a)\\, e^{-(c\\mu-\\lambda) t}
    \\qquad E[W_q] = \\frac{C(c, a)}{c\\mu - \\lambda}

(A. K. Erlang 1917; e.g. Kleinrock, *Queueing Systems* Vol. 1, 1975, §3.5; Harchol-Balter,
*Performance Modeling and Design of Computer Systems*, 2013, ch. 14.)

    >>> round(erlang_c(2, 1.0), 4)          # two servers, one Erlang offered
    0.3333
    >>> min_servers(rate_per_s=10.0, service_s=1.0, max_mean_wait_s=0.1)
    13

:class:`MMcRunner` turns a scenario dict into a summary-shaped dict from these formulas; it is
a drop-in ``runner(scenario_dict, seed) -> summary`` for checking planning logic without a
simulation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def erlang_c(servers: int, offered_erlangs: float) -> float:
    """Probability that an arrival waits (Erlang C formula); 1.0 when the queue is unstable.

    Parameters
    ----------
    servers : int
        Number of servers ``c`` (>= 1).
    offered_erlangs : float
        Offered load ``a = λ/μ`` in Erlangs.
    """
    c, a = int(servers), float(offered_erlangs)
    if c < 1:
        raise ValueError(f"servers must be >= 1 (got {servers})")
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    # Erlang B by the stable recursion B(k) = a B(k-1) / (k + a B(k-1)), then C from B.
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho + rho * b)


def mean_wait_s(servers: int, rate_per_s: float, service_s: float) -> float:
    """Mean time in queue ``E[W_q]`` in seconds (inf when ``λ·s >= c``)."""
    mu = 1.0 / service_s
    if rate_per_s * service_s >= servers:
        return math.inf
    return erlang_c(servers, rate_per_s * service_s) / (servers * mu - rate_per_s)


def wait_quantile_s(servers: int, rate_per_s: float, service_s: float, q: float) -> float:
    """``q``-quantile of the time in queue, seconds: ``max(0, ln(C/(1-q)) / (cμ-λ))``."""
    if rate_per_s * service_s >= servers:
        return math.inf
    pc = erlang_c(servers, rate_per_s * service_s)
    if pc <= 1.0 - q:
        return 0.0
    return math.log(pc / (1.0 - q)) / (servers / service_s - rate_per_s)


def min_servers(rate_per_s: float, service_s: float, max_mean_wait_s: float | None = None,
                max_wait_quantile_s: float | None = None, q: float = 0.99) -> int:
    """Smallest ``c`` whose mean wait (and/or ``q``-quantile wait) is within the bound(s)."""
    c = max(1, math.floor(rate_per_s * service_s) + 1)
    while True:
        ok = True
        if max_mean_wait_s is not None and mean_wait_s(c, rate_per_s, service_s) > max_mean_wait_s:
            ok = False
        if (max_wait_quantile_s is not None
                and wait_quantile_s(c, rate_per_s, service_s, q) > max_wait_quantile_s):
            ok = False
        if ok:
            return c
        c += 1


def _get(data: dict, path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@dataclass(frozen=True)
class MMcRunner:
    """Analytic ``runner(scenario_dict, seed) -> summary`` for an M/M/c fleet.

    Reads the arrival rate, the server count and the GPU name at the given dotted paths; the
    mean service time is ``service_s``; compute cost is ``servers × price_per_gpu_hour_usd[gpu] ×
    duration_s / 3600`` (with no commits, the compute with the commits' shortfalls too). ``noise_cv`` > 0 multiplies every latency by a seeded lognormal factor
    with that coefficient of variation, imitating replication noise (0 gives exact theory).
    ``capacity`` (the capacity band's scale) makes every server ``capacity`` times as fast: mean
    service ``service_s / capacity``.
    """

    service_s: float
    duration_s: float = 3600.0
    price_per_gpu_hour_usd: dict[str, float] = field(default_factory=lambda: {"default": 1.0})
    slo_ttft_s: float = 1.0
    noise_cv: float = 0.0
    rate_path: str = "workload.arrival.rate"
    servers_path: str = "fleet.pools.0.replicas"
    gpu_path: str = "fleet.pools.0.gpu"
    fail_when_servers: int | None = None
    scales_capacity = True

    def __call__(self, scenario: dict, seed: int, capacity: float = 1.0) -> dict:
        rate = float(_get(scenario, self.rate_path))
        c = int(_get(scenario, self.servers_path))
        if self.fail_when_servers is not None and c == self.fail_when_servers:
            raise RuntimeError(f"injected failure at {c} servers")
        try:
            gpu = str(_get(scenario, self.gpu_path))
        except (KeyError, IndexError, TypeError):
            gpu = "default"
        price = self.price_per_gpu_hour_usd.get(gpu, self.price_per_gpu_hour_usd.get("default", 1.0))
        s = self.service_s / capacity
        factor = 1.0
        if self.noise_cv > 0:
            sigma = math.sqrt(math.log1p(self.noise_cv ** 2))
            factor = float(np.random.default_rng(seed).lognormal(-sigma ** 2 / 2, sigma))
        wq_mean = mean_wait_s(c, rate, s) * factor
        wq = {q: wait_quantile_s(c, rate, s, q) * factor for q in (0.5, 0.9, 0.99)}
        # TTFT = wait + service; its quantiles are not closed-form in general, so report the
        # wait quantile plus the service quantile (an upper bound on the sum's quantile).
        svc = {q: -math.log(1 - q) * s for q in (0.5, 0.9, 0.99)}
        ttft = {q: wq[q] + svc[q] for q in wq}
        stable = rate * s < c
        if stable:
            pc = erlang_c(c, rate * s)
            attain = 1.0 - pc * math.exp(-(c / s - rate) * max(self.slo_ttft_s - s, 0.0))
        else:
            attain = 0.0
        gpu_hours = c * self.duration_s / 3600.0
        return {
            "requests": {"arrived": rate * self.duration_s, "completed": rate * self.duration_s,
                         "rejected": 0, "in_flight": 0},
            "latency": {
                "queue": {"mean": wq_mean, "p50": wq[0.5], "p90": wq[0.9], "p99": wq[0.99]},
                "ttft": {"mean": wq_mean + s, "p50": ttft[0.5], "p90": ttft[0.9], "p99": ttft[0.99]},
            },
            "slo": {"attainment": attain, "goodput_rps": attain * rate},
            "utilization": {"gpu_busy": min(rate * s / c, 1.0)},
            "gpu_hours": {"provisioned": gpu_hours, "busy": min(rate * s, c) * self.duration_s / 3600},
            # no compute commits in the M/M/c model: the billed compute is all compute costs in cash, so
            # the plan's cost_with_commits objective ranks as cost does
            "cost": {"compute_usd": gpu_hours * price, "compute_with_commits_usd": gpu_hours * price},
            "scenario": "mmc",
            "seed": seed,
            "simulated_seconds": self.duration_s,
            "wall_seconds": 0.0,
        }
