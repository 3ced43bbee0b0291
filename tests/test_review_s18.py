"""Review of round 18's large-scenario reading, the result folder's lock and the sweep's order.

The same YAML text must mean the same scenario whatever its length: text over ``FAST_BYTES`` is parsed by
libyaml, shorter text by PyYAML's own loader, and the two differ on a handful of characters (tabs above
all). Each check here reads one text both ways (the length threshold moved, so the text is the same) and
through a padded file (a comment or a long list past the threshold) and compares what a user sees.
"""
from __future__ import annotations

import random

import pytest
import yaml

from sim.scenario import safe_yaml
from sim.scenario.load import yaml_problem
from sim.scenario.safe_yaml import FAST_BYTES, load_yaml
from sim.scenario.yaml_tabs import first_refused_tab


def _read(text: str, fast: bool, monkeypatch) -> tuple:
    """What ``load_yaml`` gives for ``text`` read by libyaml (``fast``) or by PyYAML: the value, or the
    error as the scenario loader words it."""
    monkeypatch.setattr(safe_yaml, "FAST_BYTES", 0 if fast else 10**12)
    try:
        return "value", repr(load_yaml(text))
    except yaml.MarkedYAMLError as exc:
        return "YAML", yaml_problem(exc)
    except yaml.reader.ReaderError as exc:      # (said by the loader from its position and character)
        return "character", exc.position, exc.character
    except ValueError as exc:
        return type(exc).__name__, str(exc)


