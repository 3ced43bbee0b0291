"""Hostile input, round 19: ``--allow-large`` given to one ``sim.cli.main`` call lifting the limits of
every later call in the same process, and the newest features (waiting rooms, patience, stepped
revenue-share brackets, ``--objective cost_with_commits``, ``compare`` of unlike folders) at their edges.

Each is exit 2 from the command line (an :class:`~sim.errors.InputError` or
:class:`~sim.errors.ScenarioError` from Python) with a message naming the file, the field and what is
allowed; never a traceback, an internal error, or a result that silently means something else.
"""
from __future__ import annotations

import os

import pytest
import yaml

import hostile_cases as hc
from sim.limits import ENV, MAX_REPLICAS

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ --allow-large is one command's
def test_allow_large_lifts_the_limits_of_its_own_command_only(tmp_path, capsys, monkeypatch):
    """``main([..., "--allow-large"])`` set ``FLEETSIM_ALLOW_LARGE=1`` for the rest of the process: the
    next ``main`` call without the flag ran past the limits (and a test of the limits after it failed)."""
    monkeypatch.delenv(ENV, raising=False)
    sc = hc._small()
    sc["fleet"]["pools"][0]["replicas"] = MAX_REPLICAS + 1
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--allow-large"]) == 0
    assert ENV not in os.environ
    capsys.readouterr()
    assert _main(["validate", str(path)]) == 2
    assert f"implies {MAX_REPLICAS + 1:,} replicas" in "\n".join(_err(capsys))


