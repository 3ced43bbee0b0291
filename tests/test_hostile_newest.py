"""Hostile input on the newest surface: the KV gate on prompts with a static batch, a Hugging Face
config.json written by hand (keys twice, NaN, a byte-order mark, Qwen's sliding-window keys, a
quantization the model does not price), a result folder with someone else's entry under a result's
name, and a ``usage.npz`` whose columns no run writes.

Each is exit 2 with one line naming the file and the field (or member), never a traceback, an internal
error, a silently wrong result or a deleted file.
"""
from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import hostile_cases as hc


_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ the KV gate on prompts
def test_a_kv_gate_on_a_static_batch_is_refused_not_ignored(tmp_path, capsys):
    """A static batch is admitted whole (``sim.serving.batching.Static`` has no gate): the option was
    taken and never applied."""
    from sim.scenario.schema import Batching
    from sim.serving.batching import make_batching

    path = _scenario(tmp_path)
    static = ["--set", "fleet.pools.0.batching.policy=static", "--set", "fleet.pools.0.batching.batch_size=4"]
    assert _main(["validate", str(path), *static, "--set", "fleet.pools.0.batching.prefill_min_free_kv_pct=31"]) == 2
    assert _err(capsys) == [
        f"{path}: fleet.pools.0.batching.prefill_min_free_kv_pct: applies to iteration-level batching only: a static "
        "batch is admitted whole, never prompt by prompt; remove it or use policy continuous or priority (got 31 "
        "with policy static)"]
    static_policy = make_batching(Batching(policy="static", batch_size=4))        # why: it has no gate to take
    assert "min_free_pct" not in inspect.signature(type(static_policy)).parameters
    for ok in (static, ["--set", "fleet.pools.0.batching.prefill_min_free_kv_pct=31"]):
        assert _main(["validate", str(path), *ok]) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_a_kv_gate_on_a_disaggregated_decode_pool_is_refused_and_on_its_prefill_pool_taken(capsys):
    """The decode pool admits transferred requests straight into its decode batch
    (``sim.serving.batching.admit_transferred``, no gate): the option was taken and never applied."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "disaggregated.yaml"
    gate = "batching.prefill_min_free_kv_pct=30"
    assert _main(["validate", str(path), "--set", f"fleet.pools.1.{gate}"]) == 2
    assert _err(capsys) == [
        f"{path}: fleet.pools.1.batching.prefill_min_free_kv_pct: gates new prompts, and pool decode "
        "(fleet.disaggregated.decode_pool) runs none: its requests' prompts run in prefill; set it there or remove it"]
    assert _main(["validate", str(path), "--set", f"fleet.pools.0.{gate}"]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ a config.json written by hand
def _hf(tmp_path: Path, body: str | bytes) -> Path:
    (tmp_path / "config.json").write_bytes(body.encode() if isinstance(body, str) else body)
    sc = hc._small()
    sc["model"] = {"hf_config": "config.json"}
    return _scenario(tmp_path, sc)


LLAMA = json.dumps(hc.HF_LLAMA)
QWEN = {**hc.HF_LLAMA, "model_type": "qwen2", "sliding_window": 4096}


@pytest.mark.parametrize("body,said", [
    # Python's JSON reader keeps the last of a key given twice, and takes NaN and Infinity
    (LLAMA[:-1] + ', "hidden_size": 8192}',
     "not valid JSON (key 'hidden_size' given twice in one object: which one the model has is unclear; give it once)"),
    (LLAMA[:-1] + ', "rope_scaling": {"factor": 8, "factor": 2}}',
     "not valid JSON (key 'factor' given twice in one object: which one the model has is unclear; give it once)"),
    (LLAMA.replace('"vocab_size": 128256', '"vocab_size": NaN'),
     "not valid JSON (NaN is not a JSON number; a config.json gives every count as a number)"),
    (LLAMA.replace('"vocab_size": 128256', '"vocab_size": -Infinity'),
     "not valid JSON (-Infinity is not a JSON number; a config.json gives every count as a number)"),
    # Qwen's sliding-window keys: int() of them was an internal error or a silent truncation, and
    # "false" (text) turned the window on
    (json.dumps({**QWEN, "use_sliding_window": True, "max_window_layers": "abc"}),
     "max_window_layers: must be an integer >= 0 (got 'abc')"),
    (json.dumps({**QWEN, "use_sliding_window": True, "max_window_layers": [1]}),
     "max_window_layers: must be an integer >= 0 (got [1])"),
    (json.dumps({**QWEN, "use_sliding_window": True, "max_window_layers": 2.7}),
     "max_window_layers: must be an integer >= 0 (got 2.7)"),
    (json.dumps({**QWEN, "use_sliding_window": True}).replace('"use_sliding_window"', '"max_window_layers": 1e400, '
                                                                                       '"use_sliding_window"'),
     "max_window_layers: must be an integer >= 0 (got inf)"),
    (json.dumps({**QWEN, "use_sliding_window": True, "max_window_layers": 33}),
     "max_window_layers: must be <= num_hidden_layers=32 (got 33)"),
    (json.dumps({**QWEN, "use_sliding_window": "false", "max_window_layers": 2}),
     "use_sliding_window: must be true or false (got 'false')"),
    (json.dumps({**hc.HF_LLAMA, "num_hidden_layers": 2, "sliding_window": 128, "layer_types": [{}, {}]}),
     "layer_types: must list 2 of sliding_attention/full_attention"),
    # a quantization read as bf16 would misprice the weights' memory and reads
    (json.dumps({**hc.HF_LLAMA, "quantization_config": "fp8"}),
     "quantization_config: must be an object with a quant_method (got 'fp8')"),
    (json.dumps({**hc.HF_LLAMA, "quantization_config": {"quant_method": "awq", "bits": 4}}),
     "quantization_config: quant_method 'awq' is not modelled (read: fp8, mxfp4); remove quantization_config from "
     "the file to price the weights as bf16 (or as the scenario model's weight_dtype)"),
])
def test_a_hand_written_config_json_is_refused_naming_the_key(tmp_path, capsys, body, said):
    path = _hf(tmp_path, body)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: model.hf_config: {tmp_path / 'config.json'}: {said}"]


def test_a_config_json_an_editor_saved_with_a_byte_order_mark_is_read_as_without(tmp_path):
    """It was 'not valid JSON (Unexpected UTF-8 BOM ...)'; a scenario, a trace or a summary with one is read."""
    from sim.scenario.load import load_scenario

    plain = load_scenario(_hf(tmp_path, LLAMA)).scenario
    marked = load_scenario(_hf(tmp_path, b"\xef\xbb\xbf" + LLAMA.encode())).scenario
    assert marked == plain


def test_qwen_sliding_window_keys_that_are_right_are_read(tmp_path):
    from sim.scenario.catalog import get_model

    (tmp_path / "config.json").write_text(json.dumps({**QWEN, "use_sliding_window": True, "max_window_layers": 28}))
    m = get_model({"hf_config": str(tmp_path / "config.json")})
    assert (m.sliding_window, m.sliding_layers) == (4096, 4)
    (tmp_path / "config.json").write_text(json.dumps({**QWEN, "use_sliding_window": False, "max_window_layers": 28}))
    assert get_model({"hf_config": str(tmp_path / "config.json")}).sliding_layers == 0


def test_a_config_path_with_a_nul_names_the_field(tmp_path, capsys):
    """``os.open`` refused it with 'embedded null byte', said of ``model`` without the path or the key."""
    sc = hc._small()
    sc["model"] = {"hf_config": "conf\x00ig.json"}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: model.hf_config: {tmp_path}/conf\\x00ig.json: not a file name: it holds a NUL "
                            "character"]


def test_a_sliding_window_model_that_does_not_fit_says_what_the_window_holds(tmp_path, capsys):
    """The message summed weights 15.0 GiB and reserve 1.7 GiB as exceeding 72 GiB: the windows' KV of
    256 sequences (16 sliding layers x 256 x 4,096 tokens x 4 KiB = 64 GiB, held off the top) was left out."""
    types = ["sliding_attention", "full_attention"] * 16
    path = _hf(tmp_path, json.dumps({**hc.HF_LLAMA, "model_type": "mistral", "sliding_window": 4096,
                                     "layer_types": types}))
    assert _main(["validate", str(path)]) == 2
    lines = _err(capsys)
    assert len(lines) == 1 and "weights 15.0 GiB + reserve 0.9 GiB + the sliding-window layers' KV of 256 sequences " \
        "64.0 GiB per GPU exceed 0.9 x 79.19 GiB = 71.3 GiB" in lines[0], lines     # the total an H100 reports
    assert lines[0].endswith("or a GPU with more memory (or fewer batching.max_num_seqs)")
    assert _main(["validate", str(path), "--set", "fleet.pools.0.batching.max_num_seqs=64"]) == 0


def test_a_model_whose_every_layer_is_sliding_is_refused_not_divided_by_zero(tmp_path, capsys):
    """Mistral-7B-v0.1's config (sliding_window 4096 on every layer) was 'does not fit' at 256 sequences and,
    at 64, an internal error: the paged cache's KV per token (full-attention layers only) was 0."""
    path = _hf(tmp_path, json.dumps({**hc.HF_LLAMA, "model_type": "mistral", "sliding_window": 4096}))
    assert _main(["validate", str(path), "--set", "fleet.pools.0.batching.max_num_seqs=64"]) == 2
    assert _err(capsys) == [
        f"{path}: model.hf_config: {tmp_path / 'config.json'}: sliding_layers (from the file): must be < n_layers=32: "
        "a model whose every layer attends to a sliding window is not modelled (the KV cache holds the "
        "full-attention layers' tokens; give at least one)"]


