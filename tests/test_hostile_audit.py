"""The hostile-input audit (:mod:`hostile_cases`): every bundled scenario and a scenario using each
newer key (inline GPU and model, ``hf_config``, scheduler presets and CPU overheads, layouts, burst and
offline arrivals with ``drain``/``truncate``/``frontend_s``, perf tables and linear models, trace replay,
waiting rooms with patience and stepped revenue-share brackets),
mutated key by key; broken scenario text and referenced files; bad flags of every command.

Each case exits 2 (or 0 where the mutation is legal) with no traceback, naming the file (or the flag)
and the field. The default run takes a sample that touches every class of input; ``-m slow`` runs all
~15,000 cases (``python tests/hostile_cases.py`` prints the per-class table).
"""
from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path

import pytest
import yaml

import hostile_cases as hc
from sim.cli import main

#: command-line classes whose accepted cases run a sweep, a plan or a search (seconds each)
SLOW_KINDS = {"--seeds", "--workers", "--constraint", "--objective", "--columns", "saturation flags"}


def _failures(cases, tmp_path_factory) -> tuple[Counter, list[str]]:
    tried, failed = Counter(), []
    for case in cases:
        folder = tmp_path_factory.mktemp("case")
        rc, err = hc.run(case, folder)
        problem = hc.judge(case, rc, err, folder)
        shutil.rmtree(folder, ignore_errors=True)   # ~16,000 cases, a 20 MB file in some: keep the disk bounded
        tried[case.kind] += 1
        if problem:
            failed.append(f"[{case.kind}] {case.name[:200]}: {problem[:800]}")
    return tried, failed


#: the scenarios whose value cases (:func:`hostile_cases.value_cases`) and text cases the sample takes
SAMPLE_VALUES, SAMPLE_TEXT = ("hf_config", "layout", "burst_drain"), "baseline"


def _sample_source():
    """:func:`hostile_cases.cases` in its order, without the generators whose every case the sample
    leaves out (each value case costs a deep copy and a YAML dump; ~16,000 of them took ~45 s of CPU
    to keep ~640)."""
    for label, (sc, files) in hc.bases().items():
        if label in SAMPLE_VALUES:
            yield from hc.value_cases(label, sc, files)
        if label == SAMPLE_TEXT:
            yield from hc.text_cases(label, sc, files)
    yield from hc.referenced_file_cases()
    yield from hc.flag_cases()


def _sample(source=None) -> list[hc.Case]:
    """The text, file and fast flag cases; the value cases of three newer-key scenarios, one value a class."""
    one_each = {"text", "nan", "huge int", "empty list", "100k chars"}
    out = []
    for case in (_sample_source() if source is None else source):
        base = case.name.split(":", 1)[0]
        if case.kind in SLOW_KINDS:
            continue
        if case.kind in ("wrong type", "bad number", "empty", "long text"):
            if base in SAMPLE_VALUES and case.name.rsplit("=", 1)[-1] in one_each:
                out.append(case)
        elif case.kind in ("wrong nesting", "unknown key"):
            if base == "layout":
                out.append(case)
        elif case.kind in ("duplicate key", "not UTF-8", "empty file", "YAML anchors", "long text"):
            if base == SAMPLE_TEXT:
                out.append(case)
        else:
            out.append(case)
    return out


def test_a_sample_of_hostile_input_is_refused_clearly(tmp_path_factory):
    cases = _sample()
    tried, failed = _failures(cases, tmp_path_factory)
    assert set(tried) >= {"wrong type", "bad number", "empty", "long text", "unknown key", "wrong nesting",
                          "duplicate key", "not UTF-8", "empty file", "YAML anchors", "referenced file", "--set",
                          "--grid/--vary", "calibrate flags", "calibration points", "result folder"}, tried
    assert not failed, "\n".join(failed[:30])


@pytest.mark.slow
def test_the_sample_is_the_full_audits_cases_filtered():
    """The sample's shortcut (only the generators it keeps cases from) takes the same cases, in the same
    order, as the filter run over every case of the full audit."""
    fast, full = _sample(), _sample(hc.cases())
    assert [(c.kind, c.name, c.argv, c.files) for c in fast] == [(c.kind, c.name, c.argv, c.files) for c in full]


#: cases whose answer the judge does not recognise, each said why: right answers about another field, and
#: open problems (the test fails when one of them is answered clearly, so that it leaves this list)
KNOWN = {
    # no classes left: the workload's own lengths are then required, and the error names them
    "provider_partner_2024: workload.classes=empty list": "right: names workload.prompt_tokens",
    "provider_partner_derived: workload.classes=empty list": "right: names workload.prompt_tokens",
    # model: {hf_config: null, name: mine} is an inline architecture without its fields
    "hf_config: model.hf_config=null": "right: names model.n_layers, model.hidden, ...",
}