def test_allow_large_leaves_a_variable_set_by_the_user_as_it_was(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(ENV, "yes")
    sc = hc._small()
    sc["fleet"]["pools"][0]["replicas"] = MAX_REPLICAS + 1
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--allow-large"]) == 0
    assert os.environ[ENV] == "yes"
    assert _main(["validate", str(path)]) == 0      # the user's own variable still allows it


# ------------------------------------------------------------------ a replica's waiting room of 0 places
def test_a_room_of_no_places_is_a_loss_system_not_a_replica_that_refuses_everything(tmp_path):
    """``fleet.pools[].max_waiting: 0`` refused every request, even at a replica idle for seconds (one
    request every 2 s, a 0.1 s service: 26 of 26 refused); the docs call it a loss system, served only
    if a replica takes the request at once. One replica serving one request at a time is then
    M/M/1/1: by PASTA an arrival is refused when it finds the server busy, ``p = ρ / (1 + ρ)``
    (Erlang's loss formula B(1, ρ)), and a request served never waits."""
    from admission_pool import S, queue, shares_and_waits
    from theory_round18_pool import ci99

    lam = 0.8
    data = queue("loss", c=1, lam=lam, duration=2000.0, warmup=100.0)
    data["fleet"]["pools"][0]["max_waiting"] = 0
    refused, waits = shares_and_waits(tmp_path, data, "queue_full", 6, 100.0)
    rho = lam * S
    m, half = ci99(refused)
    assert abs(m - rho / (1 + rho)) <= half and half < 0.1 * rho / (1 + rho), (m, half, rho / (1 + rho))
    assert waits == [0.0] * 6


@pytest.mark.parametrize("router,replicas", [("round_robin", 1), ("random", 2)])
def test_a_room_of_no_places_refuses_the_same_requests_on_both_engines(tmp_path, router, replicas):
    """Under real batching (8 sequences, an overload) the pre-routed lean loop, the routing at arrival
    and the reference engine take the same arrivals at an idle replica and refuse the rest."""
    from admission_pool import batching_overload, run_rows

    data = batching_overload(f"loss-{router}", c=replicas, duration=60.0, router=router)
    data["fleet"]["pools"][0]["max_waiting"] = 0
    fast = run_rows(tmp_path, data, 5, "fast")
    assert fast == run_rows(tmp_path, data, 5, "reference")
    ts = [(tmp_path / f"{data['name']}-{e}-5" / "timeseries.csv").read_bytes() for e in ("fast", "reference")]
    assert ts[0] == ts[1]
    served = [r for r in fast if r["status"] == "completed"]
    assert served and all(float(r["queue_s"]) == 0.0 for r in served)
    assert sum(r["reason"] == "queue_full" for r in fast) > 0.5 * len(fast)


# ------------------------------------------------------------------ the Python API's arguments
def _no_run(*args, **kwargs):
    raise AssertionError("nothing should run")


@pytest.mark.parametrize("call,kwargs,said", [
    # one text, iterated: sweep(grid="seed=1,2") was the knobs 's', 'e', ... ("expected PATH=VALUES (got 's')")
    ("sweep", {"grid": "workload.arrival.rate=1,2"}, "grid: give a list of texts such as"),
    ("sweep", {"grid": None}, "grid: give a list of texts such as"),           # 'NoneType' object is not iterable
    ("sweep", {"grid": [5]}, "grid: give a list of texts such as"),            # argument of type 'int' is not iterable
    ("plan", {"vary": "fleet.pools.0.replicas=1..2"}, "vary: give a list of texts such as"),
    ("plan", {"vary": None}, "vary: give a list of texts such as"),
    # AttributeError: 'NoneType' object has no attribute 'strip' (an internal error)
    ("plan", {"objective": None}, "objective: give a text: cost (= cost.compute_usd, the default) or cost_with_commits"),
    ("plan", {"objective": ["cost"]}, "objective: give a text: cost"),
    ("plan", {"constraints": [5]}, "constraints: each item is a text such as"),   # expected string or bytes-like object
    ("plan", {"seeds": 1.5}, "seeds: give a whole number of replications such as 3 (got 1.5, of type float)"),
    ("plan", {"seeds": "2"}, "seeds: give a whole number"),      # '<' not supported between 'str' and 'int'
    ("sweep", {"seeds": None}, "seeds: give a whole number"),    # int() argument must be a string, ...
    ("sweep", {"seeds": True}, "seeds: give a whole number"),    # ran one seed, as if True were 1
    ("saturation", {"seeds": 2.5}, "seeds: give a whole number"),
])
def test_a_python_planning_argument_of_the_wrong_kind_is_named(monkeypatch, call, kwargs, said):
    import sim
    from sim.planning import runner

    monkeypatch.setattr(runner.SimulationRunner, "__call__", _no_run, raising=False)
    args = {"sweep": {"grid": ["workload.arrival.rate=1,2"]},
            "plan": {"vary": {"fleet.pools.0.replicas": [1, 2]}, "constraints": ["latency.ttft.p99<=2"]},
            "saturation": {}}[call]
    args.update(kwargs)
    with pytest.raises(TypeError) as exc:
        getattr(sim, call)(hc._small(), progress=False, **args)
    assert str(exc.value).startswith(said), str(exc.value)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    import sim

    d = tmp_path_factory.mktemp("runs")
    for rate in (1, 2):
        sim.run(hc._small(), overrides=[f"workload.arrival.rate={rate}"]).write(d / f"r{rate}", figures="none")
    return d / "r1", d / "r2"


def test_compare_from_python_takes_the_folders_as_one_list(two_runs):
    """``sim.compare(["a", "b"])`` (the folders as one list, as every other call of the API takes them)
    was a TypeError: expected str, bytes or os.PathLike object, not list."""
    import sim

    a, b = two_runs
    assert sim.compare([a, b]).as_json() == sim.compare(str(a), b).as_json()
    assert sim.compare((a, b)).as_json()["folders"] == sim.compare(a, b).as_json()["folders"]


@pytest.mark.parametrize("args,said", [
    ((), "compare: give the result folders to compare"),        # an empty comparison, before
    ((5, 6), "compare: each folder is a path, a text or a pathlib.Path"),
])
def test_compare_from_python_names_what_it_takes(args, said):
    import sim

    with pytest.raises(TypeError) as exc:
        sim.compare(*args)
    assert str(exc.value).startswith(said)


# ------------------------------------------------------------------ a patience below the clock's resolution
@pytest.mark.parametrize("kind", ["fixed", "exponential"])
def test_a_patience_too_short_for_the_clock_still_lets_an_idle_replica_take_the_request(tmp_path, kind):
    """``workload.patience_s: 1e-300`` (or 1e-15, an ulp of an arrival time 40 s in being 7e-15) made
    ``arrival + patience == arrival``: a deadline at the arrival instant, so even a request finding its
    replica idle gave up before the boundary that would admit it (26 of 26 abandoned at one request every
    2 s, against 1 of 26 at 1e-9, the one that arrived mid-iteration). A positive patience outlasts the
    arrival: the same requests are served as with any patience too short to wait through an iteration."""
    from admission_pool import run_rows

    rows = {}
    for p in (1e-9, 1e-15, 1e-300):
        sc = hc._small()
        sc.update(name=f"short-{kind}-{p}", duration=120)
        sc["workload"].update(patience_s=p, patience=kind)
        sc["workload"]["arrival"]["rate"] = 0.5
        for engine in ("fast", "reference"):
            rows[p, engine] = [{k: v for k, v in r.items() if k != "rid"}
                               for r in run_rows(tmp_path, sc, 1, engine)]
    first = rows[1e-9, "fast"]
    assert all(r == first for r in rows.values())
    served = sum(r["status"] == "completed" for r in first)
    assert served > 0.8 * len(first), (served, len(first))       # the replica is idle ~95 % of the time


def test_a_sweep_of_one_point_says_point(tmp_path, capsys):
    """``--grid workload.arrival.rate=1`` ended in "1 points (0 reused ...)"."""
    path = _scenario(tmp_path)
    assert _main(["sweep", str(path), "--grid", "workload.arrival.rate=1", "--out", str(tmp_path / "sw")]) == 0
    assert f"1 point (0 reused from {tmp_path / 'sw'}), 0 failed" in capsys.readouterr().err


@pytest.mark.parametrize("call", ["sweep", "plan", "saturation"])
@pytest.mark.parametrize("seeds,said", [(0, "seeds: must be >= 1 (got 0)"), (-2.0, "seeds: must be >= 1 (got -2)")])
def test_a_python_number_of_seeds_below_one_is_refused_in_the_words_workers_get(monkeypatch, call, seeds, said):
    """``seeds`` and ``workers`` are checked by one helper: below 1 each reads ``NAME: must be >= 1 (got N)``."""
    import sim
    from sim.planning import runner

    monkeypatch.setattr(runner.SimulationRunner, "__call__", _no_run, raising=False)
    args = {"sweep": {"grid": ["workload.arrival.rate=1,2"]},
            "plan": {"vary": {"fleet.pools.0.replicas": [1, 2]}, "constraints": ["latency.ttft.p99<=2"]},
            "saturation": {}}[call]
    with pytest.raises(ValueError) as exc:
        getattr(sim, call)(hc._small(), progress=False, seeds=seeds, **args)
    assert str(exc.value) == said


@pytest.mark.parametrize("engine", ["vllm", "legacy", "sglang", "trtllm"])
def test_room_for_less_than_one_block_says_terms_that_add_up_to_the_room_left(engine):
    """The terms the message names give the room it says is left, by each engine's rule (hand arithmetic on
    the message's own numbers, each rounded to 0.1 GiB, so within 0.15 GiB). SGLang's runtime is already outside its share
    (said as ``0.9 x (80 GiB - 0.25 GiB runtime)``), so it is not taken again; TensorRT-LLM's cache is a share
    of what weights and reserve leave, not of ``0.9 x 80 GiB`` (which gave 72.0 - 15.0 - 0.9 = 56.1, said 57.7)."""
    import re

    from sim.perf.memory import memory_plan
    from sim.scenario.catalog import get_gpu, get_model

    reason = memory_plan(get_model("llama-3-8b"), get_gpu("h100-sxm"), 1, block_size=500_000, engine=engine).reason
    left = float(re.search(r"the ([\d.]+) GiB per GPU left for the KV cache", reason).group(1))
    weights = float(re.search(r"after weights ([\d.]+) GiB", reason).group(1))
    reserve = re.search(r"\+ reserve ([\d.]+) GiB", reason)
    if engine == "sglang":
        assert reserve is None, reason
        share = float(re.search(r"= ([\d.]+) GiB for weights and KV", reason).group(1))
        assert abs(share - weights - left) <= 0.15, reason
    elif engine == "trtllm":
        free = float(re.search(r"0\.9 of the ([\d.]+) GiB they leave of 80 GiB", reason).group(1))
        assert abs(80 - weights - float(reserve.group(1)) - free) <= 0.15, reason
        assert abs(0.9 * free - left) <= 0.15, reason
    else:
        # vLLM V1 shares out the 79.19 GiB an H100 reports, the legacy rule the datasheet's 80
        total = {"vllm": r"79\.19", "legacy": "80"}[engine]
        usable = float(re.search(rf"0\.9 x {total} GiB = ([\d.]+) GiB", reason).group(1))
        assert abs(usable - weights - float(reserve.group(1)) - left) <= 0.15, reason


def test_an_input_file_past_the_size_limit_is_not_called_a_scenario_file(tmp_path):
    """A step-time table (or calibration, profile, config.json) past the loader's limit read "a scenario file
    may have at most 16,777,216": the file named is no scenario. (A sparse file: its size is refused before a
    byte is read.)"""
    from sim.errors import InputError
    from sim.perf.table import read_table
    from sim.scenario.safe_text import MAX_BYTES

    path = tmp_path / "steps.csv"
    with open(path, "wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    with pytest.raises(InputError) as exc:
        read_table(path)
    assert str(exc.value) == f"{path}: is {MAX_BYTES + 1:,} bytes; an input file may have at most {MAX_BYTES:,}"
