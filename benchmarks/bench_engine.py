"""Engine benchmarks: simulated requests per wall-second, wall time, peak RSS and SimPy events.

Each case runs in its own Python process (so peak RSS is the case's own), loads the scenario,
simulates it, writes the result folder with ``Result.write`` into a temporary directory, and
prints one JSON object per case on stdout::

    python benchmarks/bench_engine.py                      # every case, both engines
    python benchmarks/bench_engine.py --quick              # CI-sized (5,000 requests per reference case)
    python benchmarks/bench_engine.py --case ref1 --case ref8 --engine fast
    python benchmarks/bench_engine.py --profile ref8       # cProfile of one case (fast engine), top functions
    python benchmarks/bench_engine.py --list
    python benchmarks/bench_engine.py --cli --case ref1    # through `python -m sim run ... --out DIR`

Fields: ``case``, ``engine``, ``requests`` (arrived), ``completed``, ``simulated_s``,
``wall_s`` (the whole child process, interpreter start to exit, result folder written),
``run_s`` (load + simulate + write, measured inside the process), ``requests_per_wall_s``
(= requests / wall_s), ``peak_rss_mb`` (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; also
``peak_rss_before_write_mb``, taken before ``Result.write``), ``cpu_s`` (user + system CPU
seconds of the child process, interpreter start to the end of the write: on a shared machine
less disturbed by other processes than ``wall_s``),
``events`` (SimPy events processed, counted by wrapping ``Environment.step``; omitted with
``--no-events``).

Cases (rates in requests/s):

* ``baseline`` -- ``scenarios/baseline.yaml`` as bundled (4 x H100, Llama-3-8B, 12/s, 1 h);
* ``baseline16`` -- the same with 16 replicas and the rate x 4 (48/s);
* ``ref1`` / ``ref8`` -- the reference workload: Llama-2-7B on A100-80GB, TP1,
  ``max_num_seqs`` 128, ``scheduler: vllm-v0`` without chunked prefill (prompt-only iterations),
  prompt 512 / output 128 fixed, Poisson 10/s per replica, round robin, 100,000 requests
  (duration = 100,000 / total rate);
* ``ref1_v1`` / ``ref8_v1`` -- ``ref1`` / ``ref8`` with the default scheduler, ``vllm-v1`` (prompts
  chunked into the decode iterations, 8,192-token budget);
* ``ref8_trtllm`` / ``ref8_sglang`` -- ``ref8`` with the ``trtllm`` preset (whole prompts join the
  decode iterations, full KV reservation) / the ``sglang`` preset (prompts chunked, in iterations
  of their own);
* ``ref8_lognormal`` -- ``ref8`` with lognormal lengths (means 512 / 128, cv 1, max 4096 / 1024);
* ``ref8_chunked`` -- ``ref8`` with chunked prefill and a 512-token iteration budget;
* ``ref8_pp2`` -- ``ref8`` with two pipeline stages per replica (micro-batches of whole sequences,
  the pipelined step path);
* ``fluid_year`` -- ``fidelity: fluid``: one simulated year of hourly steps for 2,000 replicas of
  the baseline pool (diurnal traffic, mean 5,000/s, 2 %/month growth); run twice in a fresh
  ``$FLEETSIM_CACHE``: cold (capacity curve measured) and warm (curve read from the cache);
* ``fluid_year_bursty`` -- ``fluid_year`` with the diurnal cycle an hour long (``period: 3600``, mean
  35,000/s, peak-to-trough 2, peaks at half past each hour, no growth): every hourly step's mean is
  within the 2,000 replicas' capacity (about 43,000/s) and its peak above it, so every step builds and
  clears a backlog inside it (the fluid tier's worst case for reading steps on their sub-steps,
  ``sim/fluid/substep.py``);
* ``fluid_year_backlogged`` -- ``fluid_year_bursty`` at mean 30,000/s, peak-to-trough 3, peaks on the
  hour: every hourly step starts and ends behind a backlog (what reading a step on its sub-steps cost
  before a backlog inside a step was read; the yardstick for ``fluid_year_bursty``), not in the defaults;
* ``fluid_year_pinned`` -- ``fluid_year`` on two pools of 1,000 replicas with two classes
  (``fleet.router.classes``): ``chat`` (70 %) free on both, ``docs`` (30 %, with a daily cycle of its
  own) pinned to the second, so least outstanding's water-filling splits every step differently.

Bundled scenarios as they are (only with ``--case``; not in the default set, the reference engine
takes minutes on them; ``--quick``: their first hour):

* ``failures`` -- ``scenarios/failures.yaml`` (8 replicas, least outstanding, failures and
  repairs, 1 d, ~108,000 requests);
* ``diurnal_week`` -- ``scenarios/diurnal_week.yaml`` (a week of diurnal traffic, autoscaled,
  priority classes, ~121,000 requests and ~25 million inter-token gap pairs).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

# the measured child process imports only what it uses (cProfile, pstats and subprocess are
# imported where the parent needs them), so the harness adds as little as possible to wall_s

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("fast", "reference")

REFERENCE = {
    "name": "reference-workload", "seed": 1, "warmup": 0,
    "model": "llama-2-7b",
    "workload": {"arrival": {"process": "poisson", "rate": 10.0},
                 "prompt_tokens": {"dist": "fixed", "value": 512},
                 "output_tokens": {"dist": "fixed", "value": 128}},
    "fleet": {"router": "round_robin",
              "pools": [{"name": "main", "gpu": "a100-80gb", "replicas": 1, "tensor_parallel": 1,
                         "batching": {"scheduler": "vllm-v0", "policy": "continuous", "max_num_seqs": 128,
                                      "max_batched_tokens": 8192, "chunked_prefill": False}}]},
    "perf": {"model": "roofline"},
    "slo": {"ttft_s": 2.0, "tpot_s": 0.1},
    "economics": {"gpu_hour_usd": 2.0},
}


def _reference(replicas: int, n_requests: int, **batching) -> dict:
    sc = copy.deepcopy(REFERENCE)
    rate = 10.0 * replicas
    sc["workload"]["arrival"]["rate"] = rate
    sc["duration"] = n_requests / rate
    sc["fleet"]["pools"][0]["replicas"] = replicas
    sc["fleet"]["pools"][0]["batching"].update(batching)
    sc["name"] = f"reference-{replicas}x"
    return sc


def case_scenario(case: str, quick: bool) -> tuple[object, list[str]]:
    """(scenario path or dict, overrides) of a named case."""
    n = 5_000 if quick else 100_000
    base_over = ["duration=5m", "warmup=0"] if quick else []
    if case == "baseline":
        return str(ROOT / "scenarios" / "baseline.yaml"), base_over
    if case == "baseline16":
        return str(ROOT / "scenarios" / "baseline.yaml"), base_over + [
            "fleet.pools.0.replicas=16", "workload.arrival.rate=48", "name=baseline16"]
    if case == "ref1":
        return _reference(1, n), []
    if case == "ref8":
        return _reference(8, n), []
    if case == "ref8_lognormal":
        sc = _reference(8, n)
        sc["workload"]["prompt_tokens"] = {"dist": "lognormal", "mean": 512, "cv": 1.0, "max": 4096}
        sc["workload"]["output_tokens"] = {"dist": "lognormal", "mean": 128, "cv": 1.0, "max": 1024}
        sc["name"] = "reference-8x-lognormal"
        return sc, []
    if case in ("ref1_v1", "ref8_v1", "ref8_trtllm", "ref8_sglang"):
        replicas, scheduler = int(case[3]), case.split("_")[1]
        scheduler = "vllm-v1" if scheduler == "v1" else scheduler
        sc = _reference(replicas, n, scheduler=scheduler)
        for key in ("chunked_prefill", "policy"):   # the preset's rules, not the reference workload's
            del sc["fleet"]["pools"][0]["batching"][key]
        sc["name"] = f"reference-{replicas}x-{scheduler}"
        return sc, []
    if case == "ref8_pp2":
        sc = _reference(8, n)
        sc["fleet"]["pools"][0]["pipeline_parallel"] = 2
        sc["name"] = "reference-8x-pp2"
        return sc, []
    if case == "ref8_chunked":
        sc = _reference(8, n, chunked_prefill=True, max_batched_tokens=512)
        sc["name"] = "reference-8x-chunked"
        return sc, []
    if case in SCENARIO_CASES:
        return str(ROOT / "scenarios" / f"{case}.yaml"), ["duration=1h", "warmup=0"] if quick else []
    if case == "fluid_year":
        return str(ROOT / "scenarios" / "baseline.yaml"), [
            "name=fluid-year-2000", "fidelity=fluid", "warmup=0", "duration=365d" if not quick else "duration=30d",
            "fleet.pools.0.replicas=2000",
            "workload.arrival={process: diurnal, mean_rate: 5000, peak_to_trough: 3}",
            "workload.growth={monthly: 0.02}"]
    if case == "fluid_year_bursty":
        return str(ROOT / "scenarios" / "baseline.yaml"), [
            "name=fluid-year-bursty", "fidelity=fluid", "warmup=0", "duration=365d" if not quick else "duration=30d",
            "fleet.pools.0.replicas=2000",
            "workload.arrival={process: diurnal, mean_rate: 35000, peak_to_trough: 2, period: 3600, peak_hour: 14.5}"]
    if case == "fluid_year_backlogged":
        return str(ROOT / "scenarios" / "baseline.yaml"), [
            "name=fluid-year-backlogged", "fidelity=fluid", "warmup=0", "duration=365d" if not quick else "duration=30d",
            "fleet.pools.0.replicas=2000",
            "workload.arrival={process: diurnal, mean_rate: 30000, peak_to_trough: 3, period: 3600, peak_hour: 14}"]
    if case == "fluid_year_pinned":
        return str(ROOT / "scenarios" / "baseline.yaml"), [
            "name=fluid-year-pinned", "fidelity=fluid", "warmup=0", "duration=365d" if not quick else "duration=30d",
            "fleet.pools=[{name: a, gpu: h100-sxm, replicas: 1000, batching: {scheduler: vllm-v1, max_num_seqs: 256, "
            "max_batched_tokens: 8192}}, {name: b, gpu: h100-sxm, replicas: 1000, batching: {scheduler: vllm-v1, "
            "max_num_seqs: 256, max_batched_tokens: 8192}}]",
            "fleet.router={policy: least_outstanding, classes: {chat: [a, b], docs: b}}",
            "workload.arrival={process: diurnal, mean_rate: 3500, peak_to_trough: 3}",
            "workload.classes=[{name: chat, share: 1.0}, {name: docs, arrival: {process: diurnal, mean_rate: 1500, "
            "peak_to_trough: 2, peak_hour: 3}}]",
            "workload.growth={monthly: 0.02}"]
    raise SystemExit(f"unknown case {case!r}; allowed: {', '.join(CASES)}")


DEFAULT_CASES = ("baseline", "baseline16", "ref1", "ref8", "ref8_lognormal", "ref8_chunked", "ref8_pp2", "ref1_v1",
                 "ref8_v1", "ref8_trtllm", "ref8_sglang", "fluid_year", "fluid_year_bursty", "fluid_year_pinned")
SCENARIO_CASES = ("failures", "diurnal_week")
CASES = DEFAULT_CASES + SCENARIO_CASES + ("fluid_year_backlogged",)
FLUID_CASES = ("fluid_year", "fluid_year_bursty", "fluid_year_backlogged", "fluid_year_pinned")


def _count_events() -> list[int]:
    """Wrap ``simpy.Environment.step`` to count processed events (one list cell, no globals kept)."""
    import simpy

    counter = [0]
    orig = simpy.Environment.step

    def step(self):
        counter[0] += 1
        return orig(self)

    simpy.Environment.step = step
    return counter


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (less disturbed than wall time by other
    processes on a shared machine)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_one(case: str, engine: str, quick: bool, events: bool) -> dict:
    """Run one case in this process and return its measurements."""
    t0 = time.perf_counter()
    import sim

    counter = _count_events() if events else None
    scenario, overrides = case_scenario(case, quick)
    overrides = list(overrides) + [f"engine={engine}"]
    t1 = time.perf_counter()
    res = sim.run(scenario, overrides=overrides)
    t2 = time.perf_counter()
    rss_sim = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    with tempfile.TemporaryDirectory() as tmp:
        res.write(Path(tmp) / "out")
    t3 = time.perf_counter()
    s = res.summary
    out = {
        "case": case, "engine": engine, "quick": quick,
        "requests": s["requests"]["arrived"], "completed": s["requests"]["completed"],
        "simulated_s": s["simulated_seconds"],
        "run_s": round(t3 - t1, 3), "simulate_s": round(t2 - t1, 3), "write_s": round(t3 - t2, 3),
        "import_s": round(t1 - t0, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "cpu_s": round(_cpu_seconds(), 3),
        "peak_rss_before_write_mb": round(rss_sim, 1),
        "ttft_p99_s": s["latency"]["ttft"]["p99"], "gpu_busy": round(s["utilization"]["gpu_busy"], 4),
    }
    if counter is not None:
        out["events"] = counter[0]
    return out


def run_case_subprocess(case: str, engine: str, quick: bool, events: bool) -> dict:
    import subprocess

    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", case, "--engine", engine]
    if quick:
        cmd.append("--quick")
    if not events:
        cmd.append("--no-events")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"case": case, "engine": engine, "error": proc.stderr.strip().splitlines()[-1:]}
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["wall_s"] = round(wall, 3)
    row["requests_per_wall_s"] = round(row["requests"] / wall, 1)
    return row


def run_case_cli(case: str, engine: str, quick: bool) -> dict:
    """The case as a user runs it: ``python -m sim run SCENARIO --out DIR --quiet`` in a fresh
    process (wall time of that process; the requests from the summary it wrote)."""
    import subprocess

    import yaml

    scenario, overrides = case_scenario(case, quick)
    with tempfile.TemporaryDirectory() as tmp:
        if isinstance(scenario, dict):
            path = Path(tmp) / f"{case}.yaml"
            path.write_text(yaml.safe_dump(scenario))
            scenario = str(path)
        cmd = [sys.executable, "-m", "sim", "run", scenario, "--quiet", "--out", str(Path(tmp) / "out"),
               "--set", f"engine={engine}"]
        for o in overrides:
            cmd += ["--set", o]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            return {"case": case, "engine": engine, "via": "cli", "error": proc.stderr.strip().splitlines()[-1:]}
        s = json.loads((Path(tmp) / "out" / "summary.json").read_text())
    n = s["requests"]["arrived"]
    return {"case": case, "engine": engine, "via": "cli", "quick": quick, "requests": n,
            "simulated_s": s["simulated_seconds"], "wall_s": round(wall, 3),
            "requests_per_wall_s": round(n / wall, 1)}


def profile(case: str, quick: bool, top: int) -> str:
    """cProfile one case on the fast engine; the top functions by own time and by cumulative time."""
    import cProfile
    import io
    import pstats

    import sim

    scenario, overrides = case_scenario(case, quick)
    prof = cProfile.Profile()
    prof.enable()
    res = sim.run(scenario, overrides=list(overrides) + ["engine=fast"])
    with tempfile.TemporaryDirectory() as tmp:
        res.write(Path(tmp) / "out")
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", choices=CASES, help="run only this case (repeatable)")
    ap.add_argument("--engine", action="append", choices=ENGINES, help="run only this engine (repeatable)")
    ap.add_argument("--quick", action="store_true", help="CI-sized cases (5,000 requests; baseline 5 min)")
    ap.add_argument("--no-events", action="store_true", help="do not count SimPy events")
    ap.add_argument("--profile", metavar="CASE", choices=CASES, help="cProfile one case (fast engine)")
    ap.add_argument("--top", type=int, default=25, help="--profile: functions to list")
    ap.add_argument("--cli", action="store_true",
                    help="run each case through the command line (python -m sim run ... --out DIR) instead")
    ap.add_argument("--list", action="store_true", help="list the cases")
    ap.add_argument("--child", metavar="CASE", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.list:
        print("\n".join(CASES))
        return 0
    if a.child:
        print(json.dumps(run_one(a.child, (a.engine or ["fast"])[0], a.quick, not a.no_events)))
        return 0
    if a.profile:
        print(profile(a.profile, a.quick, a.top))
        return 0
    for case in a.case or DEFAULT_CASES:
        if case in FLUID_CASES:
            # the engine does not apply; the first run measures the capacity curve (cold cache),
            # the second reads it from the cache
            with tempfile.TemporaryDirectory() as cache:
                os.environ["FLEETSIM_CACHE"] = cache
                for label in ("cold_cache", "warm_cache"):
                    row = run_case_subprocess(case, "fast", a.quick, False)
                    row["engine"] = f"fluid ({label})"
                    print(json.dumps(row), flush=True)
            continue
        for engine in a.engine or ENGINES:
            row = (run_case_cli(case, engine, a.quick) if a.cli
                   else run_case_subprocess(case, engine, a.quick, not a.no_events))
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
