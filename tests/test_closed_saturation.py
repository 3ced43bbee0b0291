"""``fleetsim saturation`` on a closed loop: the most clients the fleet serves within its SLO.

The scenarios are those of ``tests/test_closed_loop.py``: ``max_num_seqs: 1``, one output token
(so TTFT is the whole response), a linear step-time model at 1 ms per prompt token.

* One server, zero think time, prompts of 1,000 tokens: deterministic service ``D = 1 s``. ``N``
  clients keep it busy and each request waits for the ``N - 1`` ahead of it: response ``N D``
  exactly (the start-up wave's are ``D, 2D, ..., N D``). With the SLO ``ttft_s = T`` every request
  meets it while ``N D <= T``; one client more and every request after the wave misses it. The most
  clients is ``floor(T / D)``. At capacity ``c`` the service is ``D / c``: ``floor(c T / D)``.
* Two servers behind a central queue: the servers finish together every ``D``, two requests at a
  time; ``N = 2m`` clients wait ``m D`` each, while ``2m + 1`` average ``(m + 1/2) D`` (the
  response-time law, ``N / X`` with ``X = 2 / D``) in whole multiples of ``D``, so some wait ``(m + 1) D``.
  With ``T = (m + 1/2) D`` the most clients is ``2m``.
* Exponential think (mean 4 s) and service (mean ``S`` = 1.0005 s): the machine-repairman model
  M/M/1//N, mean response ``N / X(N) - Z``: 2.80 s at 6 clients, 3.47 s at 7 (exact formula in
  ``tests/test_closed_loop.py``). A constraint on the mean response midway between them gives 6.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.planning.saturation import saturation

from test_closed_loop import EXP_SERVICE_S, _closed, repairman_throughput


def _deterministic(n: int, ttft_s: float, replicas: int = 1) -> dict:
    sc = _closed(n=n, prompt={"dist": "fixed", "value": 1000}, replicas=replicas)
    sc["slo"] = {"ttft_s": ttft_s, "tpot_s": 1.0}
    if replicas > 1:
        sc["fleet"]["router"] = "central_queue"
    return sc


def _write(tmp_path: Path, sc: dict, name: str = "closed.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(sc))
    return path


@pytest.mark.parametrize("start, ttft_s, most", [(8, 20.5, 20), (2, 5.0, 5), (9, 3.5, 3)])
def test_one_server_deterministic_service_serves_floor_t_over_d_clients(start, ttft_s, most):
    """floor(T / D) clients with D = 1 s, from below and above the answer, and at the boundary
    (T = 5 D: five clients wait exactly 5 s, which meets ttft_s <= 5)."""
    res = saturation(_deterministic(start, ttft_s))
    assert (res.concurrency, res.concurrency_upper) == (most, most + 1)
    assert res.rate == 1.0          # the server never idles: one completion every D
    by_count = {p["concurrency"]: p for p in res.probes}
    assert by_count[most]["feasible"] and not by_count[most + 1]["feasible"]
    assert by_count[most]["latency.ttft.p99.mean"] == pytest.approx(most * 1.0)
    assert len(by_count) == len(res.probes)       # no client count probed twice


def test_two_servers_central_queue_serve_twice_m_clients():
    res = saturation(_deterministic(4, 6.5, replicas=2))
    assert (res.concurrency, res.concurrency_upper) == (12, 13)
    assert res.rate == 2.0


def test_capacity_band_scales_the_service_time():
    """c = 0.97: floor(0.97 x 20.5) = 19 clients; c = 1.03: floor(1.03 x 20.5) = 21."""
    res = saturation(_deterministic(8, 20.5), capacity_band=3)
    assert res.concurrency == 20
    assert (res.band["slower"]["concurrency"], res.band["slower"]["concurrency_upper"]) == (19, 20)
    assert (res.band["faster"]["concurrency"], res.band["faster"]["concurrency_upper"]) == (21, 22)
    assert all(p["capacity"] == 0.97 for p in res.band["slower"]["probes"])


def test_machine_repairman_mean_response_constraint():
    n_ok, z = 6, 4.0
    r = [n / repairman_throughput(n, EXP_SERVICE_S, z) - z for n in (n_ok, n_ok + 1)]
    bound = (r[0] + r[1]) / 2
    # 6 seeds of 4,000 s, not 3 of 20,000: the verdict is judged at the 95 % Student-t bound over seeds, whose
    # half-width is t(df) x sd / sqrt(seeds) with sd ~ 1 / sqrt(duration); at 2/5 of the simulated time t falls
    # from 4.30 (2 df) to 2.57 (5 df), so the half-width at 6 clients narrows (0.175 s -> 0.092 s, measured) and
    # its upper bound sits further below the constraint (2.97 -> 2.90 s against 3.135 s); throughput's half-width
    # is 1.2 %, a quarter of the rate's 3 %. The 1 s metric samples of the closed-loop scenario are not read here.
    sc = _closed(n=4, think_s=z, think="exponential", prompt={"dist": "exponential", "mean": 1000},
                 duration=4000, warmup=100)
    del sc["metrics"]
    sc["slo"] = {"ttft_s": 1000.0, "tpot_s": 1.0}     # met by every request: the constraint decides
    res = saturation(sc, constraints=[f"latency.e2e.mean<={bound:.4f}"], seeds=6, executor="serial")
    assert (res.concurrency, res.concurrency_upper) == (n_ok, n_ok + 1)
    assert res.rate == pytest.approx(repairman_throughput(n_ok, EXP_SERVICE_S, z), rel=0.03)


def test_cli_prints_clients_and_writes_every_rate_key_plus_the_counts(tmp_path, capsys):
    path = _write(tmp_path, _deterministic(8, 20.5))
    out = tmp_path / "sat"
    assert main(["saturation", str(path), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "saturation: 20 clients (1 req/s; fails at 21 clients)" in printed
    assert "clients" in printed.splitlines()[0]
    data = json.loads((out / "saturation.json").read_text())
    assert {"scenario", "rate_path", "seeds", "rate", "upper", "attainment", "probes"} <= set(data)
    assert data["rate_path"] == "workload.arrival.concurrency"
    assert (data["concurrency"], data["concurrency_upper"], data["rate"], data["upper"]) == (20, 21, 1.0, 1.0)
    with open(out / "saturation.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["concurrency"]) for r in rows) == [8, 16, 20, 21, 22, 24, 32]
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "<b>20 clients</b>" in page and "the client count (workload.arrival.concurrency)" in page
    # the throughput the clients reached is not an arrival rate: its column says so, as the answer does
    assert "serving 1 req/s (first failing count 21 clients;" in page
    assert "<th>clients</th><th>throughput (req/s)</th>" in page and "rate (req/s)" not in page


def test_no_client_count_meets_the_slo_exit_1(tmp_path, capsys):
    """One client alone waits D = 1 s, over a 0.5 s target: halved down to one client, then said."""
    path = _write(tmp_path, _deterministic(4, 0.5))
    assert main(["saturation", str(path), "--out", str(tmp_path / "sat"), "--quiet"]) == 1
    printed = capsys.readouterr().out
    assert "no client count meets the SLO: at 1 client, the lowest client count tried" in printed
    data = json.loads((tmp_path / "sat" / "saturation.json").read_text())
    assert [p["concurrency"] for p in data["probes"]] == [4, 2, 1]
    assert data["concurrency"] is None and data["concurrency_upper"] == 1
    assert main(["report", str(tmp_path / "sat")]) == 0
    page = (tmp_path / "sat" / "report.html").read_text()
    assert "No client count sustained: no client count meets the SLO: at 1 client," in page
    assert "(first failing count 1 client;" in page and "– clients" not in page


def test_a_closed_loop_without_an_slo_is_refused(tmp_path, capsys):
    sc = _deterministic(4, 5.0)
    del sc["slo"]
    path = _write(tmp_path, sc)
    assert main(["saturation", str(path), "--out", str(tmp_path / "sat"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path.name}: slo: " in err and "SLO alone" in err and "Traceback" not in err, err
    assert not (tmp_path / "sat" / "saturation.json").exists()
    # a class's own SLO judges its class, not slo.attainment (the defaults would): refused too
    sc["workload"]["classes"] = [{"name": "chat", "share": 1.0, "slo": {"ttft_s": 5.0}}]
    path = _write(tmp_path, sc)
    assert main(["saturation", str(path), "--out", str(tmp_path / "sat"), "--quiet"]) == 2
    assert "add an slo: block" in capsys.readouterr().err
    # --set gives one
    assert main(["saturation", str(path), "--out", str(tmp_path / "sat"), "--quiet", "--set", "slo.ttft_s=5"]) == 0
    assert "saturation: 5 clients" in capsys.readouterr().out


@pytest.mark.parametrize("args, words", [
    (["--rate-path", "workload.arrival.rate_scale"], "workload.arrival.process: closed: the search varies the client count"),
    (["--start", "2.5"], "--start: a closed loop's search starts at a client count, a whole number from 1 to "
                         "1,000,000 (got 2.5)"),
    (["--start", "2000000"], "a whole number from 1 to 1,000,000 (got 2e+06)"),
])
def test_rate_options_that_cannot_apply_are_refused(tmp_path, capsys, args, words):
    path = _write(tmp_path, _deterministic(4, 5.0))
    assert main(["saturation", str(path), "--out", str(tmp_path / "sat"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err, err


def test_start_is_the_first_client_count(tmp_path, capsys):
    res = saturation(_deterministic(4, 5.0), start=5)
    assert [p["concurrency"] for p in res.probes][0] == 5 and res.concurrency == 5


class _OneServerTheory:
    """The closed form of the scenarios above (one server, deterministic service ``D / c`` at capacity
    ``c``, no think time): ``N`` clients each wait ``N D / c``, so every request meets ``ttft_s = T``
    while ``N D / c <= T`` and none does past it; throughput ``c / D``. As the simulator would, it refuses
    a client count past the schema's 1,000,000."""

    scales_capacity = True

    def __init__(self, service_s: float, ttft_s: float) -> None:
        self.service_s, self.ttft_s = service_s, ttft_s

    def __call__(self, scenario: dict, seed: int, capacity: float = 1.0) -> dict:
        n = scenario["workload"]["arrival"]["concurrency"]
        if not 1 <= n <= 1_000_000:
            raise ValueError(f"workload.arrival.concurrency: must be <= 1000000 (got {n})")
        response = n * self.service_s / capacity
        return {"requests": {"arrived": 1000, "completed": 1000, "rejected": 0, "in_flight": n},
                "slo": {"attainment": 1.0 if response <= self.ttft_s else 0.0},
                "throughput": {"requests_per_s": capacity / self.service_s},
                "latency": {"ttft": {"p99": response}}}


