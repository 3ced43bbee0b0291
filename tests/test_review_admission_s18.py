"""Second look at the waiting room (``max_waiting``) and the clients' patience (``patience_s``): the
overload verdict under refusals, the shares a planner bounds, and the corners of admission.

The queue is ``admission_pool``'s: one request at a time, exponential service of mean ``S`` (1.0005 s).
At ``rho = lam S = 3`` behind a room of ``K = 4`` (``N = 5`` in the system) the M/M/1/N queue refuses
``p_N = (1 - rho) rho^N / (1 - rho^(N+1)) = 486 / 728 = 0.6676`` of the arrivals (Kleinrock 1975, eq.
3.45) and keeps its server busy ``1 - p_0 = rho (1 - p_N) = 0.9973`` of the time: the work offered is
3x what it serves (the offered load factor), the work admitted 0.997x.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from admission_pool import S, birth_death, queue, run_rows
from sim.cli import main
from sim.metrics.stability import offered_load_factor, overload, warning
from theory_round18_pool import ci99, write

RHO, K = 3.0, 4
SEEDS = (1, 2, 3, 4, 5)


def _summary(tmp: Path, data: dict, seed: int = 1, engine: str = "fast") -> dict:
    out = tmp / f"{data['name']}-{engine}-{seed}"
    assert main(["run", str(write(tmp, data)), "--set", f"seed={seed}", "--engine", engine, "--out", str(out),
                 "--figures", "none", "--quiet"]) == 0
    return json.loads((out / "summary.json").read_text())


def _mm1k(name: str = "mm1k") -> dict:
    data = queue(name, c=1, lam=RHO / S, duration=2000.0, warmup=100.0)
    data["fleet"]["pools"][0]["max_waiting"] = K
    return data


def test_overloaded_behind_a_waiting_room_reads_its_offered_load_and_refused_share(tmp_path):
    n = K + 1
    p_n = (1 - RHO) * RHO ** n / (1 - RHO ** (n + 1))
    assert p_n == pytest.approx(486 / 728)
    olf, alf, refused = [], [], []
    for seed in SEEDS:
        s = _summary(tmp_path, _mm1k(), seed)
        req, st = s["requests"], s["stability"]
        assert req["refused_share"] == req["rejected_by_reason"]["queue_full"] / req["arrived"]
        assert "abandoned_share" not in req            # no patience: no such key
        olf.append(st["offered_load_factor"])
        alf.append(st["admitted_load_factor"])
        refused.append(req["refused_share"])
        # the backlog is bounded by the room: its verdict is the backlog's, the overload is said apart
        assert st["verdict"] == "cannot tell"
        line = warning(s)
        assert "overloaded" in line and f"{req['refused_share']:.1%}".replace("%", " %") + " were refused" in line
    for values, theory, what in ((olf, RHO, "offered load factor"), (alf, RHO * (1 - p_n), "admitted load factor"),
                                 (refused, p_n, "refused share")):
        m, half = ci99(values)
        assert abs(m - theory) <= max(half, 0.01 * theory), (what, m, half, theory)


def test_patience_overload_reads_its_offered_load_and_abandoned_share(tmp_path):
    """M/M/1+M (exponential patience of mean 2 s) at rho = 3: a birth-death chain with death rate
    ``1/S + (k - 1) theta`` in state k; the abandoned share is ``theta E[(N - 1)+] / lam``."""
    lam, theta = RHO / S, 0.5
    p = birth_death(lambda k: lam, lambda k: 1 / S + (k - 1) * theta, 200)
    theory = theta * sum((k - 1) * p[k] for k in range(1, 201)) / lam
    shares, olf = [], []
    for seed in SEEDS:
        data = queue("mm1m", c=1, lam=lam, duration=2000.0, warmup=100.0)
        data["workload"].update({"patience_s": 2.0, "patience": "exponential"})
        s = _summary(tmp_path, data, seed)
        req = s["requests"]
        assert req["abandoned_share"] == req["abandoned"] / req["arrived"] and "refused_share" not in req
        shares.append(req["abandoned_share"])
        olf.append(s["stability"]["offered_load_factor"])
        assert "abandoned (their clients gave up waiting)" in warning(s)
    m, half = ci99(shares)
    assert abs(m - theory) <= max(half, 0.01), (m, half, theory)
    m, half = ci99(olf)
    assert abs(m - RHO) <= max(half, 0.03), (m, half)


def test_a_run_without_the_keys_has_none_of_the_new_keys_and_no_overload(tmp_path):
    s = _summary(tmp_path, queue("plain", c=1, lam=0.5, duration=300.0, warmup=0.0))
    assert not {"refused_share", "abandoned_share", "abandoned"} & set(s["requests"])
    assert "admitted_load_factor" not in s["stability"]
    assert overload(s) is None and warning(s) is None


def test_only_overload_refusals_count_as_offered_work():
    """Hand arithmetic: 300 arrived, 100 served at load factor 1; 150 refused by a full room and 20
    abandoned were offered (work of 270), 30 prompts past the context were not (the fleet could never
    serve them)."""
    req = {"arrived": 300, "rejected": 200, "completed": 100,
           "rejected_by_reason": {"queue_full": 150, "timeout": 20, "prompt_exceeds_max_context": 30}}
    assert offered_load_factor(1.0, req) == pytest.approx(2.7)
    assert overload({"stability": {"offered_load_factor": 2.7}, "requests": req}) == pytest.approx((2.7, 0.5, 20 / 300))
    # no refusal for want of room or time: the same count as before the change (admitted = arrived - rejected)
    plain = {"arrived": 300, "rejected": 30, "completed": 100, "rejected_by_reason": {"kv_capacity": 30}}
    assert offered_load_factor(1.0, plain) == pytest.approx(2.7)
    assert overload({"stability": {"offered_load_factor": 2.7}, "requests": plain}) is None


@pytest.mark.parametrize("metric,words", [
    ("requests.abandoned", "only when clients have a patience"),
    ("requests.abandoned_share", "only when clients have a patience"),
    ("requests.refused_share", "only with a waiting room"),
])
def test_a_constraint_on_a_key_the_scenario_cannot_have_is_refused_before_any_run(tmp_path, capsys, metric, words):
    data = queue("nokeys", c=1, lam=0.5, duration=60.0, warmup=0.0)
    out = tmp_path / "plan"
    assert main(["plan", str(write(tmp_path, data)), "--vary", "fleet.pools.0.replicas=1..2",
                 "--constraint", f"{metric}<=0.01", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert metric in err and words in err and "did you mean" not in err, err
    assert not (out / "plan.json").exists()


def test_a_plan_bounds_the_abandoned_share(tmp_path, capsys):
    """``--constraint 'requests.abandoned_share<=0.01'`` is judged on the measured share: every point
    is feasible exactly when its share is within the bound, and the answer is the smallest such count
    with the one below it tried and out (patience 5 s, Poisson arrivals at 3 / S, 2 to 8 replicas)."""
    import csv

    data = queue("planned", c=1, lam=3.0 / S, duration=600.0, warmup=60.0)
    data["workload"]["patience_s"] = 5.0
    out = tmp_path / "plan"
    rc = main(["plan", str(write(tmp_path, data)), "--vary", "fleet.pools.0.replicas=2..8",
               "--constraint", "requests.abandoned_share<=0.01", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    with open(out / "plan.csv", newline="") as f:
        rows = {int(r["fleet.pools.0.replicas"]): r for r in csv.DictReader(f)}
    for n, r in rows.items():
        share = float(r["requests.abandoned_share.mean"])
        assert (r["feasible"] == "True") == (share <= 0.01), (n, share, r["why"])
    answer = min(n for n, r in rows.items() if r["feasible"] == "True")
    assert answer - 1 in rows and rows[answer - 1]["feasible"] == "False"
    assert json.loads((out / "plan.json").read_text())["best"]


def test_a_request_whose_deadline_is_the_admission_instant_has_left(tmp_path):
    """Three requests at t = 0 on one server, each exactly 1 s of service (1,000 prompt tokens at 1 ms).
    Fixed patience 1 s: the second and third reach their deadline at the boundary t = 1 where the
    first ends, and leave (a deadline at or before a boundary is gone before it admits). Patience 2 s:
    the second is admitted at 1 (deadline 2), the third leaves at 2. Both engines alike."""
    for patience, served in ((1.0, 1), (2.0, 2)):
        data = queue(f"edge{int(patience)}", c=1, lam=1.0, duration=10.0, warmup=0.0)
        data["workload"]["arrival"] = {"process": "burst", "count": 3}
        data["workload"]["prompt_tokens"] = {"dist": "fixed", "value": 1000}
        data["workload"]["patience_s"] = patience
        rows = {e: run_rows(tmp_path, data, 1, e) for e in ("fast", "reference")}
        assert rows["fast"] == rows["reference"]
        status = [(r["status"], r["reason"]) for r in sorted(rows["fast"], key=lambda r: int(r["rid"]))]
        assert status == [("completed", "")] * served + [("rejected", "timeout")] * (3 - served), status
        done = [r for r in rows["fast"] if r["status"] == "completed"]
        assert max(float(r["sched_s"]) for r in done) == pytest.approx(served - 1.0)


def test_an_autoscaler_on_queue_that_a_full_room_keeps_below_its_target_is_refused(tmp_path, capsys):
    """A replica holds at most max_waiting + max_num_seqs = 5 requests: a queue target of 6 was never
    reached, and one replica (of max 4) refused 66.7 % of the arrivals without scaling up."""
    data = _mm1k("scaled")
    data["fleet"]["pools"][0]["autoscale"] = {"metric": "queue", "target": 6, "interval": 10, "min": 1, "max": 4}
    assert main(["validate", str(write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    assert "fleet.pools.0.autoscale.target" in err and "max_waiting + max_num_seqs = 5" in err, err
    data["fleet"]["pools"][0]["autoscale"]["target"] = 3     # reachable: the pool scales and refuses less
    s = _summary(tmp_path, data)
    assert s["pools"]["servers"]["replicas_mean"] > 1.5
    assert s["requests"]["refused_share"] < 0.3


def test_per_class_patience_shares(tmp_path):
    """A class with patience and one without: only the patient one abandons; each class's share is its
    own abandoned over its own arrivals, and the fleet's the sum over all arrivals."""
    data = queue("classes", c=1, lam=2.0 / S, duration=600.0, warmup=0.0)
    wl = data["workload"]
    wl["classes"] = [{"name": "chat", "share": 0.5, "patience_s": 1.0},
                     {"name": "batch", "share": 0.5}]
    s = _summary(tmp_path, data)
    chat, batch = s["classes"]["chat"]["requests"], s["classes"]["batch"]["requests"]
    assert batch["abandoned"] == 0 and batch["abandoned_share"] == 0.0
    assert chat["abandoned"] > 0 and chat["abandoned_share"] == chat["abandoned"] / chat["arrived"]
    assert s["requests"]["abandoned"] == chat["abandoned"]
    assert s["requests"]["abandoned_share"] == pytest.approx(chat["abandoned"] / s["requests"]["arrived"])


