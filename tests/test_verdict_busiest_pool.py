"""The run verdict's traffic headroom of a fleet of several pools: the busiest pool's, not the fleet's mean.

The fleet's load factor is the pools' mean weighted by their replica-seconds. A disaggregated fleet sends
every request through its prefill pool and then its decode pool, so the busier stage's batch limits come
first: with one prefill replica the verdict read the fleet's mean ("about 3.5x this traffic") where the
prefill pool takes under a third more.
"""
from sim.api import run
from sim.report.overview import headroom, overview
from sim.scenario.load import load_scenario


def test_a_disaggregated_fleets_room_is_its_busiest_stages():
    loaded = load_scenario("scenarios/disaggregated.yaml",
                           overrides=["duration=6m", "warmup=1m", "fleet.pools.0.replicas=1"])
    s = run(loaded).summary
    pools = {name: p["load_factor"] for name, p in s["pools"].items()}
    fleet = s["utilization"]["load_factor"]
    busiest = max(pools, key=pools.get)
    assert busiest == "prefill" and pools["prefill"] > 2 * fleet       # the stage the mean hides
    verdict = overview(s).verdict
    room = headroom(pools["prefill"]).split(": ", 1)[1]
    assert f"in pool prefill, the busiest of 2 (the fleet's mean {fleet:.2f}): {room}" in verdict
    assert headroom(fleet).split(": ", 1)[1] not in verdict             # not the fleet mean's room
