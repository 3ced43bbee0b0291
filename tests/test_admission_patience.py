"""Clients who give up (``workload.patience_s``): Erlang-A (M/M/c+M) and M/M/1+D, through the command line.

The pool of ``admission_pool``: exponential service of mean ``S`` (rate ``μ = 1 / S``) on ``c``
replicas serving one request at a time (one replica, or ``c`` behind ``router: central_queue``).

* **M/M/c+M** (Palm 1943; Garnett, Mandelbaum and Reiman, "Designing a call center with impatient
  customers", MSOM 4, 2002): exponential patience of rate ``θ`` (``patience: exponential``). The
  number in the system is a birth-death chain, birth ``λ``, death ``min(k, c) μ + max(k - c, 0) θ``.
  A tagged arrival finding ``j`` requests waiting ahead of it moves up at rate ``a_j = c μ + j θ``
  (a service completion, or one ahead giving up; those behind it do not matter under FCFS) and
  gives up at rate ``θ``, so it is served with probability ``Π_{i<=j} a_i / (a_i + θ)`` after a mean
  wait, given served, of ``Σ_{i<=j} 1 / (a_i + θ)``. By PASTA, averaged over the chain: the share
  abandoned, which must equal ``θ L_q / λ`` (the chain's rate of abandonment; checked first, two
  derivations of one number), and the mean wait of those served.
* **M/M/1+D** (Barrer 1957): every client waits exactly ``τ``. Under FCFS a request is served iff the
  work ahead of it that will be served, its offered wait ``V``, is below ``τ``. Level crossing gives
  ``P(V = 0) = p0``, density ``λ p0 e^{-(μ - λ) x}`` on ``(0, τ]`` and ``f(τ) e^{-μ (x - τ)}`` beyond,
  so ``P(abandon) = P(V > τ) = f(τ) / μ`` and the served wait ``E[V | V <= τ]``. Checked against
  ``τ -> inf`` (M/M/1: ``p0 = 1 - ρ``) first.

Each case runs 10 seeds; the 99 % Student-t interval of the per-run estimates must contain the theory
and be narrower than a tenth of it.
"""
from __future__ import annotations

import json
import math

import pytest
from scipy import integrate

from admission_pool import S, batching_overload, birth_death, queue, run_rows, served_and_wait, shares_and_waits
from sim.cli import main
from theory_round18_pool import ci99, write

R = 10
DURATION, WARMUP = 3000.0, 200.0


def erlang_a(c: int, lam: float, theta: float, n: int = 400) -> tuple[float, float, float]:
    """``(P(abandon) by the tagged request, P(abandon) = θ L_q / λ, mean wait of the served)`` of M/M/c+M."""
    mu = 1.0 / S
    p = birth_death(lambda k: lam, lambda k: min(k, c) * mu + max(k - c, 0) * theta, n)
    assert p[-1] < 1e-14                       # the cut-off holds no mass
    lq = sum((k - c) * p[k] for k in range(c, n + 1))
    served, wait = served_and_wait(p, c, mu, theta, n + 1)
    return 1.0 - served, theta * lq / lam, wait / served


def mm1_d(lam: float, tau: float) -> tuple[float, float]:
    """``(P(abandon), mean wait of the served)`` of M/M/1 with every client's patience ``tau``."""
    mu = 1.0 / S
    g = mu - lam
    dens = lambda x: lam * math.exp(-g * x)                          # noqa: E731 (f / p0 on (0, tau])
    mass = integrate.quad(dens, 0, tau)[0]
    tail = dens(tau) / mu
    p0 = 1.0 / (1.0 + mass + tail)
    mean = integrate.quad(lambda x: x * dens(x), 0, tau)[0]
    return p0 * tail, p0 * mean / (p0 * (1.0 + mass))


def test_the_two_abandonment_rates_agree_and_mm1d_tends_to_mm1():
    for c, lam, theta in ((1, 1.2, 0.5), (3, 3.5, 0.2), (2, 1.0, 2.0)):
        tagged, chain, _ = erlang_a(c, lam, theta)
        assert tagged == pytest.approx(chain, rel=1e-9)
    lam = 0.6
    rho = lam * S
    p_ab, w = mm1_d(lam, 200.0)
    assert p_ab < 1e-12 and w == pytest.approx(rho * S / (1 - rho), rel=1e-6)   # M/M/1's W_q


def _never_started(rows) -> None:
    assert all(r["first_token_s"] == "" for r in rows if r["reason"] == "timeout")


def _estimates(tmp, data) -> tuple[list[float], list[float]]:
    return shares_and_waits(tmp, data, "timeout", R, WARMUP, check=_never_started)


def _check(values, theory, what):
    m, half = ci99(values)
    assert abs(m - theory) <= half and half < 0.1 * theory, (what, m, half, theory)


@pytest.mark.parametrize("c,lam,theta", [(1, 1.2, 0.5), (3, 3.5, 0.2)])
def test_abandonment_and_wait_match_erlang_a(tmp_path, c, lam, theta):
    data = queue(f"erlang-a-{c}", c=c, lam=lam, duration=DURATION, warmup=WARMUP,
                 router="round_robin" if c == 1 else "central_queue")
    data["workload"].update(patience_s=1.0 / theta, patience="exponential")
    p_ab, _, w = erlang_a(c, lam, theta)
    gave_up, waits = _estimates(tmp_path, data)
    _check(gave_up, p_ab, "abandoned share")
    _check(waits, w, "mean wait of the served")


