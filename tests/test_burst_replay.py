"""Capacity curves measured under the workload's own arrivals where they are burstier than Poisson
(sim/fluid/replay.py): which workloads get which arrivals, what a replay holds, and the fluid tier's TTFT
and TPOT tails on the bundled Azure code sample against the request level (docs/scaling.md, "Trace
arrivals burstier than Poisson")."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

from sim.fluid.capacity import group_size, pool_template
from sim.fluid.replay import curve_arrivals
from sim.fluid.run import _steps
from sim.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parent.parent
CONV = ROOT / "scenarios" / "azure_conv_replay.yaml"


def _loaded(path: Path, *sets: str):
    from sim.api import _as_loaded

    return _as_loaded(str(path), list(sets))


def _arrivals(loaded):
    sc = loaded.scenario
    steps = _steps(sc, 3600.0, Path(loaded.base_dir))
    groups = [group_size(sc, i) for i in range(len(sc.fleet.pools))]
    return curve_arrivals(sc, steps.edges, steps.dt_s, Path(loaded.base_dir), groups)[0]


def test_poisson_and_a_trace_within_poisson_noise_keep_their_curves():
    """The baseline (Poisson) and the conversation sample as recorded (index 1.09, within its noise band):
    no arrivals of their own, so the template, and with it the curve's cache key, is as it was."""
    for loaded in (_loaded(ROOT / "scenarios" / "baseline.yaml"), _loaded(CONV)):
        assert _arrivals(loaded) == [None] * len(loaded.scenario.fleet.pools)
        assert "arrival" not in pool_template(loaded.scenario, 0, Path(loaded.base_dir))["workload"]


def test_a_clumped_trace_is_replayed_as_the_run_replays_it(tmp_path, monkeypatch):
    """The conversation sample at 10x on 3 replicas (least outstanding: one group of all 3): its curve
    replays the run's own requests, every one of them with its row's lengths, at the run's mean rate,
    unthinned; on 8 replicas the group of 4 sees half of them (``rate_scale`` 0.5)."""
    from sim.workload import generate

    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path))
    loaded = _loaded(CONV, "workload.arrival.rate_scale=10", "fleet.pools.0.replicas=3")
    (a,) = _arrivals(loaded)
    sc = loaded.scenario
    chunks = list(generate(sc.workload, float(sc.duration), sc.seed, base_dir=Path(loaded.base_dir)))
    prompt = np.concatenate([c.prompt_tokens for c in chunks])
    assert a["process"] == "trace" and a["loop"] is True and a["rate_scale"] == 1.0
    assert a["replay_s"] == pytest.approx(425.0) and a["replay_rps"] == pytest.approx(prompt.size / 425.0)
    with open(a["path"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == prompt.size and [int(r["prompt_tokens"]) for r in rows] == prompt.tolist()
    (eight,) = _arrivals(_loaded(CONV, "workload.arrival.rate_scale=10", "fleet.pools.0.replicas=8"))
    assert eight["rate_scale"] == 0.5 and eight["replay_rps"] == pytest.approx(a["replay_rps"] / 2)


def test_batch_poisson_arrivals_are_measured_as_such_thinned_to_a_replica():
    """A ``compound_poisson`` workload (index 2m - 1 = 7) on 4 replicas behind random routing: each curve
    measures one replica, which sees a quarter of the requests, each routed on its own: geometric clumps of
    mean 1 + (4 - 1) / 4 = 1.75, rounded to two significant digits (part of the curve's cache key): 1.8."""
    data = {"name": "c", "duration": 600, "model": "llama-3-8b", "fidelity": "fluid",
            "workload": {"arrival": {"process": "compound_poisson", "rate": 5, "clump_mean": 4},
                         "prompt_tokens": {"dist": "fixed", "value": 10}, "output_tokens": {"dist": "fixed", "value": 10}},
            "fleet": {"router": "random", "pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 4}]}}
    loaded = load_scenario(data)
    assert _arrivals(loaded) == [{"process": "compound_poisson", "clump_mean": 1.8}]


def test_the_code_sample_reads_its_tails_near_the_request_level():
    """The Azure code sample as recorded on one H100 (index 8.2 at 1 s): on Poisson's curves the fluid tier
    read a TTFT p99 of 0.225 s and TPOT p99 26 ms against 1.78 s and 191 ms replayed request by request; on
    curves measured under the trace's own arrivals it is within 25 % of both (measured 1.70 s, 192 ms), and
    says nothing."""
    import sim
    from sim.errors import ScenarioWarning

    sets = ["workload.arrival.path=traces/azure_code_2023_first2000.csv", "fleet.pools.0.gpu=h100-sxm"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        fluid = sim.run(str(CONV), overrides=sets + ["fidelity=fluid"]).summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        request = sim.run(str(CONV), overrides=sets + ["fidelity=request"]).summary
    for metric in ("ttft", "tpot"):
        assert fluid["latency"][metric]["p99"] == pytest.approx(request["latency"][metric]["p99"], rel=0.25)
    assert fluid["fidelity"]["arrival_dispersion"]["modelled"] == "trace"


def test_a_clumped_trace_with_classes_is_measured_under_batch_poisson_and_says_so():
    """The conversation sample at 10x with two classes sharing it: a replay cannot keep each row's class, so
    the curves are measured under batch Poisson clumps of its index (9.87: geometric clumps of mean 5.4 on the
    group of all 3 replicas), and the run says what that model leaves out."""
    import sim
    from sim.errors import ScenarioWarning

    sets = ["workload.arrival.rate_scale=10", "fleet.pools.0.replicas=3",
            'workload.classes=[{name: a, share: 0.5}, {name: b, share: 0.5}]']
    assert _arrivals(_loaded(CONV, *sets)) == [{"process": "compound_poisson", "clump_mean": 5.4}]
    with pytest.warns(ScenarioWarning, match="measured under batch Poisson arrivals of that index"):
        summary = sim.run(str(CONV), overrides=sets + ["fidelity=fluid"]).summary
    assert summary["fidelity"]["arrival_dispersion"]["modelled"] == "compound_poisson"


@pytest.mark.slow
def test_the_code_sample_at_10x_counts_its_sub_step_swings_once():
    """The code sample at 10x on 4 H100s (index 80 at 1 s, load factor 0.28, stable at request level): its
    bursts outrun Poisson's saturation within 35 s sub-steps, and the replay the curve is measured under holds
    them (detrended per step only). Read again as a backlog of the sub-steps, they counted twice: a fluid TTFT
    p99 of 58.6 s against 20.9 s at request level (the mean of 3 seeds). The fluid tier reads the steps the
    replay holds evenly over their sub-steps (:func:`sim.fluid.replay.held_spread`): within 25 % (measured
    23.2 s against 20.6 s on this seed; TPOT p99 196 against 194 ms)."""
    import sim

    sets = ["workload.arrival.path=traces/azure_code_2023_first2000.csv", "workload.arrival.rate_scale=10",
            "fleet.pools.0.gpu=h100-sxm", "fleet.pools.0.replicas=4"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluid = sim.run(str(CONV), overrides=sets + ["fidelity=fluid"]).summary
        request = sim.run(str(CONV), overrides=sets + ["fidelity=request"]).summary
    assert request["stability"]["verdict"] == "stable"
    for metric in ("ttft", "tpot"):
        assert fluid["latency"][metric]["p99"] == pytest.approx(request["latency"][metric]["p99"], rel=0.25)
