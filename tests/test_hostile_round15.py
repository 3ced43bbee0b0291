"""Hostile input, round 15: a shared prefix longer than every prompt, YAML tags that build no plain value,
a ``perf:`` block without ``model``, what ``reprice --out`` copies, argparse's usage errors, and what a hunt
through every subcommand found.

Each is exit 2 with a message naming the file (or flag) and the field, or, where the input is reasonable,
accepted and run as meant; never a traceback, an internal error or a silently wrong result.
"""
from __future__ import annotations

import pytest
import yaml

import hostile_cases as hc

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ a shared prefix longer than every prompt
@pytest.mark.parametrize("sets,field,whose,prompts,longest", [
    (["workload.shared_prefix_tokens=201"], "workload.shared_prefix_tokens", "the workload",
     "workload.prompt_tokens", 200),
    (["workload.classes=[{name: chat, share: 1, shared_prefix_tokens: 5000, prompt_tokens: "
      "{dist: lognormal, mean: 500, cv: 1, max: 2048}}]"],
     "workload.classes.0.shared_prefix_tokens", "class 'chat'", "workload.classes.0.prompt_tokens", 2048),
    # the workload's prefix is every class's that gives none: named there, with the class it is too long for
    (["workload.shared_prefix_tokens=300",
      "workload.classes=[{name: a, share: 0.5, prompt_tokens: {dist: uniform, low: 100, high: 400}}, "
      "{name: b, share: 0.5}]"],
     "workload.shared_prefix_tokens", "class 'b'", "workload.prompt_tokens", 200),
    (["workload.prompt_tokens={dist: empirical, values: [50, 120, 90]}", "workload.shared_prefix_tokens=121"],
     "workload.shared_prefix_tokens", "the workload", "workload.prompt_tokens", 120),
])
def test_a_shared_prefix_longer_than_every_prompt_is_refused(tmp_path, capsys, sets, field, whose, prompts, longest):
    """It was taken: the prefix cache pinned each class's first prompt but its last token (min(prefix,
    prompt - 1)), as though the whole prompt were the prefix, and nothing said the two numbers disagree."""
    path = _scenario(tmp_path)
    argv = ["validate", str(path)]
    for s in sets:
        argv += ["--set", s]
    assert _main(argv) == 2
    prefix = int(yaml.safe_load(sets[0].partition("=")[2])[0]["shared_prefix_tokens"]) if "classes.0" in field \
        else int(next(s for s in sets if s.startswith("workload.shared_prefix_tokens=")).partition("=")[2])
    assert _err(capsys) == [
        f"{path}: {field}: {prefix:,} tokens is longer than any prompt of {whose} ({prompts} draws at most "
        f"{longest:,}): a prompt cannot begin with a shared prefix longer than itself; give at most {longest:,}, or "
        "longer prompts"]


@pytest.mark.parametrize("sets", [
    ["workload.shared_prefix_tokens=200"],                       # every prompt is the prefix: the same prompt
    ["workload.prompt_tokens={dist: lognormal, mean: 500, cv: 1}", "workload.shared_prefix_tokens=5000"],  # no bound
    ["workload.shared_prefix_tokens=300",
     "workload.classes=[{name: a, share: 1, prompt_tokens: {dist: uniform, low: 100, high: 400}}]"],
])
def test_a_shared_prefix_some_prompt_can_hold_is_taken(tmp_path, capsys, sets):
    path = _scenario(tmp_path)
    argv = ["validate", str(path)]
    for s in sets:
        argv += ["--set", s]
    assert _main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()


def test_the_longest_prompt_of_each_distribution():
    from sim.scenario.workload import WorkloadConfig
    from sim.workload.validation import longest_prompt

    def dist(d):
        return WorkloadConfig(arrival={"process": "poisson", "rate": 1}, prompt_tokens=d).prompt_tokens

    assert longest_prompt(dist({"dist": "fixed", "value": 7})) == 7
    assert longest_prompt(dist({"dist": "exponential", "mean": 100, "max": 900})) == 900
    assert longest_prompt(dist({"dist": "exponential", "mean": 100})) is None
    assert longest_prompt(dist({"dist": "trace", "path": "t.csv"})) is None