@pytest.mark.slow
def test_every_hostile_case_is_refused_clearly(tmp_path_factory):
    tried, failed = _failures(hc.cases(), tmp_path_factory)
    print("\n" + json.dumps(dict(tried), indent=1))
    rest = [f.split("] ", 1)[1] for f in failed]
    unknown = [f for f in rest if not any(f.startswith(k + ": ") for k in KNOWN)]
    assert not unknown, "\n".join(unknown[:50])
    gone = [k for k in KNOWN if not any(f.startswith(k + ": ") for f in rest)]
    assert not gone, f"answered clearly now, drop from KNOWN: {gone}"


# ------------------------------------------------------------------ the problems the audit found
def _scenario(tmp_path: Path, **top) -> Path:
    sc = hc._small()
    sc.update(top)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


def _validate(capsys, *argv: str) -> tuple[int, list[str]]:
    with warnings.catch_warnings():
        rc = main(["validate", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return rc, err.strip().splitlines()


@pytest.mark.parametrize("target,expected", [
    ("/dev/zero", "/dev/zero: cannot read the Hugging Face config"),
    ("deep.json", "{d}/deep.json: not valid JSON (nested too deeply to read; a config.json is a flat object)"),
    (".", "{d}: is a folder, not a regular file"),
])
def test_a_hugging_face_config_that_is_a_device_or_too_deep_is_refused_at_once(tmp_path, capsys, target, expected):
    """config.json used to be read whole with no check: /dev/zero filled memory, deep JSON overflowed the stack."""
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    path = _scenario(tmp_path, model={"hf_config": target})
    rc, lines = _validate(capsys, str(path))
    assert rc == 2
    expected = expected.replace("{d}", str(tmp_path))
    if target == "/dev/zero":
        expected = "/dev/zero: is a device, not a regular file"
    assert lines == [f"{path}: model.hf_config: {expected}"]


@pytest.mark.parametrize("text,expected", [
    ("replicas: 1:4", "fleet.pools.0.replicas: must be a whole number (got '1:4')"),
    ("replicas: 1:0", "fleet.pools.0.replicas: must be a whole number (got '1:0')"),
])
def test_a_base_60_number_is_text_not_a_silent_60_fold(tmp_path, capsys, text, expected):
    """YAML 1.1 read ``1:4`` as 64 and ``1:0`` as 60 (base 60); YAML 1.2, and this loader, read text."""
    path = _scenario(tmp_path)
    path.write_text(path.read_text().replace("replicas: 1", text))
    rc, lines = _validate(capsys, str(path))
    assert (rc, lines) == (2, [f"{path}: {expected}"])


def test_a_range_written_with_a_colon_is_refused_with_the_two_dot_form(tmp_path, capsys):
    path = _scenario(tmp_path)
    with warnings.catch_warnings():
        rc = main(["sweep", str(path), "--grid", "fleet.pools.0.replicas=1:4", "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("--grid: fleet.pools.0.replicas: malformed range '1:4': a range is written "
                                      "with two dots, LOW..HIGH, not LOW:HIGH"), err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("value,expected", [
    (1e308, "must be at most 1e+12 (got 1e+308)"),
    (10 ** 30, "must be at most 1e+12 (got 1000000000000000000000000000000)"),
    (1e-300, "must be at least 1e-06 (got 1e-300)"),
])
def test_an_inline_gpu_number_past_any_datasheet_is_named(tmp_path, capsys, value, expected):
    """hbm_gb: 1e308 overflowed the memory plan (an unnamed OverflowError); 1e30 was accepted; 1e-300 (or
    bf16_tflops or hbm_tbps at 1e-300) was refused only as a pool's step of days, not by the field given."""
    sc = hc._small()
    sc["fleet"]["pools"][0]["gpu"] = {"hbm_gb": value}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    rc, lines = _validate(capsys, str(path))
    assert rc == 2 and len(lines) == 1
    assert lines[0].startswith(f"{path}: fleet.pools.0.gpu.hbm_gb: {expected}; a datasheet number")


def test_a_trace_path_too_long_for_the_file_system_is_named_in_one_short_line(tmp_path, capsys):
    """It used to escape as an OSError whose message was the 100,000-character path, without the field."""
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "x" * 100_000, "format": "fleetsim"}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc, width=10 ** 9))
    rc, lines = _validate(capsys, str(path))
    assert rc == 2 and len(lines) == 1 and len(lines[0]) < 400, lines[0][:400]
    assert lines[0].startswith(f"{path}: workload.arrival.path: cannot open trace file 'xxx")
    assert lines[0].endswith("(File name too long)")


