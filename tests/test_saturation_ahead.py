"""``saturation`` runs the probe its search asks next on a worker the probe leaves idle, and must not
change a byte of what it writes.

At each probe, :func:`~sim.planning.bracketing.highest` says the values it asks next if the probe holds
and if it fails (:func:`~sim.planning.bracketing.next_asked`); the probe's batch runs the first (a
second worker), then the second (a third), and keeps their results until (if) the search asks for them.
The batches below are worked out by hand from the probe sequence of the search, which theory gives:
M/M/4 with service 0.2 s and TTFT <= 1 s reaches 99 % attainment at 15.07 requests/s (Erlang C, the root
of ``1 - C(c, a) exp(-(c/s - λ)(slo - s)) = 0.99``, :func:`test_planning_band.attainment_root`).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.planning import MMcRunner, saturation
from sim.planning.bracketing import highest, next_asked
from sim.planning.executors import LocalExecutor, SerialExecutor

from conftest import mmc_scenario_file
from test_planning_band import attainment_root
from test_planning_search import BASE
from test_planning_speed import Counting, files

#: 2, 4, 8 hold, 16 fails (15.07 < 16); bisection 12, 14, 15 hold, 15.5 fails: (15.5 - 15) / 15 <= 0.05
PROBES = [2.0, 4.0, 8.0, 16.0, 12.0, 14.0, 15.0, 15.5]


def mmc_saturation(executor, out: Path | None = None, **kw):
    return saturation(BASE, runner=MMcRunner(service_s=0.2, slo_ttft_s=1.0), rel_tol=0.05, start=2,
                      overrides=["fleet.pools.0.replicas=4"], executor=executor, out=out, **kw)


def test_the_search_s_probes_follow_the_erlang_c_root():
    assert 15.0 < attainment_root(4, 0.2, 1.0) < 15.5
    res = mmc_saturation(SerialExecutor())
    assert [p["rate"] for p in res.probes] == PROBES and (res.rate, res.upper) == (15.0, 15.5)


@pytest.mark.parametrize("workers, batches, calls", [
    # serial: one probe at a time
    (1, 8, 8),
    # {2, 4 ahead} 4 taken, {8, 16} 16 taken, {12, 14} 14 taken, {15, 15.5} 15.5 taken: each guess
    # "it holds" came true (every probe run in a batch held)
    (2, 4, 8),
    # and the guess "it fails" beside it, never asked for: {2, 4, 1}, {8, 16, 6}, {12, 14, 10}, {15, 15.5, 14.5}
    (3, 4, 12),
])
def test_each_probe_runs_the_next_one_ahead_and_every_file_is_the_serial_one(tmp_path, workers, batches, calls):
    serial = Counting(SerialExecutor())
    a = mmc_saturation(serial, tmp_path / "serial")
    with LocalExecutor(workers) as pool:
        ahead = Counting(pool)
        b = mmc_saturation(ahead, tmp_path / "ahead")
    assert (serial.batches, serial.calls) == (8, 8)
    assert (ahead.batches, ahead.calls) == (batches, calls)
    assert a.as_dict() == b.as_dict() and (a.runs, a.reused) == (b.runs, b.reused) == (8, 0)
    # a guess never asked for leaves no point file
    assert len(list((tmp_path / "ahead" / "points").glob("*.json"))) == len(PROBES)
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")


def test_two_seeds_run_ahead_only_where_a_probe_s_two_runs_fit(tmp_path):
    a = mmc_saturation(SerialExecutor(), tmp_path / "serial", seeds=2)
    with LocalExecutor(3) as pool:      # the probe's 2 runs leave 1 worker: the next probe's 2 do not fit
        three = Counting(pool)
        b = mmc_saturation(three, tmp_path / "three", seeds=2)
    with LocalExecutor(4) as pool:      # 2 idle: the next probe if this one holds, as with one seed and 2
        four = Counting(pool)
        c = mmc_saturation(four, tmp_path / "four", seeds=2)
    assert (three.batches, three.calls) == (8, 16) and (four.batches, four.calls) == (4, 16)
    assert a.as_dict() == b.as_dict() == c.as_dict()
    assert files(tmp_path / "serial") == files(tmp_path / "three") == files(tmp_path / "four")


def test_the_capacity_band_s_searches_run_ahead_too(tmp_path):
    a = mmc_saturation(SerialExecutor(), tmp_path / "serial", capacity_band=5.0)
    with LocalExecutor(3) as pool:
        ahead = Counting(pool)
        b = mmc_saturation(ahead, tmp_path / "ahead", capacity_band=5.0)
    n = len(a.probes) + sum(len(a.band[s]["probes"]) for s in ("slower", "faster"))
    assert ahead.batches < n and a.as_dict() == b.as_dict()
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")


class _FailsAt(MMcRunner):
    """The analytic runner, raising at one rate (a run that errors)."""

    def __init__(self, fails_at: float, **kw) -> None:
        super().__init__(**kw)
        self.fails_at = fails_at

    def __call__(self, scenario, seed, **kw):
        if scenario["workload"]["arrival"]["rate"] == self.fails_at:
            raise RuntimeError("no such rate")
        return super().__call__(scenario, seed, **kw)


def test_a_guess_that_errors_fails_nothing_unless_asked_for(tmp_path):
    # with 3 workers 1 is run ahead beside 2 (were 2 to fail) and errors: never asked, it leaves no trace;
    # 16 errors too and is asked for: a failed probe, as serially
    runs = {}
    for name, workers in (("serial", 1), ("ahead", 3)):
        with LocalExecutor(workers) as pool:
            runs[name] = saturation(BASE, runner=_FailsAt(1.0, service_s=0.2, slo_ttft_s=1.0), rel_tol=0.05,
                                    start=2, overrides=["fleet.pools.0.replicas=4"], executor=pool,
                                    out=tmp_path / name)
    assert [p["rate"] for p in runs["ahead"].probes] == PROBES
    assert runs["serial"].as_dict() == runs["ahead"].as_dict()
    assert not any(p["error"] for p in runs["ahead"].probes)
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")
    with LocalExecutor(3) as pool:
        asked = saturation(BASE, runner=_FailsAt(16.0, service_s=0.2, slo_ttft_s=1.0), rel_tol=0.05, start=2,
                           overrides=["fleet.pools.0.replicas=4"], executor=pool)
    failed = [p for p in asked.probes if p["error"]]
    assert [p["rate"] for p in failed] == [16.0] and "no such rate" in failed[0]["error"]


def test_next_asked_is_what_the_search_asks_next():
    """Whatever each verdict, the value asked next is the one :func:`next_asked` gave for it."""
    for root in (0.3, 3.7, 15.07, 37.0, 1e4):
        said, asked = [], []

        def ok(value, nexts):
            asked.append(value)
            said.append(nexts)
            return value <= root
        highest(ok, 10.0, 2.0, 0.02, 40, guesses=True)
        plain = []
        highest(lambda v: plain.append(v) or v <= root, 10.0, 2.0, 0.02, 40)
        assert asked == plain       # guesses change nothing of the search
        for i, value in enumerate(asked[1:]):
            assert value == said[i][0 if asked[i] <= root else 1]
        assert said[-1][0 if asked[-1] <= root else 1] is None      # where it ended, nothing more
    assert next_asked(dict(start=5, ratio=2.0, rel_tol=0.02, max_probes=40, integer=True), [True, False]) == 7


@pytest.mark.parametrize("extra", [["--workers", "1"], ["--workers", "2"], ["--workers", "3"],
                                   ["--workers", "3", "--seeds", "2"], ["--workers", "3", "--capacity-band"]])
def test_the_cli_writes_the_same_files_serial_and_run_ahead(tmp_path, extra):
    """The simulator itself (a 10-minute M/M/1 of ~1 s service), through ``fleetsim saturation``."""
    path = mmc_scenario_file(tmp_path, 0.3, duration="10m")
    more = extra[2:]        # (what follows --workers N: the serial search gets it too)
    for name, how in (("serial", ["--executor", "serial", *more]), ("ahead", ["--executor", "local", *extra])):
        assert main(["saturation", str(path), "--tolerance", "0.1", "--quiet", "--out", str(tmp_path / name),
                     "--constraint", "latency.queue.mean<=2", "--attainment", "0.5", *how]) in (0, 1)
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")
    # one row a probe (each band side's too), a point file each probe's run: none for a guess not asked for
    rows = list(csv.DictReader(io.StringIO((tmp_path / "ahead" / "saturation.csv").read_text())))
    seeds = json.loads((tmp_path / "ahead" / "saturation.json").read_text())["seeds"]
    assert len(rows) >= 4 and len(list((tmp_path / "ahead" / "points").glob("*.json"))) == len(rows) * seeds


@pytest.mark.parametrize("workers, kw", [(2, {}), (3, {}), (3, {"seeds": 2}), (3, {"capacity_band": 3})])
def test_a_closed_loop_s_client_search_writes_the_same_files(tmp_path, workers, kw):
    """One server, deterministic 1 s service, TTFT <= 20.5 s: floor(20.5 / 1) = 20 clients
    (test_closed_saturation), by 8, 16, 32, 24, 20, 22, 21."""
    from test_closed_saturation import _deterministic

    sc = _deterministic(8, 20.5)
    path = tmp_path / "closed.yaml"
    path.write_text(yaml.safe_dump(sc))
    a = saturation(path, executor="serial", out=tmp_path / "serial", **kw)
    with LocalExecutor(workers) as pool:
        ahead = Counting(pool)
        b = saturation(path, executor=ahead, out=tmp_path / "ahead", **kw)
    assert [p["concurrency"] for p in a.probes] == [8, 16, 32, 24, 20, 22, 21]
    assert (a.concurrency, b.concurrency) == (20, 20) and a.as_dict() == b.as_dict()
    if (workers, kw) == (2, {}):
        # {8, 16} 16 taken, {32, 64} 32 fails, {24, 28} 24 fails, {20, 22} 22 taken, {21} (20 and 21, 21 and 22
        # adjacent: nothing after it either way): 5 batches, not 7, and 64 and 28 run for nothing
        assert (ahead.batches, ahead.calls) == (5, 9)
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")