def test_compare_a_run_with_a_waiting_room_and_one_without(tmp_path, capsys):
    plain = queue("room-off", c=1, lam=RHO / S, duration=300.0, warmup=0.0)
    roomed = _mm1k("room-on")
    roomed["duration"], roomed["warmup"] = 300.0, 0.0
    outs = []
    for data in (plain, roomed):
        out = tmp_path / data["name"]
        assert main(["run", str(write(tmp_path, data)), "--out", str(out), "--figures", "none", "--quiet"]) == 0
        outs.append(str(out))
    capsys.readouterr()
    assert main(["compare", *outs]) == 0
    text = capsys.readouterr().out
    assert "max_waiting" in text or "waiting" in text, text
    assert "refused (room full)" in text, text
    assert "abandoned (gave up)" not in text     # neither run has patience: no row


def test_a_preempted_request_is_never_refused_but_takes_a_place(tmp_path):
    """Real batching on a KV cache of about 4,800 tokens (8 sequences of ~1,000-token prompts and
    ~300-token outputs do not fit): preempted requests go back to the head of the queue past the
    room of 2 (the time series' queue reaches 4) and are all served or still in flight, never refused;
    both engines alike."""
    data = queue("preempt", c=1, lam=3.0, duration=300.0, warmup=0.0)
    data["workload"]["prompt_tokens"] = {"dist": "exponential", "mean": 1000, "max": 2000}
    data["workload"]["output_tokens"] = {"dist": "exponential", "mean": 300, "max": 2000}
    pool = data["fleet"]["pools"][0]
    pool.update({"max_waiting": 2, "max_model_len": 4096, "gpu_memory_utilization": 0.200625,
                 "batching": {"max_num_seqs": 8, "max_batched_tokens": 2048}})
    data["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-4, "per_decode_token_s": 2e-3,
                    "per_context_token_s": 0.0}
    rows = {e: run_rows(tmp_path, data, 1, e) for e in ("fast", "reference")}
    assert rows["fast"] == rows["reference"]
    preempted = [r for r in rows["fast"] if int(r["preemptions"]) > 0]
    assert len(preempted) >= 10 and all(r["status"] in ("completed", "in_flight") for r in preempted)
    assert sum(r["reason"] == "queue_full" for r in rows["fast"]) > 100
    import csv
    with open(tmp_path / "preempt-fast-1" / "timeseries.csv", newline="") as f:
        assert max(float(t["queue_len"]) for t in csv.DictReader(f)) > 2


