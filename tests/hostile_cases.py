"""Hostile input, case by case: every bundled scenario and a scenario using each newer key, mutated key
by key, plus broken files and bad command-line flags. :func:`cases` lists them; :func:`check` runs one
through ``fleetsim`` in this process and says what is wrong with the answer (``None``: nothing).

What a case must get: exit status 2 (or 0 where the mutation is legal), no traceback or internal error,
and an error that names the file and the field: a line ``<file>: <field>: ...`` whose field is the
mutated key, a key inside it or a block holding it.

``python tests/hostile_cases.py`` runs them all and prints, per class of input, how many cases were
tried, how many the tool accepted and how many failed (JSON); ``--show`` prints the failures.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
TRACE = ROOT / "scenarios" / "traces" / "fleetsim_sample.csv"
STEPS = ROOT / "sim" / "perf" / "data" / "a100_llama2_7b_tp1_steps.csv"
HF_LLAMA = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
            "max_position_embeddings": 8192}


@dataclass(frozen=True)
class Link:
    """A file of a case that is a symbolic link to ``target`` (relative to the link's folder)."""

    target: str


@dataclass
class Case:
    """One hostile input: files to write (relative names), the command (``{d}`` is their folder),
    the field the error must name (``None``: only the file) and the exit statuses allowed."""

    kind: str
    name: str
    argv: list[str]
    files: dict[str, bytes | Link] = field(default_factory=dict)
    source: str | tuple[str, ...] = "s.yaml"
    field: str | None = None
    allowed: tuple[int, ...] = (0, 2)
    value: object = None


# ------------------------------------------------------------------------------ base scenarios
def _small() -> dict:
    return {"name": "t", "seed": 1, "duration": 60, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "poisson", "rate": 2},
                         "prompt_tokens": {"dist": "fixed", "value": 200},
                         "output_tokens": {"dist": "fixed", "value": 20}},
            "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}


def newer_keys() -> dict[str, tuple[dict, dict[str, bytes]]]:
    """Small scenarios using the keys added since the first audits, with the files they name."""
    out: dict[str, tuple[dict, dict[str, bytes]]] = {}
    sc = _small()
    sc["fleet"]["pools"][0]["gpu"] = {"bf16_tflops": 989, "fp8_tflops": 1979, "hbm_gb": 80, "hbm_tbps": 3.35,
                                      "interconnect_gbps": 450, "tdp_w": 700}
    out["inline_gpu"] = (sc, {})
    sc = _small()
    sc["model"] = {"n_layers": 32, "hidden": 4096, "n_heads": 32, "n_kv_heads": 8, "head_dim": 128,
                   "ffn_hidden": 14336, "vocab": 128256, "max_context": 8192}
    out["inline_model"] = (sc, {})
    sc = _small()
    sc["model"] = {"hf_config": "config.json", "name": "mine"}
    out["hf_config"] = (sc, {"config.json": json.dumps(HF_LLAMA).encode()})
    sc = _small()
    sc["fleet"]["pools"][0]["batching"] = {"scheduler": "sglang", "max_num_seqs": 64}
    sc["perf"] = {"model": "roofline", "overhead_s": 0.002, "cpu_per_seq_s": 1e-5, "cpu_per_token_s": 1e-6,
                  "cpu_per_stream_token_s": 1e-6, "streaming": True, "kernels": "pytorch",
                  "kernel_factors": {"elementwise_floor_s": 2e-5}}
    out["scheduler_overheads"] = (sc, {})
    sc = _small()
    sc["fleet"]["pools"][0]["batching"] = {"scheduler": "trtllm", "prefill_min_free_kv_pct": 31}
    out["prefill_gate"] = (sc, {})
    sc = _small()
    sc["model"] = "mixtral-8x7b"
    sc["fleet"]["pools"][0].update(tensor_parallel=8, pipeline_parallel=2, expert_parallel=8,
                                   pipeline_micro_batches=2, data_parallel_attention=True, gpus_per_node=8,
                                   ib_gbps=400)
    out["layout"] = (sc, {})
    sc = _small()
    sc["workload"]["arrival"] = {"process": "burst", "count": 50, "at": 5}
    sc["workload"]["prompt_tokens"] = {"dist": "lognormal", "mean": 500, "cv": 1, "max": 2000, "truncate": "resample"}
    sc["drain"] = True
    sc["fleet"]["frontend_s"] = 0.05
    out["burst_drain"] = (sc, {})
    sc = _small()
    sc["workload"]["arrival"] = {"process": "offline", "count": 20}
    out["offline"] = (sc, {})
    sc = _small()
    sc["perf"] = {"model": "table", "path": "steps.csv", "fallback": "roofline"}
    out["perf_table"] = (sc, {"steps.csv": STEPS.read_bytes()})
    sc = _small()
    sc["perf"] = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-5, "per_decode_token_s": 1e-4,
                  "per_context_token_s": 1e-7}
    out["perf_linear"] = (sc, {})
    sc = _small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "t.csv", "format": "fleetsim", "loop": True,
                                  "time_scale": 1.0, "rate_scale": 1.0}}
    out["trace"] = (sc, {"t.csv": TRACE.read_bytes()})
    # the waiting room, clients who give up (the workload's and a class's) and stepped revenue-share brackets
    sc = _small()
    sc["start"] = "2025-01-01"
    sc["workload"].update(patience_s=30, patience="exponential",
                          classes=[{"name": "a", "share": 0.6, "patience_s": 5, "patience": "fixed"},
                                   {"name": "b", "share": 0.4}])
    sc["fleet"]["pools"][0]["max_waiting"] = 4
    sc["economics"] = {
        "gpu_hour_usd": 1.0,
        "revenue": [{"name": "subs", "usd_per_month": 3000},
                    {"name": "resale", "owner": "partner", "usd_per_month": 1000}],
        "agreements": [{"name": "deal", "rate": [{"up_to_usd": 5000, "rate": 0.2}, {"rate": 0.1}], "base": ["subs"],
                        "settle": "quarter", "tier_period": "year", "base_used_usd": 100, "from": "2024-05-16",
                        "reverse": {"rate": [{"up_to_usd": 1500, "rate": 0.1}, {"rate": 0.0}], "base": ["resale"],
                                    "base_used_usd": 10}}]}
    out["admission_tiers"] = (sc, {})
    sc = copy.deepcopy(sc)
    del sc["fleet"]["pools"][0]["max_waiting"]
    sc["fleet"]["router"] = {"policy": "central_queue", "max_waiting": 8}
    out["central_room"] = (sc, {})
    return out


