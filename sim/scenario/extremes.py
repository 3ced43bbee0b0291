"""Legal values past any sensible range, warned of with the range and why (a run still goes ahead: an
extreme study may mean them):

* an autoscaler ``interval`` or ``metrics.interval`` shorter than a pool's shortest iteration (one token
  of one sequence: decoding it, or a prompt of one token): decisions or samples in between read the
  same batch, and each is an event of the run (an autoscaler every millisecond is 3.6 million decisions an hour). Only an interval
  under :data:`LOOKED_AT_S` has its pools' step computed; no autoscaler in use decides more often (the
  Kubernetes HPA every 15 s, its ``--horizontal-pod-autoscaler-sync-period``; KEDA every 30 s, its
  ``pollingInterval``);
* an SLO shorter than every pool's shortest iteration that could give its tokens: ``ttft_s`` than a prompt
  of one token alone (a first token comes at the end of its prompt's iteration, which is no shorter;
  a step model may price a prompt token below a decode, so a one-token decode is no bound for it),
  ``tpot_s`` than the shortest iteration (each later token another one, a decode or a preempted
  request's recomputed prompt), so no request meets it and ``slo.attainment`` is 0 whatever the fleet;
* a ``cooldown`` past :data:`MAX_WINDOW_S`, the longest scale-down stabilization window the HPA takes
  (``autoscaling/v2`` ``HPAScalingRules.stabilizationWindowSeconds``: "less than or equal to 3600 (one
  hour)"): the pool then never shrinks below the largest size asked for within it;
* a closed loop without think time of more clients than :data:`CROWD` times the sequences the fleet runs
  at once, and more than :data:`MIN_CROWD`: the others
  wait, so their TTFT is the queue's, ``clients / throughput - think time`` by the response-time law, and
  grows with the count without saying more of the fleet; the run holds every client
  (:data:`CLIENT_BYTES` each: the schema's bound on ``concurrency``, 1,000,000, keeps them under ~1.9 GB;
  :func:`sim.limits.memory_problems` does not count them).
"""
from __future__ import annotations

from sim.errors import InputError, ScenarioError
from sim.humanize import count, duration

#: intervals under this (seconds) have the pools' shortest step computed to compare them with
LOOKED_AT_S = 1.0
#: the Kubernetes HPA's longest scale-down stabilization window, seconds (autoscaling/v2 HPAScalingRules)
MAX_WINDOW_S = 3600.0
#: memory one closed-loop client holds in a run (its SimPy process and its request, waiting or running),
#: measured: peak RSS of ``fleetsim run scenarios/baseline.yaml`` on one replica for 60 s with 256, 250,000
#: and 1,000,000 clients, 85, 531 and 1,913 MB: 1,830 and 1,870 bytes a client past the 256
CLIENT_BYTES = 1_900
#: closed-loop clients past this many times the sequences the fleet runs at once are warned of
CROWD = 10
#: ... and past this many in all: a few dozen clients on one sequence is the machine-repairman model
#: (M/M/1//N) a queueing study means
MIN_CROWD = 1000
#: how the shortest iteration is said
_ONE_TOKEN = "one token of one sequence"


def _short(s: float) -> str:
    """A short time to four digits, so that the least interval it names is not itself too short.

        >>> _short(0.01101), _short(0.001), _short(0.5)
        ('11.01 ms', '1 ms', '500 ms')
    """
    return f"{s * 1e3:.4g} ms" if s < 1 else f"{s:.4g} s"


def _shortest_steps(loaded) -> dict[int, tuple[float, float]]:
    """Each pool's shortest iterations, seconds: ``(prompt, any)``, a prompt of one token alone and the
    shorter of that and one sequence decoding one token at a context of one, for the pools whose step
    model can be built (a pool that cannot is refused elsewhere)."""
    from sim.perf.base import BatchShape
    from sim.scenario.pool_setup import pool_step_model

    sc = loaded.scenario
    out = {}
    for i, pool in enumerate(sc.fleet.pools):
        try:
            model = pool_step_model(sc, pool, loaded.base_dir)
            prompt = model.step_time(BatchShape(prefill_tokens=1, prefill_seqs=1, prefill_attn_pairs=1.0,
                                                prefill_kv_tokens=1))
            decode = model.step_time(BatchShape(decode_seqs=1, decode_context_tokens=1))
        except (InputError, ScenarioError, ValueError, KeyError, OverflowError, ZeroDivisionError, OSError):
            continue        # (a step-time file's problem is said by the checks of perf files)
        out[i] = (prompt, min(prompt, decode))
    return out