@pytest.mark.parametrize("service_s, most", [(1e-5, 1_000_000), (1.02e-5, 980_392)])
def test_the_band_never_probes_past_the_client_limit(service_s, most):
    """T = 10 s. D = 10 us: every count up to the 1,000,000 limit holds, at every capacity; the faster
    side starts at the answer x 1.03 = 1,030,000 clients, past the limit, so it must start at the limit
    (a probe past it is refused, which counted as failing and took the faster side below the point).
    D = 10.2 us: floor(T / D) = 980,392 clients; at capacity 1.03, floor(1.03 T / D) = 1,009,803, past
    the limit: the limit."""
    res = saturation({"duration": 100, "workload": {"arrival": {"process": "closed", "concurrency": 600_000}},
                      "slo": {"ttft_s": 10.0}}, runner=_OneServerTheory(service_s, 10.0), executor="serial",
                     rel_tol=1e-9, capacity_band=3)
    assert res.concurrency == most
    faster = res.band["faster"]
    assert (faster["concurrency"], faster["concurrency_upper"]) == (1_000_000, None)
    assert max(p["concurrency"] for p in res.probes + faster["probes"] + res.band["slower"]["probes"]) == 1_000_000
    assert all(p["feasible"] for p in faster["probes"])


@pytest.mark.parametrize("knob", ["workload.arrival.concurrency=1..64", "workload.arrival.rate=1..100",
                                  "workload.classes.0.arrival.rates.1=1..9"])
