"""What a capacity curve measured under a trace's own arrivals is keyed by (sim/fluid/replay.py,
sim/fluid/template.py): everything that changes the replay changes the curve's key, one thing at a time;
what does not change it (the folder the replay is written to, the scenario's seed where nothing is drawn)
keeps it, so the same seed gives the same summary bytes wherever the cache is; a trace named by the same
path but holding other rows measures another curve; and a cache that cannot be written does not stop
a run whose curves replay a trace."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.fluid.capacity import CalibrationSettings, curve_key, group_size, pool_template
from sim.fluid.replay import curve_arrivals
from sim.fluid.run import _options, _steps

ROOT = Path(__file__).resolve().parent.parent
CONV = ROOT / "scenarios" / "azure_conv_replay.yaml"
CONV_TRACE = ROOT / "scenarios" / "traces" / "azure_conv_2023_first2000.csv"
CLUMPED = ["workload.arrival.rate_scale=10", "fleet.pools.0.replicas=3"]   # index 9.9: replayed


def _loaded(path: Path, *sets: str):
    from sim.api import _as_loaded

    return _as_loaded(str(path), list(sets))


def _key(loaded) -> tuple[str, dict | None]:
    """The first pool's curve key and the arrivals its grid runs are measured under (``None``: Poisson's), as
    a fluid run of the scenario finds them (:func:`sim.fluid.run.measured_curves`)."""
    sc, base = loaded.scenario, Path(loaded.base_dir)
    steps = _steps(sc, _options(sc, None, None)[0], base)
    arrivals, _ = curve_arrivals(sc, steps.edges, steps.dt_s, base, [group_size(sc, 0)])
    return curve_key(pool_template(sc, 0, base, arrivals[0]), CalibrationSettings(), base), arrivals[0]


def test_a_replay_keeps_its_key_in_another_cache_folder(tmp_path, monkeypatch):
    """The replay is written to the cache folder and its grid runs read it from there; the key read its
    path, so the summary's ``pools.<name>.capacity_curve`` of the same scenario and seed differed with
    ``$FLEETSIM_CACHE`` (and a curve cached in one folder was measured again after a move)."""
    keys = []
    for folder in ("one", "two"):
        monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / folder))
        key, arrival = _key(_loaded(CONV, *CLUMPED))
        assert arrival["process"] == "trace" and Path(arrival["path"]).parent == tmp_path / folder
        keys.append(key)
    assert keys[0] == keys[1]


def test_each_thing_a_replay_holds_changes_its_key(tmp_path, monkeypatch):
    """Changed one at a time from the conversation sample at 10x on 3 replicas: the seed (which copies of a
    row arrive where in its gap), ``rate_scale``, the replicas (8: a group of 4 sees half the requests,
    ``rate_scale`` 0.5), the cap on the requests replayed, the step (the detrending's cuts) and one prompt's
    length in the trace file each give another key; the code sample at 1x (each row once, nothing drawn)
    keeps its key under another seed, and its curve is the same: the template carries no seed, its grid
    runs draw with the curve's settings' seeds."""
    import sim.fluid.replay as replay

    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    base, _ = _key(_loaded(CONV, *CLUMPED))
    changed = {
        "seed": _key(_loaded(CONV, *CLUMPED, "seed=2"))[0],
        "rate_scale": _key(_loaded(CONV, "workload.arrival.rate_scale=9", "fleet.pools.0.replicas=3"))[0],
        "replicas": _key(_loaded(CONV, "workload.arrival.rate_scale=10", "fleet.pools.0.replicas=8"))[0],
        "step": _key(_loaded(CONV, *CLUMPED, "fluid.step=200s"))[0],
    }
    with monkeypatch.context() as m:
        m.setattr(replay, "REPLAY_MAX", 10_000)
        changed["cap"] = _key(_loaded(CONV, *CLUMPED))[0]
    folder = tmp_path / "edited"
    (folder / "traces").mkdir(parents=True)
    shutil.copy(CONV, folder / CONV.name)
    lines = CONV_TRACE.read_text().splitlines()
    head, first = lines[1].rsplit(",", 2)[0], lines[1].rsplit(",", 2)[1:]
    lines[1] = f"{head},{int(first[0]) + 1},{first[1]}"          # one prompt a token longer
    (folder / "traces" / CONV_TRACE.name).write_text("\n".join(lines) + "\n")
    changed["trace"] = _key(_loaded(folder / CONV.name, *CLUMPED))[0]
    assert all(k != base for k in changed.values()), changed
    assert len(set(changed.values())) == len(changed)
    code = "workload.arrival.path=traces/azure_code_2023_first2000.csv"
    one, a1 = _key(_loaded(CONV, code))
    two, a2 = _key(_loaded(CONV, code, "seed=7"))
    assert a1["process"] == "trace" and one == two and a1 == a2


def test_a_trace_of_other_rows_at_the_same_path_measures_another_curve(tmp_path):
    """Two scenario folders, each with ``traces/t.csv`` (the conversation sample, within Poisson's noise:
    its curve is measured under Poisson arrivals with the trace's lengths), the second's prompts twice as
    long: the key read the path as written, so the second run read the first's curve, measured on prompts
    half as long. The same rows at another path keep the key."""
    keys = []
    for name, factor in (("a", 1), ("b", 2), ("c", 1)):
        folder = tmp_path / name
        (folder / "traces").mkdir(parents=True)
        shutil.copy(CONV, folder / CONV.name)
        rows = CONV_TRACE.read_text().splitlines()
        out = [rows[0]] + [",".join([*r.split(",")[:-2], str(factor * int(r.split(",")[-2])), r.split(",")[-1]])
                           for r in rows[1:]]
        (folder / "traces" / CONV_TRACE.name).write_text("\n".join(out) + "\n")
        key, arrival = _key(_loaded(folder / CONV.name))
        assert arrival is None
        keys.append(key)
    assert keys[0] != keys[1] and keys[0] == keys[2]


def _pairs_scenario(folder: Path) -> dict:
    """A trace of pairs of requests at one instant (index 2), 2 pairs/s for 10 minutes, one replica."""
    from conftest import write_trace

    t = np.cumsum(np.random.default_rng(4).exponential(0.5, size=1400))
    t = np.repeat(t[t < 600.0], 2)
    path = write_trace(folder / "t.csv", [(round(float(x), 6), 10, 10) for x in t])
    return {"name": "pairs", "seed": 1, "duration": 600, "warmup": 0, "fidelity": "fluid",
            "metrics": {"records": "none"}, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"}},
            "fleet": {"router": "random", "pools": [{"name": "b", "gpu": "h100-sxm", "replicas": 1,
                                                     "batching": {"max_num_seqs": 8, "max_batched_tokens": 4096}}]},
            "perf": {"model": "linear", "base_s": 0.02, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.002,
                     "per_context_token_s": 0.0},
            "fluid": {"grid": [0.3, 0.6, 0.9], "calibration_duration": 60, "calibration_requests": 200},
            "slo": {"ttft_s": 5.0, "tpot_s": 0.3}}


def test_a_replayed_trace_gives_the_same_summary_bytes_wherever_the_cache_is(tmp_path, monkeypatch):
    """The same scenario and seed run with two cache folders: the summaries are the same to the byte but for
    ``wall_seconds``, the curve measured under the trace's own arrivals in both."""
    import sim

    data = _pairs_scenario(tmp_path)
    out = []
    for folder in ("one", "two"):
        monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / folder))
        summary = sim.run(data).summary
        assert summary["fidelity"]["arrival_dispersion"]["modelled"] == "trace"
        out.append(json.dumps({k: v for k, v in summary.items() if k != "wall_seconds"}, sort_keys=True))
    assert out[0] == out[1]