def _trace_files(path: Path) -> dict[str, bytes]:
    """The trace a bundled scenario replays, at its relative path (written beside each case)."""
    arrival = (yaml.safe_load(path.read_text(encoding="utf-8")).get("workload") or {}).get("arrival") or {}
    if arrival.get("process") != "trace":
        return {}
    return {arrival["path"]: (path.parent / arrival["path"]).read_bytes()}


def bases() -> dict[str, tuple[dict, dict[str, bytes]]]:
    out = {p.stem: (yaml.safe_load(p.read_text(encoding="utf-8")), _trace_files(p)) for p in SCENARIOS}
    out.update(newer_keys())
    return out


# ------------------------------------------------------------------------------ mutations
NAN, INF = float("nan"), float("inf")
#: (class of input, label, value)
BAD_VALUES: list[tuple[str, str, object]] = [
    ("wrong type", "text", "abc"),
    ("wrong type", "list", [1, 2]),
    ("wrong type", "mapping", {"a": 1}),
    ("wrong type", "true", True),
    ("wrong type", "null", None),
    ("bad number", "nan", NAN),
    ("bad number", "inf", INF),
    ("bad number", "-inf", -INF),
    ("bad number", "huge", 1e308),
    ("bad number", "huge int", 10 ** 30),
    ("bad number", "negative", -1),
    ("bad number", "zero", 0),
    ("bad number", "tiny", 1e-300),
    ("empty", "empty list", []),
    ("empty", "empty mapping", {}),
    ("empty", "empty text", ""),
    ("long text", "100k chars", "x" * 100_000),
]


def _paths(node, prefix=()) -> Iterator[tuple]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _get(node, path):
    for k in path:
        node = node[k]
    return node


def _dotted(path) -> str:
    return ".".join(map(str, path))


def _dump(data) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10 ** 9).encode("utf-8")


