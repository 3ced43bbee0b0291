"""A new user's first hour: what the terminal and the report say when input is odd but legal, and
the one clear line when it is not."""
import pytest

import sim
from sim.report.overview import overview


def _short(*extra):
    return ["duration=2m", "warmup=0", *extra]


def test_a_run_whose_every_prompt_is_too_long_says_so_not_idle():
    """Prompts of about 30,000 tokens on Llama-3-8B (context 8,192) are all turned away, as vLLM refuses
    a prompt longer than max_model_len: the verdict names the count and the reason, and does not
    call the fleet idle with room for more traffic. (A distribution that can only draw such prompts
    is refused before the run: the next test.)"""
    r = sim.run("scenarios/baseline.yaml",
                overrides=_short("workload.prompt_tokens={dist: lognormal, mean: 30000, cv: 0.05}"))
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


def _turned_away(rejected_by_reason, failed=0, arrived=1000, load_factor=0.38):
    rejected = sum(rejected_by_reason.values())
    s = {"scenario": "x", "slo": {"attainment": 0.5, "ttft_s": 2.0, "tpot_s": 0.1},
         "requests": {"arrived": arrived, "completed": arrived - rejected - failed, "rejected": rejected,
                      "failed": failed, "rejected_by_reason": rejected_by_reason},
         "utilization": {"load_factor": load_factor}, "stability": {"stable": True}, "pools": {}}
    return overview(s).verdict


def test_requests_rejected_for_want_of_capacity_withdraw_the_headroom():
    """387 of 1,000 rejected, 280 with no replica up and 107 by a full waiting room (a failure-heavy
    run): the load factor 0.38 counts the work served, not room for 2.6x the traffic; the verdict says
    the share (387 / 1,000 = 38.7%) and its main reason first and keeps the figure."""
    v = _turned_away({"no_replica": 280, "queue_full": 107})
    assert ("38.7% of requests were rejected, mainly with no replica up to take it: load factor 0.38 counts "
            "the work served only, not room for more traffic.") in v
    assert "room for about" not in v
    # requests failed past their retries count with them: (100 + 30) / 1,000
    v = _turned_away({"timeout": 100}, failed=30)
    assert ("13.0% of requests were rejected or failed, mainly with their client giving up before a batch "
            "took them (workload.patience_s): load factor 0.38") in v


def test_a_share_the_slo_target_lets_miss_keeps_the_headroom():
    """A 99 % target lets 1 % miss: 10 of 1,000 turned away keep the headroom, 11 do not; prompts too
    long are turned away at any fleet size and take nothing from it (30 %, the headroom stays)."""
    assert "room for about 2.6x this traffic" in _turned_away({"queue_full": 10})
    assert "1.1% of requests were rejected, all with a full waiting room" in _turned_away({"queue_full": 11})
    assert "room for about 2.6x this traffic" in _turned_away({"prompt_exceeds_max_context": 300, "no_replica": 5})


def test_a_failure_heavy_run_does_not_claim_room_it_rejected():
    """Three replicas failing every 20 minutes at 40 requests/s (``scenarios/failures.yaml``): a third
    of the requests are rejected; the verdict's share is the summary's own count over its arrivals."""
    r = sim.run("scenarios/failures.yaml", overrides=["duration=30m", "warmup=0", "fleet.pools.0.replicas=3",
                                                      "workload.arrival.rate=40", "fleet.pools.0.max_waiting=30",
                                                      "workload.patience_s=20", "fleet.pools.0.failures.mtbf=20m"])
    req = r.summary["requests"]
    lost = req["rejected"] + req["failed"]
    assert lost > 0.01 * req["arrived"] and r.summary["stability"]["stable"] is not False
    v = overview(r.summary).verdict
    assert f"{100 * lost / req['arrived']:.1f}% of requests were rejected" in v
    assert f"load factor {r.summary['utilization']['load_factor']:.2f} counts the work served only" in v
    assert "room for about" not in v


def test_no_rejection_no_sentence():
    s = {"scenario": "x", "slo": {"attainment": 1.0}, "requests": {"arrived": 10, "completed": 10, "rejected": 0},
         "pools": {}}
    assert "rejected" not in overview(s).verdict


