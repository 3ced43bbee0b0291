"""Shortcuts on the routing path give the same answers as the general rules."""
from __future__ import annotations

import itertools

import pytest
import simpy

from sim.api import _as_loaded, build_pools
from sim.serving.fleet import Fleet
from sim.serving.request import Req

from conftest import scenario


def _replica(**batching):
    sc = scenario()
    sc["fleet"]["pools"][0]["batching"].update(batching)
    loaded = _as_loaded(sc, [])
    fleet = Fleet(simpy.Environment(), loaded.scenario, build_pools(loaded), [0], fast=True, seed=1)
    return fleet.replicas[0]


@pytest.mark.parametrize("batching", [{}, {"chunked_prefill": True, "max_batched_tokens": 512},
                                      {"policy": "static", "batch_size": 8}, {"block_size": 32}])
@pytest.mark.parametrize("role", ["both", "prefill", "decode"])
@pytest.mark.parametrize("blocks,context", [(None, None), (40, None), (2, None), (0, None), (None, 700),
                                            (30, 300)])
def test_can_fit_shortcut_agrees_with_the_rules(batching, role, blocks, context):
    rep = _replica(**batching)
    rep.role = role
    if blocks is not None:
        rep.kv.total = blocks
        rep.kv.watermark = int(0.01 * blocks)
    if context is not None:
        rep.pool.max_context = context
    rep._fit_prompt, rep._fit_total = rep._fit_limits()
    edges = sorted({0, 1, 2, 15, 16, 17, 511, 512, 513, 4095, 4096, 4097, 9000}
                   | {rep.pool.max_context + d for d in (-2, -1, 0, 1)}
                   | {rep.kv.total * rep.kv.block_size + d for d in (-1, 0, 1, 2)})
    for prompt, output in itertools.product([e for e in edges if e >= 0], [e for e in edges if e >= 0]):
        r = Req(0, 0.0, prompt, output, 0, 0)
        assert rep.can_fit(r) == rep._why_not(r), (prompt, output)