def _validate(files: dict[str, bytes], kind: str, name: str, field: str | None, allowed=(0, 2),
              value: object = None) -> Case:
    return Case(kind, name, ["validate", "{d}/s.yaml"], files, "{d}/s.yaml", field, allowed, value)


def value_cases(label: str, sc: dict, files: dict[str, bytes]) -> Iterator[Case]:
    """Each key of ``sc`` given each bad value, an unknown key in each mapping, each key moved a level
    up and wrapped a level down."""
    for path in _paths(sc):
        where = _dotted(path)
        for kind, vlabel, value in BAD_VALUES:
            data = copy.deepcopy(sc)
            _get(data, path[:-1])[path[-1]] = value
            yield _validate({**files, "s.yaml": _dump(data)}, kind, f"{label}: {where}={vlabel}", where,
                            value=value if isinstance(value, str) else None)
        node = _get(sc, path)
        if isinstance(node, dict):
            data = copy.deepcopy(sc)
            _get(data, path)["bogus_key"] = 1
            yield _validate({**files, "s.yaml": _dump(data)}, "unknown key", f"{label}: {where}.bogus_key",
                            f"{where}.bogus_key")
        if isinstance(path[-1], str) and len(path) >= 2:
            data = copy.deepcopy(sc)
            moved = _get(data, path[:-1])
            value = moved.pop(path[-1])
            grand = _get(data, path[:-2])
            if isinstance(grand, dict) and path[-1] not in grand:
                grand[path[-1]] = value
                up = _dotted(path[:-2] + (path[-1],))
                yield _validate({**files, "s.yaml": _dump(data)}, "wrong nesting", f"{label}: {where} one level up",
                                up)
        data = copy.deepcopy(sc)
        _get(data, path[:-1])[path[-1]] = {path[-1] if isinstance(path[-1], str) else "item": copy.deepcopy(node)}
        yield _validate({**files, "s.yaml": _dump(data)}, "wrong nesting", f"{label}: {where} one level down", where)
    data = copy.deepcopy(sc)
    data["bogus_key"] = 1
    yield _validate({**files, "s.yaml": _dump(data)}, "unknown key", f"{label}: bogus_key", "bogus_key")


def text_cases(label: str, sc: dict, files: dict[str, bytes]) -> Iterator[Case]:
    """The scenario file itself broken: encodings, empty, YAML anchors and bombs, duplicate keys."""
    text = _dump(sc).decode("utf-8")
    lines = text.splitlines(keepends=True)

    def case(kind: str, what: str, body: bytes, allowed=(2,)) -> Case:
        return _validate({**files, "s.yaml": body}, kind, f"{label}: {what}", None, allowed)

    yield case("not UTF-8", "latin-1 byte", text.replace("name:", "name: caf\xe9 #", 1).encode("latin-1"))
    yield case("not UTF-8", "UTF-16", text.encode("utf-16"))
    yield case("not UTF-8", "binary", b"\x00\x01\x02\xff\xfe" * 200)
    yield case("not UTF-8", "NUL in text", text.replace("name:", "name: \x00", 1).encode())
    yield case("empty file", "zero bytes", b"")
    yield case("empty file", "only a comment", b"# nothing\n")
    yield case("empty file", "a list", b"- 1\n- 2\n")
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        bomb.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}" if i > 1 else "*a"] * 9) + "]")
    yield case("YAML anchors", "alias bomb", (text + "\n".join(bomb) + "\n").encode())
    yield case("YAML anchors", "undefined alias", (text + "extra: *nowhere\n").encode())
    yield case("YAML anchors", "python tag", (text + "extra: !!python/object/apply:os.system [ls]\n").encode())
    top = [i for i, x in enumerate(lines) if x[:1].isalpha()]
    for i in top:
        key = lines[i].split(":", 1)[0]
        yield case("duplicate key", f"top-level {key} twice", "".join(lines + [lines[i]]).encode())
    for i, x in enumerate(lines):
        if x.startswith("  ") and not x.strip().startswith("-") and ":" in x and x.strip().endswith((",", "}")) is False:
            yield case("duplicate key", f"line {i + 1} twice", "".join(lines[:i + 1] + [x] + lines[i + 1:]).encode())
            break
    yield case("long text", "a 1 MB line", (text + "extra: " + "y" * 1_000_000 + "\n").encode())
    yield case("long text", "20 MB file", b"# " + b"z" * (20 * 2 ** 20) + b"\n")


