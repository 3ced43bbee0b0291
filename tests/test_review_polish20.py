"""Small truths left by round 20's reviews: each check below failed before its fix."""
from __future__ import annotations

import pytest

from sim.errors import ScenarioError
from sim.scenario.load import scenario_from_dict
from tests.conftest import scenario


def _autoscaled(metric: str, target: float) -> dict:
    pool = {"name": "main", "gpu": "a100-80gb", "replicas": 1,
            "batching": {"max_num_seqs": 64, "max_batched_tokens": 4096},
            "autoscale": {"metric": metric, "target": target, "min": 1, "max": 8}}
    return scenario(fleet={"router": "least_outstanding", "pools": [pool]})


@pytest.mark.parametrize("metric,target,expected", [
    # desired = ceil(n x metric / target): 1e-300 made the ratio overflow, 1e308 left the pool never growing
    ("load_factor", 1e-300, "is a fraction for metric load_factor: must be >= 1e-06 (got 1e-300); allowed 1e-06 "
                            "to 1 (1: the pool at its batch limits): a smaller one asks for autoscale.max replicas"),
    ("load_factor", 1e308, "must be <= 1 (got 1e+308); allowed 1e-06 to 1 (1: the pool at its batch limits): a "
                           "higher target is not reached"),
    ("queue", 1e308, "is outstanding requests per serving replica for metric queue: must be <= 1e+06"),
    ("queue", 1e-300, "must be >= 1e-06 (got 1e-300)"),
    ("ttft", 1e-300, "is seconds of mean time to first token for metric ttft: must be >= 1e-06 (got 1e-300); "
                     "allowed 1e-06 to 86400 s (a microsecond to a day)"),
    ("ttft", 1e308, "must be <= 86400 (got 1e+308)"),
    ("kv", 1e-300, "is a fraction for metric kv: must be >= 1e-06"),
])
def test_an_autoscale_target_past_what_its_metric_reads_is_refused(metric, target, expected):
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(_autoscaled(metric, target))
    assert str(e.value).startswith("<scenario>: fleet.pools.0.autoscale.target: ") and expected in str(e.value)


@pytest.mark.parametrize("metric,target", [("load_factor", 1e-6), ("load_factor", 1.0), ("queue", 1e6),
                                           ("ttft", 1e-6), ("ttft", 86_400), ("utilization", 1.0), ("kv", 0.002)])
def test_the_targets_at_the_bounds_are_taken(metric, target):
    assert scenario_from_dict(_autoscaled(metric, target)).scenario.fleet.pools[0].autoscale.target == target


# ------------------------------------------------------------------ a trace's rate_scale bounds its arrival rate
def _sparse_trace(tmp_path, rate_scale: float, gap_s: float = 86_400.0) -> dict:
    from tests.conftest import write_trace
    trace = write_trace(tmp_path / "daily.csv", [(i * gap_s, 100, 10) for i in range(3)])
    sc = scenario(duration=2)
    sc["workload"] = {"arrival": {"process": "trace", "path": str(trace), "rate_scale": rate_scale, "loop": True}}
    sc["metrics"] = {"records": "none"}
    return sc


def test_a_sparse_trace_takes_more_than_ten_million_copies(tmp_path):
    """One request a day: 10^11 copies arrive at 10^11 / 86,400 s = 1.157e6 requests/s on average, under the
    10^7 every arrival process may bring; the schema refused anything past 10^7 copies."""
    from sim.workload.validation import trace_row_problems
    loaded = scenario_from_dict(_sparse_trace(tmp_path, 1e11))
    assert loaded.scenario.workload.arrival.rate_scale == 1e11
    problems, _ = trace_row_problems(loaded.scenario.workload, tmp_path, duration=2.0)
    assert problems == []


def test_a_trace_rate_scale_past_ten_million_requests_a_second_is_refused_naming_the_bound(tmp_path):
    """8.64e11 copies of rows a day apart is 1e7 requests/s exactly (taken); 1e12 is 1.157e7 (refused by
    validate's reading and by the run, before a copy is drawn)."""
    import sim
    from sim.errors import WorkloadFileError
    from sim.workload.validation import trace_row_problems
    ok = scenario_from_dict(_sparse_trace(tmp_path, 8.64e11)).scenario.workload
    assert trace_row_problems(ok, tmp_path, duration=2.0)[0] == []
    sc = _sparse_trace(tmp_path, 1e12)
    said = ("daily.csv: rate_scale 1e+12 copies of rows a mean 86,400 s apart arrive at 1.16e+07 requests/s; at "
            "most 1e+07 requests/s, as for every arrival process: rate_scale at most 8.64e+11 for this trace")
    problems, _ = trace_row_problems(scenario_from_dict(sc).scenario.workload, tmp_path, duration=2.0)
    assert [(f, m.endswith(said)) for f, m in problems] == [("workload.arrival.rate_scale", True)]
    with pytest.raises(WorkloadFileError) as e:
        sim.run(sc, allow_large=True)
    assert e.value.problems[0][0] == "workload.arrival.rate_scale" and e.value.problems[0][1].endswith(said)


def test_copies_of_a_trace_at_one_instant_are_bounded_by_count():
    """Rows sharing one time have no gap to spread copies over: at most 10^7 of them, a burst's worth."""
    import numpy as np

    from sim.scenario.workload import TraceArrival
    from sim.workload.arrivals import trace_rate_problem
    one = np.array([5.0])
    assert trace_rate_problem(one, TraceArrival(process="trace", path="x.csv", rate_scale=1e7)) is None
    assert "at most 1e+07 copies of such a trace" in trace_rate_problem(
        one, TraceArrival(process="trace", path="x.csv", rate_scale=1.5e7))


