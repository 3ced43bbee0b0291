"""Hostile input, round 26: numbers written as text read as the numbers they spell in every field (as the
README says), absurd intervals and workloads warned of with the range and why, and the checks on paths
and output folders that missed a spelling.
"""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import pytest

import hostile_cases as hc
from sim.scenario.gpu_catalog import get_gpu
from sim.scenario.load import scenario_from_dict
from sim.scenario.model_catalog import get_model

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ a number written as text
def _numbers(node, at=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers(v, at + (i,))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield at, node


def _read(sc: dict, folder: Path):
    """What a scenario validates to: the schema's values, the model and GPUs its mappings name, its warnings."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        s = scenario_from_dict(copy.deepcopy(sc), "s.yaml", folder).scenario
    pools = s.fleet.pools
    return (s.model_dump(exclude={"model": True, "fleet": {"pools": {i: {"gpu", "model"} for i in range(len(pools))}}}),
            get_model(s.model), [(get_gpu(p.gpu), p.model and get_model(p.model)) for p in pools],
            sorted(str(w.message) for w in said))


def _texts(value):
    """``value`` as text: as written, and (a fraction, or a whole number past 2**53's digits) with an exponent,
    which YAML reads as text unquoted; a whole number's exponent is refused by design (README: write 1000)."""
    yield repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, float):
        yield f"{value:e}"


@pytest.mark.parametrize("label", sorted(hc.bases()))
def test_every_number_written_as_text_reads_as_the_number(tmp_path, label):
    """``rate: "5"`` is 5 (README): so is every other number field. The revenue share's ``rate: "0.2"`` (and
    YAML's unquoted ``2e-1``, which it reads as text) was refused as no fraction, and an inline model's
    ``n_layers: "32"`` as no integer, where a pool's ``replicas: "4"`` ran with 4."""
    sc, files = hc.bases()[label]
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)
    want = _read(sc, tmp_path)
    for at, value in _numbers(sc):
        for text in _texts(value):
            data = copy.deepcopy(sc)
            hc._get(data, at[:-1])[at[-1]] = text
            assert _read(data, tmp_path) == want, (hc._dotted(at), text)



# ------------------------------------------------------------------ an autoscaler deciding every millisecond
@pytest.mark.parametrize("seconds", [0.0, 0.5, 3.0, 300.0])
def test_the_stabilization_window_is_the_largest_recommendation_of_its_seconds(seconds):
    """The window kept as the recommendations no later one is at least as large as (one pass instead of a
    scan of every decision in the cooldown, which made 120,000 decisions a millisecond apart take 320 s of
    CPU) gives what the HPA's rule says: the largest recommendation made within ``(t - seconds, t]``."""
    import numpy as np

    from sim.serving.hpa import StabilizationWindow

    rng = np.random.default_rng(7)
    window, made = StabilizationWindow(seconds), []
    t = 0.0
    for _ in range(3000):
        t += float(rng.choice([0.0, 0.001, 0.25, 1.0]))         # ties in time and in value too
        r = int(rng.integers(0, 6))
        made.append((t, r))
        assert window.add(t, r) == max((w for u, w in made if u > t - seconds), default=r)


# ------------------------------------------------------------------ absurd but legal: warned with the range
def _linear(sc: dict, per_prefill_token_s: float = 0.002) -> dict:
    """``sc`` on the linear step model, whose shortest step, one sequence decoding one token at a context of
    one, is by hand 0.01 + 0.001 + 1e-5 = 0.01101 s, and a prompt of one token alone 0.01 + 0.002 = 0.012 s
    (0.01 s with ``per_prefill_token_s=0``: shorter than any decode)."""
    sc["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": per_prefill_token_s,
                  "per_decode_token_s": 0.001, "per_context_token_s": 1e-5}
    return sc


def _warned(sc: dict, folder: Path, field: str) -> list[str]:
    """The warnings loading ``sc`` gives about ``field`` (or, of an SLO block, its two fields)."""
    from sim.scenario.load import load_scenario

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        load_scenario(_scenario(folder, sc))
    return [str(w.message) for w in said if str(w.message).split(": ", 1)[0] in (field, f"{field}.ttft_s",
                                                                                  f"{field}.tpot_s")]