def test_a_long_revenue_line_name_is_clipped_in_the_message(tmp_path, capsys):
    """A revenue line's name is a name as every other (at most 200 characters, said clipped)."""
    path = Path("scenarios/provider_partner_2024.yaml")
    rc, lines = _validate(capsys, str(path), "--set", "workload.classes.0.revenue_line=" + "y" * 100_000)
    assert rc == 2 and lines and max(map(len, lines)) < 400
    assert lines[0].startswith(f"{path}: workload.classes.0.revenue_line: ") and "200 characters" in lines[0], lines
    rc, lines = _validate(capsys, str(path), "--set", "workload.classes.0.revenue_line=" + "y" * 200)
    assert rc == 2 and max(map(len, lines)) < 400
    assert lines[0].startswith(f"{path}: economics.revenue: the workload names revenue line 'yyy"), lines


def test_a_constraint_without_its_bound_is_said_as_the_form_not_as_a_bound_of_equals():
    """``ttft_p99<=`` read as ``<`` with the bound ``'='``; it is a constraint with no number."""
    from sim.planning.constraints import ConstraintError, parse_constraint

    with pytest.raises(ConstraintError, match=r"expected METRIC<=NUMBER, .* \(got 'latency.ttft.p99<='\)"):
        parse_constraint("latency.ttft.p99<=")
    assert str(parse_constraint("latency.ttft.p99<=2.0")) == "latency.ttft.p99<=2"