def test_retries_after_failures_meet_the_room_and_keep_their_deadline(tmp_path):
    """Two replicas failing every 60 s on average (10 s to repair), a room of 3, patience 4 s: a retried
    request can be refused by a full room; none admitted once times out; both engines alike; the
    offered load factor is lam S / c = 1.2 (capacity counts provisioned time, failed or not)."""
    data = queue("retries", c=2, lam=2.4 / S, duration=1500.0, warmup=0.0)
    pool = data["fleet"]["pools"][0]
    pool["max_waiting"] = 3
    pool["failures"] = {"mtbf": 60, "mttr": 10, "max_retries": 3}
    data["workload"]["patience_s"] = 4.0
    rows = {e: run_rows(tmp_path, data, 1, e) for e in ("fast", "reference")}
    assert rows["fast"] == rows["reference"]
    r = rows["fast"]
    assert any(int(x["retries"]) > 0 and x["reason"] == "queue_full" for x in r)
    assert not [x for x in r if x["reason"] == "timeout" and x["sched_s"] not in ("", "nan")
                and float(x["sched_s"]) >= 0]
    s = json.loads((tmp_path / "retries-fast-1" / "summary.json").read_text())
    assert s["stability"]["offered_load_factor"] == pytest.approx(1.2, rel=0.05)


