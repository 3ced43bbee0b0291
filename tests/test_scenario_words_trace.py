"""A run's paragraph names the trace its lengths are drawn from: it said "Prompts from the trace tokens;
outputs from the trace tokens", naming no file, so a planner could not tell which trace a page was of."""
from sim.report.scenario_words import scenario_described

CONV = {"dist": "trace", "path": "traces/azure_conv_2023_first2000.csv", "format": "azure"}


def _scenario(prompt, output) -> dict:
    return {"name": "t", "duration": 3600, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "poisson", "rate": 40}, "prompt_tokens": prompt, "output_tokens": output},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 2}]}}


def test_both_lengths_from_one_trace_are_said_once_with_its_file():
    sentences, settings = scenario_described("t", _scenario(CONV, CONV), {})
    assert ("Prompt and output lengths as in the trace azure_conv_2023_first2000.csv, each request's from one of "
            "its rows.") in sentences
    assert not any("from the trace tokens" in s or s.startswith("Prompts ") for s in sentences)
    assert dict(settings)["prompt tokens"] == "as in the trace azure_conv_2023_first2000.csv"


def test_a_trace_for_one_length_only_names_it_beside_the_other_distribution():
    other = {"dist": "lognormal", "mean": 250, "cv": 1.0}
    sentences, _ = scenario_described("t", _scenario(CONV, other), {})
    assert "Prompts as in the trace azure_conv_2023_first2000.csv; outputs lognormal, mean 250 (CV 1) tokens." in sentences
    # the same file read in another format is no pairing of rows: each said on its own
    sentences, _ = scenario_described("t", _scenario(CONV, {**CONV, "format": "fleetsim"}), {})
    assert any(s.startswith("Prompts as in the trace azure_conv_2023_first2000.csv; outputs as in") for s in sentences)
