"""A Python caller's grid values made with numpy (``np.arange``, ``np.linspace``, a column of a frame):
``sim.sweep(s, {"workload.arrival.rate": np.linspace(1, 3, 3)})`` stopped in an internal yaml
``RepresenterError`` ('cannot represent an object', np.int64(1)); each value is now its Python number,
the knob the same as from the list of those numbers."""
from __future__ import annotations

import numpy as np

from sim.planning.knobs import parse_knobs


def test_numpy_values_are_the_knob_their_python_numbers_make():
    path = "fleet.pools.0.replicas"
    assert parse_knobs({path: np.arange(1, 4)}) == parse_knobs({path: [1, 2, 3]})
    (rate,) = parse_knobs({"workload.arrival.rate": np.linspace(0.5, 1.5, 3)})
    assert rate.values == ("0.5", "1.0", "1.5")
    (one,) = parse_knobs({"workload.arrival.rate": [np.float64(2.5), np.int32(3)]})
    assert one.values == ("2.5", "3")


def test_a_joint_knob_of_numpy_rows():
    key = ("fleet.pools.0.replicas", "workload.arrival.rate")
    rows = np.array([[1, 2], [2, 4]])
    assert parse_knobs({key: rows}) == parse_knobs({key: [(1, 2), (2, 4)]})


def test_a_sweep_over_a_numpy_grid_runs_each_value():
    import sim

    sc = {"name": "np", "seed": 1, "duration": 5, "model": "llama-3-8b",
          "workload": {"arrival": {"process": "poisson", "rate": 1},
                       "prompt_tokens": {"dist": "fixed", "value": 100},
                       "output_tokens": {"dist": "fixed", "value": 5}},
          "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}
    rows = sim.sweep(sc, {"workload.arrival.rate": np.array([1, 2])}, executor="serial")
    assert [r["workload.arrival.rate"] for r in rows] == [1, 2]
