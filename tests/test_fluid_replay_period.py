"""The loop period of a replayed trace (``workload.arrival.loop_period``) and of the fluid tier's replay.

The fluid tier measures a clumped trace's capacity curves under the trace's own requests (:mod:`sim.fluid.replay`):
each step's requests stretched so that every step runs at the run's mean rate, written as a trace, looped. It
looped at the trace replay's default period, its last row plus the mean gap: for rows clustered at a step's
start (the surge trace at ``time_scale: 1e-6``, 1,800 s of requests inside 2 ms) a loop of 5.4 ms where the
replay stands for 1,800 s, its grid runs 330,000 times too fast, and the run was refused by a work limit
naming ``<capacity curve>`` and advising ``fidelity: fluid``. It now loops over its steps' window
(``loop_period``), so that a pass of the replay holds, step for step, the requests the run's steps hold.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim
from sim.errors import ScenarioError
from sim.scenario.load import scenario_from_dict
from test_fluid_replay_surge import _scenario as surge_scenario
from test_fluid_replay_surge import _trace as surge_trace


def _rows(path, times) -> None:
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{t},100,10\n" for t in times))


def _arrivals(tmp_path, arrival: dict, duration: float) -> np.ndarray:
    """The request level's arrival times of ``arrival`` over ``duration`` (its generator, as a run draws them)."""
    from sim.workload import generate

    sc = scenario_from_dict({**surge_scenario(tmp_path / "unused.csv"), "duration": duration,
                             "workload": {"arrival": arrival}}, "<test>", tmp_path).scenario
    return np.concatenate([ch.arrival_s for ch in generate(sc.workload, duration, 1, base_dir=tmp_path)])


def test_a_loop_period_repeats_the_rows_at_its_own_scaled_period(tmp_path):
    """Rows at 1, 2 and 4 s, ``loop_period`` 10 s, ``time_scale`` 2: passes 20 s apart (not the default's 2 x
    (4 + 1.5) = 11 s), by hand 2, 4, 8, 22, 24, 28, 42, 44 inside 45 s; the count without drawing agrees."""
    from sim.scenario.workload import TraceArrival
    from sim.workload.trace_replay import trace_requests_expected

    _rows(tmp_path / "t.csv", [1, 2, 4])
    arrival = {"process": "trace", "path": "t.csv", "loop": True, "loop_period": 10, "time_scale": 2}
    assert _arrivals(tmp_path, arrival, 45.0).tolist() == [2.0, 4.0, 8.0, 22.0, 24.0, 28.0, 42.0, 44.0]
    assert trace_requests_expected(np.array([1.0, 2.0, 4.0]), TraceArrival(**arrival), 45.0) == 8.0
    default = {k: v for k, v in arrival.items() if k != "loop_period"}
    assert _arrivals(tmp_path, default, 25.0).tolist() == [2.0, 4.0, 8.0, 13.0, 15.0, 19.0, 24.0]


def test_rows_of_one_time_loop_at_a_loop_period(tmp_path):
    """Three rows at 5 s cannot loop at the default period (no gap between rows); at ``loop_period: 60`` they
    arrive at 5, 65, 125 s, three each."""
    _rows(tmp_path / "t.csv", [5, 5, 5])
    got = _arrivals(tmp_path, {"process": "trace", "path": "t.csv", "loop": True, "loop_period": 60}, 150.0)
    assert got.tolist() == [5.0] * 3 + [65.0] * 3 + [125.0] * 3


def test_a_loop_period_shorter_than_the_trace_names_the_field(tmp_path):
    _rows(tmp_path / "t.csv", [0, 10, 30])
    sc = {**surge_scenario(tmp_path / "t.csv"), "duration": 100}
    sc["workload"]["arrival"].update(loop=True, loop_period=20, time_scale=0.5)
    with pytest.raises(ScenarioError) as exc:
        sim.run(sc)
    assert exc.value.problems == [("workload.arrival.loop_period", (
        f"{tmp_path / 't.csv'}: loop_period 20 s (10 s with time_scale 0.5) is shorter than the trace, whose rows "
        "span 30 s: a pass would begin before the last one ended; give loop_period at least 30"))]


def test_a_loop_period_without_loop_is_refused(tmp_path):
    _rows(tmp_path / "t.csv", [0, 10, 30])
    sc = surge_scenario(tmp_path / "t.csv")
    sc["workload"]["arrival"]["loop_period"] = 60
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(sc, "s.yaml", tmp_path)
    assert exc.value.problems == [("workload.arrival.loop_period", "60 s repeats a looped trace: only with loop: "
                                   "true (without it arrivals stop at the trace's end)")]