# ------------------------------------------------------------------ YAML tags that build no plain value
@pytest.mark.parametrize("value,tag,builds", [
    ("!!binary aGVsbG8=", "!!binary", "bytes"),            # was taken: the name became 'hello'
    ("!!python/object:os.system x", "!!python/object:os.system", "an object fleetsim does not read"),  # was the text
    ("!!set {a, b}", "!!set", "a set"),
    ("!!omap [a: 1]", "!!omap", "an ordered mapping"),
    ("[1, !foo 2]", "!foo", "an object fleetsim does not read"),
])
def test_a_set_value_with_a_tag_that_builds_no_plain_value_is_refused(tmp_path, capsys, value, tag, builds):
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"name={value}"]) == 2
    assert _err(capsys) == [f"--set: name: the tag {tag} builds {builds}, not a plain value; write text, a number, "
                            "true/false, a list or a mapping, without the tag"]


def test_a_scenario_file_with_such_a_tag_names_its_line(tmp_path, capsys):
    """``name: !!binary aGk=`` ran under the name 'hi'."""
    path = _scenario(tmp_path)
    path.write_text(path.read_text().replace("name: t", "name: !!binary aGk="))
    assert _main(["validate", str(path)]) == 2
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "binary" in text)
    assert _err(capsys) == [f"{path}: line {line}: the tag !!binary builds bytes, not a plain value; write text, a "
                            "number, true/false, a list or a mapping, without the tag"]


@pytest.mark.parametrize("value,name", [("!!str 3", "3"), ("plain words", "plain words"), ("=", "=")])
def test_tags_of_plain_values_and_untagged_text_still_read(tmp_path, capsys, value, name):
    from sim.scenario.load import load_scenario

    assert load_scenario(_scenario(tmp_path), [f"name={value}"]).scenario.name == name


# ------------------------------------------------------------------ a perf block without model
@pytest.mark.parametrize("where", ["perf", "fleet.pools.0.perf"])
@pytest.mark.parametrize("block", ["{overhead_s: 0.002}", "{kernels: pytorch, kernel_factors: {elementwise_floor_s: 1e-5}}",
                                   "{}"])
def test_a_perf_block_of_roofline_keys_without_model_is_the_roofline(tmp_path, capsys, where, block):
    """It was refused ('missing key model'), although no perf block at all is the roofline: the same
    scenario as the block with ``model: roofline`` written."""
    from sim.scenario.load import load_scenario

    path = _scenario(tmp_path)
    loaded = load_scenario(path, [f"{where}={block}"]).scenario
    said = load_scenario(path, [f"{where}={{model: roofline, {block[1:-1]}}}"]).scenario
    assert loaded == said
    assert (loaded.perf if where == "perf" else loaded.fleet.pools[0].perf).model == "roofline"
    assert _main(["validate", str(path), "--set", f"{where}={block}"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("block,said", [
    ("{base_s: 0.01}", "base_s is a key of linear, not of the roofline (what a block without model is); write "
                       "model: linear"),
    ("{path: steps.csv, base_s: 0.01, overhead_s: 0.1}",
     "base_s is a key of linear, path is a key of table, not of the roofline (what a block without model is); "
     "write model: linear or model: table"),
])
def test_a_perf_block_without_model_holding_another_kinds_key_names_the_kind(tmp_path, capsys, block, said):
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"perf={block}"]) == 2
    assert _err(capsys) == [f"{path}: perf: missing key 'model', which says which kind this is: {said}"]


def test_a_misspelt_key_of_a_perf_block_without_model_lists_the_rooflines_keys(tmp_path, capsys):
    from sim.scenario.perf import RooflinePerf

    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "perf={overhed_s: 0.002}"]) == 2
    assert _err(capsys) == [f"{path}: perf.overhed_s: unknown key 'overhed_s' (did you mean overhead_s?); allowed: "
                            f"{', '.join(sorted(RooflinePerf.model_fields))}"]


