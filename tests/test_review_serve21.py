"""Review of round 21's serving changes: a pipelined replica's waiting room when a client's deadline ties
with a micro-batch boundary, the cycle's end or the next arrival; the trace reader's digit rule.

Pipelined room, hand-worked on times that are binary fractions (every sum exact): the flat step model of
exactly 0.25 s an iteration, PP2, a room of one, mixed batches; two requests that wait however long it
takes, r0 at 0 and r1 at 0.0625 (100-token prompts, 20 output tokens), then A (class ``late``, a fixed
patience) at 0.5625 and B (no patience) at ``b``:

* r0's prefill iteration is (0, 0.25], a cycle of one sequence, so no micro-batch boundary inside it: r1
  joins at 0.25; from then on the cycles hold two sequences, (0.25, 0.5], (0.5, 0.75], ..., each with a
  micro-batch boundary half-way (0.625 in the cycle A arrives in).
* A client whose deadline is at or before an instant has gone at it (the rule without pipelining). A
  joins the micro-batch at 0.625 if its deadline is after it: admitted at 0.625 (``sched_s``), booked at
  0.75 with a lead of 0.125, its prefill iteration ends at 1.0: first token at 0.875. Otherwise its
  client leaves at its deadline (``timeout``).
* B finds the room full while A waits: until A's client leaves (its deadline) or A's micro-batch takes
  it (0.625); empty from then on (before round 21, A held the room until 0.75 and B was refused in
  every case below; before round 22, a micro-batch taking A did not free its place until 0.75).
  An arrival at the very instant of a boundary comes before it: B at 0.625 joins that micro-batch
  (first token 0.875), B at 0.75 the batch formed at 0.75 (first token 1.0).

Without pipelining (PP1) the cycle (0.5, 0.75] admits nothing mid-way: A (deadline 0.75 at the latest)
never gets in, and B, if the room takes it, is admitted at 0.75.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

import sim
from sim.errors import InputError
from sim.metrics.schema import COMPLETED, R_QUEUE_FULL, R_TIMEOUT, REJECTED
from sim.workload.traces import check_trace, read_trace

from conftest import scenario
from test_ties_round20 import differs

FLAT = {"model": "linear", "base_s": 0.25, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.0,
        "per_context_token_s": 0.0}


def _run(tmp_path: Path, patience: float, b_at: float, engine: str, pp: int = 2):
    path = tmp_path / f"trace_{patience}_{b_at}_{pp}.csv"
    path.write_text("timestamp_s,prompt_tokens,output_tokens,tenant\n0,100,20,load\n0.0625,100,20,load\n"
                    f"0.5625,100,4,late\n{b_at},100,4,other\n")
    sc = scenario(duration=10)
    sc["workload"] = {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"},
                      "classes": [{"name": "load", "share": 0.5},
                                  {"name": "late", "share": 0.25, "patience_s": patience, "patience": "fixed"},
                                  {"name": "other", "share": 0.25}]}
    sc["perf"] = dict(FLAT)
    sc["engine"] = engine
    pool = sc["fleet"]["pools"][0]
    pool["pipeline_parallel"] = pp
    pool["max_waiting"] = 1
    pool["batching"]["mixed_batches"] = True
    return sim.run(sc)


def _fates(res) -> list:
    """``(status, reason, sched_s, first_token_s)`` of A and B (status and reason only if refused)."""
    out = []
    for rid in (2, 3):
        r = res.records[res.records["rid"] == rid][0]
        out.append((int(r["status"]), int(r["reason"])) if r["status"] == REJECTED
                   else (int(r["status"]), float(r["sched_s"]), float(r["first_token_s"])))
    return out


SERVED_AT_POINT = (COMPLETED, 0.625, 0.875)      # joined the micro-batch at 0.625
SERVED_AT_END = (COMPLETED, 0.75, 1.0)           # taken by the batch formed at 0.75
GONE = (REJECTED, R_TIMEOUT)
REFUSED = (REJECTED, R_QUEUE_FULL)

CASES = [
    # A's deadline is the micro-batch boundary 0.625: gone there; B, arriving then, takes its place and joins
    (0.0625, 0.625, [GONE, SERVED_AT_POINT]),
    # ... B arriving later in the cycle waits for its end
    (0.0625, 0.6875, [GONE, SERVED_AT_END]),
    # A's deadline 0.75 is after the boundary: A joins it; B at 0.625 comes before that boundary and finds
    # A waiting: refused
    (0.1875, 0.625, [SERVED_AT_POINT, REFUSED]),
    # ... B later in the cycle finds A's place free (its micro-batch took it at 0.625) and waits for the end
    (0.1875, 0.6875, [SERVED_AT_POINT, SERVED_AT_END]),
    # A's deadline is the cycle's end, B's arrival: A's client has gone from the room by then (it joined
    # the micro-batch at 0.625), so B is queued before the boundary and taken by its batch
    (0.1875, 0.75, [SERVED_AT_POINT, SERVED_AT_END]),
]


@pytest.mark.parametrize("patience,b_at,fates", CASES)
def test_a_pipelined_room_on_deadlines_tied_with_boundaries_and_arrivals(tmp_path, patience, b_at, fates):
    res = {e: _run(tmp_path, patience, b_at, e) for e in ("fast", "reference")}
    assert differs(res["fast"], res["reference"]) == ""
    assert _fates(res["fast"]) == fates


@pytest.mark.parametrize("patience,b_at", [(p, b) for p, b, _ in CASES])
def test_without_pipelining_the_same_ties_admit_nothing_mid_cycle(tmp_path, patience, b_at):
    """PP1: A never gets in (its deadline, 0.75 at the latest, is not after the cycle's end); B is refused
    while A's client waits (deadline after B's arrival), else admitted at 0.75."""
    res = {e: _run(tmp_path, patience, b_at, e, pp=1) for e in ("fast", "reference")}
    assert differs(res["fast"], res["reference"]) == ""
    a_deadline = 0.5625 + patience
    assert _fates(res["fast"]) == [GONE, REFUSED if a_deadline > b_at else SERVED_AT_END]


def _token_cell_ok(cell: str) -> bool:
    """A token count the trace reader takes, stated from its documented rule alone: a number Python reads
    (``float``), whole, finite, from 1 to 2**31 - 1, written in ASCII without digit-group underscores."""
    if not cell.isascii() or "_" in cell:
        return False
    try:
        v = float(cell)
    except ValueError:
        return False
    return math.isfinite(v) and v == math.floor(v) and 1 <= v <= 2**31 - 1


def test_the_fast_path_and_the_row_by_row_readers_take_exactly_the_documented_token_cells(tmp_path):
    """Some 500 odd cells (other scripts' digits, underscores, signs, exponents, blanks, inf/nan) in the
    prompt column: the CSV fast path (a whole read), the row-by-row check (``check_trace``) and the JSONL
    reader (a string value) each take exactly the cells the rule takes."""
    rng = random.Random(21)
    alpha = list("0123456789") * 2 + list("._-+eE ") + ["\u0663", "\uff13", "\u00b2", "_", "inf", "nan",
                                                         "\t", "\u00a0", "0x"]
    cells = sorted({"".join(rng.choice(alpha) for _ in range(rng.randint(1, 5))) for _ in range(600)}
                   | {"1_000", "\u0663", "1e3", "5.0", "5.5", "0", "-1", " 7 ", "2147483647", "2147483648"})
    csv, jsonl = tmp_path / "t.csv", tmp_path / "t.jsonl"
    wrong = []
    for c in cells:
        csv.write_text(f"timestamp_s,prompt_tokens,output_tokens\n0.5,{c},10\n", encoding="utf-8")
        jsonl.write_text(json.dumps({"timestamp_s": 0.5, "prompt_tokens": c, "output_tokens": 10}) + "\n",
                         encoding="utf-8")
        took = []
        for read, path in ((read_trace, csv), (check_trace, csv), (read_trace, jsonl)):
            try:
                read(path)
                took.append(True)
            except InputError:
                took.append(False)
        if took != [_token_cell_ok(c)] * 3:
            wrong.append((c, took))
    assert sum(map(_token_cell_ok, cells)) > 100 and len(cells) > 450
    assert wrong == []
