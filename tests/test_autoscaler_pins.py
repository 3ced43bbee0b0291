"""The request-level autoscaler's ``ttft`` and ``queue`` metrics under class pins (``fleet.router.classes``).

A request waiting in the fleet's central queue is counted only by the pools that may take it: with
classes pinned to pools, those of its class; a class not pinned, every pool (each pool's HPA reads
the shared queue whole). Two one-replica pools serving one request at a time (the M/G/1 pools of
``test_class_pinning``): class ``to_a``, pinned to pool ``a``, floods it at eight times what it
serves, so its queue grows by about seven requests a second; class ``to_b``, pinned to pool ``b``,
keeps ``b`` at ``rho = 0.5``, a Pollaczek-Khinchine mean wait of about 1 s.
"""
from __future__ import annotations

import pytest

import sim
from sim.serving.autoscaler import Autoscaler

from test_class_pinning import MEAN_S, _pinned, pk_wait_s

DURATION = 900.0


def _readings(monkeypatch, metric: str, pins: dict) -> dict[int, list[float]]:
    """The metric each pool's autoscaler read at its decisions, by pool index, over a run of the
    flood (pool ``a`` fixed at one replica, pool ``b`` autoscaled on ``metric`` with a target it
    meets unless it counts the flood)."""
    sc = _pinned("central_queue", duration=DURATION, warmup=0.0, pins=pins)
    sc["workload"]["classes"][0]["arrival"]["rate"] = 8.0 / MEAN_S
    target = 20.0 if metric == "ttft" else 5.0
    for pool in sc["fleet"]["pools"]:
        pool["autoscale"] = {"metric": metric, "target": target, "interval": 30, "min": 1,
                             "max": 1 if pool["name"] == "a" else 4, "scale_up_delay": 0}
    seen: dict[int, list[float]] = {0: [], 1: []}
    real = Autoscaler.metric

    def spy(self, serving):
        m = real(self, serving)
        seen[self.pool.index].append(m)
        return m

    monkeypatch.setattr(Autoscaler, "metric", spy)
    sim.run(sc)
    return seen


@pytest.mark.parametrize("metric", ["ttft", "queue"])
def test_a_pinned_class_flooding_its_pool_is_not_seen_by_the_other_pool(monkeypatch, metric):
    seen = _readings(monkeypatch, metric, {"to_a": "a", "to_b": "b"})
    a, b = seen[0], seen[1]
    assert len(b) == DURATION // 30 - 1          # a decision every 30 s, the last before the end
    # pool a's queue grows ~7 requests a second: its metric ends far above the target
    assert a[-1] > (200.0 if metric == "ttft" else 500.0)
    # pool b sees its own M/G/1 queue at rho 0.5: mean TTFT ~ W_q + S ~ 2 s, ~1 request in the system
    assert pk_wait_s(0.5 / MEAN_S) + MEAN_S == pytest.approx(2.0, abs=0.01)
    assert max(b) < 10.0            # (the queue's 10 samples a decision at rho 0.5: up to ~5)


@pytest.mark.parametrize("metric", ["ttft", "queue"])
def test_a_class_free_to_go_anywhere_counts_whole_in_every_pool_it_may_reach(monkeypatch, metric):
    seen = _readings(monkeypatch, metric, {"to_b": "b"})     # to_a floods, free to go to a or b
    # b takes some of the flood, grows to its max of 4 and still cannot keep up (5 replicas for 8):
    # it reads the shared queue, as pool a does
    assert seen[1][-1] > (100.0 if metric == "ttft" else 500.0)