@pytest.mark.parametrize("flag,value,expected", [
    ("--tolerance", "inf", "must be in (0, 1), e.g. 0.02"),
    ("--tolerance", "1e9", "must be in (0, 1), e.g. 0.02"),
    ("--tolerance", "1", "must be in (0, 1), e.g. 0.02"),
    ("--start", "inf", "must be a rate in requests/s up to 1e+07"),
    ("--start", "1e9", "must be a rate in requests/s up to 1e+07"),
])
def test_a_saturation_search_flag_out_of_range_is_refused_at_the_flag(tmp_path, capsys, flag, value, expected):
    """``--tolerance inf`` ended the search at its first bracket (a rate known within 2x) with exit 0, and
    ``--start 1e9`` was refused as the scenario's ``workload.arrival.rate`` after loading it."""
    path = _scenario(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["saturation", str(path), flag, value, "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and f"argument {flag}: {expected}" in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()


def test_a_start_rate_too_low_for_any_request_says_so_not_that_the_metric_is_unknown(tmp_path, capsys):
    """``--start 0.01`` on a 20 s run completed no request, and the first probe's missing attainment was
    said as ``--constraint: unknown metric slo.attainment`` (no --constraint was given); a named metric no
    summary holds is still refused before any run. Since, a start that brings less than one request into the
    run is refused before any probe (it ended in exit 1, 'no rate tried completed a request')."""
    path = _scenario(tmp_path, duration=20)      # 0.01 req/s: 0.2 requests expected, none with seed 1
    rc = main(["saturation", str(path), "--start", "0.01", "--out", str(tmp_path / "r"), "--quiet"])
    said = capsys.readouterr()
    assert rc == 2 and "unknown metric" not in said.err and said.err == (
        "--start: 0.01 req/s is too low to probe: it would bring less than one request into the 20 s run; start at "
        "0.05 req/s or more\n"), said
    rc = main(["saturation", str(path), "--start", "0.01", "--constraint", "nosuch.x<=1", "--out",
               str(tmp_path / "r2"), "--quiet"])
    assert rc == 2 and capsys.readouterr().err.startswith("--constraint: unknown metric nosuch.x")


@pytest.mark.parametrize("value", ["duration", "fleet.pools.0.replicas", "workload", "workload.prompt_tokens.value",
                                   "nosuch.rate", "workload..rate", ""])
def test_a_rate_path_that_names_no_arrival_rate_is_refused_before_any_run(tmp_path, capsys, value):
    """``--rate-path duration`` was searched like a rate: every probe twice as long as the last (60 s to
    245,760 s in 13 probes, 0.9 GB and doubling), the slow audit's 14 GB peak."""
    path = _scenario(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(["saturation", str(path), "--rate-path", value, "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err, err
    assert (f"argument --rate-path: must name an arrival rate: a field rate, mean_rate, rates.N or rate_scale "
            f"under workload, e.g. workload.arrival.rate (got {value!r})") in err
    assert not (tmp_path / "r").exists()


def test_a_rate_path_under_workload_is_searched(tmp_path):
    from sim.planning.saturation import check_rate_path, saturation

    for ok in ("workload.arrival.rate", "workload.classes.1.arrival.rate", "workload.arrival.mean_rate",
               "workload.arrival.rates.0", "workload.arrival.rate_scale"):
        assert check_rate_path(ok) == ok
    with pytest.raises(ValueError, match="must name an arrival rate"):
        saturation(str(_scenario(tmp_path)), rate_path="duration")


def test_a_leading_zero_is_ten_not_yaml_1_1_octal_eight(tmp_path):
    """YAML 1.1 read ``replicas: 010`` as octal 8; YAML 1.2 (and this loader) reads ten; a name stays text."""
    from sim.scenario.load import load_scenario

    path = _scenario(tmp_path)
    path.write_text(path.read_text().replace("replicas: 1", "replicas: 010"))
    assert load_scenario(path).scenario.fleet.pools[0].replicas == 10
    from sim.scenario.safe_yaml import load_yaml

    assert load_yaml("a: 010\nb: 0x10\nc: 1_000\nd: 0b11\ne: -07\n") == {"a": "010", "b": 16, "c": 1000, "d": 3, "e": "-07"}


# ------------------------------------------------------------------ one result folder, one command
def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_a_sweep_wrote_is_refused_by_plan_saturation_and_run_and_left_as_it_was(tmp_path, capsys):
    """plan, sweep and saturation all kept points, scenario.json and figures in --out: pointed at one
    folder they mixed their results (and the report read whichever file it found first)."""
    path = _scenario(tmp_path)
    out = tmp_path / "r"
    with warnings.catch_warnings():
        assert main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(out), "--quiet", "--no-figures",
                     "--executor", "serial"]) == 0
    capsys.readouterr()
    assert json.loads((out / "command.json").read_text()) == {"command": "sweep"}
    before = _tree(out)
    for cmd, more in (("plan", ["--vary", "fleet.pools.0.replicas=1,2"]), ("saturation", []), ("run", [])):
        with warnings.catch_warnings():
            rc = main([cmd, str(path), *more, "--out", str(out), "--quiet"])
        err = capsys.readouterr().err
        assert (rc, err) == (2, f"--out: {out} holds the results of fleetsim sweep ({out / 'command.json'}): "
                                f"fleetsim {cmd} would mix its own with them; give another folder, e.g. "
                                f"--out {out}-{cmd}\n"), err
        assert _tree(out) == before
    with warnings.catch_warnings():     # the sweep's own folder stays its own: a rerun resumes
        assert main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(out), "--quiet", "--no-figures",
                     "--executor", "serial"]) == 0
    assert "2 points (2 reused" in capsys.readouterr().err


@pytest.mark.parametrize("files,cmd,owner,said", [
    ({"summary.json": b"{}"}, "sweep", "run", "summary.json"),
    ({"plan.json": b"{}"}, "saturation", "plan", "plan.json"),
    ({"saturation.json": b"{}"}, "plan", "saturation", "saturation.json"),
    ({"sweep.json": b"{}"}, "plan", "sweep", "sweep.json"),
    ({"command.json": b'{"command": "plan"}', "points/x.json": b"{}"}, "sweep", "plan", "command.json"),
])
def test_a_folder_another_command_wrote_is_refused_before_any_point_runs(tmp_path, capsys, files, cmd, owner,
                                                                         said):
    """A folder is known by its mark (command.json, written before the first point runs: an interrupted
    search's folder too) or, written before the mark existed, by its command's result file."""
    path = _scenario(tmp_path)
    out = tmp_path / "r"
    for name, body in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(body)
    more = {"sweep": ["--grid", "seed=1,2"], "plan": ["--vary", "fleet.pools.0.replicas=1,2"]}.get(cmd, [])
    with warnings.catch_warnings():
        rc = main([cmd, str(path), *more, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"--out: {out} holds the results of fleetsim {owner} ({out / said}): "
                                      f"fleetsim {cmd} would mix"), err
    assert _tree(out) == files


def test_a_command_json_of_the_users_own_is_not_written_over(tmp_path, capsys):
    path = _scenario(tmp_path)
    out = tmp_path / "r"
    out.mkdir()
    (out / "command.json").write_text("my notes")
    with warnings.catch_warnings():
        rc = main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"--out: {out / 'command.json'}: not the mark of a fleetsim result folder")
    assert _tree(out) == {"command.json": b"my notes"}