# ------------------------------------------------------------------ an inline model
SMALL = {"n_layers": 2, "hidden": 64, "n_heads": 4, "ffn_hidden": 128, "vocab": 100}


@pytest.mark.parametrize("model,field,said", [
    # taken and priced nowhere (or, dense_ffn_hidden, in the weights but not the FLOPs)
    ({"kv_lora_rank": 512}, "kv_lora_rank", "applies only to attention: mla (this model's is gqa; got 512)"),
    ({"q_lora_rank": 64}, "q_lora_rank", "applies only to attention: mla (this model's is gqa; got 64)"),
    ({"dense_ffn_hidden": 256}, "dense_ffn_hidden",
     "applies only to a mixture of experts (n_experts > 1; this model has 1; got 256)"),
    ({"shared_ffn_hidden": 256}, "shared_ffn_hidden",
     "applies only to a mixture of experts (n_experts > 1; this model has 1; got 256)"),
    ({"sliding_window": 16}, "sliding_layers",
     "required (an integer > 0: how many layers attend to the window) when sliding_window > 0 (got sliding_window=16)"),
    # weights of no bytes, more active parameters than parameters
    ({"n_params": 1e-300}, "n_params", "must be at least 1 (a count of parameters; got 1e-300)"),
    ({"n_params": 1e6, "n_active_params": 1e9}, "n_active_params",
     "must be <= n_params=1e+06: a token uses at most every parameter (got 1e+09)"),
])
def test_an_inline_models_field_it_does_not_use_or_cannot_hold_is_refused(tmp_path, capsys, model, field, said):
    sc = hc._small()
    sc["model"] = {**SMALL, **model}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: model.{field}: {said}"]


