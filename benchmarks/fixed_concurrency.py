"""Fixed-concurrency serving benchmarks: NVIDIA NIM's published Llama-3.3-70B sweep on 2x H100, held out.

Used by ``benchmarks/validate_perf.py`` (section "Latency at fixed concurrency"; alone: ``--section conc``) and
``tests/test_fixed_concurrency.py``. ``python benchmarks/fixed_concurrency.py`` prints every point, published and
simulated, as JSON.

**Source** (:data:`SRC_NIM`): the Performance page of NVIDIA's *NIM LLMs Benchmarking* guide, version 1.0.0
(docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance, also as ``performance.md``), section
"Llama-3.3-70b-instruct Results", NIM container version 1.8.0, "2 x H100 80G", "fp8 TP2", the tables
"5000 Input Tokens / 500 Output Tokens" (concurrency 1, 5, 25, 50, 100, 150, 200, 250: TTFT (ms), ITL (ms),
Throughput (Tokens/s)) and "500 Input Tokens / 2000 Output Tokens" (its concurrency-1 row only: every copy of
the page read, its Markdown and its ``llms.txt``, ends inside the 5-client row after that row's TTFT, 126.53 ms,
so the row's ITL and throughput and the rows below it are not known, and a row cannot be held to the
response-time law without them; the rendered HTML shows only the first table of each version and drops the
GPU, precision and ISL/OSL headings, so the page's other tables, Llama-3.1-8B's among them, have no setup
that can be read and are left out). NVIDIA measured them with its client-side benchmark (AIPerf, the successor of
GenAI-Perf: the guide's "Using AIPerf to Benchmark"): a fixed number of clients, each sending its next request
when the last one finished, synthetic prompts of a fixed length, a fixed number of output tokens, streamed.
The published numbers are consistent with that: by the response-time law each row's throughput is
``concurrency x OSL / (TTFT + (OSL - 1) x ITL)`` within 1.5 % (:func:`littles_law_tokens_per_s`), so TTFT and
ITL are per-request means and throughput counts output tokens only.

**How each point is modelled** (nothing here is fitted to these rows; the catalog's factors as they are):

- **Clients**: ``workload.arrival: {process: closed, concurrency: N, think_time_s: 0}``, the published fixed
  lengths (``dist: fixed``), every client starting at t = 0.
- **Engine**: NIM runs an optimized TensorRT-LLM engine where one exists for the GPU and precision ("The
  optimized TensorRT-LLM profiles are preferred over vLLM when available", NIM for LLMs, "Optimization",
  docs.nvidia.com/nim/large-language-models/latest/optimization.html; which profile ran is not published, an
  assumption); so ``batching.scheduler: trtllm`` at its preset's defaults (in-flight
  batching with whole prompts joining the decodes, ``max_num_seqs`` 256, ``max_num_tokens`` 8,192, KV reserved
  for the whole sequence on admission as TensorRT-LLM's default ``GUARANTEED_NO_EVICT`` policy does) and
  ``gpu_memory_utilization`` 0.90 (TensorRT-LLM's default ``kv_cache_free_gpu_mem_fraction``). NIM's engine
  build settings are not published: the batch limit never binds here (at most 250 clients) and a 5,000-token
  prompt fits the token budget whole.
- **Precision**: fp8 weights (the table's "fp8"); the KV cache dtype is not published. The rows run with an fp8
  KV cache (:data:`KV_DTYPE`; an assumption: NVIDIA's fp8 Llama-70B TensorRT-LLM engines in MLPerf quantize the
  cache too, ``mlperf_server``); the report shows the same points with a bf16 cache
  (:data:`SENSITIVITY_KV`), which the published curve rules out (it saturates at half the sequences).
- **Layout**: one replica of TP2 on ``h100-sxm`` (the page says "H100 80G"; the SXM part is the catalog's).
- **Run length**: :data:`WARMUP_S` of warm-up (the start-up wave of N simultaneous prompts is left out, as a
  benchmark's warm-up requests are), then :attr:`Setup.window_s` measured: about 400 completions at one
  client, thousands above. Same seed, same bytes.

Metrics: simulated ``latency.ttft.mean``, ``latency.tpot.mean`` (per request ``(last - first token) / (tokens -
1)``, AIPerf's inter-token latency) and ``throughput.output_tokens_per_s`` against the published TTFT, ITL and
throughput.
"""
from __future__ import annotations