@pytest.mark.parametrize("interval,warned", [(0.011, True), (0.01101, False), (0.5, False)])
def test_an_autoscaler_deciding_within_one_iteration_is_warned_of(tmp_path, interval, warned):
    sc = _linear(hc._small())
    sc["fleet"]["pools"][0]["autoscale"] = {"target": 0.7, "max": 4, "interval": interval}
    assert _warned(sc, tmp_path, "fleet.pools.0.autoscale.interval") == ([f"fleet.pools.0.autoscale.interval: 11 ms is shorter than one iteration of pool p (its "
                     f"shortest, one token of one sequence, takes 11.01 ms): decisions in between read the same "
                     f"batch, and the run makes 5,455 of them; write at least 11.01 ms (the Kubernetes HPA decides "
                     f"every 15 s)"] if warned else [])


@pytest.mark.parametrize("interval,warned", [("10ms", True), (0.01101, False)])
def test_a_time_series_sampled_within_one_iteration_is_warned_of(tmp_path, interval, warned):
    sc = _linear(hc._small())
    sc["metrics"] = {"interval": interval}
    assert _warned(sc, tmp_path, "metrics.interval") == ([f"metrics.interval: 10 ms is shorter than any pool's iteration (pool p's shortest, "
                     f"one token of one sequence, takes 11.01 ms): samples in between repeat the same batch, "
                     f"6,000 rows in all; at least 11.01 ms shows every iteration"] if warned else [])


@pytest.mark.parametrize("cooldown,said", [
    ("1h", None),
    ("61m", "1 h 1 m is past the longest scale-down stabilization window the Kubernetes HPA takes (1 h, "
            "autoscaling/v2 stabilizationWindowSeconds): the pool shrinks only to the largest size asked for in the "
            "last 1 h 1 m; to keep the replicas fixed, remove the autoscale block"),
    (1e300, "1.16e+295 d is past the longest scale-down stabilization window the Kubernetes HPA takes (1 h, "
            "autoscaling/v2 stabilizationWindowSeconds): longer than the run (2 h), so the pool never shrinks below "
            "the largest size the autoscaler asks for; to keep the replicas fixed, remove the autoscale block"),
])
def test_a_cooldown_past_the_hpas_longest_window_is_warned_of(tmp_path, cooldown, said):
    sc = hc._small()
    sc["duration"] = "2h"
    sc["fleet"]["pools"][0]["autoscale"] = {"target": 0.7, "max": 4, "cooldown": cooldown}
    assert _warned(sc, tmp_path, "fleet.pools.0.autoscale.cooldown") == (
        [f"fleet.pools.0.autoscale.cooldown: {said}"] if said else [])


@pytest.mark.parametrize("clients,think,warned", [(1280, 0, False), (1281, 0, True), (1281, 1.0, False)])
def test_a_closed_loop_of_many_more_clients_than_sequences_is_warned_of(tmp_path, clients, think, warned):
    """Two replicas of 64 sequences run 128 at once: 1,281 clients is past 10x, 1,153 of them always waiting."""
    sc = hc._small()
    sc["workload"]["arrival"] = {"process": "closed", "concurrency": clients, "think_time_s": think}
    sc["fleet"]["pools"][0].update(replicas=2, batching={"max_num_seqs": 64})
    assert _warned(sc, tmp_path, "workload.arrival.concurrency") == ([
        "workload.arrival.concurrency: 1,281 clients for the 128 sequences the fleet runs at once (replicas x "
        "batching.max_num_seqs): 1,153 or more always wait, so TTFT is their queueing (clients / throughput, the "
        "response-time law) and grows with the count, saying no more of the fleet; the run holds every client. A "
        "closed loop measures a fleet at up to a few times its sequences (here up to 1,280 clients)"] if warned else [])


def test_a_few_dozen_clients_on_one_sequence_are_a_queueing_study_not_warned_of(tmp_path):
    """The machine-repairman model (M/M/1//N, tests/test_closed_loop*.py) puts 32 clients on one sequence."""
    sc = hc._small()
    sc["workload"]["arrival"] = {"process": "closed", "concurrency": 32}
    sc["fleet"]["pools"][0]["batching"] = {"max_num_seqs": 1}
    assert _warned(sc, tmp_path, "workload.arrival.concurrency") == []