def test_a_model_of_absurd_size_is_said_in_a_short_line(tmp_path, capsys):
    """``n_params: 1e300`` printed its weights as a 290-digit number of GiB."""
    sc = hc._small()
    sc["model"] = {**SMALL, "n_params": 1e300}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    lines = _err(capsys)
    assert len(lines) == 1 and len(lines[0]) < 400 and "weights 1.86e+291 GiB + reserve 0.3 GiB per GPU" in lines[0]


# ------------------------------------------------------------------ an inline GPU
@pytest.mark.parametrize("gpu,field,said", [
    # its name goes into titles, tables and CSV cells as a pool's does, and was taken whatever it held
    ({"name": ""}, "name", "must not be empty (got '')"),
    ({"name": "h100\x1b[2J"}, "name", "must not hold a control character (got 'h100\\x1b[2J': an escape at "
                                      "character 5)"),
    ({"display_name": "x" * 10_000}, "display_name", "must be at most 200 characters (got 10,000)"),
    # one of the two was dropped silently
    ({"hbm_tbps": 3.35, "hbm_bandwidth_tbps": 1.0}, "hbm_bandwidth_tbps",
     "is another name for hbm_tbps, also given: give one of them"),
])
def test_an_inline_gpus_names_and_aliases_are_checked(tmp_path, capsys, gpu, field, said):
    sc = hc._small()
    sc["fleet"]["pools"][0]["gpu"] = gpu
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fleet.pools.0.gpu.{field}: {said}"]


