"""Property-based fuzzing of everything a user can hand fleetsim: scenario text, field values,
``--set`` overrides and trace files. Whatever comes in, the command exits 0 or 2 (never 1, never
a traceback), within a few seconds of CPU, without growing the process by more than a few hundred MB.

The default run tries a short budget per category; ``make test-slow`` (``-m slow``) a long one.
Each category counts the cases it tried in :data:`TRIED` (printed at the end of a run with
``-s``).
"""
from __future__ import annotations

import copy
import resource
import string
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sim.cli import main  # noqa: E402

from conftest import scenario  # noqa: E402
from cpu_budget import cpu_budget  # noqa: E402

SHORT = 25
LONG = 400
TRIED: Counter = Counter()
PEAKS = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]
#: CPU seconds one command may use on hostile input (limits say ~1 s; CPU time, unlike wall time, does
#: not grow when the machine is busy, and past it the command is stopped, not waited for)
MAX_CPU_S = 20
#: growth of this process's peak memory over a whole category
MAX_GROWTH_KB = 600 * 1024


def _base() -> dict:
    sc = scenario(duration=20)
    sc["workload"]["classes"] = [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]
    sc["economics"]["revenue"] = [{"name": "api", "usd_per_million_output_tokens": 10}]
    return sc


def _get_base(path):
    node = _base()
    for k in path:
        node = node[k]
    return node


def _paths(node, prefix=()):
    """Every path to a value in a nested dict/list (mappings and lists themselves included)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(_base()) if p]
NUMERIC_PATHS = [p for p in PATHS if isinstance(_get_base(p), (int, float)) and not isinstance(_get_base(p), bool)]
tweaks = st.sampled_from([0, 1, 2, 3, 7, 0.5, 0.01, 10, 100, 1e-3, 1e4, 1e6, -1, 4096, 65536])
NEW_KEYS = ["fidelity", "fluid", "engine", "drain", "start", "metrics", "growth", "failures", "autoscale",
            "scale", "loop", "time_scale", "rate_scale", "weights", "until", "from", "payment_lag",
            "agreements", "credits", "training", "prefix_caching", "max_model_len", "disaggregated",
            "shared_prefix_tokens", "null", "true", "weekly"]

nasty_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
numbers = st.one_of(
    st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 1e-300, 1e300, 1e308, -1e308, 10**22, 2**63, 0.5, 1e7, 1e12]),
)
scalars = st.one_of(
    numbers, st.booleans(), st.none(), nasty_text,
    st.sampled_from(["1h", "30d", "1e9d", "9999-12-31", "2025-02-30", "nan", ".inf", "-1s", "0", "~nouser/x.csv",
                     "/dev/zero", "/proc/self/environ", "poisson", "trace", "fluid", "h100-sxm", "llama-3-8b",
                     "weighted", "spillover", "\x1b[31m", "a" * 5000]),
)
#: plausible values, so that some mutated scenarios pass validation and run
mild = st.sampled_from([1, 2, 4, 8, 0.5, 0.1, 100, 1000, "30s", "2m", True, False, "fcfs", "priority", "static",
                        "round_robin", "central_queue", "reference", "fast", "all", "none", "sample",
                        {"dist": "fixed", "value": 50}, {"process": "gamma", "rate": 3, "cv": 4},
                        {"mtbf": "10s", "mttr": "5s"}, {"target": 0.5, "max": 4, "interval": 5}])
values = st.recursive(st.one_of(mild, mild, scalars), lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.sampled_from(NEW_KEYS), inner, max_size=3)),
                      max_leaves=12)


def _set(node, path, value):
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def _command(tmp_path: Path, argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        with cpu_budget(MAX_CPU_S, " ".join(map(str, argv))[:500]):
            try:
                rc = main(argv)
            except SystemExit as exc:        # argparse: a malformed option is a usage error, status 2
                rc = exc.code if isinstance(exc.code, int) else 2
    except AssertionError as exc:        # over budget: say which input, which hypothesis may not shrink to in time
        raise AssertionError(f"{exc}; the scenario: {_text_of(argv[1])!r}") from None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if peak > PEAKS[0] + 100 * 1024:
        print(f"PEAK {peak // 1024} MB after {argv}: {Path(argv[1]).read_text()[:3000]!r}", file=sys.__stderr__)
    PEAKS[0] = max(PEAKS[0], peak)
    out = capsys.readouterr()
    err = out.err
    assert rc in (0, 2), f"exit {rc}: {err[-2000:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-2000:]
    return rc, err


def _text_of(path: str) -> str:
    """The first 3,000 characters of the file a command read (what an over-budget failure reports)."""
    try:
        return Path(path).read_text(errors="replace")[:3000]
    except OSError as exc:
        return f"<unreadable: {exc}>"


def _small_enough(path: Path) -> bool:
    """Run it (not only validate it) when it is a few seconds' work at most."""
    from sim.limits import estimate
    from sim.scenario.load import load_scenario

    try:
        loaded = load_scenario(path)
        e = estimate(loaded)
    except Exception:  # noqa: BLE001 - validate already passed; anything odd: do not run
        return False
    sc = loaded.scenario
    return (e.requests <= 3000 and e.replicas <= 8 and sc.duration <= 3600 and e.failure_events <= 1000
            and sc.fidelity == "request" and sc.duration / sc.metrics.interval <= 10_000)