def test_a_replayed_trace_runs_with_a_cache_folder_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    """``$FLEETSIM_CACHE`` under a file: a fluid run whose curve replays the trace stopped with ``cannot read
    or write a file`` (exit 2) where the replay was written, though a cache that cannot be written costs a
    Poisson curve only its next measurement; the replay now goes to a folder of the process's own, and the
    summary is the one a writable cache gives."""
    import yaml

    from sim.cli import main

    (tmp_path / "afile").write_text("")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_pairs_scenario(tmp_path)))
    runs = {}
    for name, cache in (("unwritable", tmp_path / "afile" / "cache"), ("writable", tmp_path / "cache")):
        monkeypatch.setenv("FLEETSIM_CACHE", str(cache))
        assert main(["run", str(path), "--json", "--quiet", "--out", str(tmp_path / name)]) == 0
        assert "cannot" not in capsys.readouterr().err
        runs[name] = json.loads((tmp_path / name / "summary.json").read_text())
        runs[name].pop("wall_seconds")
    assert runs["unwritable"]["fidelity"]["arrival_dispersion"]["modelled"] == "trace"
    assert runs["unwritable"] == runs["writable"] and (tmp_path / "afile").read_text() == ""


def test_a_fluid_run_counts_the_trace_once_and_reads_the_same(tmp_path, monkeypatch):
    """Choosing the curves' arrivals counts the trace (its arrivals per sub-step and its dispersion); the
    run then counted both again for its warning and summary, and the capacity band's two runs again each
    (on a week of the looped conversation sample a count is about a third of a run on cached curves,
    BENCHMARKS.md). Now each is counted once per command, and the summary is the one counting afresh gives."""
    import sim
    import sim.fluid.burst as burst
    import sim.fluid.replay as replay
    import sim.fluid.run as run
    from sim.scenario.load import load_scenario

    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    data = _pairs_scenario(tmp_path)
    calls = {"measure": 0, "sub_arrivals": 0}

    def counting(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapped

    for module, name in ((burst, "measure"), (replay, "measure"), (replay, "sub_arrivals"), (run, "sub_arrivals")):
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    summary = sim.run(data, capacity_band=5).summary
    assert calls == {"measure": 1, "sub_arrivals": 1}
    assert summary["fidelity"]["arrival_dispersion"]["modelled"] == "trace" and "capacity_band" in summary
    loaded = load_scenario(data)
    curves = run.measured_curves(loaded)
    afresh = run.run_fluid(loaded, curves=curves).summary           # counted again
    again = sim.run(data).summary
    drop = ("wall_seconds", "capacity_band")
    assert json.dumps({k: v for k, v in afresh.items() if k not in drop}, sort_keys=True) == \
        json.dumps({k: v for k, v in again.items() if k not in drop}, sort_keys=True)