# ------------------------------------------------------------------ digits in a trace are 0-9
@pytest.mark.parametrize("cell,column", [("\u0663", "prompt_tokens"), ("\uff13", "output_tokens"),
                                         ("1.\u0665", "timestamp_s")])
def test_a_csv_trace_refuses_digits_of_other_scripts(tmp_path, cell, column):
    """``int('٣')`` is 3 and ``float('1.٥')`` 1.5: a CSV row of them was read as numbers."""
    from sim.errors import InputError
    from sim.workload.traces import read_trace
    row = {"timestamp_s": "1.0", "prompt_tokens": "100", "output_tokens": "10", column: cell}
    path = tmp_path / "t.csv"
    path.write_text("timestamp_s,prompt_tokens,output_tokens\n0.5,100,10\n"
                    + ",".join(row[c] for c in ("timestamp_s", "prompt_tokens", "output_tokens")) + "\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_trace(path)
    assert str(e.value).startswith(f"{path}: line 3: column '{column}': must be written in the digits 0-9")
    assert repr(cell) in str(e.value)
    kept = read_trace(path, skip_bad_rows=True)
    assert list(kept.prompt_tokens) == [100] and kept.bad_rows == 1


def test_a_jsonl_trace_reads_a_count_given_as_text_and_refuses_other_digits(tmp_path):
    """A JSONL writer that keeps a column as text (pandas' ``to_json`` of a frame read with ``dtype=str``)
    quotes numbers: ``"128"`` is read as the CSV cell ``128`` is; ``"١٢٨"`` is refused like the CSV cell."""
    from sim.errors import InputError
    from sim.workload.traces import read_trace
    path = tmp_path / "t.jsonl"
    path.write_text('{"timestamp_s": "0.5", "prompt_tokens": "128", "output_tokens": 7}\n', encoding="utf-8")
    data = read_trace(path)
    assert (list(data.arrival_s), list(data.prompt_tokens), list(data.output_tokens)) == ([0.5], [128], [7])
    path.write_text('{"timestamp_s": 0.5, "prompt_tokens": "\\u0661\\u0662\\u0668", "output_tokens": 7}\n')
    with pytest.raises(InputError) as e:
        read_trace(path)
    assert "line 1: column 'prompt_tokens': must be written in the digits 0-9" in str(e.value)


# ------------------------------------------------------------------ a token budget under max_model_len, per engine
def _short_budget(scheduler: str) -> dict:
    sc = scenario()         # llama-2-7b: a context of 4,096 tokens
    sc["fleet"]["pools"][0]["batching"] = {"scheduler": scheduler, "chunked_prefill": False,
                                           "max_batched_tokens": 2048, "max_num_seqs": 64}
    return sc


@pytest.mark.parametrize("scheduler,engine,words", [
    ("vllm-v0", "vLLM", "'max_num_batched_tokens (...) is smaller than max_model_len (...)'"),
    ("vllm-v1", "vLLM", "SchedulerConfig without enable_chunked_prefill"),
    ("trtllm", "TensorRT-LLM", "'Without enabling chunked context, the max context length (...) needs to be less "
                               "than or equal to the max number of tokens (...)', max_num_tokens without "
                               "enable_chunked_context"),
])
def test_a_budget_under_max_model_len_without_chunking_is_refused_as_the_engine_refuses(scheduler, engine, words):
    with pytest.raises(ScenarioError) as e:
        scenario_from_dict(_short_budget(scheduler))
    said = str(e.value)
    assert ("fleet.pools.0.batching.max_batched_tokens: must be >= max_model_len (4096) without chunked prefill, or "
            f"a whole prompt of max_model_len tokens never fits one iteration ({engine} refuses to start: ") in said
    assert words in said and "(got 2048)" in said


def test_sglang_starts_with_the_same_budget_and_runs_a_longer_prompt_alone(trace_scenario):
    """SGLang without chunked prefill admits the first prompt of a prefill batch whole past its input budget: a
    prompt of 3,000 tokens over a budget of 2,048 runs alone. By hand (the linear model: 0.01 s + 1e-4 s a
    prompt token + 1e-3 s a decode token): its prefill takes 0.01 + 0.3 = 0.31 s, the first token's time; the
    100-token prompt arriving at 0.1 s waits for it and runs next, 0.01 + 0.01 = 0.02 s, its first token at 0.33 s.
    Before, the pool was refused as vLLM refuses it, and the prompt would have been rejected over the budget."""
    import sim
    from sim.metrics.schema import COMPLETED
    sc = trace_scenario([(0.0, 3000, 2), (0.1, 100, 2)])
    sc["fleet"]["pools"][0]["batching"] = _short_budget("sglang")["fleet"]["pools"][0]["batching"]
    res = sim.run(sc)
    rec = res.records
    assert list(rec["status"]) == [COMPLETED, COMPLETED]
    assert list(rec["first_token_s"]) == pytest.approx([0.31, 0.33], abs=1e-9)
    # then one decode iteration of both: 0.01 + 2 x 1e-3 = 0.012 s
    assert list(rec["completion_s"]) == pytest.approx([0.342, 0.342], abs=1e-9)