import json
import math
import pathlib
import sys
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SRC_NIM = ("NVIDIA NIM LLMs Benchmarking 1.0.0, Performance (docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance), "
           "Llama-3.3-70b-instruct Results, NIM 1.8.0, 2 x H100 80G, fp8 TP2")
SECTION = "## Latency at fixed concurrency: NVIDIA NIM, Llama-3.3-70B on 2x H100 (held out)"
KV_DTYPE = "fp8"
SENSITIVITY_KV = "bf16"
KV_FRACTION = 0.90   # TensorRT-LLM's default kv_cache_free_gpu_mem_fraction
WARMUP_S = 600.0
TOLERANCE_C1 = 0.15
"""The bound the concurrency-1 points are held to (``tests/test_fixed_concurrency.py``): TTFT, ITL and throughput
each within 15 % of the published value, the band within which the reference measurements say a model is doing
well (published reruns of the same benchmark move 6-14 %)."""


@dataclass(frozen=True)
class Setup:
    """One published sweep: the model, hardware, engine and lengths shared by its points."""

    id: str
    model: str
    gpu: str
    tp: int
    weight_dtype: str
    input_tokens: int
    output_tokens: int
    window_s: float        # measured seconds after the warm-up
    source: str
    scheduler: str = "trtllm"


@dataclass(frozen=True)
class Point:
    """One published row: the concurrency and the means measured at it (seconds; output tokens/s)."""

    setup: Setup
    concurrency: int
    ttft_s: float
    itl_s: float
    tokens_per_s: float

    @property
    def id(self) -> str:
        return f"{self.setup.id}-c{self.concurrency}"


NIM_5000_500 = Setup("nim70b-5000/500", "llama-3.3-70b", "h100-sxm", 2, "fp8", 5000, 500, 3600.0,
                     SRC_NIM + ", table 5000 Input Tokens / 500 Output Tokens")
NIM_500_2000 = Setup("nim70b-500/2000", "llama-3.3-70b", "h100-sxm", 2, "fp8", 500, 2000, 14400.0,
                     SRC_NIM + ", table 500 Input Tokens / 2000 Output Tokens (concurrency-1 row)")
SETUPS = (NIM_5000_500, NIM_500_2000)

POINTS: list[Point] = [
    # concurrency, TTFT (ms), ITL (ms), throughput (output tokens/s), as published
    *(Point(NIM_5000_500, c, ttft / 1e3, itl / 1e3, tps) for c, ttft, itl, tps in (
        (1, 406.77, 18.58, 51.67),
        (5, 546.7, 21.83, 218.48),
        (25, 688.69, 38.75, 623.4),
        (50, 834.51, 59.73, 814.37),
        (100, 7996.25, 92.91, 917.26),
        (150, 34794.22, 92.86, 920.9),
        (200, 61680.22, 93.06, 920.54),
        (250, 88605.32, 93.2, 920.12),
    )),
    Point(NIM_500_2000, 1, 47.77 / 1e3, 18.91 / 1e3, 52.85),
]
OUTPUT_SPREAD = 10
"""Half-width (tokens) of the diagnostic's output lengths, ``OSL - 10 .. OSL + 10`` uniform: enough to let the
simulated clients drift out of step, too little to move ITL or throughput."""
SENSITIVITY = {
    f"{SENSITIVITY_KV} KV cache": ({"kv_dtype": SENSITIVITY_KV},
                                   ("nim70b-5000/500-c25", "nim70b-5000/500-c50", "nim70b-5000/500-c100")),
    f"clients out of step (outputs {500 - OUTPUT_SPREAD}-{500 + OUTPUT_SPREAD})": (
        {"output_spread": OUTPUT_SPREAD}, ("nim70b-5000/500-c5", "nim70b-5000/500-c25", "nim70b-5000/500-c50")),
}
"""Diagnostics, not the benchmark: the points also run with a bf16 KV cache (:data:`SENSITIVITY_KV`; the dtype is
not published) and with output lengths spread by :data:`OUTPUT_SPREAD` tokens (fixed-length clients that start
together stay locked in step in simulation; whether the real clients did is not published)."""