@pytest.mark.parametrize("time_scale", [1e-6, 0.1, 1.0])
def test_a_pass_of_the_fluid_replay_holds_each_step_s_requests(tmp_path, time_scale):
    """The surge trace (clumps of 3, index about 3), its times scaled: the replay's arrival looped by the request
    level at its grid rate of the run's mean (``time_scale`` 1 on the replay) holds, in every pass of
    ``replay_s`` and in each step's stretch of it, exactly the requests the run's step holds, and those equal
    the request level's own arrivals of the scenario counted per step. At 1e-6 every request arrives in the
    first 2 ms: the first step holds them all, the others none."""
    from sim.fluid.replay import counted_arrivals, measuring_arrival

    path = tmp_path / "surge.csv"
    n = surge_trace(path, 3)
    sc = surge_scenario(path)
    sc["workload"]["arrival"]["time_scale"] = time_scale
    loaded = scenario_from_dict(sc, "<test>", tmp_path)
    edges = np.array([0.0, 600.0, 1200.0, 1800.0])          # the scenario's three 600 s steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arrivals, fine, m = counted_arrivals(loaded.scenario, edges, np.diff(edges), tmp_path, [1])
    steps = fine.sum(axis=(1, 2))
    own = _arrivals(tmp_path, sc["workload"]["arrival"], 1800.0)
    assert steps.tolist() == np.histogram(own, bins=edges)[0].tolist()
    assert steps.sum() == n
    if time_scale == 1e-6:
        assert steps.tolist() == [n, 0, 0]
    replay = arrivals[0]
    assert replay is not None and replay["process"] == "trace" and m["index"] > m["threshold"]
    assert replay["loop_period"] == replay["replay_s"] == 1800.0
    looped = measuring_arrival(replay, replay["replay_rps"])
    assert looped["time_scale"] == 1.0
    got = _arrivals(tmp_path, looped, 3 * 1800.0)
    # each step's stretch of a pass: its requests over the run's mean rate, n / 1,800 per second
    length = steps / (n / 1800.0)
    bounds = np.concatenate(([0.0], np.cumsum(length)))
    for k in range(3):
        assert np.histogram(got, bins=k * 1800.0 + bounds)[0].tolist() == steps.tolist()
        assert int(((got >= k * 1800.0) & (got < (k + 1) * 1800.0)).sum()) == n


def test_a_loop_period_of_exactly_the_rows_span_loops(tmp_path):
    """The refusal advises ``loop_period`` at least the rows' span; that span itself (as written in the
    message, to 12 figures) must loop, at any ``time_scale``: rows at 636.962 and 906.749 s span 269.787 s,
    but 269.787 x 0.7 is a float below 906.749 x 0.7 - 636.962 x 0.7 (and 906.749 - 636.962 is a float
    above 269.787). By hand at ``time_scale`` 0.7: passes 188.8509 s apart, the first at 445.8734 s."""
    _rows(tmp_path / "t.csv", [636.962, 906.749])
    for scale in (1.0, 0.7):
        arrival = {"process": "trace", "path": "t.csv", "loop": True, "loop_period": 269.787, "time_scale": scale}
        got = _arrivals(tmp_path, arrival, 1000.0)
        first, period = 636.962 * scale, 269.787 * scale
        want = [t for k in range(4) for t in (first + k * period, first + (k + 1) * period) if t < 1000.0]
        assert got == pytest.approx(want, abs=1e-9)
        assert np.all(np.diff(got) >= 0)


def test_the_count_without_drawing_holds_a_period_shorter_than_the_last_row(tmp_path):
    """Rows at 100, 110 and 130 s looped every 30 s (their span): passes at 100 + 30 k, so inside 150 s by
    hand 100, 110, 130 and 130, 140 (the second pass's 160 s is outside): 5 requests, as drawn (7 inside 160.5 s,
    where the third pass's first row is at 160 s). The count
    without drawing took every pass from t = 0 as whole (floor(150 / 30) = 5 of them: 15)."""
    from sim.scenario.workload import TraceArrival
    from sim.workload.trace_replay import trace_requests_expected

    _rows(tmp_path / "t.csv", [100, 110, 130])
    arrival = {"process": "trace", "path": "t.csv", "loop": True, "loop_period": 30}
    got = _arrivals(tmp_path, arrival, 150.0)
    assert got.tolist() == [100.0, 110.0, 130.0, 130.0, 140.0]
    for horizon, want in ((150.0, 5.0), (160.0, 5.0), (160.5, 7.0), (100.0, 0.0), (1000.0, 3 * 29 + 2)):
        assert trace_requests_expected(np.array([100.0, 110.0, 130.0]), TraceArrival(**arrival), horizon) == want
        assert want == (_arrivals(tmp_path, arrival, horizon).size if horizon > 100.0 else 0)