# ------------------------------------------------------------------ paths: bytes, and two names of one file
def test_a_bytes_path_too_long_is_said_as_a_str_one_is():
    """``os.fsencode`` took bytes, then ``Path(bytes)`` raised TypeError: the check meant to explain ENAMETOOLONG
    crashed on the path it was given."""
    from sim.paths import too_long

    name = "x" * 300
    assert too_long(f"results/{name}".encode()) == too_long(f"results/{name}")
    assert too_long(b"results/run") is None


def test_compare_out_over_another_name_of_a_results_file_is_refused_and_the_file_kept(tmp_path, capsys):
    """On a case-insensitive file system (macOS's and Windows' default) ``b/SUMMARY.json`` is ``b/summary.json``,
    yet the check compared the paths' spelling and let ``compare --out b/SUMMARY.json`` write over the summary. A
    hard link is such a second name on any file system: the check now asks the file system."""
    path = _scenario(tmp_path)
    for name in ("a", "b"):
        assert _main(["run", str(path), "--out", str(tmp_path / name), "--quiet", "--figures", "none"]) == 0
    capsys.readouterr()
    summary = tmp_path / "b" / "summary.json"
    alias = tmp_path / "b" / "SUMMARY.json"
    os.link(summary, alias)
    before = summary.read_bytes()
    a = str(tmp_path / "a")
    assert _main(["compare", a, a, "--out", str(alias)]) == 2
    assert _err(capsys) == [f"--out: {alias}: it is a file of the result in {tmp_path / 'b'}, which writing it would "
                            "replace; name a file outside the result's folder"]
    assert summary.read_bytes() == before


def test_an_output_named_as_another_name_of_an_input_is_refused(tmp_path):
    from sim.paths import output_file_problem

    given = tmp_path / "points.csv"
    given.write_text("x\n")
    os.link(given, tmp_path / "POINTS.csv")
    assert output_file_problem(tmp_path / "POINTS.csv", [given]) == (f"it is the input file {given}, which writing "
                                                                     f"it would replace; name another file")


@pytest.mark.parametrize("where", ["slo", "workload.classes.0.slo"])
def test_an_slo_shorter_than_any_iteration_is_warned_of(tmp_path, where):
    """``slo.ttft_s: 1e-320`` ran to an attainment of 0 without a word: no first token comes before one iteration
    (0.01101 s by hand on this linear step model), nor any later one."""
    sc = _linear(hc._small())
    slo = {"ttft_s": "11ms", "tpot_s": 0.0111}
    if where == "slo":
        sc["slo"] = slo
    else:
        sc["workload"]["classes"] = [{"name": "a", "share": 1.0, "slo": slo}]
    assert _warned(sc, tmp_path, where) == [f"{where}.ttft_s: 11 ms is shorter than any pool's prompt iteration (pool p's "
                      f"shortest, a prompt of one token alone, takes 12 ms): a first token comes at the end of its "
                      f"prompt's iteration, so no request meets it, whatever the fleet"]


def test_a_ttft_a_prompt_iteration_can_meet_is_not_warned_of_though_shorter_than_a_decode(tmp_path):
    """The first token comes at the end of its prompt's iteration: on a step model that prices a prompt token
    below a decode (here a prompt's iteration 10 ms, a decode's 11.01 ms by hand) a TTFT of 10.5 ms is met by
    a request that finds its replica idle, as the run shows; it was warned of as met by none, from the decode."""
    import json

    sc = _linear(hc._small(), per_prefill_token_s=0)
    sc["slo"] = {"ttft_s": 0.0105, "tpot_s": 1}
    sc["workload"]["arrival"]["rate"] = 0.5
    assert _warned(sc, tmp_path, "slo") == []
    sc["slo"]["ttft_s"] = 0.0099
    assert [w.split(": ", 1)[0] for w in _warned(sc, tmp_path, "slo")] == ["slo.ttft_s"]
    sc["slo"]["ttft_s"] = 0.0105
    assert _main(["run", str(_scenario(tmp_path, sc)), "--out", str(tmp_path / "r"), "--quiet", "--figures",
                  "none"]) == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["slo"]["attainment"] > 0