def littles_law_tokens_per_s(p: Point) -> float:
    """Output tokens/s that ``p``'s published TTFT and ITL imply for its clients by the response-time law (no
    think time): ``N`` requests in flight, each lasting ``TTFT + (OSL - 1) x ITL``.

    >>> round(littles_law_tokens_per_s(POINTS[0]), 2)
    51.66
    """
    e2e = p.ttft_s + (p.setup.output_tokens - 1) * p.itl_s
    return p.concurrency * p.setup.output_tokens / e2e


def scenario(p: Point, kv_dtype: str = KV_DTYPE, output_spread: int = 0) -> dict:
    """The scenario of one point for ``sim.api.run`` (see the module docstring); ``output_spread`` > 0: output
    lengths uniform within that many tokens of the published one (a diagnostic, :data:`SENSITIVITY`)."""
    s = p.setup
    out = ({"dist": "uniform", "low": s.output_tokens - output_spread, "high": s.output_tokens + output_spread}
           if output_spread else {"dist": "fixed", "value": s.output_tokens})
    return {
        "name": f"fixed-concurrency-{p.id}", "seed": 1, "duration": WARMUP_S + s.window_s, "warmup": WARMUP_S,
        "model": s.model,
        "workload": {"arrival": {"process": "closed", "concurrency": p.concurrency, "think_time_s": 0},
                     "prompt_tokens": {"dist": "fixed", "value": s.input_tokens},
                     "output_tokens": out},
        "fleet": {"pools": [{"name": "main", "gpu": s.gpu, "replicas": 1, "tensor_parallel": s.tp,
                             "max_model_len": s.input_tokens + s.output_tokens,
                             "gpu_memory_utilization": KV_FRACTION, "batching": {"scheduler": s.scheduler}}]},
        "perf": {"model": "roofline", "weight_dtype": s.weight_dtype, "kv_dtype": kv_dtype, "streaming": True},
    }


def simulate(p: Point, kv_dtype: str = KV_DTYPE, output_spread: int = 0) -> dict[str, float]:
    """Simulated ``{ttft_s, ttft_p50_s, itl_s, tokens_per_s, completed}`` of one point (``completed``: the
    whole run's, warm-up included)."""
    import warnings  # noqa: PLC0415

    from sim.api import run  # noqa: PLC0415
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no prices: economics warns that GPUs cost 0
        s = run(scenario(p, kv_dtype, output_spread)).summary
    return {"ttft_s": float(s["latency"]["ttft"]["mean"]), "ttft_p50_s": float(s["latency"]["ttft"]["p50"]),
            "itl_s": float(s["latency"]["tpot"]["mean"]),
            "tokens_per_s": float(s["throughput"]["output_tokens_per_s"]),
            "completed": int(s["requests"]["completed"])}


def published(p: Point) -> dict[str, float]:
    return {"ttft_s": p.ttft_s, "itl_s": p.itl_s, "tokens_per_s": p.tokens_per_s}


def error(sim: float, pub: float) -> float:
    return (sim - pub) / pub


METRICS = (("ttft_s", "TTFT (ms)", 1e3), ("itl_s", "ITL (ms)", 1e3), ("tokens_per_s", "output tok/s", 1.0))


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 1000 else f"{v:,.1f}"


