"""How often a pipelined replica's conservative cycle-end bound holds a place in the waiting room longer
than needed.

A request queued during a pipelined replica's cycle counts as taken from its micro-batch boundary only
if :meth:`sim.serving.mid_cycle.Cycle.admits` shows, from the state at the boundary, that the batch
formed at the cycle's end admits it; otherwise it holds its place until the cycle's end. Where the
engine then does admit it at that end, its ``sched_s`` is that boundary (the engine books it with its
lead), so the place was held needlessly. This script counts, on a few pipelined pools at 50-95 % of
their capacity (``stability.offered_load_factor``, reported with each run), the requests the bound held (each once, however
many readers asked) and how many of them the engine in fact admitted at the boundary they were held
at. It wraps ``Cycle.admits`` to watch its answers and changes nothing it returns. One JSON object
per run on stdout::

    python benchmarks/pp_room_holds.py             # 3 pools x 4 request rates, 300 s each
    python benchmarks/pp_room_holds.py --duration 60

Fields: ``case``, ``rate``, ``load_factor``, ``busy_share`` (the mean of the time series's ``busy_frac``),
``requests``, ``considered`` (queued mid-cycle with a
micro-batch boundary before the cycle's end, within the slots: the requests the bound was asked
about), ``held`` (of those, counted waiting until the cycle's end by the bound), ``held_needlessly``
(of those held, admitted by the engine at that boundary), ``share_needless`` (held_needlessly /
considered), ``cut`` (asked about in the cycle the run ends in: the run never reaches the batch that
would show whether a hold was needless, so they are in none of the other counts), ``wall_s``.
"""
from __future__ import annotations

import argparse
import json
import time

import sim
from sim.metrics.output import timeseries_table
from sim.serving import mid_cycle

BASE = {
    "name": "pp-room-holds", "seed": 5, "warmup": 0, "model": "llama-2-7b",
    "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "economics": {"gpu_hour_usd": 2.0},
}

# (name, pool, prompt law, output law); the request rates of each below (RATES: ~50-95 % of its capacity)
CASES = [
    ("pp2-vllm-v1", {"pipeline_parallel": 2, "max_waiting": 8,
                     "batching": {"scheduler": "vllm-v1", "max_num_seqs": 64, "max_batched_tokens": 2048}},
     {"dist": "lognormal", "mean": 1000, "cv": 1.0, "max": 4000}, {"dist": "lognormal", "mean": 100, "cv": 1.0,
                                                                    "max": 1000}),
    ("pp3-vllm-v0", {"pipeline_parallel": 3, "max_waiting": 4, "max_model_len": 2048, "gpu_memory_utilization": 0.9,
                     "batching": {"scheduler": "vllm-v0", "max_num_seqs": 64, "max_batched_tokens": 2048}},
     {"dist": "lognormal", "mean": 1500, "cv": 1.0, "max": 1500}, {"dist": "lognormal", "mean": 50, "cv": 1.0,
                                                                    "max": 600}),
    ("pp4-trtllm", {"pipeline_parallel": 4, "max_waiting": 8,
                    "batching": {"scheduler": "trtllm", "max_num_seqs": 128, "max_batched_tokens": 4096}},
     {"dist": "lognormal", "mean": 800, "cv": 1.0, "max": 4000}, {"dist": "lognormal", "mean": 200, "cv": 1.0,
                                                                   "max": 2000}),
]


RATES = {"pp2-vllm-v1": [13.0, 17.0, 20.0, 23.0], "pp3-vllm-v0": [15.0, 21.0, 24.0, 26.0],
         "pp4-trtllm": [17.0, 22.0, 27.0, 31.0]}


def _scenario(pool: dict, prompt: dict, output: dict, rate: float, duration: float) -> dict:
    sc = dict(BASE)
    sc["duration"] = duration
    sc["workload"] = {"arrival": {"process": "poisson", "rate": rate}, "prompt_tokens": prompt,
                      "output_tokens": output}
    p = {"name": "pp", "gpu": "a100-80gb", "replicas": 2, **pool}
    sc["fleet"] = {"router": "least_outstanding", "pools": [p]}
    return sc


class Watch:
    """Wraps ``Cycle.admits``: the requests it was asked about, each with the boundary it was asked about
    and the end of that cycle, and those it held."""

    def __init__(self) -> None:
        self.considered: dict[int, tuple[float, float]] = {}
        self.held: set[int] = set()
        self._orig = mid_cycle.Cycle.admits

    def __enter__(self) -> "Watch":
        orig, considered, held = self._orig, self.considered, self.held

        def admits(cyc, reqs):
            n = orig(cyc, reqs)
            for k, r in enumerate(reqs):
                q = cyc.point(r.queued_at)
                if q >= cyc.t:
                    continue
                considered.setdefault(r.rid, (q, cyc.t))
                if k >= n:
                    held.add(r.rid)
            return n

        mid_cycle.Cycle.admits = admits
        return self

    def __exit__(self, *exc) -> None:
        mid_cycle.Cycle.admits = self._orig


def tally(w: Watch, rec, end: float) -> dict:
    """What ``w`` saw over a run ending at ``end`` with the request records ``rec``: ``considered``,
    ``held``, ``held_needlessly`` (held, and first admitted at the boundary it was held at), and ``cut``:
    those asked about in a cycle ending at or after ``end``, which the run cuts short before the batch at its
    end shows whether the hold was needed (counted apart, in none of the others)."""
    sched = dict(zip(rec["rid"].tolist(), rec["sched_s"].tolist()))
    done = {rid: q for rid, (q, t) in w.considered.items() if t < end}
    held = [rid for rid in w.held if rid in done]
    needless = sum(1 for rid in held if abs(sched.get(rid, -1.0) - done[rid]) <= 1e-9 * max(1.0, done[rid]))
    return {"considered": len(done), "held": len(held), "held_needlessly": needless,
            "cut": len(w.considered) - len(done)}


def one(case, rate: float, duration: float) -> dict:
    name, pool, prompt, output = case
    t0 = time.perf_counter()
    with Watch() as w:
        res = sim.run(_scenario(pool, prompt, output, rate, duration))
    rec = res.records
    n = tally(w, rec, duration)
    considered, needless = n["considered"], n["held_needlessly"]
    return {"case": name, "rate": rate,
            "load_factor": round(float(res.summary["stability"]["offered_load_factor"]), 3),
            "busy_share": round(float(timeseries_table(res)["busy_frac"].mean()), 3),
            "requests": int(len(rec)), "considered": considered, "held": n["held"],
            "held_needlessly": needless, "share_needless": round(needless / considered, 4) if considered else None,
            "cut": n["cut"], "wall_s": round(time.perf_counter() - t0, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=300.0)
    args = ap.parse_args()
    for case in CASES:
        for rate in RATES[case[0]]:
            print(json.dumps(one(case, rate, args.duration)), flush=True)


if __name__ == "__main__":
    main()
