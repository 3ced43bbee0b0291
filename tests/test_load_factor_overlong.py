"""Requests that ask for more output than the context holds: the load factor sees them as served.

A replica stops generating at its context limit (``max_model_len``: ``context - prompt`` output
tokens; :func:`sim.serving.request.served_output`), so a request asking for 2,000,000,000 output
tokens and one asking for exactly what fits are the same request to the engine. Checked against
that: a trace whose outputs run past the context and the same trace with them already cut give the
same run, the same scheduler factor and the same load factor, to the bit. Before the measurement
cut the lengths, a 2e9-token request in a 4-row trace spaced the measurement's arrivals by its uncut
length: factor 9.9e9, load factor 2,040,486 on a replica 98 % busy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.api import build_pools
from sim.scenario.load import load_scenario
from sim.serving import saturated

CONTEXT = 8192
ROWS = [(0.5, 100, 20), (1.0, 100, 20), (1.5, 100, 2_000_000_000), (2.0, 3000, 20), (2.5, 3000, 6000),
        (3.0, 8000, 500)]


def _capped(rows):
    """The rows with each output cut by hand to ``CONTEXT - prompt`` where the sequence overflows."""
    return [(t, p, min(o, CONTEXT - p)) for t, p, o in rows]


def _scenario(tmp_path: Path, rows, name: str) -> dict:
    trace = tmp_path / f"{name}.csv"
    trace.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{t},{p},{o}\n" for t, p, o in rows))
    return {"name": name, "duration": 60, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "trace", "path": str(trace)}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1, "max_model_len": CONTEXT}]}}


def test_the_hand_cut_rows_differ_from_the_asked_ones():
    """The check below compares two different traces: three of the six rows overflow the context."""
    assert sum(a != b for a, b in zip(ROWS, _capped(ROWS))) == 3
    assert _capped(ROWS)[2] == (1.5, 100, 8092)


def test_outputs_past_the_context_get_the_load_factor_of_the_same_outputs_cut(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    saturated._CACHE.clear()
    over = sim.run(_scenario(tmp_path, ROWS, "over"), overrides=("metrics.records=all",))
    cut = sim.run(_scenario(tmp_path, _capped(ROWS), "cut"), overrides=("metrics.records=all",))
    # the engine serves the two traces alike (it cuts the outputs on arrival) ...
    assert np.array_equal(over.records["output_tokens"], cut.records["output_tokens"])
    assert over.records.tobytes() == cut.records.tobytes()
    assert over.summary["utilization"]["gpu_busy"] > 0.9          # one long decode the whole run
    # ... and so do the scheduler factor, the load factor and the offered load factor
    assert over.summary["utilization"]["load_factor"] == cut.summary["utilization"]["load_factor"]
    assert over.summary["pools"]["main"]["load_factor"] == cut.summary["pools"]["main"]["load_factor"]
    assert over.summary["stability"]["offered_load_factor"] == cut.summary["stability"]["offered_load_factor"]
    assert 0 < over.summary["utilization"]["load_factor"] < 1


def test_the_measurement_sample_holds_the_lengths_a_replica_serves(tmp_path):
    """The sample a pool's factor is measured on has each output cut at the pool's context, the rows
    that fit untouched: the hand-cut trace's lengths, in the same order."""
    loaded = load_scenario(_scenario(tmp_path, ROWS, "over"))
    (pool,) = build_pools(loaded)
    got = saturated.workload_sample(loaded.scenario.workload, 60.0, loaded.base_dir, pool=pool)
    want = saturated.workload_sample(load_scenario(_scenario(tmp_path, _capped(ROWS), "cut")).scenario.workload,
                                     60.0, loaded.base_dir, pool=pool)
    assert got.output_tokens.tolist() == want.output_tokens.tolist()
    assert sorted(zip(got.prompt_tokens.tolist(), got.output_tokens.tolist())) == sorted((p, o) for _, p, o in _capped(ROWS))


@pytest.mark.slow
def test_the_fluid_tier_reads_the_same_load_factor_for_outputs_past_the_context_and_cut(tmp_path, monkeypatch):
    """The fluid tier prices its steps with the same scheduler factor (before: 9.2e7 against 0.08).
    Slow: about a minute measuring its capacity curves."""
    monkeypatch.setenv("FLEETSIM_CACHE", str(tmp_path / "cache"))
    saturated._CACHE.clear()
    over = ("fidelity=fluid", "fluid.step=60s")
    a = sim.run(_scenario(tmp_path, ROWS, "over"), overrides=over).summary
    b = sim.run(_scenario(tmp_path, _capped(ROWS), "cut"), overrides=over).summary
    assert a["utilization"]["load_factor"] == b["utilization"]["load_factor"]
    assert a["stability"]["offered_load_factor"] == b["stability"]["offered_load_factor"]
    assert 0 < a["utilization"]["load_factor"] < 1


def test_a_disaggregated_decode_pool_is_measured_on_outputs_cut_at_the_shorter_context(tmp_path):
    """A disaggregated request is cut on its way in by the prefill pool's replica and again by the
    decode pool's: the decode pool's sample holds ``min(output, shorter context - prompt)``."""
    import dataclasses

    loaded = load_scenario(_scenario(tmp_path, ROWS[:4], "over"))
    (pool,) = build_pools(loaded)
    prefill, decode = dataclasses.replace(pool, max_context=8192), dataclasses.replace(pool, max_context=4096)
    got = saturated.workload_sample(loaded.scenario.workload, 60.0, loaded.base_dir, pool=decode, prefill=prefill)
    assert sorted(zip(got.prompt_tokens.tolist(), got.output_tokens.tolist())) == \
        sorted((p, min(o, 4096 - p)) for _, p, o in ROWS[:4])