def _validate_err(tmp_path, capsys, name, text):
    from sim.cli import main

    p = tmp_path / name
    p.write_text(text)
    assert main(["validate", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "<unicode string>" not in err and len(err.splitlines()) == 1
    return err.removeprefix(f"{p}: ")


def test_a_tab_in_the_indentation_says_yaml_indents_with_spaces(tmp_path, capsys):
    err = _validate_err(tmp_path, capsys, "s.yaml", "name: x\nworkload:\n\tarrival: {rate: 1}\n")
    assert err == "not valid YAML: line 3, column 1: a tab where YAML expects spaces (YAML indents with spaces only)"


def test_a_misaligned_line_says_where_it_and_its_block_are(tmp_path, capsys):
    text = "fleet:\n  router: random\n  pools:\n    - name: a\n      gpu: h100-sxm\n   replicas: 2\n"
    err = _validate_err(tmp_path, capsys, "s.yaml", text)
    assert err == ("not valid YAML: line 6, column 4: expected <block end>, but found '<block mapping start>': "
                   "the indentation does not line up with the lines above "
                   "(while parsing a block mapping at line 2, column 3)")


def test_an_unclosed_list_names_both_ends(tmp_path, capsys):
    err = _validate_err(tmp_path, capsys, "s.yaml", "seed: 1\nmodel: [a, b\nname: x\n")
    assert err == ("not valid YAML: line 3, column 5: expected ',' or ']', but got ':' "
                   "(while parsing a flow sequence at line 2, column 8)")


def test_toml_written_into_a_yaml_file_is_named_as_toml(tmp_path, capsys):
    err = _validate_err(tmp_path, capsys, "s.yaml", 'name = "x"\nseed = 1\n')
    # (YAML folds the two lines into one text)
    assert err == ("must be a mapping of keys to values (got the text 'name = \"x\" seed = 1'); it reads as TOML "
                   "(key = value): name the file .toml, or write YAML's key: value")
    # a lone word is no TOML: no hint
    assert _validate_err(tmp_path, capsys, "w.yaml", "hello\n") == "must be a mapping of keys to values (got the text 'hello')"


@pytest.mark.parametrize("override, field", [
    ("name=" + "x" * 5000, "name"),
    ("fleet.pools.0.name=" + "p" * 201, "fleet.pools.0.name"),
    ("workload.classes=[{name: " + "c" * 300 + ", share: 1}]", "workload.classes.0.name"),
])
def test_a_name_is_a_label_of_at_most_200_characters(capsys, override, field):
    """A name is printed in every title, table and figure: 5,000 characters of it filled the terminal
    and the report 100 times over; it is refused by its length, not echoed."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    n = len(override.split("=", 1)[1].split(",")[0].removeprefix("[{name: "))
    assert capsys.readouterr().err == f"scenarios/baseline.yaml: {field}: must be at most 200 characters (got {n:,})\n"


def test_a_name_of_200_characters_and_unicode_is_kept_whole(capsys):
    from sim.cli import main

    name = "ünï cødé 🚀 " + "é" * 189
    assert len(name) == 200
    assert main(["validate", "scenarios/baseline.yaml", "--set", f"name={name}"]) == 0
    assert f"ok ({name}:" in capsys.readouterr().out


def test_an_empty_scenario_name_is_refused(capsys):
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", "name="]) == 2
    assert capsys.readouterr().err == "scenarios/baseline.yaml: name: must not be empty (got '')\n"


def test_a_trace_path_that_is_a_folder_says_folder_not_missing(tmp_path, capsys):
    from sim.cli import main

    (tmp_path / "traces").mkdir()
    sc = tmp_path / "s.yaml"
    sc.write_text(open("scenarios/baseline.yaml").read().replace(
        "arrival: {process: poisson, rate: 12}", "arrival: {process: trace, path: traces}"))
    assert main(["validate", str(sc)]) == 2
    assert capsys.readouterr().err == (f"{sc}: workload.arrival.path: 'traces' is a folder, not a trace file "
                                       "(paths are relative to the scenario's folder)\n")


@pytest.mark.parametrize("block, row, message", [
    ("arrival: {process: trace, path: t.csv}", "0.2,200.5,20",
     "workload.arrival.path: t.csv: line 3: column 'prompt_tokens': must be an integer token count (got '200.5')"),
    ("arrival: {process: trace, path: t.csv}", "0.05,200,20",
     "workload.arrival.path: t.csv: line 3: column 'timestamp_s': times must not go backwards "
     "(previous row: 0.1) (got '0.05')"),
    ("arrival: {process: poisson, rate: 12}\n  classes: [{name: a, share: 1, output_tokens: {dist: trace, path: t.csv}}]",
     "0.2,200,0", "workload.classes.0.output_tokens.path: t.csv: line 3: column 'output_tokens': must be >= 1 (got '0')"),
])
def test_validate_reads_every_trace_row_as_run_does(tmp_path, capsys, block, row, message):
    """A bad row after the first good one passed ``fleetsim validate`` ('ok') and stopped ``run``."""
    from sim.cli import main

    (tmp_path / "t.csv").write_text(f"timestamp_s,prompt_tokens,output_tokens\n0.1,100,10\n{row}\n")
    sc = tmp_path / "s.yaml"
    sc.write_text(open("scenarios/baseline.yaml").read().replace("arrival: {process: poisson, rate: 12}", block))
    assert main(["validate", str(sc)]) == 2
    assert capsys.readouterr().err == f"{sc}: {message}\n"
    assert main(["run", str(sc), "--quiet", "--set", "duration=1m", "--set", "warmup=0"]) == 2
    assert message.split(": ", 1)[1] in capsys.readouterr().err      # what run says of the same row


@pytest.mark.parametrize("override, field", [("model=[llama-3-8b]", "model"), ("fleet.pools.0.model=5", "fleet.pools.0.model")])
def test_a_model_that_is_neither_name_nor_mapping_is_one_problem(capsys, override, field):
    """``model: [llama-3-8b]`` gave two lines, ``model.str: must be text`` (a key the file does not
    have) and ``model: must be a mapping``: one line says what the field takes."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    got = override.split("=", 1)[1]
    got = "['llama-3-8b']" if got.startswith("[") else got
    assert capsys.readouterr().err == (f"scenarios/baseline.yaml: {field}: must be a catalog model name, a mapping "
                                       f"of the architecture or {{hf_config: path}} (got {got})\n")


def test_the_metrics_table_does_not_write_gpu_hours_as_hours():
    """'GPU-hours provisioned | 4 | h' read as four hours of wall time; the label carries the unit."""
    import re

    from sim.report.html_report import metrics_section

    page = metrics_section({"gpu_hours": {"provisioned": 4.0, "busy": 2.5},
                            "throughput": {"requests_per_s": 12.0}})
    cells = lambda label: re.search(rf"<td>{label}</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>", page).groups()
    assert cells("GPU-hours provisioned") == ("4", "")
    assert cells("GPU-hours busy") == ("2.5", "")
    assert cells("throughput") == ("12", "req/s")


def test_an_interrupted_sweep_keeps_its_finished_points_and_resumes_from_them(tmp_path, capsys):
    """Ctrl-C in the middle of a sweep: exit status 130, a line saying how many points are kept and
    that the same command resumes; every kept point file is whole JSON; the rerun reuses them."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from sim.cli import main

    out = tmp_path / "sw"
    argv = ["sweep", "scenarios/baseline.yaml", "--set", "duration=10m", "--set", "warmup=0", "--executor",
            "serial", "--grid", "fleet.pools.0.replicas=1,2,3,4,5,6,7,8,9,10,11,12", "--out", str(out), "--quiet",
            "--no-figures"]
    # Ctrl-C's default action in the child even when this test runs where SIGINT is ignored (a background job
    # inherits SIG_IGN, and Python then installs no KeyboardInterrupt handler)
    proc = subprocess.Popen([sys.executable, "-m", "sim", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / "points").glob("*.json")) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    kept = sorted((out / "points").glob("*.json"))
    assert proc.returncode == 130 and 1 <= len(kept) < 12, (proc.returncode, err)
    n = len(kept)
    assert err.strip().splitlines()[-1] == (f"interrupted: {n} finished point{'s' if n > 1 else ''} kept in "
                                            f"{out / 'points'}; the same command resumes from {'them' if n > 1 else 'it'}")
    ran = sorted(json.loads(f.read_text())["config"]["fleet.pools.0.replicas"] for f in kept)
    assert not [f for f in os.listdir(out / "points") if not f.endswith(".json")]   # no half-written file
    # the first n values ran (serial: one call at a time, in grid order): a rerun over them computes nothing
    assert ran == list(range(1, n + 1))
    values = ",".join(str(v) for v in ran)
    capsys.readouterr()
    assert main([*argv[:-6], "--grid", f"fleet.pools.0.replicas={values}", "--out", str(out), "--quiet",
                 "--no-figures"]) == 0
    assert f"{n} point{'s' if n > 1 else ''} ({n} reused from {out}), 0 failed" in capsys.readouterr().err


@pytest.mark.parametrize("pools, stability, utilization, words", [
    ({"big": {"load_factor": 0.43}, "small": {"load_factor": 0.88}}, {"offered_load_factor": 0.67}, 0.66,
     "Near saturation (pool small at load factor 0.88)"),
    ({"main": {"load_factor": 0.90}}, {"offered_load_factor": 0.89}, 0.90, "Near saturation (load factor 0.90)"),
    ({"main": {"load_factor": 0.80}}, {"offered_load_factor": 0.91}, 0.80, "Near saturation (offered load factor 0.91)"),
])
def test_the_near_saturation_hint_says_whose_load_factor_it_is(pools, stability, utilization, words):
    """DeepSeek's two pools read 'Load factor 0.66: room for about 53% more traffic ... Near saturation
    (load factor 0.88)': two load factors in one verdict, the second of one pool, unsaid."""
    s = {"scenario": "x", "slo": {"attainment": 1.0}, "pools": pools, "stability": {"stable": True, **stability},
         "utilization": {"load_factor": utilization}}
    assert words + " a few per cent of capacity moves latency" in overview(s).verdict


@pytest.mark.parametrize("argv, line", [
    (["run", "scenarios/baseline.yaml", "--figures", "svgz"],
     "fleetsim run: error: argument --figures: invalid choice: 'svgz' (choose from 'svg', 'png', 'none'); "
     "fleetsim run --help lists the options"),
    (["run"], "fleetsim run: error: the following arguments are required: scenario (scenario: a scenario file (YAML "
              "or TOML), e.g. scenarios/baseline.yaml); fleetsim run --help lists the options"),
    (["validate", "scenarios/baseline.yaml", "--bogus"],
     "fleetsim validate: error: unrecognized arguments: --bogus; fleetsim validate --help lists the options"),
])
def test_a_wrong_option_is_one_line_without_the_usage_block(capsys, argv, line):
    """argparse printed eight lines of usage before the one line that says what is wrong."""
    from sim.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err == line + "\n"


@pytest.mark.parametrize("flag, value, line", [
    ("--gpu", "h900", "--gpu: unknown GPU 'h900'; allowed: a100-80gb, b200, b300, gb200, h100-pcie, h100-sxm, h20, "
                      "h200-sxm, l40s, mi300x, mi325x, mi355x"),
    ("--model", "llama-9", "--model: unknown model 'llama-9'; allowed: deepseek-r1,"),
])
def test_calibrate_names_the_flag_of_an_unknown_gpu_or_model(capsys, flag, value, line):
    """It said 'unknown GPU ... or an inline mapping of the datasheet': no flag named, and a mapping
    a command-line flag cannot take."""
    from sim.cli import main

    argv = ["calibrate", "examples/calibration_points.csv", "--gpu", "h100-sxm", "--model", "llama-2-7b"]
    argv[argv.index(flag) + 1] = value
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(line) and "inline mapping" not in err and len(err.splitlines()) == 1


def test_reprice_of_a_file_or_a_missing_folder_says_which(tmp_path, capsys):
    """'scenarios/baseline.yaml: no usage.npz (a result folder ...)' for a scenario file given by mistake."""
    from sim.cli import main

    assert main(["reprice", "scenarios/baseline.yaml", "--set", "economics.gpu_hour_usd=1"]) == 2
    assert capsys.readouterr().err == ("scenarios/baseline.yaml: a file, not a result folder (fleetsim reprice "
                                       "reads the folder fleetsim run --out DIR wrote)\n")
    assert main(["reprice", str(tmp_path / "nope"), "--set", "economics.gpu_hour_usd=1"]) == 2
    assert capsys.readouterr().err == (f"{tmp_path / 'nope'}: no such result folder (fleetsim reprice reads the "
                                       "folder fleetsim run --out DIR wrote)\n")


def test_a_duration_past_the_year_9000_is_one_line_not_a_300_digit_row_count(capsys):
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", "duration=1e300"]) == 2
    assert capsys.readouterr().err == ("scenarios/baseline.yaml: duration: runs past the year 9000 from start "
                                       "2025-01-01 (got 1e+300 s)\n")


@pytest.mark.parametrize("value, hint", [("1e3", "; YAML reads 1e3 as text: write 1000"), ("1e400", ""),
                                         ("2.5e0", "")])
def test_a_whole_number_written_with_an_exponent_says_what_to_write(capsys, value, hint):
    """YAML 1.1 reads 1e3 (no decimal point, no exponent sign) as text: 'must be a whole number (got
    '1e3')' left a user wondering what is not whole about a thousand."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", f"fleet.pools.0.replicas={value}"]) == 2
    assert capsys.readouterr().err == (f"scenarios/baseline.yaml: fleet.pools.0.replicas: must be a whole number "
                                       f"(got '{value}'){hint}\n")


def test_the_header_says_when_given_lengths_replace_a_traces_own(tmp_path):
    """A trace carries each request's lengths; a workload that also gives prompt_tokens draws them
    instead (docs/workload.md). The header said 'arrivals replayed from the trace' and 'Prompts
    lognormal ...' without saying the trace's own lengths were not used."""
    (tmp_path / "t.csv").write_text("timestamp_s,prompt_tokens,output_tokens\n0.1,100,10\n0.2,200,20\n")
    text = open("scenarios/baseline.yaml").read().replace("arrival: {process: poisson, rate: 12}",
                                                          "arrival: {process: trace, path: t.csv}")
    text = text.replace("  output_tokens: {dist: lognormal, mean: 250, cv: 1.0, max: 2048}\n", "")
    sc = tmp_path / "s.yaml"
    sc.write_text(text)
    r = sim.run(str(sc), overrides=_short())
    assert sorted(r.records["output_tokens"].tolist()) == [10, 20]          # the trace's own outputs...
    assert sorted(r.records["prompt_tokens"].tolist()) != [100, 200]        # ...and drawn prompts
    r.write(tmp_path / "out")
    import json
    o = overview(r.summary, json.loads((tmp_path / "out" / "scenario.json").read_text()))
    assert ("Prompts lognormal, mean 1,000 (CV 1, max 8,192) tokens (not the trace's lengths); outputs as in "
            "the trace.") in o.paragraph


def test_every_problem_of_an_hf_config_names_the_scenario_and_field(tmp_path, capsys):
    """The second problem of a config.json came out as '/path/c.json: head_dim: required ...' without
    the scenario file and the field in front; it is no longer said at all (a consequence of the first)."""
    from sim.cli import main

    (tmp_path / "c.json").write_text('{"model_type": "llama", "hidden_size": 4096, "num_attention_heads": 0, '
                                     '"num_hidden_layers": 32, "intermediate_size": 14336, "vocab_size": 128256, '
                                     '"num_key_value_heads": 8, "max_position_embeddings": 8192}')
    sc = tmp_path / "s.yaml"
    sc.write_text(open("scenarios/baseline.yaml").read().replace("model: llama-3-8b ", "model: {hf_config: c.json} "))
    assert main(["validate", str(sc)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and all(ln.startswith(f"{sc}: model.hf_config: {tmp_path / 'c.json'}: ") for ln in lines)
    # (the head size, derived from the bad count, is not said missing besides: the file never needed it)
    assert lines[0].endswith("num_attention_heads: must be an integer > 0 (got 0)")


def test_a_rate_is_not_written_as_a_time():
    """throughput.requests_per_s ends in '_s': the sweep page wrote 11.72 req/s as '11.72 s'."""
    from sim.report.html_page import mean_ci, unit_of

    assert [unit_of(k) for k in ("throughput.requests_per_s", "stability.backlog_growth_per_s",
                                 "latency.ttft.p99", "slo.ttft_s")] == ["req/s", "req/s", "s", "s"]
    assert mean_ci({"throughput.requests_per_s.mean": 11.72}, "throughput.requests_per_s") == "11.72"
    assert mean_ci({"latency.ttft.p99.mean": 0.185}, "latency.ttft.p99") == "185.0 ms"


def test_the_sweep_table_heads_each_metric_with_its_unit(tmp_path, capsys):
    """The terminal's sweep table writes metrics as plain numbers (185, 99.99): the header says in what."""
    from sim.cli import main

    assert main(["sweep", "scenarios/baseline.yaml", "--set", "duration=2m", "--set", "warmup=0", "--grid",
                 "fleet.pools.0.replicas=2", "--out", str(tmp_path / "s"), "--quiet", "--no-figures", "--columns",
                 "latency.ttft.p99,slo.attainment,utilization.load_factor,throughput.requests_per_s"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.endswith("latency.ttft.p99 (ms)  slo.attainment (%)  utilization.load_factor  "
                         "throughput.requests_per_s")


@pytest.mark.parametrize("data, message", [
    ("name: café\n".encode("utf-16"), "is UTF-16 text: save it as UTF-8"),
    (b"seed: 1\nname: caf\xe9\n", "not UTF-8 text: byte 0xe9 at line 2, column 10 (save the file as UTF-8)"),
    (b"seed: 1\nname: a\x00b\n", "not valid YAML: line 2, column 8: character U+0000 is not allowed in YAML text"),
])
def test_a_file_that_is_not_utf8_text_says_where_and_what_to_do(tmp_path, capsys, data, message):
    """It said \"cannot read file: 'utf-8' codec can't decode byte 0xe9 in position 17: invalid
    continuation byte\" (and '<unicode string>, position 14' for a NUL)."""
    from sim.cli import main

    p = tmp_path / "s.yaml"
    p.write_bytes(data)
    assert main(["validate", str(p)]) == 2
    assert capsys.readouterr().err == f"{p}: {message}\n"


def test_a_broken_symbolic_link_is_named_as_one(tmp_path, capsys):
    """A dangling link said 'file not found (did you mean s.yaml?)', naming itself."""
    from sim.cli import main

    (tmp_path / "s.yaml").symlink_to("gone.yaml")
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    assert main(["validate", str(tmp_path / "s.yaml")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 's.yaml'}: a symbolic link to gone.yaml, which does not exist\n"
    assert main(["validate", str(tmp_path / "a.yaml")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'a.yaml'}: a loop of symbolic links (it leads back to itself)\n"


@pytest.mark.parametrize("override, line", [
    ("workload.classes.0.name=x", "--set: workload.classes: there is no list here to take item 0 of; give the "
                                  "whole list, e.g. --set 'workload.classes=[...]'"),
    ("fleet.pool.0.replicas=3", "--set: fleet.pool: there is no list here to take item 0 of (did you mean "
                                "fleet.pools?)"),
    ("fleet.pools.main.replicas=3", "--set: fleet.pools.main: is a list; use an integer index (got 'main'); the "
                                    "item named 'main' is fleet.pools.0"),
    ("fleet.pools.mian.replicas=3", "--set: fleet.pools.mian: is a list; use an integer index (got 'mian')"),
    ("slo=null", "scenarios/baseline.yaml: slo: must be a mapping of keys to values (got null)"),
    ("fleet.pools.0.autoscale=true", "scenarios/baseline.yaml: fleet.pools.0.autoscale: must be a mapping of keys "
                                     "to values (got true)"),
])
def test_overrides_speak_yaml(capsys, override, line):
    """--set into a list the scenario does not have made a mapping {'0': ...} and said 'must be a list
    (got {'0': 'x'})'; null and true were written as Python's None and True."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert capsys.readouterr().err == line + "\n"


@pytest.mark.parametrize("override,written", [
    ("workload.arrival.rate: 50", "workload.arrival.rate=50"),
    ("slo:{ttft_s: 1}", "slo={ttft_s: 1}"),
])
def test_an_override_written_as_yaml_says_the_form_to_write(capsys, override, written):
    """key: value is how the scenario file says it; --set takes key=value, and says so with the line."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert capsys.readouterr().err == f"--set: {override}: override must look like key.path=value: write {written}\n"
    assert main(["validate", "scenarios/baseline.yaml", "--set", written]) == 0


@pytest.mark.parametrize("field", ["workload.prompt_tokens", "workload.output_tokens"])
def test_a_length_given_as_one_number_says_how_to_write_a_fixed_length(capsys, field):
    """prompt_tokens: 1000 is the first thing a planner writes for 'every prompt is 1,000 tokens';
    the error gives the form that means it, and that form is accepted."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", f"{field}=1000"]) == 2
    assert capsys.readouterr().err == (f"scenarios/baseline.yaml: {field}: must be a mapping of keys to values "
                                       "(got 1000); a fixed length is {dist: fixed, value: 1000}\n")
    assert main(["validate", "scenarios/baseline.yaml", "--set", f"{field}={{dist: fixed, value: 1000}}"]) == 0


def test_a_result_folder_given_as_the_scenario_says_where_its_scenario_is(tmp_path, capsys):
    """fleetsim run results/baseline (the folder the last run wrote) names the scenario inside it,
    and that scenario is one fleetsim takes."""
    from sim.cli import main

    sim.run("scenarios/baseline.yaml", overrides=["duration=10s", "warmup=0"]).write(tmp_path / "r")
    assert main(["run", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (f"{tmp_path / 'r'}: is a folder, not a regular file: a result folder (its "
                                       f"scenario as run is {tmp_path / 'r' / 'scenario.json'}; fleetsim report, "
                                       "compare and reprice read the folder)\n")
    assert main(["validate", str(tmp_path / "r" / "scenario.json")]) == 0
    assert main(["validate", str(tmp_path)]) == 2       # any other folder: as before
    assert capsys.readouterr().err.endswith(f"{tmp_path}: is a folder, not a regular file\n")


@pytest.mark.parametrize("module", ["sim.errors", "sim.scenario.load", "sim.scenario.safe_yaml", "sim.scenario.safe_text",
                                    "sim.scenario.schema_errors", "sim.report.overview", "sim.metrics.band"])
def test_the_examples_in_the_docstrings_of_what_a_user_reads_hold(module):
    """The examples of messages and verdicts in these modules' docstrings are what the code says."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_a_revenue_line_named_with_no_lines_defined_is_a_warning(recwarn):
    """A class's revenue_line with no economics.revenue booked $0 of revenue without a word; it stays
    legal (a re-pricing may add the lines)."""
    from sim.errors import ScenarioWarning

    r = sim.run("scenarios/baseline.yaml",
                overrides=_short("workload.classes=[{name: a, share: 1, revenue_line: api}]"))
    said = [str(w.message) for w in recwarn if issubclass(w.category, ScenarioWarning)]
    assert any("economics.revenue: the workload names revenue line 'api' but no line is defined: the run books "
               "no revenue" in m for m in said), said
    assert r.summary["cashflow"]["revenue"] == 0


@pytest.mark.parametrize("overrides, line", [
    (["workload.prompt_tokens={dist: fixed, value: 9000}"],
     "workload.prompt_tokens: every prompt is at least 9,000 tokens, longer than the longest context a pool "
     "serves (8,192 tokens, max_model_len): every request would be rejected"),
    (["workload.prompt_tokens={dist: uniform, low: 5000, high: 6000}", "fleet.pools.0.max_model_len=4096"],
     "workload.prompt_tokens: every prompt is at least 5,000 tokens, longer than the longest context a pool "
     "serves (4,096 tokens, max_model_len): every request would be rejected"),
    (["workload.classes=[{name: a, share: 0.5, prompt_tokens: {dist: empirical, values: [9000, 100], "
      "weights: [1, 0]}}, {name: b, share: 0.5}]"],
     "workload.classes.0.prompt_tokens: every prompt is at least 9,000 tokens, longer than the longest context "
     "a pool serves (8,192 tokens, max_model_len): every request would be rejected"),
])
def test_prompts_that_can_never_fit_a_context_are_refused_before_the_run(capsys, overrides, line):
    from sim.cli import main

    argv = ["validate", "scenarios/baseline.yaml"]
    for o in overrides:
        argv += ["--set", o]
    assert main(argv) == 2
    assert capsys.readouterr().err == f"scenarios/baseline.yaml: {line}\n"
    # a prompt of exactly the context length is served (as vLLM serves it): no problem
    assert main(["validate", "scenarios/baseline.yaml", "--set", "workload.prompt_tokens={dist: fixed, value: 8192}"]) == 0


def test_a_bad_class_share_is_said_once_without_echoes(capsys):
    """A share of .nan also drew 'workload.arrival: not used: every class has its own arrival' (the
    share left out to check the rest made the class look like one with its own arrival)."""
    from sim.cli import main

    assert main(["validate", "scenarios/baseline.yaml", "--set", "workload.classes=[{name: a, share: .nan}]"]) == 2
    assert capsys.readouterr().err == ("scenarios/baseline.yaml: workload.classes.0.share: must be a finite number "
                                       "(got nan)\n")
    # problems elsewhere are still all said at once
    assert main(["validate", "scenarios/baseline.yaml", "--set", "workload.classes=[{name: a, share: x}]",
                 "--set", "fleet.pools.0.gpu=h900"]) == 2
    err = capsys.readouterr().err
    assert "workload.classes.0.share: must be a number (got 'x')" in err and "fleet.pools.0.gpu: unknown GPU" in err


def test_a_run_without_a_single_request_has_a_verdict(capsys):
    """1e-9 requests/s for a minute: no request arrives; the terminal summary says so (it divided by
    the load factor 0)."""
    from sim.cli import main

    assert main(["run", "scenarios/baseline.yaml", "--quiet", "--set", "workload.arrival.rate=1e-9",
                 "--set", "duration=1m", "--set", "warmup=0"]) == 0
    out = capsys.readouterr().out
    assert "SLO attainment unknown (no measured requests)." in out and "load factor 0.00: idle" in out.lower()


def test_a_pool_name_of_200_characters_runs_in_the_fluid_tier():
    """The fluid tier measures each pool in a scenario named 'capacity-<pool>': 209 characters for a pool
    name of 200, past the names' limit."""
    from sim.fluid.capacity import pool_template
    from sim.scenario.load import load_scenario, scenario_from_dict

    loaded = load_scenario("scenarios/baseline.yaml", ["fleet.pools.0.name=" + "p" * 200])
    template = pool_template(loaded.scenario, 0)
    template["workload"]["arrival"] = {"process": "poisson", "rate": 1.0}
    template.update(duration=60.0, warmup=0.0, seed=1)
    assert scenario_from_dict(template, "<capacity curve>", loaded.base_dir).scenario.name == ("capacity-" + "p" * 200)[:200]


def test_reprice_says_what_each_changed_total_was(tmp_path, capsys):
    """A planner re-pricing a run wants the new totals next to the old ones, not only the statement:
    four H100s for two minutes are 4 x 2/60 = 0.1333 GPU-hours, $0.33 at $2.50 and $0.24 at $1.80;
    a total the override does not move (revenue) carries no "(was ...)"."""
    from sim.cli import main

    out = tmp_path / "run"
    assert main(["run", "scenarios/baseline.yaml", "--quiet", "--figures", "none", "--out", str(out),
                 *[a for o in _short() for a in ("--set", o)]]) == 0
    capsys.readouterr()
    assert main(["reprice", str(out), "--set", "economics.gpu_hour_usd=1.8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"repriced {out} with economics.gpu_hour_usd=1.8"
    assert lines[1].startswith("cost  compute $0.24 (was $0.33)  $")
    # the baseline earns nothing: one line says so, and the statement is its costs, not columns of zeros
    assert lines[2] == "cash flow  costs only, net -$0.24 (was -$0.33): the scenario has no revenue or agreement terms"
    assert "Costs per month (USD, accrual)" in lines and "Cash-flow statement (USD; accrual columns, then cash)" \
        not in lines
    table = lines[lines.index("Costs per month (USD, accrual)") + 1:]
    assert table[0].split() == ["period", "compute", "cumulative"] and table[2].split()[-2:] == ["$0.24", "$0.24"]


def test_the_plan_table_heads_each_metric_with_its_unit(tmp_path, capsys):
    """As the sweep's: the plan's constraint and --columns metrics are plain numbers (185, 99.99)."""
    from sim.cli import main

    assert main(["plan", "scenarios/baseline.yaml", "--set", "duration=2m", "--set", "warmup=0", "--vary",
                 "fleet.pools.0.replicas=1,2", "--constraint", "latency.ttft.p99<=2", "--constraint",
                 "slo.attainment>=0.9", "--columns", "utilization.load_factor,throughput.requests_per_s",
                 "--out", str(tmp_path / "p"), "--quiet", "--no-figures"]) == 0
    head = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("fleet.pools.0.replicas"))
    assert head.split("headroom", 1)[1].split() == ["latency.ttft.p99", "(ms)", "slo.attainment", "(%)",
                                                    "utilization.load_factor", "throughput.requests_per_s"]


def test_the_plan_table_fits_the_terminal_with_why_not_under_it(tmp_path, capsys, monkeypatch):
    """With two knobs and a miss the plan's table ran past 100 columns (each configuration's full paths
    and a why-not sentence in one line). A column per knob, headed by its path on several lines, as
    the sweep's; at 100 columns the why-not goes under the table, said in words with units, and the
    hint names what was left out; piped (no width) the table is whole, why-not in it."""
    from sim.cli import main

    argv = ["plan", "scenarios/baseline.yaml", "--set", "duration=2m", "--set", "warmup=0", "--set",
            "workload.arrival.rate=50", "--vary", "fleet.pools.0.replicas=1,2",
            "--vary", "fleet.pools.0.gpu=h100-sxm,a100-80gb", "--constraint", "latency.ttft.p99<=2",
            "--out", str(tmp_path / "p"), "--quiet", "--no-figures"]
    monkeypatch.setenv("COLUMNS", "100")
    main(argv)
    fitted = capsys.readouterr()
    lines = fitted.out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("fleet."))
    table = lines[start:next(i for i, line in enumerate(lines) if line.startswith("why not "))]
    assert table[0].startswith("fleet.") and table[2].startswith("replicas")
    assert max(map(len, table)) <= 100 and all("unstable" not in line for line in table)
    why = lines[start + len(table):]
    assert why[0].startswith("why not replicas=1, gpu=") and max(map(len, why)) <= 100
    assert "s, needs <= 2 s" in " ".join(line.strip() for line in why)
    err = fitted.err.splitlines()
    at = next(i for i, line in enumerate(err) if line.startswith("left out to fit 100 columns:"))
    hint = [err[at], *(line for line in err[at + 1:at + 3] if line.startswith("    "))]
    assert len(hint) > 1 and max(map(len, hint)) <= 100 and "every column is in" in " ".join(hint)
    monkeypatch.delenv("COLUMNS")
    main(argv)                          # the points reused
    whole = capsys.readouterr().out.splitlines()
    head = next(line for line in whole if line.startswith("fleet.pools.0.replicas"))
    assert head.split()[:4] == ["fleet.pools.0.replicas", "fleet.pools.0.gpu", "answer", "feasible"] and head.endswith("why not")
    assert not any(line.startswith("why not ") for line in whole)
    assert any("TTFT p99" in line and "s, needs <= 2 s" in line for line in whole)


def test_the_saturation_table_heads_each_metric_with_its_unit(tmp_path, capsys):
    from sim.cli import main

    main(["saturation", "scenarios/baseline.yaml", "--set", "duration=2m", "--set", "warmup=0", "--start", "60",
          "--tolerance", "0.5", "--out", str(tmp_path / "s"), "--quiet"])
    head = capsys.readouterr().out.splitlines()[0]
    assert head.split() == ["rate", "(req/s)", "sustained", "slo.attainment", "(%)", "latency.ttft.p99", "(ms)", "why",
                            "not"]


def test_every_example_of_the_top_level_help_is_a_command_that_parses(capsys):
    """`fleetsim --help` ends with a first session; each example must stay a valid command line."""
    import shlex

    from sim.cli import EXAMPLES, build_parser, main

    parser, _ = build_parser()
    for command, what in EXAMPLES:
        argv = shlex.split(command)[1:]
        args, extra = parser.parse_known_args(argv)
        assert extra == [] and args.command == argv[0], command
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = capsys.readouterr().out
    assert all(what in printed for _, what in EXAMPLES) and "fleetsim report results/baseline\n" in printed


def test_a_saturation_on_a_traces_rate_scale_is_a_multiple_not_req_per_s(tmp_path, capsys):
    """--rate-path workload.arrival.rate_scale searches copies of each request of the trace: its answer
    (3.3 on the Azure sample on one H100) is a multiple of the trace's rate, not 3.3 requests/s."""
    from sim.cli import main

    assert main(["saturation", "scenarios/azure_conv_replay.yaml", "--rate-path", "workload.arrival.rate_scale",
                 "--tolerance", "0.2", "--out", str(tmp_path / "s"), "--quiet"]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("saturation rate: ") and "× the trace's rate (fails at " in last and "req/s" not in last


def test_a_sweep_table_fits_a_100_column_terminal_and_says_what_it_left_out(tmp_path, capsys, monkeypatch):
    """The sweep's table is ~200 characters wide; in a 100-column terminal the headings wrap at their
    dots and the least-read planner columns go, said on stderr with how to keep one (--columns), which
    keeps what it names. Printed to a file (no $COLUMNS, no terminal) the table is whole."""
    from sim.cli import main
    from sim.planning.planner import COLUMNS

    args = ["sweep", "scenarios/baseline.yaml", "--grid", "fleet.pools.0.replicas=2,4", "--out", str(tmp_path / "s"),
            "--quiet", "--no-figures", "--executor", "serial", *[a for o in _short() for a in ("--set", o)]]
    assert main(args) == 0
    full = capsys.readouterr().out.splitlines()
    # (the fleet's replicas read as the knob's: one column of them)
    assert all(c in full[0] for c in COLUMNS if c != "replicas") and max(map(len, full)) > 180
    assert full[0].split().count("replicas") == 0
    monkeypatch.setenv("COLUMNS", "100")
    assert main(args) == 0
    out, err = capsys.readouterr()
    table = out.splitlines()
    assert max(map(len, table)) <= 100 and len(table) == 3 + 1 + 2       # 3 heading lines, the rule, 2 points
    heads = " ".join(table[:3])
    for kept in ("GPUs", "$/month", "stable", "fleet.", "latency.", "slo."):
        assert kept in heads
    assert "left out to fit 100 columns: cost (window), GPU-hours" in err and "--columns" in err
    assert [r.split()[0] for r in table[4:]] == ["2", "4"]
    # what --columns names stays, the planner column too
    assert main([*args, "--columns", "$/hour,latency.ttft.p99"]) == 0
    out, err = capsys.readouterr()
    assert "$/hour" in " ".join(out.splitlines()[:3]) and "$/hour" not in err.split("left out")[-1].split("(")[0]
    assert max(map(len, out.splitlines())) <= 100


@pytest.mark.parametrize("att, met, shown", [(0.9996, True, "99.96%"), (0.98996, False, "98.996%"),
                                             (0.99, True, "99.0%"), (1.0, True, "100.0%")])
def test_the_verdict_never_rounds_attainment_onto_the_target_or_onto_100_percent(att, met, shown):
    """99.96 % is not "100.0%" and 98.996 % (a miss) is not the target's "99.0%": the verdict shows as many
    decimals as it takes to keep the value on its own side of the 99 % target and of 100 %."""
    from sim.report.overview import overview

    o = overview({"scenario": "x", "slo": {"attainment": att, "ttft_s": 2.0, "tpot_s": 0.1},
                  "simulated_seconds": 3600.0, "pools": {}})
    assert o.met is met
    assert o.verdict.startswith(f"SLO {'met' if met else 'NOT met'}: {shown} of requests")


def test_headroom_beside_a_missed_slo_says_it_is_an_average():
    """README's load that doubles for an hour: 50, 100, 50 req/s on four H100s serving ~85 reads load
    factor 0.87 over two hours ('room for about 15% more') while 18.8 % meet the SLO; the room is an
    average the hour at 100 req/s exceeded (1/0.87 - 1 = 15 %)."""
    s = {"scenario": "x", "slo": {"attainment": 0.188, "ttft_s": 2.0, "tpot_s": 0.1},
         "stability": {"stable": True}, "utilization": {"load_factor": 0.87}, "pools": {}}
    v = overview(s).verdict
    assert "SLO NOT met" in v
    assert "room for about 15% more traffic at the batch limits on average over the run, yet the SLO is missed" in v
    s["slo"]["attainment"] = 1.0        # met: the room needs no caveat
    v = overview(s).verdict
    assert "room for about 15% more traffic at the batch limits." in v and "on average over the run" not in v
