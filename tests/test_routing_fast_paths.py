"""Shortcuts on the routing path give the same answers as the general rules."""
from __future__ import annotations

import itertools
import math

import pytest
import simpy

from sim.api import _as_loaded, build_pools
from sim.serving.fleet import Fleet
from sim.serving.request import R_BUDGET, R_CONTEXT, R_KV, Req

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
    rep._fit = rep._fit_rule()
    rep._fit_prompt, rep._fit_total = rep._fit_limits()
    edges = sorted({0, 1, 2, 15, 16, 17, 511, 512, 513, 4095, 4096, 4097, 9000}
                   | {rep.pool.max_context + d for d in (-2, -1, 0, 1)}
                   | {rep.kv.total * rep.kv.block_size + d for d in (-1, 0, 1, 2)})
    for prompt, output in itertools.product([e for e in edges if e >= 0], [e for e in edges if e >= 0]):
        r = Req(0, 0.0, prompt, output, 0, 0)
        assert rep.can_fit(r) == rep._why_not(r) == _rules(rep, r), (prompt, output)


def _rules(rep, r) -> int:
    """vLLM's admission limits as stated from the replica's settings: a prompt past the context
    length; without chunked prefill (and not static, not a decode replica) a prompt past the token
    budget; a request whose blocks (the prefill role: its prompt's; otherwise its prompt and every
    token it can generate within the context, less the last) exceed the cache above the watermark."""
    ctx, kv = rep.pool.max_context, rep.kv
    if r.prompt > ctx:
        return R_CONTEXT
    if not rep.split and rep.policy != "static" and rep.role != "decode" and r.prompt > rep.budget:
        return R_BUDGET
    tokens = r.prompt if rep.role == "prefill" else r.prompt + max(1, min(r.output, ctx - r.prompt)) - 1
    return R_KV if math.ceil(tokens / kv.block_size) > kv.total - kv.watermark else 0


def test_replicas_with_equal_fit_keys_answer_alike():
    """The key is what the answers depend on: a chunked replica's budget and a decode replica's role
    change no answer, so they leave the key as it is; the context and the cache do change it."""
    a, b = _replica(chunked_prefill=True, max_batched_tokens=512), _replica(chunked_prefill=True)
    b.kv.total, b.kv.watermark = a.kv.total, a.kv.watermark       # the budget moved the memory plan
    b._fit = b._fit_rule()
    assert a.budget != b.budget and a.fit_key() == b.fit_key()
    c, d = (_replica(chunked_prefill=False, mixed_batches=False) for _ in range(2))
    c.role = "decode"
    for rep in (c, d):
        rep.budget = 2048           # below the context (a schema check refuses it; the rule still reads it)
        rep._fit = rep._fit_rule()
    assert c.fit_key() != d.fit_key()   # the budget binds a whole-prompt replica, not a decode one
    for prompt, output in itertools.product([1, 511, 513, 4096, 8191, 8192, 8193], [1, 100, 4000]):
        r = Req(0, 0.0, prompt, output, 0, 0)
        assert a.can_fit(r) == b.can_fit(r) == a._why_not(r) == b._why_not(r)
