"""Hostile input, round 26: numbers written as text read as the numbers they spell in every field (as the
README says), absurd intervals and workloads warned of with the range and why, and the checks on paths
and output folders that missed a spelling.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import pytest

import hostile_cases as hc
from sim.scenario.gpu_catalog import get_gpu
from sim.scenario.load import scenario_from_dict
from sim.scenario.model_catalog import get_model

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ a number written as text
def _numbers(node, at=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers(v, at + (i,))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield at, node


def _read(sc: dict, folder: Path):
    """What a scenario validates to: the schema's values, the model and GPUs its mappings name, its warnings."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        s = scenario_from_dict(copy.deepcopy(sc), "s.yaml", folder).scenario
    pools = s.fleet.pools
    return (s.model_dump(exclude={"model": True, "fleet": {"pools": {i: {"gpu", "model"} for i in range(len(pools))}}}),
            get_model(s.model), [(get_gpu(p.gpu), p.model and get_model(p.model)) for p in pools],
            sorted(str(w.message) for w in said))


def _texts(value):
    """``value`` as text: as written, and (a fraction, or a whole number past 2**53's digits) with an exponent,
    which YAML reads as text unquoted; a whole number's exponent is refused by design (README: write 1000)."""
    yield repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, float):
        yield f"{value:e}"


@pytest.mark.parametrize("label", sorted(hc.bases()))
def test_every_number_written_as_text_reads_as_the_number(tmp_path, label):
    """``rate: "5"`` is 5 (README): so is every other number field. The revenue share's ``rate: "0.2"`` (and
    YAML's unquoted ``2e-1``, which it reads as text) was refused as no fraction, and an inline model's
    ``n_layers: "32"`` as no integer, where a pool's ``replicas: "4"`` ran with 4."""
    sc, files = hc.bases()[label]
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)
    want = _read(sc, tmp_path)
    for at, value in _numbers(sc):
        for text in _texts(value):
            data = copy.deepcopy(sc)
            hc._get(data, at[:-1])[at[-1]] = text
            assert _read(data, tmp_path) == want, (hc._dotted(at), text)



# ------------------------------------------------------------------ an autoscaler deciding every millisecond
@pytest.mark.parametrize("seconds", [0.0, 0.5, 3.0, 300.0])
def test_the_stabilization_window_is_the_largest_recommendation_of_its_seconds(seconds):
    """The window kept as the recommendations no later one is at least as large as (one pass instead of a
    scan of every decision in the cooldown, which made 120,000 decisions a millisecond apart take 320 s of
    CPU) gives what the HPA's rule says: the largest recommendation made within ``(t - seconds, t]``."""
    import numpy as np

    from sim.serving.hpa import StabilizationWindow

    rng = np.random.default_rng(7)
    window, made = StabilizationWindow(seconds), []
    t = 0.0
    for _ in range(3000):
        t += float(rng.choice([0.0, 0.001, 0.25, 1.0]))         # ties in time and in value too
        r = int(rng.integers(0, 6))
        made.append((t, r))
        assert window.add(t, r) == max((w for u, w in made if u > t - seconds), default=r)
