"""A replica's waiting room of 0 (``fleet.pools[].max_waiting: 0``) at an arrival that falls on the very
instant an iteration ends.

An idle replica takes an arrival at once; a busy one refuses it. Which is it at the instant the last
running request finishes? The reference engine takes the two events at one instant in the order they
were scheduled, so there the arrival usually comes first and finds the request still running; the
fast engine's pre-routed replicas took their arrivals at the boundary after booking the iteration
that ended there, found nothing running and served the request: the two engines wrote different
requests (here 8 served against 6: 10 of the 15 rows). The rule is now one instant's: an arrival at
the instant an iteration ends finds the replica busy, on every path.

The case is worked by hand: a linear step model of exactly 0.25 s per iteration (a binary fraction,
so every sum is exact), prompts of 100 tokens and 4 output tokens (a prompt iteration giving the
first token, then 3 decode iterations): a request served at ``a`` runs until ``a + 1`` exactly.
"""
from __future__ import annotations

import csv
import gzip
import io

import pytest

import sim

ARRIVALS = [0.0, 1.0, 2.0, 2.5, 3.0, 3.25, 3.25, 4.25, 5.0, 5.0, 6.0, 6.125, 7.0, 7.5, 8.0]
# 0 runs until 1.0, so the arrival at 1.0 finds it running; 2.0 runs until 3.0 (2.5 and 3.0 refused);
# 3.25 until 4.25 (the second 3.25 finds the first waiting, 4.25 finds it finishing); 5.0 until 6.0;
# 6.125 until 7.125 (7.0 refused); 7.5 until 8.5 (8.0 refused)
SERVED = [0.0, 2.0, 3.25, 5.0, 6.125, 7.5]


def _scenario(trace, engine: str, router: str, patience: float | None) -> dict:
    sc = {"name": "ties", "seed": 1, "duration": 12, "model": "llama-3-8b", "engine": engine,
          "workload": {"arrival": {"process": "trace", "path": str(trace)}},
          "perf": {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
                   "per_context_token_s": 0.0},
          "fleet": {"router": router, "pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1, "max_waiting": 0,
                                                 "batching": {"max_num_seqs": 4}}]}}
    if patience is not None:
        sc["workload"]["patience_s"] = patience
    return sc


def _rows(tmp_path, sc: dict, name: str) -> tuple[list[dict], bytes]:
    out = sim.run(sc).write(tmp_path / name, figures="none")
    text = gzip.decompress((out / "requests.csv.gz").read_bytes()).decode()
    return list(csv.DictReader(io.StringIO(text))), (out / "timeseries.csv").read_bytes()


# round_robin with one replica: the fast engine routes ahead and each replica takes its arrivals at its
# boundaries (the lean loop); a patience (never reached) makes it route each request at its arrival
@pytest.mark.parametrize("router,patience", [("round_robin", None), ("least_outstanding", 100.0)])
def test_an_arrival_at_the_instant_an_iteration_ends_finds_the_replica_busy_on_both_engines(tmp_path, router,
                                                                                          patience):
    trace = tmp_path / "ties.csv"
    trace.write_text("timestamp_s,prompt_tokens,output_tokens\n" + "".join(f"{t},100,4\n" for t in ARRIVALS))
    fast, fast_ts = _rows(tmp_path, _scenario(trace, "fast", router, patience), "fast")
    ref, ref_ts = _rows(tmp_path, _scenario(trace, "reference", router, patience), "reference")
    assert [float(r["arrival_s"]) for r in ref] == ARRIVALS
    assert [float(r["arrival_s"]) for r in ref if r["status"] == "completed"] == SERVED
    assert {r["reason"] for r in ref if r["status"] != "completed"} == {"queue_full"}
    assert fast == ref
    assert fast_ts == ref_ts