def test_an_inline_gpu_may_say_no_attention_rate_is_published_as_the_catalog_does(tmp_path, capsys):
    """null was refused as 'must be a number > 0', though the catalog's GPUs without a published rate hold it."""
    from sim.scenario.catalog import get_gpu

    g = get_gpu({"like": "h100-sxm", "attention_prefill_efficiency": None, "attention_decode_efficiency": None})
    assert (g.attention_prefill_efficiency, g.attention_decode_efficiency) == (None, None)
    w = g.efficiency()
    assert g.attention_efficiency("prefill", w) == w.flops_efficiency       # the GEMMs' factor, as documented
    assert get_gpu("h100-sxm").attention_efficiency("prefill", w) != w.flops_efficiency
    sc = hc._small()
    sc["fleet"]["pools"][0]["gpu"] = {"attention_prefill_efficiency": None}
    assert _main(["run", str(_scenario(tmp_path, sc)), "--quiet"]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ a result folder with someone else's entry
def _tree(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("entry,kind,said", [
    ("summary.json/notes.txt", "folder", "is a folder: a result of fleetsim run keeps its summary.json file there"),
    ("usage.npz/notes.txt", "folder", "is a folder: a result of fleetsim run keeps its usage.npz file there"),
    ("figures", "file", "is not a folder: a result of fleetsim run keeps its figures folder there"),
])
def test_an_entry_of_the_other_kind_under_a_results_name_is_refused_and_kept(tmp_path, capsys, entry, kind, said):
    """It was taken for an earlier result's, moved aside and deleted with its contents (exit 0)."""
    path = _scenario(tmp_path)
    out = tmp_path / "r"
    (out / entry).parent.mkdir(parents=True, exist_ok=True)
    (out / entry).write_text("mine")
    (out / "keep.txt").write_text("mine too")
    before = _tree(out)
    name = entry.split("/")[0]
    assert _main(["run", str(path), "--quiet", "--out", str(out)]) == 2
    assert _err(capsys) == [f"--out: {out / name} {said}; move it away or give another --out"]
    assert _tree(out) == before
    # the API writes through the same swap, which refuses it too (after the run) and leaves the folder as it was
    from sim.api import run
    from sim.errors import InputError
    from sim.metrics.output import write_result

    with pytest.raises(InputError, match=f"^{out / name} is "):
        write_result(run(hc._small()), out)
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []      # no staged folder left


def test_an_earlier_results_entries_are_still_replaced(tmp_path, capsys):
    path = _scenario(tmp_path)
    out = tmp_path / "r"
    assert _main(["run", str(path), "--quiet", "--out", str(out)]) == 0
    (out / "keep.txt").write_text("mine")
    assert _main(["run", str(path), "--quiet", "--out", str(out), "--set", "seed=2"]) == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 2 and (out / "keep.txt").read_text() == "mine"
    capsys.readouterr()


def test_reprice_out_with_an_entry_in_the_way_is_refused_before_writing_half_a_folder(tmp_path, capsys):
    """It copied scenario.json, figures and the tables in, then failed on summary.json/ with a bare
    IsADirectoryError: half a result beside the user's folder."""
    path = _scenario(tmp_path)
    assert _main(["run", str(path), "--quiet", "--out", str(tmp_path / "r")]) == 0
    out = tmp_path / "o"
    (out / "summary.json").mkdir(parents=True)
    (out / "summary.json" / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert _main(["reprice", str(tmp_path / "r"), "--set", "economics.gpu_hour_usd=2", "--quiet", "--out",
                  str(out)]) == 2
    assert _err(capsys) == [f"--out: {out / 'summary.json'} is a folder: a result of fleetsim reprice keeps its "
                            "summary.json file there; move it away or give another --out"]
    assert _tree(out) == {"summary.json": None, "summary.json/notes.txt": b"mine"}


@pytest.mark.parametrize("command", ["run", "reprice"])
def test_a_read_only_result_folder_is_refused_before_the_run(tmp_path, capsys, monkeypatch, command):
    """Its entries could not be moved aside: the swap failed after the run. (``os.access`` says so; root
    may write anywhere, so it is asked here.)"""
    import os

    path = _scenario(tmp_path)
    assert _main(["run", str(path), "--quiet", "--out", str(tmp_path / "r")]) == 0
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != out and real(p, mode, **kw))
    argv = ["run", str(path)] if command == "run" else ["reprice", str(tmp_path / "r"), "--set",
                                                         "economics.gpu_hour_usd=2"]
    capsys.readouterr()
    assert _main([*argv, "--quiet", "--out", str(out)]) == 2
    assert _err(capsys) == [f"--out: {out} is not writable (a read-only folder): fleetsim {command} writes its result "
                            "there; make it writable or give another --out"]
    assert _tree(out) == {"keep.txt": b"mine"}


# ------------------------------------------------------------------ usage.npz for reprice
@pytest.fixture(scope="module")
def priced_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    sc = hc._small()
    sc["economics"] = {"gpu_hour_usd": 2.0}
    path = _scenario(folder, sc)
    assert _main(["run", str(path), "--quiet", "--out", str(folder / "r")]) == 0
    return folder / "r"


def _tampered(priced_run: Path, tmp_path: Path, arrays: dict | None = None, meta: dict | None = None) -> Path:
    out = tmp_path / "r"
    shutil.copytree(priced_run, out)
    with np.load(out / "usage.npz") as z:
        members = {k: z[k] for k in z.files}
    members.update({k: v(members[k]) if callable(v) else v for k, v in (arrays or {}).items()})
    members["meta"] = np.array(json.dumps({**json.loads(str(members["meta"])), **(meta or {})}))
    with open(out / "usage.npz", "wb") as fh:
        np.savez(fh, **members)
    return out


NAN = float("nan")
BAD_USAGE = [
    # silently priced: a negative GPU count or time paid money back, NaN times counted nowhere
    ({"completion_s": lambda a: np.full_like(a, NAN)}, None, "completion_s: row 0: must be a finite number >= 0 (got nan)"),
    ({"output_tokens": lambda a: -a}, None, "output_tokens: row 0: must be a finite number >= 0 (got -20)"),
    ({"weight": lambda a: -a}, None, "weight: row 0: must be a finite number >= 0 (got -1.0)"),
    ({"interval_gpus": lambda a: -a}, None, "interval_gpus: row 0: must be a finite number >= 0 (got -1.0)"),
    ({"interval_start_s": lambda a: a - 1e9}, None,
     "interval_start_s: row 0: must be a finite number >= 0 (got -1000000000.0)"),
    ({"interval_end_s": lambda a: a + np.inf}, None, "interval_end_s: row 0: must be a finite number >= 0 (got inf)"),
    (None, {"gpu_tdp_w": {"p": -700}}, "meta gpu_tdp_w: must map pool names to finite numbers >= 0 (got {'p': -700})"),
    (None, {"pools": ["p", "p"]}, "meta pools: must list distinct names (got ['p', 'p'])"),
    # internal errors
    ({"interval_pool": lambda a: a + 0.5}, None,
     "interval_pool: must be one column of whole numbers (got float64 of shape (1,))"),
    ({"completion_s": lambda a: np.array(["x"] * len(a))}, None,
     "completion_s: must be one column of numbers (got <U1 of shape (116,))"),
    (None, {"busy_gpu_seconds": [1]}, "meta busy_gpu_seconds: must map pool names to finite numbers >= 0 (got [1])"),
    (None, {"start": "9999-12-31"}, "meta start: must be a date up to 9000-12-31 (got '9999-12-31')"),
    (None, {"economics": [1]}, "meta economics: must be a mapping (the economics block) (got [1])"),
]


@pytest.mark.parametrize("arrays,meta,said", BAD_USAGE, ids=[s.split(":")[0] for *_, s in BAD_USAGE])
def test_a_usage_file_no_run_writes_is_refused_naming_the_member(priced_run, tmp_path, capsys, arrays, meta, said):
    folder = _tampered(priced_run, tmp_path, arrays, meta)
    before = _tree(folder)
    assert _main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--quiet", "--out", str(folder)]) == 2
    assert _err(capsys) == [f"{folder}: {folder / 'usage.npz'}: not a usage file this version of fleetsim can read "
                            f"({said})"]
    assert _tree(folder) == before


def test_a_usage_file_as_a_run_wrote_it_reprices(priced_run, tmp_path, capsys):
    folder = _tampered(priced_run, tmp_path)        # the members read and written back unchanged
    assert _main(["reprice", str(folder), "--set", "economics.gpu_hour_usd=3", "--quiet", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cost"]["compute_usd"] == pytest.approx(3.0 * 60 / 3600, rel=1e-12)