# ------------------------------------------------------------------ reprice --out: the result's own files only
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run's result folder (60 s, one H100)."""
    folder = tmp_path_factory.mktemp("run")
    path = _scenario(folder)
    assert _main(["run", str(path), "--out", str(folder / "r"), "--quiet"]) == 0
    return folder / "r"


def test_reprice_out_copies_the_results_files_and_not_what_else_the_folder_holds(run_folder, tmp_path, capsys):
    """Every file under the folder was copied: notes, another tool's data, a text file among the figures."""
    import shutil

    src = tmp_path / "src"
    shutil.copytree(run_folder, src)
    own = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
    (src / "notes.txt").write_text("my notes")
    (src / "mine").mkdir()
    (src / "mine" / "big.bin").write_bytes(b"\0" * 1000)
    (src / "figures" / "todo.txt").write_text("redo")
    from sim.cli import main

    assert main(["reprice", str(src), "--set", "economics.gpu_hour_usd=1", "--out", str(tmp_path / "dst")]) == 0
    err = capsys.readouterr().err
    assert f"{src}: not copied to {tmp_path / 'dst'}: figures/todo.txt, mine/, notes.txt (no part of a result: " \
           "fleetsim reprice copies the run's own files)" in err.splitlines(), err
    copied = sorted(p.relative_to(tmp_path / "dst").as_posix() for p in (tmp_path / "dst").rglob("*") if p.is_file())
    # the run's own files, the cash-flow chart apart (it shows the old money; fleetsim report redraws it)
    assert copied == [f for f in own if f != "figures/cashflow.svg"]
    for name in ("requests.csv.gz", "timeseries.csv", "scenario.json", "figures/latency_cdf.svg"):
        assert (tmp_path / "dst" / name).read_bytes() == (src / name).read_bytes()


def test_reprice_out_of_a_folder_holding_only_a_result_warns_of_nothing(run_folder, tmp_path, capsys):
    from sim.cli import main

    assert main(["reprice", str(run_folder), "--set", "economics.gpu_hour_usd=1", "--out", str(tmp_path / "d"),
                 "--quiet"]) == 0
    assert "not copied" not in capsys.readouterr().err


# ------------------------------------------------------------------ argparse's errors on a terminal
@pytest.mark.parametrize("argv,first", [
    (["bogus"], "fleetsim: error: argument COMMAND: invalid choice: 'bogus' (choose from 'run',"),
    (["run", "s.yaml", "--records", "maybe"], "fleetsim run: error: argument --records: invalid choice: 'maybe' (choose from"),
    (["sweep"], "fleetsim sweep: error: the following arguments are required: scenario, --grid"),
    (["run", "s.yaml", "--capacity-band", "x"], "fleetsim run: error: argument --capacity-band: give a percentage of"
                                                 " capacity"),
    (["run", "s.yaml", "--bogus"], "fleetsim run: error: unrecognized arguments: --bogus"),
])
def test_a_wrong_option_on_an_80_column_terminal_is_broken_between_words(capsys, monkeypatch, argv, first):
    """It was one line of up to 247 characters (the command list: 190), which the terminal broke inside
    words; a file or a pipe still gets one line per problem."""
    import sys

    lines = _usage_lines(capsys, argv)
    assert len(lines) == 1 and lines[0].endswith("--help lists the options")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    wrapped = _usage_lines(capsys, argv)
    assert wrapped[0] == first and all(len(line) <= 79 for line in wrapped), wrapped
    prog = "fleetsim" if argv[0] == "bogus" else f"fleetsim {argv[0]}"
    assert wrapped[-1] == f"  ({prog} --help lists the options)"
    # the same words as the one line, none lost or split
    assert " ".join(line.strip() for line in wrapped[:-1]) == lines[0].removesuffix(f"; {prog} --help lists the options")


def _usage_lines(capsys, argv) -> list[str]:
    assert _main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()