def referenced_file_cases() -> Iterator[Case]:
    """The files a scenario names (hf config.json, perf table, calibration, trace) broken each way."""
    bad: list[tuple[str, str, bytes | None]] = [
        ("missing", "missing", None), ("empty", "empty", b""), ("binary", "binary", b"\x00\xff\xfe\x80" * 100),
        ("latin-1", "not UTF-8", "caf\xe9,1,2\n".encode("latin-1")), ("folder", "folder", None),
        ("device", "/dev/zero", None), ("fifo-ish", "/dev/null", None),
        ("truncated", "truncated", None), ("deep", "deep nesting", None),
    ]
    targets = {
        "hf_config": ("config.json", lambda sc, p: sc.__setitem__("model", {"hf_config": p}), "model.hf_config",
                      json.dumps(HF_LLAMA).encode()),
        "perf table": ("steps.csv", lambda sc, p: sc.__setitem__("perf", {"model": "table", "path": p}), "perf.path",
                       STEPS.read_bytes()),
        "calibration": ("cal.yaml", lambda sc, p: sc.__setitem__("perf", {"model": "roofline", "calibration": p}),
                        "perf.calibration", b"flops_efficiency: 0.5\nbw_efficiency: 0.6\noverhead_s: 0.001\n"),
        "trace": ("t.csv", lambda sc, p: sc["workload"].__setitem__(
            "arrival", {"process": "trace", "path": p, "format": "fleetsim"}), "workload.arrival.path",
                  TRACE.read_bytes()),
    }
    for target, (fname, put, where, good) in targets.items():
        for label, what, body in bad:
            sc = _small()
            files: dict[str, bytes] = {}
            ref = fname
            if label == "missing":
                ref = "nothere_" + fname
            elif label == "folder":
                ref = "."
            elif label == "device":
                ref = "/dev/zero"
            elif label == "fifo-ish":
                ref = "/dev/null"
            elif label == "truncated":
                files[fname] = good[: len(good) // 3]
            elif label == "deep":
                files[fname] = (b"[" * 100_000 + b"]" * 100_000) if fname.endswith(".json") else \
                    (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n")
            else:
                files[fname] = body
            put(sc, ref)
            if target == "trace":
                sc["workload"].pop("prompt_tokens")
                sc["workload"].pop("output_tokens")
            files["s.yaml"] = _dump(sc)
            yield _validate(files, "referenced file", f"{target}: {what}", where, (0, 2) if label == "truncated"
                            else (2,))
    # a bad row after good ones: validate reads a trace only to its first good row, a run reads it all and
    # says the row of the scenario's field, as validate does; a sweep and a plan read it once before any
    # point runs and refuse it the same way (rather than failing every point)
    good = TRACE.read_bytes().splitlines(keepends=True)
    more = {"run": ["--quiet"], "validate": [],
            "sweep": ["--grid", "fleet.pools.0.replicas=1,2", "--out", "{d}/r", "--quiet", "--executor", "serial"],
            "plan": ["--vary", "fleet.pools.0.replicas=1..2", "--out", "{d}/r", "--quiet", "--executor", "serial"]}
    for what, row in (("time going back", b"0.0,10,5,chat\n"), ("text token count", b"99,ten,5,chat\n"),
                      ("short row", b"99,10\n"), ("zero output", b"99,10,0,chat\n")):
        sc = _small()
        sc["workload"] = {"arrival": {"process": "trace", "path": "t.csv", "format": "fleetsim"}}
        for cmd, flags in more.items():
            yield Case("referenced file", f"trace: {what} after good rows ({cmd})", [cmd, "{d}/s.yaml", *flags],
                       {"s.yaml": _dump(sc), "t.csv": b"".join(good[:20] + [row] + good[20:40])}, "{d}/s.yaml",
                       "workload.arrival.path", (2,))
    # a config.json without one of its keys: a required one is said missing, naming the file and the key
    for key in HF_LLAMA:
        sc = _small()
        sc["model"] = {"hf_config": "config.json"}
        body = json.dumps({k: v for k, v in HF_LLAMA.items() if k != key}).encode()
        yield Case("referenced file", f"hf_config: without {key}", ["validate", "{d}/s.yaml"],
                   {"s.yaml": _dump(sc), "config.json": body}, "{d}/s.yaml", "model.hf_config", (0, 2))


# ------------------------------------------------------------------------------ command-line flags
def flag_cases() -> Iterator[Case]:
    sc = _dump(_small())
    files = {"s.yaml": sc}
    S = "{d}/s.yaml"

    def c(kind: str, argv: list[str], flag: str, allowed=(2,), more: dict | None = None) -> Case:
        """The error names the flag, or the file a flag's value reaches (the scenario, the points)."""
        names = tuple(x for x in (flag, argv[1], S, "fleetsim " + argv[0]) if x)
        return Case(kind, " ".join(argv)[:160], argv, {**files, **(more or {})}, names, None, allowed)

    for cmd in ("run", "validate"):
        for s in ("noequals", "=1", "a..b=1", "fleet.pools.9.replicas=1", "fleet.pools.x.replicas=1",
                  "duration.x=1", "duration=[", "duration=" + "[" * 10_000, "duration=1e999",
                  "seed=-1", "seed=1.5", "seed=2**70", "fleet.pools.0=null"):
            yield c("--set", [cmd, S, "--set", s], "--set")
    for v in ("svgz", ""):
        yield c("run flags", ["run", S, "--figures", v], "--figures")
    for v in ("slow", ""):
        yield c("run flags", ["run", S, "--engine", v], "--engine")
    for v in ("0", "-5", "abc", "nan", "inf", "100", "1e999", ""):
        yield c("--capacity-band", ["run", S, "--capacity-band", v, "--out", "{d}/r"], "--capacity-band")
    grids = ("fleet.pools.0.replicas", "fleet.pools.0.replicas=", "fleet.pools.0.replicas=1:0",
             "fleet.pools.0.replicas=1:1e12", "fleet.pools.0.replicas=1:4:0", "fleet.pools.0.replicas=1:4:-1",
             "fleet.pools.0.replicas=nan:4", "fleet.pools.0.replicas=1,,2", "nowhere.key=1,2",
             "fleet.pools.0.replicas=a,b", "=1,2", "fleet.pools.0.replicas=1:inf")
    for g in grids:
        yield c("--grid/--vary", ["sweep", S, "--grid", g, "--out", "{d}/r", "--quiet"], "--grid")
        yield c("--grid/--vary", ["plan", S, "--vary", g, "--out", "{d}/r", "--quiet"], "--vary")
    for s in ("0", "-1", "x", "1e9", "99999999999999999999"):
        yield c("--seeds", ["sweep", S, "--grid", "seed=1,2", "--seeds", s, "--out", "{d}/r", "--quiet"], "--seeds")
    for w in ("0", "-2", "many", "100000"):
        yield c("--workers", ["sweep", S, "--grid", "seed=1,2", "--workers", w, "--out", "{d}/r", "--quiet"],
                "--workers", (0, 2))
    for argv in (["sweep", S, "--grid", "seed=1,2"], ["plan", S, "--vary", "fleet.pools.0.replicas=1,2"],
                 ["saturation", S]):      # a cluster has the workers it has: refused, not ignored
        yield c("--workers", [*argv, "--workers", "4", "--scheduler", "tcp://127.0.0.1:1", "--out", "{d}/r",
                              "--quiet"], "--workers")
    for k in ("", "ttft_p99", "ttft_p99<=", "ttft_p99<=abc", "ttft_p99<=nan", "nosuch<=1", "ttft_p99>=1",
              "ttft_p99<=-1", "ttft_p99<=inf", "<=1"):
        yield c("--constraint", ["plan", S, "--vary", "fleet.pools.0.replicas=1,2", "--constraint", k,
                                 "--out", "{d}/r", "--quiet"], "--constraint")
        yield c("--constraint", ["saturation", S, "--constraint", k, "--out", "{d}/r", "--quiet"], "--constraint")
    for o in ("", "nosuch", "cost;rm"):
        yield c("--objective", ["plan", S, "--vary", "fleet.pools.0.replicas=1,2", "--objective", o,
                                "--out", "{d}/r", "--quiet"], "--objective")
    for cols in ("", ",,,"):
        yield c("--columns", ["sweep", S, "--grid", "seed=1,2", "--columns", cols, "--out", "{d}/r", "--quiet"],
                "--columns", (0, 2))
    # a key no summary of the scenario holds: refused before any point runs
    for cols in ("nosuch", "latency.ttft.p98", "ttft_p99", "pools.q.load_factor", "classes.x.slo.attainment",
                 "capacity_band.slower.slo.attainment", "seed", "slo.attainment,nosuch"):
        yield c("--columns", ["sweep", S, "--grid", "seed=1,2", "--columns", cols, "--out", "{d}/r", "--quiet"],
                "--columns")
        yield c("--columns", ["plan", S, "--vary", "fleet.pools.0.replicas=1,2", "--columns", cols,
                              "--out", "{d}/r", "--quiet"], "--columns")
    for o in ("latency.ttft.p98", "pools.q.load_factor"):
        yield c("--objective", ["plan", S, "--vary", "fleet.pools.0.replicas=1,2", "--objective", o,
                                "--out", "{d}/r", "--quiet"], "--objective")
        yield c("--constraint", ["saturation", S, "--constraint", o + "<=1", "--out", "{d}/r", "--quiet"],
                "--constraint")
    for flag, vals in (("--attainment", ("0", "1.5", "-1", "nan", "x")), ("--start", ("0", "-3", "nan", "inf", "x")),
                       ("--tolerance", ("0", "-1", "nan", "inf", "x", "1e9")),
                       ("--rate-path", ("", "nosuch.path", "duration", "fleet.pools.0.replicas", "workload",
                                       "workload.prompt_tokens.value", "workload.arrival.rates.x"))):
        for v in vals:
            yield c("saturation flags", ["saturation", S, flag, v, "--out", "{d}/r", "--quiet"], flag)
    yield c("saturation flags", ["saturation", S, "--scheduler", "127.0.0.1:1", "--executor", "dask",
                                 "--out", "{d}/r", "--quiet"], "--scheduler")
    # calibrate
    pts = b"prefill_tokens,decode_seqs,context_tokens,step_s\n0,8,4096,0.01\n512,0,0,0.02\n0,64,65536,0.03\n"
    base = ["calibrate", "{d}/p.csv", "--gpu", "h100-sxm", "--model", "llama-3-8b"]
    for flag, v in (("--gpu", "h900"), ("--gpu", ""), ("--model", "llama-9"), ("--tp", "0"), ("--tp", "-1"),
                    ("--tp", "x"), ("--tp", "1000000"), ("--kernel-factors", "{"), ("--kernel-factors", "nosuch: 1"),
                    ("--kernel-factors", "elementwise_floor_s: nan"), ("--kernel-factors", "[1]"),
                    ("--weight-dtype", "fp3")):
        argv = [*base]
        i = argv.index(flag) if flag in argv else None
        if i is not None:
            argv[i + 1] = v
        else:
            argv += [flag, v]
        yield c("calibrate flags", argv, flag, more={"p.csv": pts})
    from sim.perf.vidur import bundled_profile

    table = ["calibrate", "--vidur-mlp", str(bundled_profile("a100")), "--gpu", "a100-80gb", "--model", "llama-2-7b",
             "--table-out", "{d}/t.csv"]
    for flag, v in (("--grid-prefill", "a,b"), ("--grid-prefill", ""), ("--grid-prefill", "=-1,5"),
                    ("--grid-decode", "nan"), ("--grid-context", "1e99"), ("--grid-context", "0,1,2,3,4,5,6,7,8,9" * 99)):
        argv = [*table, flag + v if v.startswith("=") else flag, *([] if v.startswith("=") else [v])]
        yield c("calibrate flags", argv, flag, (0, 2) if len(v) > 100 else (2,))
    for what, body in (("empty", b""), ("header only", pts.splitlines(True)[0]), ("binary", b"\xff\x00" * 50),
                       ("nan", pts.replace(b"0.01", b"nan")), ("negative", pts.replace(b"0.01", b"-0.01")),
                       ("text cell", pts.replace(b"0.01", b"fast")), ("huge", pts.replace(b"4096", b"1e300")),
                       ("short row", pts + b"1,2\n"), ("no header", pts.splitlines(True)[1])):
        yield Case("calibration points", f"points: {what}", [*base], {**files, "p.csv": body}, "{d}/p.csv", None,
                   (2,))
    # reprice / report on folders that are no result
    for what, more in (("empty folder", {"r/.keep": b""}), ("summary not JSON", {"r/summary.json": b"{"}),
                       ("summary a list", {"r/summary.json": b"[]"}),
                       ("summary binary", {"r/summary.json": b"\xff\xfe\x00"})):
        yield Case("result folder", f"reprice: {what}", ["reprice", "{d}/r", "--set", "economics.gpu_hour_usd=3"],
                   {**files, **more}, "{d}/r", None, (2,))
        yield Case("result folder", f"report: {what}", ["report", "{d}/r"], {**files, **more}, "{d}/r", None, (2,))
    yield Case("result folder", "reprice: missing", ["reprice", "{d}/nowhere"], files, "{d}/nowhere", None, (2,))
    # a folder that is a link that loops, or holds one where a file of the result should be
    for what, more, folder in (("a link that loops", {"r": Link("r")}, "{d}/r"),
                               ("under a link that loops", {"r": Link("r")}, "{d}/r/run"),
                               ("summary a link that loops", {"r/summary.json": Link("summary.json")}, "{d}/r"),
                               ("figures a link that loops", {"r/summary.json": b"{}", "r/figures": Link("figures")},
                                "{d}/r")):
        yield Case("result folder", f"reprice: {what}", ["reprice", folder], {**files, **more}, folder, None, (2,))
        yield Case("result folder", f"report: {what}", ["report", folder], {**files, **more}, folder, None, (2,))
    # sweep, plan, saturation and run pointed at a folder another of them wrote (or a command.json not theirs)
    argvs = {"sweep": ["--grid", "seed=1,2"], "plan": ["--vary", "fleet.pools.0.replicas=1,2"], "saturation": [],
             "run": []}
    marks = {"run": {"r/summary.json": b"{}"}, "sweep": {"r/command.json": b'{"command": "sweep"}'},
             "plan": {"r/plan.json": b"{}", "r/points/x.json": b"{}"}, "saturation": {"r/saturation.json": b"{}"},
             "an older version (points, no mark)": {"r/points/x.json": b"{}"}}
    for owner, more in marks.items():
        for cmd, extra in argvs.items():
            if cmd != owner:
                yield Case("result folder", f"{cmd} into a folder of {owner}",
                           [cmd, S, *extra, "--out", "{d}/r", "--quiet"], {**files, **more}, "--out", None, (2,))
    # a folder where a command writes a result file, a file where it draws its figures: refused before any point
    writes = {"sweep": ("sweep.csv", "sweep_ci.csv", "sweep.json", "scenario.json", "command.json"),
              "plan": ("plan.csv", "plan.json", "scenario.json"), "saturation": ("saturation.csv", "saturation.json")}
    for cmd, names in writes.items():
        for name in names:
            yield Case("result folder", f"{cmd} with a folder at {name}", [cmd, S, *argvs[cmd], "--out", "{d}/r",
                                                                          "--quiet"],
                       {**files, f"r/{name}/.keep": b""}, "--out", None, (2,))
        if cmd != "saturation":
            yield Case("result folder", f"{cmd} with a file at figures", [cmd, S, *argvs[cmd], "--out", "{d}/r",
                                                                          "--quiet"],
                       {**files, "r/figures": b"mine"}, "--out", None, (2,))
    for body in (b"junk", b"[]", b'{"command": "rm"}', b"\xff\xfe"):
        yield Case("result folder", f"sweep into a folder whose command.json is {body[:10]!r}",
                   ["sweep", S, "--grid", "seed=1,2", "--out", "{d}/r", "--quiet"],
                   {**files, "r/command.json": body}, "--out", None, (2,))


def cases() -> Iterator[Case]:
    for label, (sc, files) in bases().items():
        yield from value_cases(label, sc, files)
        yield from text_cases(label, sc, files)
    yield from referenced_file_cases()
    yield from flag_cases()


# ------------------------------------------------------------------------------ running one
def exit_status(argv: list[str]) -> int:
    """``fleetsim argv`` in this process, warnings silenced: its exit status (argparse's too)."""
    from sim.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return main(argv)
        except SystemExit as exc:       # argparse's own errors
            return exc.code


def err_lines(capsys) -> list[str]:
    """The lines a test's command wrote on stderr, once none is a traceback or an internal error."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return err.strip().splitlines()


def write_scenario(folder: Path, sc: dict | None = None) -> Path:
    """``sc`` (default :func:`_small`) written as ``folder/s.yaml``."""
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(sc or _small()))
    return path


_LINE = re.compile(r"^(?P<src>.*?): (?P<field>[^:\s]+): ")


def run(case: Case, folder: Path) -> tuple[int, str]:
    """Write the case's files into ``folder`` and run its command; (exit status, stderr)."""
    from sim.cli import main

    for name, body in case.files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, Link):
            os.symlink(body.target, p)
        else:
            p.write_bytes(body)
    argv = [a.replace("{d}", str(folder)) for a in case.argv]
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings():
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, err.getvalue()


def judge(case: Case, rc: int, err: str, folder: Path) -> str | None:
    """What is wrong with the answer ``rc``/``err`` to ``case`` (``None``: it is right).

    The field counts as named when a line ``<file>: <path>: ...`` gives it, a key inside it or a block
    holding it, or when a line of the file names its key or the value written (a cross-field problem it
    caused: a pool renamed is an unknown pool where another key refers to it).
    """
    if "Traceback" in err or "internal error" in err:
        return f"traceback or internal error: {err.strip()[-600:]}"
    if rc not in case.allowed:
        return f"exit {rc} (allowed {case.allowed}): {err.strip()[-600:]}"
    if rc == 0:
        return None
    lines = [x for x in err.splitlines() if x.strip()]
    if not lines:
        return "exit 2 and nothing said"
    if max(map(len, lines)) > 2000:
        return f"a line of {max(map(len, lines)):,} characters: {err.strip()[:300]}"
    sources = [s.replace("{d}", str(folder)) for s in ((case.source,) if isinstance(case.source, str)
                                                       else case.source)]
    # a flag may be named with its value (``--scheduler tcp://host:1: could not reach ...``)
    mine = [x for x in lines if any(x.startswith(s) and (x[len(s):len(s) + 1] in (":", ".", "/")
                                                         or s.startswith("--") and x[len(s):len(s) + 1] == " ")
                                    for s in sources)]
    if not mine:
        return f"does not name {' or '.join(sources)}: {err.strip()[:600]}"
    if case.field:
        source = next(s for s in sources if any(x.startswith(s) for x in mine))
        named = [x[len(source) + 2:].split(": ", 1)[0] for x in mine]
        f = case.field
        if any(n == f or f.startswith(n + ".") or n.startswith(f + ".") for n in named):
            return None
        key = next((k for k in reversed(f.split(".")) if not k.isdigit()), f)
        hints = [re.compile(rf"\b{re.escape(key)}\b")]
        if case.value is not None and str(case.value).strip():
            hints.append(re.compile(re.escape(repr(case.value)[:40].strip("'\""))))
        if not any(h.search(x) for h in hints for x in mine):
            return f"does not name {case.field}: {err.strip()[:600]}"
    return None


def main(argv: list[str]) -> int:
    import tempfile
    from collections import defaultdict

    show = "--show" in argv
    only = [a for a in argv if not a.startswith("--")]
    table: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "accepted": 0, "failed": 0})
    for case in cases():
        if only and not any(o in case.kind or o in case.name for o in only):
            continue
        with tempfile.TemporaryDirectory() as d:
            rc, err = run(case, Path(d))
            problem = judge(case, rc, err, Path(d))
        row = table[case.kind]
        row["cases"] += 1
        row["accepted"] += rc == 0
        row["failed"] += problem is not None
        if problem and show:
            print(f"FAIL [{case.kind}] {case.name}: {problem}", file=sys.stderr)
    print(json.dumps(table, indent=1))
    return 0


# a scenario whose output_tokens is a YAML merge (MERGE: what to write there), for the merge-key cases
MERGED_SCENARIO = """\
name: t
seed: 1
duration: 60
model: llama-3-8b
workload:
  arrival: {process: poisson, rate: 2}
  prompt_tokens: &b {dist: fixed, value: 200}
  output_tokens: MERGE
fleet:
  pools:
    - {name: p, gpu: h100-sxm, replicas: 1}
"""


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))