#: YAML's corners, each as a scenario-like text: what a short file means, a long one must mean too
CORNERS = {
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "merge key": "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n",
    "merge list": "b1: &b1 {x: 1}\nb2: &b2 {y: 2}\nc:\n  <<: [*b1, *b2]\n  z: 3\n",
    "merge of a number": "a:\n  <<: 5\n",
    "aliases": "a: &v 5\nb: *v\nl: &l [1, 2]\nm: *l\n",
    "undefined alias": "a: *nope\n",
    "anchor given twice": "a: &x 1\nb: &x 2\nc: *x\n",
    "alias inside its anchor": "a: &x [1, *x]\n",
    "yes/no/on/off": "a: [y, yes, Yes, NO, on, Off, true, FALSE]\n",
    "on as a key": "on: 1\n",
    "numbers": "a: 010\nb: 0x10\nc: 0o10\nd: 1:30\ne: 1_000\nf: 0b11\ng: 1e3\nh: 190:20:30.15\ni: 08\n",
    "nan and inf": "a: [.nan, .NaN, .inf, -.Inf, +.INF, inf, nan]\n",
    "timestamps": "a: 2025-01-01\nb: 2025-01-01T10:00:00Z\nc: 2025-02-30\nd: 2001-12-14 21:59:43.10 -5\n",
    "plain tags": "a: !!str 5\nb: !!int '7'\nc: !!float 1\n",
    "binary tag": "a: !!binary aGk=\n",
    "local tag": "a: !foo x\n",
    "empty tag": "a: ! # note\n",
    "tag before a comma": "c: {d: !1, e: f}\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "document markers": "---\na: 1\n...\n",
    "flow": "{a: [1, 2, {b: c}], d: e}\n",
    "comments": "# hi\na: 1 # c\nb: 'x # y'\nc: d#e\n",
    "byte-order mark": "\ufeffa: 1\n",
    "byte-order mark inside": "a: 1\n\ufeffb: 2\n",
    "CRLF": "a: 1\r\nb:\r\n  - 2\r\n  - 3\r\nc: |\r\n  x\r\n  y\r\n",
    "tab as indentation": "a:\n\tb: 1\n",
    "tab after a colon": "a:\t1\n",
    "tab before a comment": "a: 1\t# note\n",
    "tab in a flow list": "a: [1,\t2]\n",
    "tab in a plain value": "a: x\ty\n",
    "tab in a quoted value": "a: 'x\ty'\nb: \"x\ty\"\n",
    "tab in a comment": "a: 1  # x\ty\n",
    "tab in a block scalar": "a: |\n  x\ty\n",
    "tab leading a block scalar": "a: |\n  \tx\n",
    "tab after a block indicator": "a: |\t\n  x\n",
    "question mark in flow": "a: [1?, 2]\n",
    "hash after a block indicator": "a: |#\n  x\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "unclosed flow list": "a: [1, 2\n",
    "unknown escape": 'a: "\\q"\n',
    "surrogate escape": 'a: "\\ud800"\n',
    "NUL": "a: \x00\n",
    "null key": "~: 1\n",
    "number key": "1: a\n",
    "list key": "? [1, 2]\n: x\n",
    "too deep": "a: " + "[" * 51 + "]" * 51 + "\n",
    "tag first": "! {a: ! }\n",
    "plain tag first": "!!map {a: 1}\n",
    "question mark first": "? a\n: 1\n",
}


@pytest.mark.parametrize("name", sorted(CORNERS))
def test_libyaml_and_pyyaml_read_a_corner_alike(name, monkeypatch):
    """The same text, read by libyaml (as a long file is) and by PyYAML (as a short one is): the same
    value, or the same error at the same line and column. Before the review a tab between tokens
    (``a:<TAB>1``, ``a: 1<TAB># note``), ``[1?]``, ``|#`` and ``! x`` were read by libyaml and refused
    (or read as null) by PyYAML, and libyaml's syntax errors were worded otherwise."""
    text = CORNERS[name]
    assert _read(text, True, monkeypatch) == _read(text, False, monkeypatch)


@pytest.mark.parametrize("name", ["tab after a colon", "tab before a comment", "empty tag", "question mark in flow",
                                  "tab in a quoted value", "merge key", "CRLF", "bad indentation", "surrogate escape"])
@pytest.mark.parametrize("pad", ["comment", "list"])
def test_a_padded_file_means_what_the_short_one_does(name, pad, tmp_path):
    """Through the scenario loader: a file past ``FAST_BYTES`` (a comment after it, or a long list before
    it) gives the short file's value or its message, the line moved by the padding's lines (where the
    error is; the top mapping still starts on line 1)."""
    from sim.scenario.load import ScenarioError, read_file

    text = CORNERS[name]
    nl = "\r\n" if "\r\n" in text else "\n"
    if pad == "comment":
        head, tail = "", ("# " + "x" * 98 + nl) * (FAST_BYTES // 100 + 1)
    else:
        head, tail = "pad:" + nl + ("  - 12345" + nl) * (FAST_BYTES // 10 + 1), ""
    lines = head.count("\n")

    def read(body: str, where: str):
        path = tmp_path / f"{where}.yaml"
        path.write_bytes(body.encode("utf-8", "surrogatepass"))
        assert (len(body) > FAST_BYTES) == (where == "long")
        try:
            got = read_file(path)
            got.pop("pad", None)
            return got
        except ScenarioError as exc:
            return str(exc).replace(str(path), "F")

    short, long = read(text, "short"), read(head + text + tail, "long")
    if isinstance(short, str) and lines:
        short = _shift_lines(short, lines)
    assert long == short


def _shift_lines(message: str, by: int) -> str:
    import re
    return re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + by}", message, count=1)


def test_tabs_placed_at_random_read_alike(monkeypatch):
    """2,000 texts with one to three tabs put anywhere in a scenario-like text (block and flow
    collections, quoted, block and plain scalars, comments, CRLF): libyaml's reading (with the tab
    check) and PyYAML's agree on every one (value or error and where). Before the review about one in
    six disagreed."""
    bases = [
        "a: 1 # c\nb:\n  - x\n  - 'q r'\n  - \"s t\"\nc: {d: [1, 2], e: f}\ng: |\n  lit one\n  lit two\n"
        "h: >-\n  fold\n  more\n# end c\ni: plain words here\n",
        "k: &x {a: 1, b: [2, 3]}\nm:\n  <<: *x\n  c: 'it''s' # note # more\nn: \"a#b\" #c\no: a#b\n",
        "- a\n- b: 1\n  c: 2\n- [1, {x: y}]\n- |\n  t\n- 'q'\n",
        "a: 1\r\nb: 'x y'\r\nc: |\r\n  z w\r\n# c d\r\n",
    ]
    rng = random.Random(18)
    differ = []
    for _ in range(2000):
        chars = list(rng.choice(bases))
        for _ in range(rng.choice([1, 1, 2, 3])):
            at = rng.randrange(len(chars) + 1)
            if rng.random() < 0.3 and at < len(chars) and chars[at] == " ":
                chars[at] = "\t"
            else:
                chars.insert(at, "\t")
        text = "".join(chars)
        if _read(text, True, monkeypatch) != _read(text, False, monkeypatch):
            differ.append(text)
    assert differ == []


def test_first_refused_tab_by_hand():
    """Where PyYAML stops, counted by hand: the first tab outside quoted/block scalars and comments."""
    text = "a: 'x\ty'  # p\tq\nb:\t2\n"
    assert first_refused_tab(text, [(0, 1, ""), (3, 8, "'"), (16, 17, "")]) == 18
    assert first_refused_tab("a: |\t\n  x\n", [(0, 1, ""), (3, 9, "|")]) == 4
    assert first_refused_tab("a: |  # n\tm\n  x\n", [(0, 1, ""), (3, 15, "|")]) is None



@pytest.mark.parametrize("text", [
    "a: '" + "#" * 300_000 + "' #" + "\t" * 300_000 + "\n",       # one line: a comment of tabs after '#'s
    "a: |  #" + "\t" * 300_000 + "\n  x\n",                         # a block scalar's `|` line
    "a: [" + "'x\ty', " * 60_000 + "]\n",                             # tabs in quoted values
])
def test_the_tab_check_is_linear(text):
    """Hundreds of thousands of tabs PyYAML accepts, on one line or many: read by libyaml in well under
    the seconds a check looking back along the line for each tab took (quadratic: 264 CPU s for ten
    times the first text)."""
    import time

    t0 = time.process_time()
    assert isinstance(load_yaml(text), dict)
    assert time.process_time() - t0 < 10


# ------------------------------------------------------------------ the result folder's lock
_WRITER = """
import sys, time
import sim, sim.metrics.output as output
real = output.atomic_write_text
def slow(*args, **kwargs):
    real(*args, **kwargs)
    print("writing", flush=True)
    time.sleep(600)                 # killed here, between two of its files
output.atomic_write_text = slow
sim.run({scenario!r}, out={out!r})
"""


def test_a_writer_killed_mid_write_lets_go_and_a_second_is_refused_meanwhile(tmp_path):
    """Another process stopped inside ``sim.run(out=...)``, between two files: a second ``sim.run`` on the
    folder is refused naming it; once that process is killed (SIGKILL: no clean-up runs), the folder is
    free again (``flock`` goes with the process) and the run writes its result."""
    import json
    import os
    import subprocess
    import sys

    import hostile_cases as hc
    import sim
    from sim.errors import InputError

    out = tmp_path / "r"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER.format(scenario=hc._small(), out=str(out))],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
        with pytest.raises(InputError, match=f"out: {out}: another fleetsim sweep, plan, saturation search or run "
                                             "is writing there now"):
            sim.run(hc._small(), out=out)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.returncode == -9
    sim.run(hc._small(), out=out)
    assert json.loads((out / "summary.json").read_text())["requests"]["completed"] > 0


def test_sim_run_inside_a_sweep_s_hold_is_refused_at_once_and_beside_it_runs(tmp_path):
    """Within a command's hold on a folder (as a sweep holds its ``--out``), ``sim.run(out=)`` on that
    folder is refused at once (not waiting on the lock: no deadlock), and on a folder inside it runs."""
    import hostile_cases as hc
    import sim
    from sim.errors import InputError
    from sim.planning.store import writing

    root = tmp_path / "sweep"
    with writing(root, "sweep"):
        with pytest.raises(InputError, match="is writing there now"):
            sim.run(hc._small(), out=root)
        sim.run(hc._small(), out=root / "points" / "a")
        assert (root / "points" / "a" / "summary.json").is_file()


# ------------------------------------------------------------------ the sweep's submission order
def test_a_burst_is_counted_by_its_requests(tmp_path, capsys):
    """A burst (``offline``) of ``count`` requests was estimated at 0 requests: ``fleetsim validate`` said
    '~0 requests', the work limits passed a burst of 10^8 requests with every row kept (8.2 GB), and a
    sweep handed burst points over last. Now: ``count`` requests, each of the nominal 200 + 20 tokens."""
    import hostile_cases as hc
    import yaml as _yaml
    from sim.cli import main
    from sim.planning.order import expected_work
    from sim.scenario.load import load_scenario

    sc = hc._small()
    sc["workload"]["arrival"] = {"process": "offline", "count": 1000}
    sc["drain"] = True
    assert expected_work(load_scenario(sc)) == (1000 * 220.0, 1.0)
    sc["workload"]["arrival"]["count"] = 100_000_000
    path = tmp_path / "b.yaml"
    path.write_text(_yaml.safe_dump(sc))
    assert main(["validate", str(path)]) == 2
    assert "~100,000,000 requests" in capsys.readouterr().err


@pytest.mark.parametrize("overrides", [
    ["workload.arrival={process: closed, concurrency: 8, think_time_s: 1}"],
    ["workload.arrival={process: closed, concurrency: 8}"],
    ["fidelity=fluid"],
    ["duration=0.001"],
    ["workload.arrival={process: burst, count: 3, at: 3600}", "drain=true"],
])
def test_the_estimate_of_an_odd_scenario_does_not_raise(overrides):
    """The order's estimate on a closed loop (with and without think time), the fluid tier, the
    shortest run and a burst after the end: a finite pair of numbers, never an error."""
    import math

    import hostile_cases as hc
    from sim.planning.order import expected_work
    from sim.scenario.load import load_scenario

    work = expected_work(load_scenario(hc._small(), overrides=overrides))
    assert all(math.isfinite(x) and x >= 0 for x in work)


def test_the_estimate_of_the_bundled_trace_replay_does_not_raise():
    from pathlib import Path

    from sim.planning.order import expected_work
    from sim.scenario.load import load_scenario

    path = Path(__file__).resolve().parent.parent / "scenarios" / "azure_conv_replay.yaml"
    work, replicas = expected_work(load_scenario(path))
    assert work > 0 and replicas >= 1


class _FailsAtRate8(__import__("sim.planning.runner", fromlist=["SimulationRunner"]).SimulationRunner):
    """The simulator, except that every point at 8 requests/s fails (as a point whose run raises does)."""

    def __call__(self, scenario: dict, seed: int, capacity: float = 1.0) -> dict:
        if scenario["workload"]["arrival"]["rate"] == 8:
            raise RuntimeError("the rate-8 point fails")
        return super().__call__(scenario, seed, capacity)


_GRID = ["workload.arrival.rate=2,8,4", "fleet.pools.0.replicas=1,2"]
_SETS = ["duration=1m", "warmup=10s", "metrics.interval=30"]


def _baseline():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "scenarios" / "baseline.yaml"


def test_a_sweep_with_failing_points_is_the_same_bytes_in_any_order_and_resumes(tmp_path):
    """A sweep whose rate-8 points fail: handed over longest first (validated), in grid order (not
    validated) and on a pool of two, the same files (the failed points' records included, the others
    kept). Run again without the failure into the same folder, the failed points run and the finished
    ones are reused: the same files as a fresh sweep without failures."""
    import json

    import sim
    from sim.planning.executors import LocalExecutor, SerialExecutor

    from test_planning_speed import files

    base = _baseline()
    runs = {}
    for name, kwargs in {"longest": {"validate": True}, "grid": {"validate": False}}.items():
        res = sim.sweep(base, _GRID, seeds=2, overrides=_SETS, executor=SerialExecutor(), runner=_FailsAtRate8(),
                        out=tmp_path / name, figures=False, **kwargs)
        runs[name] = res
    with LocalExecutor(2) as pool:
        sim.sweep(base, _GRID, seeds=2, overrides=_SETS, executor=pool, runner=_FailsAtRate8(),
                  out=tmp_path / "pool", figures=False)
    failed = [(r["config"]["workload.arrival.rate"], r["seed"]) for r in runs["longest"].records if r["error"]]
    assert failed == [(8, 1), (8, 2), (8, 1), (8, 2)]        # in grid order: rate 8 at 1 and 2 replicas
    assert sum(r["summary"] is not None for r in runs["longest"].records) == 8
    want = files(tmp_path / "grid")
    assert files(tmp_path / "longest") == want and files(tmp_path / "pool") == want

    # resumed without the failure: the four failed points run, the eight finished ones are reused
    again = sim.sweep(base, _GRID, seeds=2, overrides=_SETS, executor=SerialExecutor(), out=tmp_path / "longest",
                      figures=False)
    assert sorted(r["reused"] for r in again.records) == [False] * 4 + [True] * 8
    sim.sweep(base, _GRID, seeds=2, overrides=_SETS, executor=SerialExecutor(), out=tmp_path / "fresh", figures=False)

    def without_reused(got):
        return {k: (json.loads(json.dumps(v).replace('"reused": true', '"reused": false'))
                    if isinstance(v, (dict, list)) else v) for k, v in got.items()}

    assert without_reused(files(tmp_path / "longest")) == without_reused(files(tmp_path / "fresh"))


@pytest.mark.slow
def test_a_sweep_on_dask_is_the_same_bytes_as_serial(tmp_path):
    """The same sweep (3 seeds) on a Dask LocalCluster of two workers (handed over longest first, by
    priority) and one point at a time in grid order: the same files."""
    pytest.importorskip("distributed")
    import sim
    from sim.planning.executors import DaskExecutor, SerialExecutor

    from test_planning_speed import files

    base = _baseline()
    sim.sweep(base, _GRID, seeds=3, overrides=_SETS, executor=SerialExecutor(), validate=False,
              out=tmp_path / "grid", figures=False)
    with DaskExecutor(workers=2) as ex:
        sim.sweep(base, _GRID, seeds=3, overrides=_SETS, executor=ex, out=tmp_path / "dask", figures=False)
    assert files(tmp_path / "dask") == files(tmp_path / "grid")


def test_a_plan_and_a_saturation_search_with_seeds_are_the_same_bytes_serial_and_on_a_pool(tmp_path):
    """``seeds=2``: a plan over the replica count and a saturation search, one point at a time (longest
    first) and on a pool of two (longest first, probes run ahead): the same files, wall times aside."""
    import sim
    from sim.planning.executors import LocalExecutor, SerialExecutor

    from test_planning_speed import files

    base = _baseline()
    sets = ["duration=1m", "warmup=10s", "workload.arrival.rate=20"]
    for name, ex in (("serial", SerialExecutor()), ("pool", LocalExecutor(2))):
        with ex:
            sim.plan(base, ["fleet.pools.0.replicas=1..4"], constraints=["latency.ttft.p99<=2.0"], seeds=2,
                     overrides=sets, executor=ex, out=tmp_path / f"plan-{name}", figures=False)
            sim.saturation(base, seeds=2, rel_tol=0.2, overrides=[*sets, "fleet.pools.0.replicas=1"], executor=ex,
                           out=tmp_path / f"sat-{name}")
    assert (tmp_path / "plan-serial" / "plan.json").is_file() and (tmp_path / "sat-serial" / "saturation.json").is_file()
    assert files(tmp_path / "plan-serial") == files(tmp_path / "plan-pool")
    assert files(tmp_path / "sat-serial") == files(tmp_path / "sat-pool")
