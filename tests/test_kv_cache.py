"""The KV cache never double-frees or leaks blocks.

Two levels: the block arithmetic of :class:`~sim.serving.kv_cache.KVCache` against a model that
tracks every sequence's blocks one by one (hypothesis state machine), and whole engine runs on
random small workloads (both engines, every batching policy, a cache small enough to preempt)
where, at the end, the blocks in use are recounted from the requests each replica holds.
"""
from __future__ import annotations

import math

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import sim
from sim.serving import fleet as fleet_module
from sim.serving.kv_cache import KVCache, run_needs

from conftest import scenario

BS = 4


class KVModel(RuleBasedStateMachine):
    """Sequences are admitted (blocks for their prompt), join the decode batch, grow one token per
    decode iteration, leave (completion or preemption) or are dropped while prefilling; prefixes are
    pinned. The model counts each sequence's blocks from its own context; the cache from its
    aggregates (as the replica's iteration steps update them)."""

    def __init__(self):
        super().__init__()
        self.kv = KVCache(total=40, block_size=BS, prefix_caching=True)
        self.dc = 0
        self.prefilling: dict[int, int] = {}        # id -> blocks held
        self.decoding: dict[int, tuple] = {}        # id -> (join_dc, join_len)
        self.next_id = 0

    def owned(self) -> int:
        dec = sum(math.ceil((length + self.dc - j) / BS) for j, length in self.decoding.values())
        return sum(self.prefilling.values()) + dec + self.kv.pinned

    @rule(tokens=st.integers(1, 30))
    def admit(self, tokens):
        blocks = self.kv.blocks_for(tokens)
        if self.kv.fits(blocks):
            self.kv.take(blocks)
            self.prefilling[self.next_id] = blocks
            self.next_id += 1

    @precondition(lambda self: self.prefilling)
    @rule(data=st.data())
    def join(self, data):
        rid = data.draw(st.sampled_from(sorted(self.prefilling)))
        held = self.prefilling.pop(rid)
        length = held * BS - data.draw(st.integers(0, BS - 1))   # a prompt that needs ``held`` blocks
        kv = self.kv
        kv.residues[(self.dc - length) % BS] += 1           # as Iterations._join_decode
        kv.used += -(-length // BS) - held
        self.decoding[rid] = (self.dc, length)

    @precondition(lambda self: self.prefilling)
    @rule(data=st.data())
    def drop_prefill(self, data):
        rid = data.draw(st.sampled_from(sorted(self.prefilling)))
        self.kv.give_back(self.prefilling.pop(rid))

    @precondition(lambda self: self.decoding)
    @rule(data=st.data())
    def leave(self, data):
        rid = data.draw(st.sampled_from(sorted(self.decoding)))
        j, length = self.decoding.pop(rid)
        ctx = length + self.dc - j
        kv = self.kv
        kv.residues[(j - length) % BS] -= 1                 # as Iterations._leave_decode
        kv.used -= -(-ctx // BS)

    @precondition(lambda self: self.decoding)
    @rule(k=st.integers(1, 12))
    def decode_run(self, k):
        """Up to ``k`` decode iterations, as many as fit (the engine preempts otherwise)."""
        kv = self.kv
        m = kv.iterations_that_fit(k, self.dc, len(self.decoding))
        rot, per = kv.period(self.dc, len(self.decoding))
        one_by_one = 0
        for i in range(m):
            need = kv.needs_at(self.dc + i)
            one_by_one += need
        assert run_needs(rot, per, m) == one_by_one
        assert kv.used + one_by_one <= kv.total
        if m < k:   # iteration m would need more blocks than are free
            assert kv.used + one_by_one + kv.needs_at(self.dc + m) > kv.total
        kv.used += one_by_one
        self.dc += m

    @rule(cls=st.integers(0, 2), prefix=st.integers(0, 20), length=st.integers(2, 30))
    def pin_prefix(self, cls, prefix, length):
        target = length
        if min(prefix, target - 1) // BS > self.kv.free:
            return
        pb = self.kv.pin_prefix(cls, prefix, target)
        self.kv.take(pb)   # in the engine the blocks move from the request to the cache; here: taken

    @precondition(lambda self: self.kv.pinned)
    @rule()
    def forget_prefixes(self):
        self.kv.forget_prefixes()

    @invariant()
    def counted_exactly(self):
        assert 0 <= self.kv.used <= self.kv.total
        assert self.kv.used == self.owned()
        assert sum(self.kv.residues) == len(self.decoding)

    def teardown(self):
        for rid in list(self.decoding):
            j, length = self.decoding.pop(rid)
            ctx = length + self.dc - j
            self.kv.residues[(j - length) % BS] -= 1
            self.kv.used -= -(-ctx // BS)
        for held in self.prefilling.values():
            self.kv.give_back(held)
        self.kv.forget_prefixes()
        assert self.kv.used == 0 and not any(self.kv.residues)


KVModel.TestCase.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)
test_kv_cache_block_arithmetic = KVModel.TestCase


def _held_blocks(rep) -> int:
    """KV blocks a replica's requests hold, counted one by one (decoders from their context)."""
    kv = rep.kv
    n = kv.pinned + kv.in_transfer
    for r in rep.active.values():
        if r.decoding and not kv.whole:
            n += -(-(r.join_len + rep.dc - r.join_dc) // kv.block_size) - r.pb
        else:
            n += r.blocks
    return n


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["continuous", "priority", "chunked", "static",
                                                            "prefix"]),
       rate=st.sampled_from([4.0, 12.0]), engine=st.sampled_from(["fast", "reference"]),
       drain=st.booleans())
def test_engine_never_leaks_or_double_frees_blocks(seed, policy, rate, engine, drain):
    wl = {"arrival": {"process": "poisson", "rate": rate},
          "prompt_tokens": {"dist": "lognormal", "mean": 300, "cv": 1.0, "max": 900},
          "output_tokens": {"dist": "lognormal", "mean": 120, "cv": 1.0, "max": 600},
          "classes": [{"name": "hi", "share": 0.3, "priority": 2, "shared_prefix_tokens": 64},
                      {"name": "lo", "share": 0.7, "priority": 0}]}
    batching = {"max_num_seqs": 32, "max_batched_tokens": 2048}
    if policy == "chunked":
        batching.update(chunked_prefill=True, max_batched_tokens=256)
    elif policy == "static":
        batching.update(policy="static", batch_size=4, timeout_s=0.5)
    elif policy == "prefix":
        batching.update(prefix_caching=True)
    else:
        batching["policy"] = policy
    sc = scenario(seed=seed, duration=20, engine=engine, drain=drain, workload=wl,
                  perf={"model": "roofline"})
    sc["fleet"]["pools"][0].update(replicas=2, gpu_memory_utilization=0.18, max_model_len=1024,
                                   batching=batching)
    fleets = []
    orig = fleet_module.Fleet.finish

    def finish(self, end):
        out = orig(self, end)
        fleets.append(self)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fleet_module.Fleet, "finish", finish)
        res = sim.run(sc)
    assert res.summary["requests"]["completed"] > 0
    for rep in fleets[0].replicas:
        assert 0 <= rep.kv.used <= rep.kv.total
        assert rep.kv.used == _held_blocks(rep)
        if drain:
            assert not rep.active and rep.kv.used == rep.kv.pinned