def report_lines(results: list[tuple[Point, dict]], sensitivity: dict[str, dict[str, dict]]) -> list[str]:
    """The section of ``docs/validation.md``: every point published against simulated, the error statistics,
    the KV-dtype sensitivity and what the comparison shows."""
    lines = [SECTION, "",
             "Regenerated by `python benchmarks/validate_perf.py` (this section alone: `--section conc`; as JSON: "
             "`python benchmarks/fixed_concurrency.py`). Source: " + SRC_NIM + " (tables `5000 Input Tokens / 500 "
             "Output Tokens` and the concurrency-1 row of `500 Input Tokens / 2000 Output Tokens`), measured with "
             "NVIDIA's client-side benchmark (AIPerf): N clients, each sending its next request when the last one "
             "finished. Modelled as the benchmark ran (`benchmarks/fixed_concurrency.py` gives every setting and "
             "its source): `workload.arrival: {process: closed, concurrency: N, think_time_s: 0}`, fixed lengths, "
             "one TP2 replica on `h100-sxm`, fp8 weights and KV cache, `batching.scheduler: trtllm` at its "
             f"defaults, `gpu_memory_utilization` {KV_FRACTION}, {WARMUP_S:.0f} s warm-up then 3,600 s measured "
             "(14,400 s for 500/2000). Every point is held out: nothing is fitted to it; the catalog's H100 fp8 "
             "factors as they are. Means, as published; error = simulated / published − 1.", "",
             "| point | ISL/OSL | clients | TTFT published | simulated | error | ITL published | simulated | "
             "error | tok/s published | simulated | error | completed (run) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    errs: dict[str, list[float]] = {k: [] for k, _, _ in METRICS}
    for p, sim in results:
        cells = []
        for key, _, scale in METRICS:
            e = error(sim[key], getattr(p, key))
            errs[key].append(e)
            cells.append(f"{_num(getattr(p, key) * scale)} | {_num(sim[key] * scale)} | {e:+.1%}")
        lines.append(f"| {p.id} | {p.setup.input_tokens}/{p.setup.output_tokens} | {p.concurrency} | "
                     + " | ".join(cells) + f" | {sim['completed']:,} |")
    lines += ["", "| metric | median abs error | worst | points within 15 % |", "|---|---:|---:|---:|"]
    for key, name, _ in METRICS:
        a = sorted(abs(e) for e in errs[key])
        med = a[len(a) // 2] if len(a) % 2 else (a[len(a) // 2 - 1] + a[len(a) // 2]) / 2
        lines.append(f"| {name} | {med:.1%} | {a[-1]:.1%} | {sum(e <= 0.15 for e in a)} of {len(a)} |")
    if sensitivity:
        lines += ["", "Diagnostics, not the benchmark (`fixed_concurrency.SENSITIVITY`): the KV cache dtype, which is "
                  "not published, and output lengths spread by a few tokens, which lets the simulated clients drift "
                  "out of step (error against the published point):", "",
                  "| point | variant | TTFT | error | ITL | error | tok/s | error |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        by_id = {p.id: p for p, _ in results}
        for label, sims in sensitivity.items():
            for pid, sim in sims.items():
                p = by_id[pid]
                lines.append(f"| {pid} | {label} | " + " | ".join(
                    f"{_num(sim[k] * sc)} | {error(sim[k], getattr(p, k)):+.1%}" for k, _, sc in METRICS) + " |")
    lines += ["", analysis(results, sensitivity), ""]
    return lines


def analysis(results: list[tuple[Point, dict]], sensitivity: dict[str, dict[str, dict]]) -> str:
    """The paragraph on what the comparison shows, with the numbers of this run."""
    r = {p.id: (p, s) for p, s in results}

    def e(pid: str, key: str) -> str:
        p, s = r[pid]
        return f"{error(s[key], getattr(p, key)):+.1%}"

    c1, c5, c50 = "nim70b-5000/500-c1", "nim70b-5000/500-c5", "nim70b-5000/500-c50"
    c200, c250 = "nim70b-5000/500-c200", "nim70b-5000/500-c250"
    sat = [p for p, _ in results if p.setup is NIM_5000_500 and p.concurrency >= 100]
    plateau = [r[p.id][1]["tokens_per_s"] for p in sat]
    inflight = [r[p.id][1]["tokens_per_s"] * r[p.id][1]["itl_s"] for p in sat]
    pub_inflight = [p.tokens_per_s * p.itl_s for p in sat]
    kv = sensitivity.get(f"{SENSITIVITY_KV} KV cache", {})
    spread = next((v for k, v in sensitivity.items() if k.startswith("clients out of step")), {})
    mid = [pid for pid in (c5, "nim70b-5000/500-c25", c50) if pid in r]

    def ttft_errs(sims: dict) -> str:
        return ", ".join(f"{error(sims[pid]['ttft_s'], r[pid][0].ttft_s):+.0%}" for pid in mid if pid in sims)

    locked = (
        f" TTFT from 5 to 50 clients ({ttft_errs({pid: r[pid][1] for pid in mid})} at 5, 25 and 50) depends on "
        "something the table does not pin, the clients' phases: clients that start together with fixed lengths "
        "finish in the same iteration, send their next prompts together and, with deterministic step times, stay "
        f"locked in step for the whole run (the median TTFT at 5 clients is {r[c5][1]['ttft_p50_s'] * 1e3:.0f} ms, "
        f"two prompt prefills of {r[c1][1]['ttft_s'] * 1e3:.0f} ms: two 5,000-token prompts do not fit one "
        "8,192-token iteration, so one waits for the other's).")
    if spread:
        locked += (f" With outputs spread by ±{OUTPUT_SPREAD} tokens the clients drift apart and TTFT is "
                   f"{ttft_errs(spread)} (ITL and throughput move by under 3 points): " + bracketed(r, spread, mid))
    sens = (f" With a {SENSITIVITY_KV} cache the replica holds half as many sequences and the simulated curve "
            f"saturates by 50 clients (TTFT {error(kv[c50]['ttft_s'], r[c50][0].ttft_s):+.0%} there), which the "
            "published curve rules out: the fp8 cache, assumed (not published), is the setting consistent with it, "
            "and the one setting these rows could inform.") if c50 in kv else ""
    return (
        "**What it shows.** At one client the latency is pure step time: the first token is one prefill "
        f"iteration of the prompt and ITL one decode step at batch 1. The catalog's step model is fast there: "
        f"TTFT {e(c1, 'ttft_s')} and ITL {e(c1, 'itl_s')} at 5,000/500, TTFT {e('nim70b-500/2000-c1', 'ttft_s')} and "
        f"ITL {e('nim70b-500/2000-c1', 'itl_s')} at 500/2000, so throughput at one client is "
        f"{e(c1, 'tokens_per_s')} and {e('nim70b-500/2000-c1', 'tokens_per_s')}: the catalog's H100 fp8 factors, "
        "fitted on TensorRT-LLM v0.5's Llama-2-7B throughput rows, make a 70B model's single-sequence step on TP2 "
        "a little faster than NIM's engine, and what they miss is not in this table (the two-GPU all-reduce at "
        "batch 1, per-step CPU and sampling time, the HTTP front end on TTFT, `fleet.frontend_s` 0 here, are all "
        "candidates; none is measured here). From 5 to 50 clients ITL follows the published curve as the batch "
        f"grows ({e(c5, 'itl_s')} at 5 clients, {e('nim70b-5000/500-c25', 'itl_s')} at 25, {e(c50, 'itl_s')} at "
        f"50), and so does throughput." + locked
        + " From 100 clients on the replica is full: both curves flatten at the same throughput "
        f"({min(plateau):,.0f} simulated against {min(p.tokens_per_s for p in sat):,.0f}-"
        f"{max(p.tokens_per_s for p in sat):,.0f} published), with ~{min(inflight):.0f} sequences decoding by "
        f"Little's law against ~{min(pub_inflight):.0f}-{max(pub_inflight):.0f} published: the number that fits "
        "in the KV cache left beside 35 GB of weights per GPU when each reserves its whole 5,500 tokens. "
        "Above that, clients queue for a free slot and each extra client adds "
        "one served request's share of the cycle, OSL / throughput, to TTFT: "
        f"{(r[c250][0].ttft_s - r[c200][0].ttft_s) / 50 * 1e3:.0f} ms per client published between 200 and 250 "
        f"clients, {(r[c250][1]['ttft_s'] - r[c200][1]['ttft_s']) / 50 * 1e3:.0f} ms simulated." + sens
        + " These rows test the closed-loop client model, the TensorRT-LLM in-flight batching and KV admission, "
        "and the step curve of a 70B model on two GPUs from batch 1 to ~85 sequences at 5,000-token contexts; "
        "they do not test a chunked-prefill engine (vLLM V1, SGLang) or a dataset's length distribution.")


def bracketed(r: dict[str, tuple[Point, dict]], spread: dict[str, dict], ids: list[str]) -> str:
    """Where the published TTFT of each point in ``ids`` lies against its two simulations, clients in step
    (``r``: ``{point id: (point, simulated)}``) and out of step (``spread``): the sentence saying which points
    the two bracket and, for the others, that both simulations are below (or above) the published value.

    >>> pt = {c: Point(NIM_5000_500, c, 1.0, 0.02, 100.0) for c in (5, 50)}
    >>> r = {f"c{c}": (pt[c], {"ttft_s": t}) for c, t in ((5, 1.2), (50, 0.87))}
    >>> print(bracketed(r, {"c5": {"ttft_s": 0.72}, "c50": {"ttft_s": 0.72}}, ["c5", "c50"]))
    the published TTFT at 5 clients lies between the two, so the model brackets it without settling how far a real server's clients stay in step; at 50 clients both are below it (-13% and -28%).
    """
    pub = {pid: r[pid][0].ttft_s for pid in ids if pid in spread}
    pair = {pid: (r[pid][1]["ttft_s"], spread[pid]["ttft_s"]) for pid in pub}
    inside = [pid for pid in pub if min(pair[pid]) <= pub[pid] <= max(pair[pid])]

    def clients(pids: list[str]) -> str:
        ns = [f"{r[pid][0].concurrency}" for pid in pids]
        return (", ".join(ns[:-1]) + " and " + ns[-1] if len(ns) > 1 else ns[0]) + " clients"

    if len(inside) == len(pub):
        return ("the published TTFTs lie between the two, so the model brackets them without settling how far a "
                "real server's clients stay in step.")
    text = (f"the published TTFT{'s' if len(inside) > 1 else ''} at {clients(inside)} "
            f"{'lie' if len(inside) > 1 else 'lies'} between the two, so the model brackets "
            f"{'them' if len(inside) > 1 else 'it'} without settling how far a real server's clients stay in "
            "step; " if inside else "")
    outside = []
    for pid in (p for p in pub if p not in inside):
        side = "below" if max(pair[pid]) < pub[pid] else "above"
        errs = " and ".join(f"{error(v, pub[pid]):+.0%}" for v in pair[pid])
        outside.append(f"at {clients([pid])} both are {side} it ({errs})")
    return text + "; ".join(outside) + ("." if inside else ": the model does not bracket them.")


def run_all(with_sensitivity: bool = True) -> tuple[list[tuple[Point, dict]], dict[str, dict[str, dict]]]:
    """Every point simulated, and the diagnostics of :data:`SENSITIVITY` (``{variant: {point id: simulated}}``)."""
    results = [(p, simulate(p)) for p in POINTS]
    sens = {label: {p.id: simulate(p, **kw) for p in POINTS if p.id in ids}
            for label, (kw, ids) in SENSITIVITY.items()} if with_sensitivity else {}
    return results, sens


def main() -> int:
    results, sens = run_all()
    for p, s in results:
        print(json.dumps({"point": p.id, "concurrency": p.concurrency, "published": published(p), "simulated": s,
                          "error": {k: round(error(s[k], getattr(p, k)), 4) for k, _, _ in METRICS},
                          "littles_law_tokens_per_s": round(littles_law_tokens_per_s(p), 2)}))
    for label, sims in sens.items():
        for pid, s in sims.items():
            print(json.dumps({"point": pid, "variant": label, "simulated": s}))
    worst = max(abs(error(s[k], getattr(p, k))) for p, s in results for k, _, _ in METRICS if not math.isnan(s[k]))
    print(json.dumps({"points": len(results), "worst_abs_error": round(worst, 4)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
