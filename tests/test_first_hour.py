"""A new user's first hour: what the terminal and the report say when input is odd but legal, and
the one clear line when it is not."""
import pytest

import sim
from sim.report.overview import overview


def _short(*extra):
    return ["duration=2m", "warmup=0", *extra]


def test_a_run_whose_every_prompt_is_too_long_says_so_not_idle():
    """Prompts of 9,000 tokens on Llama-3-8B (context 8,192) are all turned away, as vLLM refuses a
    prompt longer than max_model_len: the verdict names the count and the reason, and does not
    call the fleet idle with room for more traffic."""
    r = sim.run("scenarios/baseline.yaml",
                overrides=_short("workload.prompt_tokens={dist: fixed, value: 9000}"))
    n = r.summary["requests"]["arrived"]
    assert n > 0 and r.summary["requests"]["rejected"] == n
    v = overview(r.summary).verdict
    assert f"Every request was rejected ({n:,} of {n:,}): {n:,} with a prompt longer than the context" in v
    assert "idle" not in v and "room for" not in v and "load factor" not in v.lower()


def test_some_rejections_are_counted_by_reason_and_the_headroom_stays():
    s = {"scenario": "x", "slo": {"attainment": 0.7, "ttft_s": 2.0, "tpot_s": 0.1},
         "requests": {"arrived": 10, "completed": 7, "rejected": 3,
                      "rejected_by_reason": {"prompt_exceeds_max_context": 2, "kv_capacity": 1, "no_replica": 0}},
         "utilization": {"load_factor": 0.5}, "pools": {}}
    v = overview(s).verdict
    assert ("3 of 10 requests were rejected: 2 with a prompt longer than the context (max_model_len); "
            "1 with more KV cache than a replica holds; they count as SLO misses.") in v
    assert "room for about 100% more traffic" in v


def test_no_rejection_no_sentence():
    s = {"scenario": "x", "slo": {"attainment": 1.0}, "requests": {"arrived": 10, "completed": 10, "rejected": 0},
         "pools": {}}
    assert "rejected" not in overview(s).verdict
