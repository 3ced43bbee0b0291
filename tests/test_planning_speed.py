"""Speed-ups of ``plan`` and ``sweep`` that must not change a byte of their results.

* A plan's bisection runs its likely next probe on a worker the round leaves idle and takes the
  result when (if) the search asks for it: the files it writes are those of a plan run one probe at a
  time (wall times aside), and on the hand-worked bisection below it waits for 3 batches, not 5.
* Student's t quantile of the confidence intervals is ``scipy.special.stdtrit``, the function
  ``scipy.stats.t.ppf`` evaluates: equal bit for bit.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

import sim
from sim.planning.capacity import Bisection, next_probes, plan
from sim.planning.erlang import MMcRunner
from sim.planning.executors import LocalExecutor, SerialExecutor
from sim.planning.stats import mean_ci, t_quantile

ROOT = Path(__file__).resolve().parents[1]
WALL = ("wall_s", "wall_seconds")


def files(out: Path) -> dict[str, object]:
    """Every file of a result folder, JSON files read with their wall-time fields dropped."""
    def drop(v):
        if isinstance(v, dict):
            return {k: drop(x) for k, x in v.items() if k not in WALL}
        return [drop(x) for x in v] if isinstance(v, list) else v

    return {str(p.relative_to(out)): drop(json.loads(p.read_bytes())) if p.suffix == ".json" else p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file()}


class Counting(SerialExecutor):
    """An executor (another's, wrapped) that counts the batches it is given and the calls in them."""

    def __init__(self, inner) -> None:
        self.inner, self.batches, self.calls = inner, 0, 0
        self.slots = getattr(inner, "slots", 1)

    def map_unordered(self, fn, tasks):
        self.batches += bool(tasks)         # (a round whose probe was run ahead runs nothing)
        self.calls += len(tasks)
        yield from self.inner.map_unordered(fn, tasks)


def mmc_plan(executor, out: Path | None = None):
    # M/M/c at 2.5 requests/s, 1 s service: 2 servers are unstable (rho 1.25: TTFT infinite), 3 give a TTFT
    # p99 of 13.1 s (Erlang C's wait quantile + the service's ln 100 s), so TTFT p99 <= 15 s first holds at 3:
    # the bisection of 1..16 probes 16, 8, 4, 2, 3
    scenario = {"seed": 1, "workload": {"arrival": {"rate": 2.5}}, "fleet": {"pools": [{"replicas": 1, "gpu": "x"}]}}
    return plan(scenario, ["fleet.pools.0.replicas=1..16"], constraints=["latency.ttft.p99<=15"],
                runner=MMcRunner(service_s=1.0), executor=executor, out=out, figures=False)


def test_bisection_runs_its_next_probe_ahead_and_keeps_every_result(tmp_path):
    serial = Counting(SerialExecutor())
    a = mmc_plan(serial, tmp_path / "serial")
    with LocalExecutor(2) as pool:
        ahead = Counting(pool)
        b = mmc_plan(ahead, tmp_path / "ahead")
    assert a.best["fleet.pools.0.replicas"] == b.best["fleet.pools.0.replicas"] == 3
    assert [r["overrides"] for r in a.evaluated] == [r["overrides"] for r in b.evaluated] == \
        [[f"fleet.pools.0.replicas={v}"] for v in (16, 8, 4, 2, 3)]
    assert (serial.batches, serial.calls) == (5, 5)
    # {16, 8 ahead}, 8 taken, {4, 2 ahead} (4 feasible: (1+4)//2), 2 taken, {3}: nothing wasted
    assert (ahead.batches, ahead.calls) == (3, 5)
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")
    assert (a.runs, a.reused) == (b.runs, b.reused) == (5, 0)


def test_a_wrong_guess_is_run_but_leaves_no_trace(tmp_path):
    # at 3.5 requests/s TTFT p99 is 13.2 s on 4 servers, 7.0 s on 5: <= 10 s needs 5; the bisection probes
    # 16, 8, 4 (fails: the guess run with it, 2, is wasted), 6 (its guess, 5, is taken), 5
    scenario = {"seed": 1, "workload": {"arrival": {"rate": 3.5}}, "fleet": {"pools": [{"replicas": 1, "gpu": "x"}]}}
    kw = dict(constraints=["latency.ttft.p99<=10"], runner=MMcRunner(service_s=1.0), figures=False)
    a = plan(scenario, ["fleet.pools.0.replicas=1..16"], executor="serial", out=tmp_path / "serial", **kw)
    with LocalExecutor(2) as pool:
        ahead = Counting(pool)
        b = plan(scenario, ["fleet.pools.0.replicas=1..16"], executor=ahead, out=tmp_path / "ahead", **kw)
    assert [r["overrides"] for r in b.evaluated] == [r["overrides"] for r in a.evaluated]
    assert len(list((tmp_path / "ahead" / "points").glob("*.json"))) == len(a.evaluated)
    assert [r["overrides"] for r in a.evaluated] == [[f"fleet.pools.0.replicas={v}"] for v in (16, 8, 4, 6, 5)]
    assert (ahead.batches, ahead.calls) == (3, 6)      # the wasted guess ran, and is nowhere in the results
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")


def test_a_simulated_plan_writes_the_same_files_with_probes_run_ahead(tmp_path):
    sets = ["duration=3m", "warmup=30s", "workload.arrival.rate=20"]
    kw = dict(constraints=["latency.ttft.p99<=2.0"], overrides=sets, figures=False)
    a = sim.plan(ROOT / "scenarios" / "baseline.yaml", ["fleet.pools.0.replicas=1..4"], executor="serial",
                 out=tmp_path / "serial", **kw)
    with LocalExecutor(2) as pool:
        ahead = Counting(pool)
        b = sim.plan(ROOT / "scenarios" / "baseline.yaml", ["fleet.pools.0.replicas=1..4"], executor=ahead,
                     out=tmp_path / "ahead", **kw)
    assert a.best is not None and [r["overrides"] for r in a.evaluated] == [r["overrides"] for r in b.evaluated]
    assert ahead.batches < len(a.evaluated)
    assert files(tmp_path / "serial") == files(tmp_path / "ahead")


def test_next_probes_are_the_bisection_s_own_next_steps():
    b = Bisection(1, 64)
    seen = []
    while (v := b.probe()) is not None:
        guesses = [n for _, n in next_probes({"g": [b]}, {("g", 0): v})]
        b.update(v, v >= 23)
        nxt = b.probe()
        if nxt is not None:
            assert nxt in guesses       # whatever the verdict, the next probe was one of the two run ahead
        seen.append(v)
    assert b.answer == 23 and seen == [64, 32, 16, 24, 20, 22, 23]


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
def test_t_quantile_is_scipy_stats_bit_for_bit(confidence):
    q = 0.5 + confidence / 2.0
    for df in (*range(1, 200), 499, 1000, 10_000):
        assert t_quantile(q, df) == float(stats.t.ppf(q, df))


def test_mean_ci_half_width_by_hand():
    # three replications 1, 2, 3: s = 1, t(0.975, 2) = 4.302653 (tables), half width 4.302653 / sqrt 3
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == 2.0 and ci.half_width == pytest.approx(4.302653 / 3 ** 0.5, rel=1e-6)


def test_the_benchmark_compares_every_byte_but_wall_times(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_planning  # noqa: PLC0415

    a, b = tmp_path / "a", tmp_path / "b"
    for folder, wall, p99 in ((a, 1.5, 0.25), (b, 2.5, 0.25)):
        (folder / "points").mkdir(parents=True)
        (folder / "points" / "k.json").write_text(json.dumps({"wall_s": wall, "summary": {"wall_seconds": wall,
                                                                                           "p99": p99}}))
        (folder / "sweep.csv").write_text(f"seed,wall_s,p99\n1,{wall},{p99}\n")
    files_a = bench_planning.result_files(a)
    assert bench_planning.differences(files_a, bench_planning.result_files(b)) == []
    (b / "sweep.csv").write_text("seed,wall_s,p99\n1,2.5,0.26\n")
    (b / "extra.json").write_text("{}")
    assert bench_planning.differences(files_a, bench_planning.result_files(b)) == ["extra.json", "sweep.csv"]