def test_a_path_longer_than_a_line_stays_whole():
    from sim.cli import usage_error

    long = "/".join(["folder"] * 20)
    lines = usage_error("fleetsim run", f"argument --out: give a file or folder name (got {long!r})", 79).splitlines()
    assert lines == ["fleetsim run: error: argument --out: give a file or folder name (got", f"  '{long}')",
                     "  (fleetsim run --help lists the options)"]


# ------------------------------------------------------------------ a knob on seed
def test_a_seed_knob_runs_each_value_at_its_seed(tmp_path, capsys):
    """``--grid seed=1,2`` ran both points at the scenario's seed (the point's seed is the base seed +
    its replication; the knob's value was dropped), so the two rows were one run, said twice."""
    import json

    path = _scenario(tmp_path)
    assert _main(["sweep", str(path), "--grid", "seed=1,5", "--out", str(tmp_path / "s"), "--quiet",
                  "--no-figures"]) == 0
    capsys.readouterr()
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())["points"]
    assert [r["seed"] for r in rows] == [1, 5]
    # each as fleetsim run at that seed gives it
    for seed, row in zip((1, 5), rows):
        assert _main(["run", str(path), "--set", f"seed={seed}", "--json", "--quiet"]) == 0
        alone = json.loads(capsys.readouterr().out)
        assert (row["requests.arrived"], row["latency.ttft.p99"]) == (alone["requests"]["arrived"],
                                                                      alone["latency"]["ttft"]["p99"])
    assert rows[0]["latency.ttft.p99"] != rows[1]["latency.ttft.p99"]