class _Peak:
    def __enter__(self):
        self.start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return self

    def __exit__(self, *exc):
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.start
        assert grown < MAX_GROWTH_KB, f"peak memory grew by {grown / 1024:.0f} MB"


def _fuzz_fields(tmp_path: Path, capsys, data) -> None:
    sc = _base()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        kind = data.draw(st.sampled_from(["new key", "replace", "tweak", "tweak"]), label="kind")
        if kind == "new key":
            parent = data.draw(st.sampled_from([p for p in PATHS if isinstance(_get(sc, p), dict)] + [()]),
                               label="parent")   # paths of the base that are still mappings
            node = _get(sc, parent)
            if isinstance(node, dict):
                node[data.draw(st.sampled_from(NEW_KEYS), label="key")] = data.draw(values, label="value")
        elif kind == "replace":
            path = data.draw(st.sampled_from(PATHS), label="path")
            try:
                _set(sc, path, data.draw(values, label="value"))
            except (KeyError, IndexError, TypeError):
                pass
        else:   # a number nudged to another plausible one: many of these still validate and run
            path = data.draw(st.sampled_from(NUMERIC_PATHS), label="number")
            try:
                _set(sc, path, data.draw(tweaks, label="to"))
            except (KeyError, IndexError, TypeError):
                pass
    p = tmp_path / "s.yaml"
    try:
        text = yaml.safe_dump(sc, allow_unicode=True)
    except yaml.YAMLError:
        return
    p.write_text(text, encoding="utf-8")
    TRIED["field values"] += 1
    rc, _ = _command(tmp_path, ["validate", str(p)], capsys)
    TRIED["field values, valid"] += rc == 0
    if rc == 0 and _small_enough(p):
        TRIED["field values, run"] += 1
        _command(tmp_path, ["run", str(p), "--quiet", "--figures", "none", "--out", str(tmp_path / "r")], capsys)


def _get(node, path):
    """The value at ``path``, or None when an earlier mutation removed or replaced part of it."""
    for k in path:
        try:
            node = node[k]
        except (KeyError, IndexError, TypeError):
            return None
    return node


yaml_pieces = st.sampled_from([
    "a: &a [1,2,3,4,5,6,7,8,9]\n", "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n", "c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
    "seed: 1\n", "seed: 2\n", "null: 1\n", "on: 2\n", "'x': [[[[[[[[[[]]]]]]]]]]\n", "name: " + "[" * 80 + "\n",
    "duration: 1h\n", "start: 2025-02-30\n", "start: 9999-12-31\n", "model: !!python/object:os.system x\n",
    "fleet: {pools: [{name: a, gpu: h100-sxm, replicas: 1}, {name: a}]}\n", "\t- bad indent\n", "{", "]", "&x ",
    "*undefined\n", "key: \"\\x1b[2J\"\n", "%YAML 1.1\n---\n", "--- \n...\n", "? [a, b]\n: c\n",
    "<<: {seed: 3}\n", "k: !!binary aGVsbG8=\n", "k: 0x10\n", "k: 1_000\n", "k: .nan\n", "k: -.inf\n",
])


