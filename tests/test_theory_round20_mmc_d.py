"""Clients of one fixed patience on several servers, M/M/c+D (Baccelli-Hebuterne), through the command line.

``c`` replicas behind ``router: central_queue`` serving one request at a time with exponential
service of mean ``S`` (``admission_pool.queue``), Poisson arrivals, ``workload.patience_s: tau`` with
the default fixed patience: a request not taken by a replica within ``tau`` of its arrival leaves
(``timeout``). ``test_admission_patience`` checks a fixed patience on one server (M/M/1+D) and
exponential patience on three (Erlang A); on ``c`` servers with a fixed patience the offered wait's
law is ``theory_round20_pool.mmc_fixed_patience``: the share abandoned, the mean wait of the served
and the share of the served that waited at all. The formula is checked first against M/M/1+D (the
one-server law of ``test_admission_patience``) and, with a patience far beyond any wait, against
Erlang C.

Each case runs 10 seeds of 3,000 s after a 200-s warm-up; the 99 % Student-t interval of the
per-run estimates must contain the theory and be narrower than a tenth of it.
"""
from __future__ import annotations

import numpy as np
import pytest

from admission_pool import S, after_warmup, queue
from test_admission_patience import mm1_d
from theory_round18_pool import both_engines_write_the_same_requests, ci99
from theory_round19_pool import run_seeds
from theory_round20_pool import erlang_c, mmc_fixed_patience

R = 10
DURATION, WARMUP = 3000.0, 200.0
MU = 1.0 / S


def test_the_law_is_barrer_on_one_server_and_erlang_c_without_giving_up():
    for lam, tau in ((1.2, 2.0), (0.7, 0.5), (2.0, 3.0)):
        law = mmc_fixed_patience(1, lam, MU, tau)
        p_ab, w = mm1_d(lam, tau)
        assert law["abandoned"] == pytest.approx(p_ab, rel=1e-9)
        assert law["wait_served"] == pytest.approx(w, rel=1e-9)
    for c, lam in ((2, 1.8), (4, 3.4)):
        r = lam * S
        law = mmc_fixed_patience(c, lam, MU, 400.0)
        assert law["abandoned"] < 1e-12
        assert law["waited_share"] == pytest.approx(erlang_c(c, r), rel=1e-9)
        assert law["wait_served"] == pytest.approx(erlang_c(c, r) * S / (c - r), rel=1e-9)


# four servers are slow (~2 CPU s): two check the same M/M/c+D law in the default run
@pytest.mark.parametrize("c,lam,tau", [(2, 1.8, 1.0), pytest.param(4, 3.6, 1.0, marks=pytest.mark.slow)])
def test_abandonment_and_waits_match_mmc_d(tmp_path, c, lam, tau):
    """``c = 2`` at ``ρ = 0.9`` with ``tau = 1 s``: 18.8 % give up, the served wait 0.248 s;
    ``c = 4`` at ``ρ = 0.9`` with ``tau = 1 s``: 10.1 %, 0.257 s."""
    data = queue(f"mmc-d-{c}", c=c, lam=lam, duration=DURATION, warmup=WARMUP, router="central_queue")
    data["workload"]["patience_s"] = tau
    law = mmc_fixed_patience(c, lam, MU, tau)
    gave_up, waits, waited, summary_share = [], [], [], []
    for run in run_seeds(tmp_path, data, R):
        rows = after_warmup(run.requests, WARMUP)
        assert {r["reason"] for r in rows if r["status"] == "rejected"} == {"timeout"}
        assert all(r["first_token_s"] == "" for r in rows if r["status"] == "rejected")
        done = np.array([float(r["queue_s"]) for r in rows if r["status"] == "completed"])
        assert done.max() <= tau                            # nobody served waited past the patience
        gave_up.append(sum(r["status"] == "rejected" for r in rows) / len(rows))
        waits.append(done.mean())
        waited.append(float(np.mean(done > 0)))
        summary_share.append(run.summary["requests"]["abandoned_share"])
    for what, values, theory in (("abandoned share", gave_up, law["abandoned"]),
                                 ("mean wait of the served", waits, law["wait_served"]),
                                 ("share of the served that waited", waited, law["waited_share"]),
                                 ("summary's abandoned_share", summary_share, law["abandoned"])):
        m, half = ci99(values)
        assert abs(m - theory) <= half < 0.1 * theory, (what, m, half, theory)


def test_fast_and_reference_engines_let_the_same_clients_go(tmp_path):
    data = queue("mmc-d-engines", c=3, lam=2.9, duration=600.0, warmup=0.0, router="central_queue")
    data["workload"]["patience_s"] = 0.5
    assert both_engines_write_the_same_requests(tmp_path, data) > 1500