def interval_warnings(loaded) -> list[tuple[str, str]]:
    """``(field, message)`` for an autoscaler's or the time series' interval shorter than a pool's shortest
    iteration."""
    sc = loaded.scenario
    pools = sc.fleet.pools
    short = [(i, p.autoscale.interval) for i, p in enumerate(pools)
             if p.autoscale is not None and p.autoscale.interval < LOOKED_AT_S]
    if not short and not sc.metrics.interval < LOOKED_AT_S:
        return []
    steps = {i: s[1] for i, s in _shortest_steps(loaded).items()}
    out = []
    for i, interval in short:
        if i in steps and interval < steps[i]:
            out.append((f"fleet.pools.{i}.autoscale.interval",
                        f"{_short(interval)} is shorter than one iteration of pool {pools[i].name} (its shortest, "
                        f"{_ONE_TOKEN}, takes {_short(steps[i])}): decisions in between read "
                        f"the same batch, and the run makes {count(sc.duration / interval)} of them; write at least "
                        f"{_short(steps[i])} (the Kubernetes HPA decides every 15 s)"))
    if steps and sc.metrics.interval < min(steps.values()):
        i = min(steps, key=steps.get)
        out.append(("metrics.interval",
                    f"{_short(sc.metrics.interval)} is shorter than any pool's iteration (pool {pools[i].name}'s "
                    f"shortest, {_ONE_TOKEN}, takes {_short(steps[i])}): samples in between "
                    f"repeat the same batch, {count(sc.duration / sc.metrics.interval)} rows in all; at least "
                    f"{_short(steps[i])} shows every iteration"))
    return out


def slo_warnings(loaded) -> list[tuple[str, str]]:
    """``(field, message)`` for an SLO the scenario writes that no request can meet: shorter than every pool's
    shortest iteration that could give its tokens (a default the scenario leaves is not said: a step that
    long is the problem, said apart)."""
    sc = loaded.scenario
    targets = [("slo", sc.slo)] + [(f"workload.classes.{i}.slo", c.slo) for i, c in enumerate(sc.workload.classes)
                                   if c.slo is not None]
    if not any(k in t.model_fields_set and getattr(t, k) is not None and getattr(t, k) < LOOKED_AT_S
               for _, t in targets for k in ("ttft_s", "tpot_s")):
        return []
    steps = _shortest_steps(loaded)
    if not steps:
        return []
    bounds = {"ttft_s": ("prompt", 0, "a prompt of one token alone",
                         "a first token comes at the end of its prompt's iteration, so no request meets it"),
              "tpot_s": ("", 1, _ONE_TOKEN,
                         "each token after the first takes at least one iteration, so no request of two "
                         "tokens or more meets it")}
    out = []
    for where, t in targets:
        for key, (kind, k, how, why) in bounds.items():
            i = min(steps, key=lambda j: steps[j][k])
            v = getattr(t, key) if key in t.model_fields_set else None    # (a default is not the user's)
            if v is not None and v < steps[i][k]:
                out.append((f"{where}.{key}", f"{_short(v)} is shorter than any pool's {kind + ' ' if kind else ''}"
                                              f"iteration (pool {sc.fleet.pools[i].name}'s shortest, {how}, takes "
                                              f"{_short(steps[i][k])}): {why}, whatever the fleet"))
    return out


def cooldown_warnings(sc) -> list[tuple[str, str]]:
    """``(field, message)`` for an autoscaler's cooldown past the HPA's longest stabilization window."""
    out = []
    for i, p in enumerate(sc.fleet.pools):
        a = p.autoscale
        if a is None or not a.cooldown > MAX_WINDOW_S:
            continue
        within = (f"longer than the run ({duration(sc.duration)}), so the pool never shrinks below the largest size "
                  f"the autoscaler asks for" if a.cooldown >= sc.duration else
                  f"the pool shrinks only to the largest size asked for in the last {duration(a.cooldown)}")
        out.append((f"fleet.pools.{i}.autoscale.cooldown",
                    f"{duration(a.cooldown)} is past the longest scale-down stabilization window the Kubernetes HPA "
                    f"takes (1 h, autoscaling/v2 stabilizationWindowSeconds): {within}; to keep the replicas "
                    f"fixed, remove the autoscale block"))
    return out


def crowd_warnings(sc) -> list[tuple[str, str]]:
    """``(field, message)`` for a closed loop without think time of more than :data:`CROWD` times the
    sequences the fleet runs at once (each pool's most replicas, its autoscaler's ``max`` if it has one, times
    ``max_num_seqs``). With think time, how many clients think at once depends on the fleet's speed: not
    said."""
    process = sc.workload.closed
    if process is None or process.think_time_s > 0:
        return []
    slots = sum((p.autoscale.max if p.autoscale is not None else p.replicas) * p.batching.max_num_seqs
                for p in sc.fleet.pools)
    n = process.concurrency
    if not n > max(CROWD * slots, MIN_CROWD):
        return []
    held = n * CLIENT_BYTES
    memory = f" (~{held / 1e9:.2g} GB)" if held >= 1e8 else ""
    return [("workload.arrival.concurrency",
             f"{count(n)} clients for the {count(slots)} sequences the fleet runs at once (replicas x "
             f"batching.max_num_seqs): {count(n - slots)} or more always wait, so TTFT is their queueing "
             f"(clients / throughput, the response-time law) and grows with the count, saying no more of the "
             f"fleet; the run holds every client{memory}. A closed loop measures a fleet at up to a few times "
             f"its sequences (here up to {count(max(CROWD * slots, MIN_CROWD))} clients)")]
