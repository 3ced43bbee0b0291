"""A run whose backlog piled up in a burst and drained before the end reads ``stable`` (the verdict a plan's
feasibility takes): its terminal stability line says how high the backlog piled, ``peak N in system (M at the
end)``, so that "stable" is not read as "never queued"."""
import sim
from sim.report_text import format_summary, peak_words


def _line(result) -> str:
    return next(line for line in format_summary(result).splitlines() if line.startswith("stability"))


def burst_scenario(duration: str, output_tokens: int) -> dict:
    """40 requests of 100 prompt tokens at once at t = 5 s to one idle H100 serving Llama-3-8B."""
    return {"name": "burst", "seed": 1, "duration": duration, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "burst", "count": 40, "at": "5s"},
                         "prompt_tokens": {"dist": "fixed", "value": 100},
                         "output_tokens": {"dist": "fixed", "value": output_tokens}},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]}}


def test_a_burst_that_drained_reads_stable_with_its_peak():
    """40 requests offered at once at t = 5 s to an otherwise idle H100: each decodes 2,000 tokens, one a step,
    and a step of Llama-3-8B reads at least its 16 GB of weights at 3.35 TB/s (4.8 ms), so the batch runs for
    more than 9.6 s and all 40 are in the system at the 10 s sample (the time series is sampled every 10 s):
    the peak is exactly 40 (no more ever arrive). 40 × 2,000 tokens take well under the 10-minute run at
    that batch, so none is left at the end."""
    result = sim.run(burst_scenario("10m", 2000))
    b = result.summary["stability"]
    assert (b["in_flight_peak"], b["in_flight_at_end"]) == (40, 0)
    assert "  peak 40 in system (0 at the end)" in _line(result)


def test_the_words_carry_thousands_separators_and_leave_a_closed_loop_out():
    assert peak_words({"verdict": "unstable", "in_flight_peak": 12_345, "in_flight_at_end": 9_876}) == \
        "sampled peak 12,345 in system (9,876 at the end)"
    # a closed loop holds at most its clients: the verdict already says "bounded"
    assert peak_words({"verdict": "stable", "closed_loop_clients": 8, "in_flight_peak": 8,
                       "in_flight_at_end": 8}) == ""
    assert peak_words({"verdict": "stable"}) == ""          # an older summary without the figures