@pytest.mark.parametrize("records", ["all", "sample"])
def test_per_class_refused_shares_add_up_under_every_records_mode(tmp_path, records):
    """Behind a room of 2 at rho = 2 each class's refused share is its own queue_full over its own
    arrivals, the same counted from the rows (records: all) or the streaming counters (sample), and
    the classes' refused requests add up to the fleet's."""
    data = queue(f"cls-{records}", c=1, lam=2.0 / S, duration=600.0, warmup=0.0)
    data["fleet"]["pools"][0]["max_waiting"] = 2
    data["workload"]["classes"] = [{"name": "chat", "share": 0.5}, {"name": "batch", "share": 0.5}]
    data["metrics"] = {"records": records}
    s = _summary(tmp_path, data)
    blocks = [s["classes"][c]["requests"] for c in ("chat", "batch")]
    refused = [b["refused_share"] * b["arrived"] for b in blocks]
    assert all(abs(r - round(r)) < 1e-6 for r in refused)
    assert sum(round(r) for r in refused) == s["requests"]["rejected_by_reason"]["queue_full"]
    assert s["requests"]["refused_share"] == pytest.approx(sum(refused) / s["requests"]["arrived"])


def test_under_chunked_prefill_a_request_is_admitted_with_its_first_chunk(tmp_path):
    """Two 4,000-token prompts at t = 0, a token budget of 512 (chunks of 0.512 s at 1 ms a token),
    patience 1 s. The first is admitted with its first chunk at t = 0 and, admitted, is served
    although its prefill takes 4 s, past its client's patience; the second finds the budget taken by
    the first's chunks and leaves at t = 1 without a token."""
    data = queue("chunked", c=1, lam=1.0, duration=30.0, warmup=0.0)
    data["workload"]["arrival"] = {"process": "burst", "count": 2}
    data["workload"]["prompt_tokens"] = {"dist": "fixed", "value": 4000}
    data["workload"]["patience_s"] = 1.0
    data["fleet"]["pools"][0]["batching"] = {"scheduler": "vllm-v1", "max_num_seqs": 2, "max_batched_tokens": 512,
                                             "chunked_prefill": True}
    rows = {e: run_rows(tmp_path, data, 1, e) for e in ("fast", "reference")}
    assert rows["fast"] == rows["reference"]
    first, second = sorted(rows["fast"], key=lambda r: int(r["rid"]))
    assert first["status"] == "completed" and float(first["sched_s"]) == 0.0
    assert float(first["ttft_s"]) == pytest.approx(4.0, abs=0.02)
    assert (second["status"], second["reason"]) == ("rejected", "timeout")


