"""Closed-loop clients (``workload.arrival: {process: closed, concurrency: N, think_time_s: Z}``).

``N`` clients each keep at most one request outstanding: a client sends a request, waits for its
last token (a rejected or failed request frees it too), thinks ``Z`` seconds (``think: fixed``) or
an exponential time of mean ``Z`` (``think: exponential``), and sends the next. This is how public
serving benchmarks load a server (vLLM's ``benchmark_serving.py --max-concurrency``, GenAI-Perf's
``--concurrency``, SGLang's ``bench_serving --max-concurrency``, LLMPerf) and how a planner counts
users. Every client sends its first request at t = 0, as those benchmarks start theirs: a warm-up
(``warmup``) leaves out the start-up wave when it matters. With ``ramp_up_s: R`` client ``i`` (from
0) sends its first at ``i R / N`` instead (:func:`first_send`), as a load generator's spawn rate
starts its users (Locust's ``--spawn-rate`` of ``N / R`` users a second; NVIDIA AIPerf's
``--concurrency-ramp-duration``).

The send times are the clients' (:mod:`sim.serving.closed_feed`); the requests' lengths and classes
come from :func:`sim.workload.generate` as for any process, in send order. Think times draw from the
arrival stream of ``workload.arrival`` (which a closed loop does not otherwise use;
:func:`sim.workload.streams.arrival_stream`), so changing a
length distribution moves no think time.

Theory the tests hold it to (``tests/test_closed_loop*.py``): with zero think time and one server
taking one request at a time for a deterministic ``D``, the throughput is ``1 / D`` and every
response ``N D``; with exponential think and service at one server, the machine-repairman model
(M/M/1//N); and on any run the interactive response-time law ``R = N / X - Z``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.scenario.workload import ClosedArrival, WorkloadConfig
from sim.workload.streams import arrival_stream

THINK_BLOCK = 4096
"""Exponential think times drawn per numpy call (fixed: the draws do not depend on the run)."""


def think_times(process: ClosedArrival, seed: int) -> Callable[[], float]:
    """A function returning each successive think time (seconds) of ``process`` under ``seed``
    (the stream :func:`sim.workload.generate` gives ``workload.arrival``)."""
    z = float(process.think_time_s)
    if process.think == "fixed" or z == 0.0:
        return lambda: z
    rng = arrival_stream(seed)
    buf: list[float] = []

    def draw() -> float:
        if not buf:
            buf.extend(reversed((rng.standard_exponential(THINK_BLOCK) * z).tolist()))
        return buf.pop()

    return draw


def first_send(process: ClosedArrival, client: int) -> float:
    """When client ``client`` (0-based) sends its first request: ``client * ramp_up_s / concurrency``.

        >>> from sim.scenario.workload import ClosedArrival
        >>> p = ClosedArrival(process="closed", concurrency=4, ramp_up_s=10)
        >>> [first_send(p, i) for i in range(4)]
        [0.0, 2.5, 5.0, 7.5]
    """
    return client * float(process.ramp_up_s) / process.concurrency


def workload_problems(cfg: WorkloadConfig) -> list[tuple[str, str]]:
    """Where a closed loop cannot go in a ``workload:`` block: a class's own arrival, growth, and
    classes with their own arrivals beside it (open arrivals the clients would not wait for)."""
    out = []
    for i, c in enumerate(cfg.classes):
        if isinstance(c.arrival, ClosedArrival):
            out.append((f"workload.classes.{i}.arrival.process",
                        "closed is only allowed as workload.arrival (classes then take their share of the "
                        "clients' requests); give this class a share instead"))
    if cfg.closed is None:
        return out
    if cfg.growth is not None:
        out.append(("workload.growth", "scales an arrival rate, and a closed loop (workload.arrival.process: "
                                       "closed) has none; vary workload.arrival.concurrency instead"))
    if any(c.arrival is not None for c in cfg.classes):
        out.append(("workload.classes", "with workload.arrival.process: closed every class takes a share of the "
                                        "clients' requests; a class with its own arrival is not allowed"))
    return out


def scenario_problems(sc) -> list[tuple[str, str]]:
    """What a closed loop cannot run with: the coarse tier, a batcher, and a ramp-up longer than the run."""
    if sc.workload.closed is None:
        return []
    out = []
    ramp = float(sc.workload.closed.ramp_up_s)
    if ramp > float(sc.duration):
        out.append(("workload.arrival.ramp_up_s", f"must be <= duration ({float(sc.duration):g} s): the last "
                                                  f"clients would start after the run (got {ramp:g} s)"))
    if sc.fidelity == "fluid":
        out.append(("workload.arrival.process", "closed (clients waiting for their last token) needs the "
                                                "request-level tier: set fidelity: request, or give an open "
                                                "arrival process (poisson at the rate you expect) for fidelity: "
                                                "fluid"))
    if sc.fleet.router.batcher is not None:
        out.append(("fleet.router.batcher", "holds requests back for a group, and with "
                                            "workload.arrival.process: closed the clients' next requests wait "
                                            "on them; remove the batcher or give an open arrival process"))
    return out


def scenario_warnings(sc) -> list[tuple[str, str]]:
    """A closed loop's legal but probably unintended settings: a ramp-up whose last client joins after
    the warm-up, so the measured window holds fewer clients than ``concurrency`` at its start (its
    throughput lower and its latencies shorter than those of the full load) without saying so. The
    words name the ramp and the warm-up only, so a search over client counts says them once."""
    process = sc.workload.closed
    if process is None or process.concurrency < 2:
        return []
    ramp, warmup = float(process.ramp_up_s), float(sc.warmup)
    if not first_send(process, process.concurrency - 1) > warmup or ramp > float(sc.duration):
        return []       # (a ramp longer than the run is refused: scenario_problems)
    return [("workload.arrival.ramp_up_s", f"{ramp:g} s: clients still join after the warm-up ({warmup:g} s), so "
                                           f"the measured window's throughput and latencies mix the ramp's lighter "
                                           f"load with the full one; set warmup: {ramp:g} or more to measure every "
                                           f"client sending (or keep it, to measure the ramp)")]


__all__ = ["THINK_BLOCK", "first_send", "scenario_problems", "scenario_warnings", "think_times",
           "workload_problems"]