def test_plan_refuses_to_bisect_a_load(tmp_path, capsys, knob):
    """plan bisects its first range assuming more of it never breaks a constraint that held; more clients
    (or requests per second) only add load. On the deterministic loop (N clients wait N x 1 s), 1..64 clients
    against ttft_s 20.5 held at 1 and failed at 64, so the bisection's "hi fails" read "no answer" where 20
    clients serve: refused, exit 2, before any run, pointing at saturation."""
    path = _write(tmp_path, _deterministic(8, 20.5))
    assert main(["plan", str(path), "--vary", knob, "--constraint", "slo.attainment>=0.99", "--quiet",
                 "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert f"--vary: {knob}: plan bisects its first range" in err and "fleetsim saturation" in err, err
    assert not (tmp_path / "p" / "points").exists()
    # the same field's values listed are each evaluated: 8 clients meet the SLO, 32 do not
    if "concurrency" in knob:
        assert main(["plan", str(path), "--vary", "workload.arrival.concurrency=8,32", "--constraint",
                     "slo.attainment>=0.99", "--quiet", "--out", str(tmp_path / "q")]) == 0
        assert "workload.arrival.concurrency=8" in capsys.readouterr().out


def test_a_start_past_every_limit_names_the_client_limit_too(tmp_path, capsys):
    """--start is parsed before the scenario is read: past the rate limit it names both limits, so on a
    closed loop it does not read as a rate alone."""
    path = _write(tmp_path, _deterministic(4, 5.0))
    with pytest.raises(SystemExit) as stop:
        main(["saturation", str(path), "--start", "2e7", "--out", str(tmp_path / "sat"), "--quiet"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert "must be a rate in requests/s up to 1e+07 (on a closed loop a client count up to 1,000,000; got '2e7')" \
        in err, err