def test_an_autoscaler_on_queue_behind_a_full_central_queue_is_refused_too(tmp_path, capsys):
    """Behind central_queue with fleet.router.max_waiting: 6 and autoscale.min 2, a replica counts at
    most 1 running + 6 / 2 waiting = 4: a target of 4 is refused, 3.5 is not."""
    data = queue("central", c=2, lam=1.0, duration=60.0, warmup=0.0)
    data["fleet"]["router"] = {"policy": "central_queue", "max_waiting": 6}
    data["fleet"]["pools"][0]["autoscale"] = {"metric": "queue", "target": 4, "min": 2, "max": 4}
    assert main(["validate", str(write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    assert "max_num_seqs + fleet.router.max_waiting / autoscale.min = 4" in err, err
    data["fleet"]["pools"][0]["autoscale"]["target"] = 3.5
    assert main(["validate", str(write(tmp_path, data))]) == 0


def test_a_plan_point_offered_more_than_it_serves_behind_a_waiting_room_is_not_feasible():
    """The room keeps the backlog bounded (verdict stable), but the fleet is offered more work than it serves
    and turns the rest away: out, said as overloaded, whatever the latency constraints say; a point that
    keeps up and turns a few impatient clients away is judged by its constraints alone."""
    from sim.planning.constraints import parse_constraint
    from sim.planning.evaluator import judge

    c = [parse_constraint("latency.ttft.p99<=1")]
    over = judge({"n": 1, "stable": True, "stability.offered_load_factor.mean": 1.03,
                  "requests.refused_share.mean": 0.135, "latency.ttft.p99.mean": 0.5}, c)
    assert over["feasible"] is False and over["why"] == "overloaded: offered load factor 1.03, 13.5% refused"
    fine = judge({"n": 1, "stable": True, "stability.offered_load_factor.mean": 0.8,
                  "requests.abandoned_share.mean": 0.004, "latency.ttft.p99.mean": 0.5}, c)
    assert fine["feasible"] is True


def test_the_run_page_settings_say_the_waiting_room_and_the_patience():
    """A reader of the page sees the room and the patience the verdict's refusals come from."""
    from sim.report.scenario_words import scenario_described

    scenario = {"model": "llama-3-8b", "duration": 900,
                "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 4, "max_waiting": 16}],
                          "router": {"policy": "central_queue", "max_waiting": 1}},
                "workload": {"arrival": {"process": "poisson", "rate": 100}, "patience_s": 5,
                             "patience": "exponential", "classes": [{"name": "batch", "patience_s": 60}]}}
    settings = dict(scenario_described("x", scenario, {})[1])
    assert settings["pool main waiting room"] == "at most 16 requests waiting per replica; the next is refused at once"
    assert settings["waiting room"] == "at most 1 request waiting in the fleet's central queue; the next is refused at once"
    assert settings["patience"] == "clients give up after an exponential wait of mean 5 s unless admitted"
    assert settings["class batch patience"] == "clients give up after 1 m waiting unless admitted"