def test_a_seed_knob_of_whole_floats_runs_each_value_at_its_seed(tmp_path, capsys):
    """``--grid seed=1.0,5.0``: the scenario reads 5.0 as seed 5 (``fleetsim run --set seed=5.0`` runs at
    5), so the sweep does too; the two points ran at the base seed, one run said twice (``± 0``)."""
    import json

    path = _scenario(tmp_path)
    assert _main(["sweep", str(path), "--grid", "seed=1.0,5.0", "--out", str(tmp_path / "s"), "--quiet",
                  "--no-figures"]) == 0
    capsys.readouterr()
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())["points"]
    assert [r["seed"] for r in rows] == [1, 5]
    assert _main(["run", str(path), "--set", "seed=5", "--json", "--quiet"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert rows[1]["latency.ttft.p99"] == alone["latency"]["ttft"]["p99"]


@pytest.mark.parametrize("cmd,knob,first", [
    ("sweep", ["--grid", "seed=1,5"], "seed=1"),
    ("plan", ["--vary", "seed=1..2", "--constraint", "latency.ttft.p99<=2"], "seed=2"),   # a bisection: the top first
])
def test_a_seed_knob_with_replications_is_refused(tmp_path, capsys, cmd, knob, first):
    """Its values and the replications' seeds would be one column: seeds 1, 2 of the knob's 1 and 5, 6 of
    its 5 were grouped as four configurations of one run each."""
    path = _scenario(tmp_path)
    assert _main([cmd, str(path), *knob, "--seeds", "2", "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert _err(capsys) == [f"--seeds: 2 replications of each configuration, and a knob that sets seed ({first}): give "
                            "the seeds one way, --seeds 2 (seed, seed + 1, ...) or the knob's values with --seeds 1"]


# ------------------------------------------------------------------ reprice: a summary.json that is not a run's
@pytest.mark.parametrize("body,said", [
    ('{"a": 1}', "not a fleetsim summary (none of its keys: scenario, simulated_seconds, requests, latency, slo, ...)"),
    ('{"scenario": "t", "slo": {"attainment": 1.5}}', "slo.attainment: 1.5 is outside [0, 1]"),
])
def test_reprice_refuses_a_summary_fleetsim_did_not_write(run_folder, tmp_path, capsys, body, said):
    """``{"a": 1}`` was re-priced and the terminal said the money had been $0.00 ('net -$0.03 (was $0.00)');
    ``fleetsim report`` refused the same file."""
    import shutil

    src = tmp_path / "src"
    shutil.copytree(run_folder, src)
    (src / "summary.json").write_text(body)
    assert _main(["reprice", str(src), "--set", "economics.gpu_hour_usd=2", "--out", str(tmp_path / "d")]) == 2
    assert _err(capsys) == [f"{src / 'summary.json'}: {said}",
                            f"{src / 'summary.json'}: not as fleetsim run writes it: run the scenario again with --out"]
    assert not (tmp_path / "d").exists()


# ------------------------------------------------------------------ a KV-cache block bigger than a sequence
@pytest.mark.parametrize("block", [8193, 1_000_000])
def test_a_kv_block_longer_than_a_sequence_is_refused(tmp_path, capsys, block):
    """100,000 was taken (four blocks: at most four sequences, where validate said 48 at max_context);
    1,000,000 was said as 'weights 15.0 GiB + reserve 1.7 GiB per GPU exceed ... 72.0 GiB', which they do not."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"fleet.pools.0.batching.block_size={block}"]) == 2
    assert _err(capsys) == [
        f"{path}: fleet.pools.0.batching.block_size: {block:,} tokens per KV-cache block is more than one sequence "
        "holds (max_model_len 8,192), so each would take a block and leave the rest empty; engines page the cache in "
        "small blocks (vLLM: 1 to 128 tokens, 16 by default)"]
    assert _main(["validate", str(path), "--set", "fleet.pools.0.batching.block_size=8192"]) == 0
    capsys.readouterr()


def test_room_for_less_than_one_block_is_said_as_such_not_as_weights_over_the_gpu():
    """Weights and reserve fit (16.7 of 72 GiB); what does not is one block of 500,000 tokens of 128 KiB
    (61 GiB) in the 55.4 GiB left."""
    from sim.perf.memory import memory_plan
    from sim.scenario.catalog import get_gpu, get_model

    plan = memory_plan(get_model("llama-3-8b"), get_gpu("h100-sxm"), 1, block_size=500_000)
    assert not plan.fits
    assert "exceed" not in plan.reason
    assert plan.reason.startswith("llama-3-8b does not fit on 1x h100-sxm: after weights 15.0 GiB + reserve ")
    # hand: 500,000 tokens x 128 KiB (32 layers x 8 KV heads x 128 x 2 (K, V) x 2 bytes) = 61.04 GiB
    assert "holds not one block of 500,000 tokens (61.0 GiB per GPU); use a smaller batching.block_size" in plan.reason


# ------------------------------------------------------------------ money past a float: one line, not numpy's too
def test_money_past_a_float_is_one_line_without_numpys_warning(tmp_path, capsys):
    """numpy's 'overflow encountered in multiply' came first, a line naming nothing."""
    import warnings

    from sim.cli import main

    path = _scenario(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)      # numpy's warning, were it given, would end the run
        assert main(["run", str(path), "--set", "economics.gpu_hour_usd=1e308", "--quiet"]) == 2
    lines = _err(capsys)
    assert len(lines) == 1 and lines[0].startswith(f"{path}: economics: money totals overflow ("), lines


# ------------------------------------------------------------------ report: a search file with none of its keys
@pytest.mark.parametrize("name,body,keys", [
    ("plan.json", '{"answer": [1]}', "objective, knobs, constraints, seeds, best"),
    ("saturation.json", "{}", "rate_path, rate, upper, attainment, probes"),
    ("sweep.json", '{"rows": []}', "knobs, seeds, configurations, points"),
])
def test_report_refuses_a_search_file_with_none_of_its_keys(tmp_path, capsys, name, body, keys):
    """It wrote report.html: a page of empty sections titled Plan (or Saturation), exit 0."""
    (tmp_path / name).write_text(body)
    assert _main(["report", str(tmp_path)]) == 2
    assert _err(capsys) == [
        f"{tmp_path / name}: not a fleetsim {name.removesuffix('.json')} result (none of its keys: {keys}, ...)",
        f"{tmp_path / name}: not as fleetsim writes it: write the folder again (fleetsim run, sweep, plan or "
        "saturation with --out), or move the file out of the folder to report without it"]
    assert not (tmp_path / "report.html").exists()


@pytest.mark.parametrize("inside", ["figures", "new/deeper"])
def test_reprice_out_inside_the_folder_it_reprices_is_refused(run_folder, tmp_path, capsys, inside):
    """``--out RESULT_DIR/figures`` wrote a whole result folder among the run's figures."""
    import shutil

    src = tmp_path / "src"
    shutil.copytree(run_folder, src)
    before = sorted(p.relative_to(src).as_posix() for p in src.rglob("*"))
    out = src / inside
    assert _main(["reprice", str(src), "--set", "economics.gpu_hour_usd=2", "--out", str(out)]) == 2
    assert _err(capsys) == [f"--out: {out} is inside {src}, the result folder re-priced; name a folder outside it, "
                            f"or {src} itself to re-price it in place"]
    assert sorted(p.relative_to(src).as_posix() for p in src.rglob("*")) == before
    assert _main(["reprice", str(src), "--set", "economics.gpu_hour_usd=2", "--out", str(src), "--quiet"]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ a step-time table of no time
def _grid(step) -> str:
    rows = ["prefill_tokens,decode_seqs,context_tokens,step_s"]
    rows += [f"{p},{d},{c},{step(p, d, c)}" for p in (0, 8192) for d in (0, 256) for c in (0, 100000)]
    return "\n".join(rows) + "\n"


def test_a_step_table_with_no_time_for_work_is_refused(tmp_path, capsys):
    """A grid of 0 s ran: TTFT and TPOT 0, the GPU busy 0 % of the time with an MFU and an MBU above 0 (the
    linear model's all-zero case, refused since round 14, through a table)."""
    (tmp_path / "z.csv").write_text(_grid(lambda p, d, c: 0))
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "perf={model: table, path: z.csv}"]) == 2
    assert _err(capsys) == [
        f"{path}: perf.path: z.csv:4:4: step_s is 0 for an iteration that does work (prefill_tokens=0, "
        "decode_seqs=256); an iteration takes time: give its measured seconds (0 only where both are 0, an empty "
        "batch)"]
    # 0 where the batch is empty, time elsewhere: taken
    (tmp_path / "z.csv").write_text(_grid(lambda p, d, c: 0 if p == d == 0 else 0.01 + p * 1e-6 + d * 1e-5))
    assert _main(["validate", str(path), "--set", "perf={model: table, path: z.csv}"]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ a class's shared prefix of 0
def test_a_class_prefix_of_0_is_none_not_the_workloads(tmp_path):
    """``shared_prefix_tokens: 0`` on a class took the workload's 512 (``0 or 512``): its requests read a
    prefix from the cache that the class said they do not share."""
    from sim.api import run
    from sim.scenario.load import load_scenario

    def ttft(workload_prefix, cls_prefix):
        sc = hc._small()
        sc["workload"]["prompt_tokens"] = {"dist": "fixed", "value": 1000}
        sc["workload"]["arrival"]["rate"] = 20
        if workload_prefix is not None:
            sc["workload"]["shared_prefix_tokens"] = workload_prefix
        sc["workload"]["classes"] = [{"name": "c", "share": 1}]
        if cls_prefix is not None:
            sc["workload"]["classes"][0]["shared_prefix_tokens"] = cls_prefix
        sc["fleet"]["pools"][0]["batching"] = {"prefix_caching": True}
        return run(load_scenario(sc), quiet=True).summary["latency"]["ttft"]

    none = ttft(None, None)
    assert ttft(512, 0) == none                   # 0: no prefix, whatever the workload's
    assert ttft(512, None) == ttft(None, 512)     # not given: the workload's
    assert ttft(512, None)["mean"] < none["mean"]  # and a prefix read from the cache shortens the prefill