def test_abandonment_and_wait_match_mm1_d(tmp_path):
    lam, tau = 1.2, 2.0
    data = queue("mm1-d", c=1, lam=lam, duration=DURATION, warmup=WARMUP)
    data["workload"]["patience_s"] = tau
    p_ab, w = mm1_d(lam, tau)
    gave_up, waits = _estimates(tmp_path, data)
    _check(gave_up, p_ab, "abandoned share")
    _check(waits, w, "mean wait of the served")
    assert max(max(float(r["queue_s"]) for r in run_rows(tmp_path, data, 1) if r["status"] == "completed"),
               0.0) < tau   # nobody served waited past their patience


@pytest.mark.parametrize("router,replicas,room", [("round_robin", 1, None), ("least_outstanding", 2, 6),
                                                  ("central_queue", 3, 10)])
def test_both_engines_let_the_same_clients_go(tmp_path, router, replicas, room):
    """Patience under real batching (vLLM V1's scheduler, 8 sequences, an overload), alone or with a
    waiting room: the fast and the reference engine write the same rows and time series; the summary
    counts the abandoned."""
    data = batching_overload(f"engines-{router}", c=replicas, duration=120.0, router=router)
    if room is not None:
        if router == "central_queue":
            data["fleet"]["router"] = {"policy": router, "max_waiting": room}
        else:
            data["fleet"]["pools"][0]["max_waiting"] = room
    data["workload"].update(patience_s=1.5, patience="exponential")
    fast = run_rows(tmp_path, data, 5, "fast")
    ref = run_rows(tmp_path, data, 5, "reference")
    assert fast == ref
    reasons = [r["reason"] for r in fast]
    assert reasons.count("timeout") > 0.05 * len(fast)
    assert (reasons.count("queue_full") > 0) == (room is not None)
    out = [tmp_path / f"{data['name']}-{e}-5" for e in ("fast", "reference")]
    assert (out[0] / "timeseries.csv").read_bytes() == (out[1] / "timeseries.csv").read_bytes()
    summary = json.loads((out[0] / "summary.json").read_text())
    assert summary["requests"]["abandoned"] == reasons.count("timeout")
    assert summary["requests"]["rejected_by_reason"]["timeout"] == reasons.count("timeout")


def test_a_class_without_patience_never_gives_up(tmp_path):
    """Per class: a class's own patience_s; one without waits however long it takes."""
    data = queue("classes", c=1, lam=1.3, duration=600.0, warmup=0.0)
    data["workload"]["classes"] = [{"name": "batch", "share": 0.5},
                                   {"name": "chat", "share": 0.5, "patience_s": 1.0}]
    rows = run_rows(tmp_path, data, 2)
    gave_up = {c: sum(r["reason"] == "timeout" for r in rows if r["class"] == c) for c in ("batch", "chat")}
    assert gave_up["batch"] == 0 and gave_up["chat"] > 20, gave_up
    assert max(float(r["queue_s"]) for r in rows if r["class"] == "chat" and r["status"] == "completed") < 1.0
    # the summary counts them per class, from the rows (records: all) and from streaming counters alike
    for records in ("all", "sample"):
        out = tmp_path / f"classes-{records}"
        assert main(["run", str(write(tmp_path, data)), "--set", "seed=2", "--records", records, "--out", str(out),
                     "--figures", "none", "--quiet"]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["requests"]["abandoned"] == sum(gave_up.values())
        assert {c: summary["classes"][c]["requests"]["abandoned"] for c in gave_up} == gave_up


def test_without_patience_the_summary_has_no_abandoned_key(tmp_path):
    data = queue("plain", c=1, lam=0.5, duration=200.0, warmup=0.0)
    out = tmp_path / "o"
    assert main(["run", str(write(tmp_path, data)), "--out", str(out), "--figures", "none", "--quiet"]) == 0
    assert "abandoned" not in (out / "summary.json").read_text()


@pytest.mark.parametrize("change,field,words", [
    ({"patience_s": 0}, "workload.patience_s", "> 0"),
    ({"patience_s": 5, "patience": "weibull"}, "workload.patience", "exponential"),
    ({"patience_s": 5, "arrival": {"process": "closed", "concurrency": 4}}, "workload.patience_s", "closed"),
    ({"patience_s": 5, "fidelity": "fluid"}, "workload.patience_s", "fluid"),
])
def test_bad_patience_is_refused_naming_the_field(tmp_path, capsys, change, field, words):
    data = queue("bad", c=1, lam=1.0, duration=3600.0, warmup=0.0)
    fidelity = change.pop("fidelity", None)
    if fidelity:
        data["fidelity"] = fidelity
    data["workload"].update(change)
    assert main(["validate", str(write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    assert field in err and words in err, err


def test_a_patience_law_without_patience_s_is_warned_about(tmp_path, capsys):
    data = queue("law", c=1, lam=1.0, duration=60.0, warmup=0.0)
    data["workload"]["patience"] = "exponential"
    assert main(["validate", str(write(tmp_path, data))]) == 0
    err = capsys.readouterr().err
    assert "workload.patience: has no effect without patience_s" in err, err
    data["workload"]["patience_s"] = 4
    assert main(["validate", str(write(tmp_path, data))]) == 0
    assert "no effect" not in capsys.readouterr().err
