"""What the fluid tier's busy share behind ``least_outstanding`` leaves out: a join-the-shortest-queue chain.

The fluid tier reads the busy share of ``n`` replicas behind a router that fills idle ones first as
``E[min(N, n)] / n`` (:func:`sim.fluid.busy.spread_busy`), ``N`` the pool's requests in the system, Poisson:
the bound of a router that never leaves a replica idle while another holds two. ``least_outstanding``
sends each request to the replica with the fewest and never moves one that runs, so when a replica's
last request leaves while another still holds two, one sits idle. This script puts a number on that:
the continuous-time Markov chain of ``n`` replicas, each an infinite server (a batch: its requests run
side by side, each leaving at rate 1, exponential holding times), arrivals at ``n L`` joining the
replica with the fewest (states: the sorted counts, each at most ``K``), solved for its stationary
distribution; busy is the mean share of replicas holding one or more. ``L`` is the load the fluid tier
reads at each rate per replica off ``scenarios/diurnal_week.yaml``'s curve (:func:`sim.fluid.busy.busy_on`'s
grid); the request-level runs of the same points are those of ``docs/fleet_dynamics.md`` ("Busy time
across replica counts", ``benchmarks/fluid_busy_spread.py``; "Reading noise in the fluid tier",
``benchmarks/fluid_reading_edge.py --readings``). One JSON object per point::

    python benchmarks/fluid_busy_jsq.py                      # the documented points (seconds)
    python benchmarks/fluid_busy_jsq.py --point 0.105 4      # one rate per replica on n replicas

The chain's states grow as ``C(K + n, n)``: a few hundred at ``n = 4``, half a million at ``n = 8``.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "diurnal_week.yaml"
#: (requests/s per replica, replicas) of the documented runs
POINTS = [(r, n) for r in (0.05, 0.1, 0.2, 0.3) for n in (2, 3, 4)] + [(0.105, 4), (0.104, 5)]


def jsq_busy(n: int, load: float, most: int | None = None) -> float:
    """Busy share of ``n`` infinite-server replicas behind join-the-shortest-queue, ``load`` requests in
    the system per replica (arrivals at ``n x load``, each request leaving at rate 1); each replica holds
    at most ``most`` (arrivals that would pass it are lost: ``3 L + 10`` by default, far in the tail)."""
    import numpy as np
    import scipy.sparse as sp
    import scipy.sparse.linalg as spl

    most = most or int(3 * load + 10)
    states = list(itertools.combinations_with_replacement(range(most + 1), n))     # sorted counts
    index = {s: i for i, s in enumerate(states)}
    rows, cols, rates = [], [], []
    for s, i in index.items():
        if s[0] < most:                                    # an arrival joins the replica with the fewest
            rows.append(i); cols.append(index[tuple(sorted((s[0] + 1,) + s[1:]))]); rates.append(n * load)
        for c in sorted(set(s) - {0}):                     # a request leaves one of the replicas holding c
            j = s.index(c)
            rows.append(i); cols.append(index[tuple(sorted(s[:j] + (c - 1,) + s[j + 1:]))]); rates.append(c * s.count(c))
    q = sp.csr_matrix((rates, (rows, cols)), shape=(len(states), len(states)))
    q = (q - sp.diags(np.asarray(q.sum(axis=1)).ravel())).T.tolil()
    q[0, :] = 1.0                                          # one balance equation replaced by sum(p) = 1
    rhs = np.zeros(len(states))
    rhs[0] = 1.0
    p = spl.spsolve(q.tocsc(), rhs)
    held = np.array([sum(1 for c in s if c) for s in states], dtype=np.float64)
    return float(p @ held) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--point", nargs=2, action="append", metavar=("RATE", "N"), help="requests/s per replica, replicas")
    a = ap.parse_args(argv)

    import numpy as np

    from sim.fluid.busy import behind, busy_on
    from sim.fluid.capacity import capacity_curve
    from sim.scenario.load import load_scenario

    loaded = load_scenario(str(SCENARIO))
    curve = behind(capacity_curve(loaded.scenario, 0, loaded.base_dir), "least_outstanding")
    served, loads = curve.meta["busy_grid"]
    for rate, n in ([(float(r), int(k)) for r, k in a.point] if a.point else POINTS):
        load = float(np.interp(rate, served, loads))
        bound = float(busy_on(curve, rate, n))
        chain = jsq_busy(n, load)
        print(json.dumps({"rate_per_replica": rate, "replicas": n, "load": round(load, 4),
                          "spread_bound": round(bound, 4), "jsq_chain": round(chain, 4),
                          "bound_over_chain": round(bound / chain - 1.0, 4)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