def _fuzz_yaml_text(tmp_path: Path, capsys, data) -> None:
    base = yaml.safe_dump(_base()).splitlines(keepends=True)
    pieces = data.draw(st.lists(yaml_pieces, max_size=6), label="pieces")
    where = data.draw(st.integers(0, len(base)), label="where")
    text = "".join(base[:where] + pieces + base[where:])
    if data.draw(st.booleans(), label="garble"):
        i = data.draw(st.integers(0, max(len(text) - 1, 0)), label="at")
        text = text[:i] + data.draw(st.text(string.printable + "\x00\x1b\u202e", max_size=8), label="junk") + text[i:]
    p = tmp_path / data.draw(st.sampled_from(["s.yaml", "s.toml"]), label="name")
    p.write_text(text, encoding="utf-8")
    TRIED["scenario text"] += 1
    _command(tmp_path, ["validate", str(p)], capsys)


override_keys = st.sampled_from([
    "duration", "seed", "fleet.pools.0.replicas", "fleet.pools.0", "fleet.pools.9.replicas", "workload.arrival.rate",
    "workload.arrival", "fleet.router", "economics.gpu_hour_usd", "a..b", ".", "", "metrics.interval",
    "fleet.pools.0.batching.max_num_seqs", "workload.classes.0.share", "fleet.pools.-1.gpu", "name"])
override_values = st.one_of(st.sampled_from(["1", "-1", "1e308", "true", "null", "[", "{a: 1}", "&a [*a]", "1h",
                                             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]",
                                             "a: 1\na: 2", "9999-12-31"]),
                            nasty_text)


def _fuzz_overrides(tmp_path: Path, capsys, data) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(_base()))
    sets = data.draw(st.lists(st.tuples(override_keys, override_values), min_size=1, max_size=3), label="sets")
    argv = ["validate", str(p)]
    for k, v in sets:
        argv += ["--set", f"{k}={v}"]
    TRIED["--set overrides"] += 1
    _command(tmp_path, argv, capsys)


trace_rows = st.one_of(
    st.tuples(numbers, numbers, numbers).map(lambda r: ",".join(map(str, r))),
    st.sampled_from(["", ",,", "1,2", "a,b,c", "\x00", "1,2,3,tenant\x1b", "-1,5,5", "1e400,1,1",
                     '{"timestamp_s": 1, "prompt_tokens": 5, "output_tokens": 5}', "[" * 200,
                     '{"timestamp_s": [1], "prompt_tokens": {}, "output_tokens": null}', "0.5,10,10"]),
    nasty_text,
)


def _fuzz_traces(tmp_path: Path, capsys, data) -> None:
    name = data.draw(st.sampled_from(["t.csv", "t.jsonl"]), label="file")
    header = data.draw(st.sampled_from(["timestamp_s,prompt_tokens,output_tokens\n", "", "x,y\n",
                                        "timestamp_s,prompt_tokens,output_tokens,tenant\n"]), label="header")
    rows = data.draw(st.lists(trace_rows, max_size=8), label="rows")
    (tmp_path / name).write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    sc = _base()
    sc["workload"] = {"arrival": {"process": "trace", "path": name,
                                  "loop": data.draw(st.booleans(), label="loop"),
                                  "time_scale": data.draw(st.sampled_from([1.0, 1e-300, 1e300, 0.5]), label="ts")}}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(sc))
    TRIED["trace files"] += 1
    rc, _ = _command(tmp_path, ["validate", str(p)], capsys)
    if rc == 0 and _small_enough(p):
        TRIED["trace files, run"] += 1
        _command(tmp_path, ["run", str(p), "--quiet", "--figures", "none"], capsys)


CATEGORIES = {"fields": _fuzz_fields, "yaml": _fuzz_yaml_text, "overrides": _fuzz_overrides, "traces": _fuzz_traces}


def _property(name: str, examples: int):
    fuzz = CATEGORIES[name]

    @settings(max_examples=examples, deadline=None, derandomize=examples == SHORT, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(data=st.data())
    def check(tmp_path_factory, capsys, data):
        fuzz(tmp_path_factory.mktemp(name), capsys, data)

    return check


@pytest.mark.parametrize("name", list(CATEGORIES))
def test_fuzz_short(name, tmp_path_factory, capsys, monkeypatch):
    monkeypatch.delenv("FLEETSIM_ALLOW_LARGE", raising=False)
    with _Peak():
        _property(name, SHORT)(tmp_path_factory, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CATEGORIES))
def test_fuzz_long(name, tmp_path_factory, capsys, monkeypatch):
    monkeypatch.delenv("FLEETSIM_ALLOW_LARGE", raising=False)
    with _Peak():
        _property(name, LONG)(tmp_path_factory, capsys)
    with capsys.disabled():
        print(f"\nfuzz {name}: " + ", ".join(f"{k}: {v}" for k, v in sorted(TRIED.items())))
