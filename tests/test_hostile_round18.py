"""Hostile input, round 18: a scenario file of megabytes (a 10 MB list of numbers took 38 s to be
refused), an alias to the list that holds it, a TOML file of megabytes, and two ``sim.run(out=...)``
calls writing one folder at once (the command line held the folder, the Python API did not).

Each is exit 2 from the command line (an :class:`~sim.errors.InputError` or
:class:`~sim.errors.ScenarioError` from Python) with a message naming the file, the field and what is
allowed; never a traceback, a minute of parsing, or a folder mixed from two runs.
"""
from __future__ import annotations

import pytest
import yaml

import hostile_cases as hc
from sim.scenario import safe_yaml
from sim.scenario.safe_yaml import FAST_BYTES, MAX_TOML_BYTES, MAX_VALUES, TagError, TextLimitError, load_yaml

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


def _base_text() -> str:
    return yaml.safe_dump(hc._small(), sort_keys=True)


# ------------------------------------------------------------------ megabytes of scenario
def test_a_list_of_more_values_than_a_scenario_holds_is_refused_by_field(tmp_path, capsys):
    # 1.7 million weekly factors (10 MB): the schema refused them after 38 s of parsing; the count stops
    # at the limit. The file ends in a syntax error: refused by the count, the reader never got there.
    n = MAX_VALUES + 1_000
    text = _base_text().replace("process: poisson", "process: diurnal") + \
        "extra: [" + ", ".join(["1.0"] * n) + "]\nbroken: [\n"
    assert len(text) > FAST_BYTES
    p = tmp_path / "big.yaml"
    p.write_text(text)
    assert _main(["validate", str(p)]) == 2
    lines = _err(capsys)
    line = text.count("\n", 0, text.index("extra:")) + 1
    assert lines == [f"{p}: extra: line {line}: more than {MAX_VALUES:,} values (lists, mappings, keys and values "
                     "together; a scenario holds hundreds): replay long data from a file (an arrival trace, a length "
                     "file) instead"]


def test_a_mapping_of_too_many_keys_names_the_mapping(tmp_path):
    text = "workload:\n  arrival:\n" + "".join(f"    k{i}: {i}\n" for i in range(MAX_VALUES // 2 + 10))
    with pytest.raises(TextLimitError) as exc:
        load_yaml(text)
    assert exc.value.field == "workload.arrival"
    # keys and values: the root mapping, its key, workload's mapping, its key and arrival's mapping are 5
    # values; line i + 3 holds k{i} and its value, values number 5 + 2 * i + 1 and 5 + 2 * i + 2: value
    # number MAX_VALUES + 1 (odd) is the value of k{i} with 5 + 2 * i + 2 = MAX_VALUES + 1
    i = (MAX_VALUES + 1 - 7) // 2
    assert 5 + 2 * i + 2 == MAX_VALUES + 1
    assert str(exc.value).startswith(f"line {i + 3}: more than {MAX_VALUES:,} values")


def _long(text: str) -> str:
    """``text`` made longer than :data:`FAST_BYTES` by a comment, so that libyaml reads it."""
    return text + ("# " + "x" * 98 + "\n") * (FAST_BYTES // 100 + 1)


@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2.5, .inf, -.inf, 0x10, 010, 1_000, 1:30, 2025-02-30, 2025-01-02, ~, yes, 'q']\n",
    "base: &b {gpu: h100-sxm, replicas: 2}\npools: [*b, {<<: *b, replicas: 4}]\n",
    "\ufeffname: caf\u00e9\nlist:\n  - -0.0\n  - 1e400\n  - 123456789012345678901234567890\n",
])
def test_a_long_file_reads_as_a_short_one(text):
    """libyaml (text over FAST_BYTES) reads every value as PyYAML's own reader does: base 60 and leading
    zeros as text, an impossible date as text, merges, a byte-order mark, huge numbers."""
    assert load_yaml(_long(text)) == load_yaml(text)
    assert len(text) < FAST_BYTES < len(_long(text))


@pytest.mark.parametrize("text,error", [
    ("a: 1\nb: 2\na: 3\n", "line 3: duplicate key 'a' (first given on line 1); give each key once"),
    ("a: 1\nb: !!binary aGk=\n", str(TagError(2, "tag:yaml.org,2002:binary"))),
    ("a: 1\nb: !foo 1\n", str(TagError(2, "!foo"))),
    ("a: 1\nb: &x [1, *x]\n", "line 2: the alias *x stands for a list or mapping that holds it (a value that "
                              "contains itself, without end); write the values out"),
    ("a: 1\nb: " + "[" * (safe_yaml.MAX_DEPTH + 1) + "]" * (safe_yaml.MAX_DEPTH + 1) + "\n",
     f"line 2: nested deeper than {safe_yaml.MAX_DEPTH} lists/mappings"),
    ("null: 1\n", "line 1: key 'null' reads as null, not a name; quote it if it is meant as text"),
])
def test_a_long_file_is_refused_as_a_short_one(text, error):
    for t in (text, _long(text)):
        with pytest.raises(TextLimitError) as exc:
            load_yaml(t)
        assert str(exc.value) == error


def test_an_alias_bomb_in_a_long_file_is_refused_by_line():
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    text = "\n".join(lines) + "\n"
    for t in (text, _long(text)):
        with pytest.raises(TextLimitError, match=r"^line 5: aliases \(\*l3\) expand to more than 10,000 values"):
            load_yaml(t)


def test_a_scenario_that_holds_itself_is_refused_from_the_command_line(tmp_path, capsys):
    # read as [1, [1, [...]]]: the schema's message printed it three levels deep, and any walk of it
    # that does not guard against cycles would not end
    p = tmp_path / "self.yaml"
    p.write_text(_base_text() + "x: &x {a: *x}\n")
    assert _main(["validate", str(p)]) == 2
    assert _err(capsys) == [f"{p}: line {len(_base_text().splitlines()) + 1}: the alias *x stands for a list or "
                            "mapping that holds it (a value that contains itself, without end); write the values out"]


def test_a_long_valid_scenario_runs(tmp_path, capsys):
    p = tmp_path / "long.yaml"
    p.write_text(_long(_base_text()))
    assert _main(["validate", str(p)]) == 0


def test_a_toml_scenario_of_megabytes_is_refused_by_its_size(tmp_path, capsys):
    p = tmp_path / "big.toml"
    p.write_text('name = "t"\n' + "# " + "x" * MAX_TOML_BYTES + "\n")
    assert _main(["validate", str(p)]) == 2
    assert _err(capsys) == [f"{p}: is {MAX_TOML_BYTES + 14:,} characters of TOML; a TOML scenario may have at most "
                            f"{MAX_TOML_BYTES:,} (a scenario is a few KB; save a larger one as YAML)"]


# ------------------------------------------------------------------ sim.run(out=...) holds its folder
def test_a_python_run_into_a_folder_being_written_is_refused(tmp_path):
    """``fleetsim run --out`` held its folder; ``sim.run(out=...)`` did not: two at once, or one beside a
    running sweep, wrote their summary.json and figures over each other's."""
    import sim
    from sim.errors import InputError
    from sim.planning.store import writing

    path = _scenario(tmp_path)
    out = tmp_path / "both"
    with writing(out, "sweep"):
        with pytest.raises(InputError) as exc:
            sim.run(str(path), out=out)
    assert str(exc.value) == (f"out: {out}: another fleetsim sweep, plan, saturation search or run is writing there "
                              "now: this run would mix its result files with that one's; wait for it to finish, or "
                              "give another out")
    assert not out.exists()

    raised = []
    real = sim.api._run_request_level

    def a_second_run_meanwhile(*args, **kwargs):
        try:
            sim.run(str(path), out=out)
        except InputError as e:
            raised.append(str(e))
        return real(*args, **kwargs)

    import sim.api
    try:
        sim.api._run_request_level = a_second_run_meanwhile
        sim.run(str(path), out=out)
    finally:
        sim.api._run_request_level = real
    assert raised == [str(exc.value)]
    assert (out / "summary.json").is_file()
    sim.run(str(path), out=out)             # the hold goes with the run


# ------------------------------------------------------------------ a trace that is not UTF-8
@pytest.mark.parametrize("rows_before", [1, 200_000])
@pytest.mark.parametrize("gz", [False, True])
def test_a_trace_not_in_utf8_is_said_by_line_and_column(tmp_path, capsys, rows_before, gz):
    """It said Python's "unreadable trace file ('utf-8' codec can't decode byte 0xe9 in position 52:
    invalid continuation byte)": a position counted from the start of the reader's buffer (of 8 KiB, not
    the file's), with no line. 200,000 rows put the byte some megabytes into the file."""
    import gzip

    sc = hc._small()
    name = "t.csv.gz" if gz else "t.csv"
    sc["workload"]["arrival"] = {"process": "trace", "path": name, "format": "fleetsim"}
    path = _scenario(tmp_path, sc)
    good = "".join(f"{i * 0.001:.3f},10,5,caf\u00e9\n" for i in range(rows_before)).encode()
    data = b"timestamp_s,prompt_tokens,output_tokens,tenant\n" + good + b"999,10,5,caf\xe9\n"
    (tmp_path / name).write_bytes(gzip.compress(data) if gz else data)
    assert _main(["validate", str(path)]) == 2
    # the header is line 1, the rows lines 2 .. rows_before + 1; in "999,10,5,caf\xe9" the byte is the 13th
    assert _err(capsys) == [f"{path}: workload.arrival.path: {name}: not UTF-8 text: byte 0xe9 at line "
                            f"{rows_before + 2}, column 13 (save the file as UTF-8)"]


# ------------------------------------------------------------------ a number of 300 digits
def test_time_series_rows_past_the_limit_are_counted_in_a_few_digits(tmp_path, capsys):
    """``metrics.interval: 1e-300`` printed the rows it would record as a number of 302 digits."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "metrics.interval=1e-300"]) == 2
    # 60 s / 1e-300 s = 6e301 rows; the least interval for 5,000,000 rows is 60 / 5e6 = 1.2e-05 s
    assert _err(capsys) == [f"{path}: metrics.interval: would record 6e+301 time-series rows over the duration (at "
                            "most 5,000,000): use at least 1.2e-05 s"]
    assert _main(["validate", str(path), "--set", "metrics.interval=1e-6"]) == 2
    assert _err(capsys)[0].endswith("would record 60,000,000 time-series rows over the duration (at most 5,000,000): "
                                    "use at least 1.2e-05 s")


# ------------------------------------------------------------------ a result folder with a broken file
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("r18run")
    path = _scenario(folder)
    assert _main(["run", str(path), "--quiet", "--out", str(folder / "run")]) == 0
    return folder / "run"


def _copy(run_folder, tmp_path, name: str, what: str):
    import shutil

    d = tmp_path / "r"
    shutil.copytree(run_folder, d)
    f = d / name
    f.unlink()
    if what == "folder":
        f.mkdir()
    elif what == "deep":            # (json's recursion limit: Python's ~1,000 frames)
        f.write_text("[" * 100_000 + "]" * 100_000)
    else:
        f.write_bytes(b"\xff\xfe\x00not text")
    return d


@pytest.mark.parametrize("command", ["report", "compare", "reprice"])
def test_a_summary_that_is_a_folder_is_said_as_such(run_folder, tmp_path, capsys, command):
    """Each said "cannot read or write a file (IsADirectoryError: [Errno 21] Is a directory: ...)"."""
    d = _copy(run_folder, tmp_path, "summary.json", "folder")
    argv = {"report": ["report", str(d)], "compare": ["compare", str(run_folder), str(d)],
            "reprice": ["reprice", str(d), "--set", "economics.gpu_hour_usd=3", "--out", str(tmp_path / "rp")]}
    assert _main(argv[command]) == 2
    said = (f"{d}: summary.json is a folder, not a file" if command == "reprice" else
            f"{d / 'summary.json'}: a folder, not a file: not a fleetsim summary")
    assert _err(capsys) == [said]


def test_a_summary_nested_too_deeply_names_the_file(run_folder, tmp_path, capsys):
    """``fleetsim report`` said "{folder}: nested too deeply to process (RecursionError: ...)"."""
    d = _copy(run_folder, tmp_path, "summary.json", "deep")
    assert _main(["report", str(d)]) == 2
    assert _err(capsys) == [f"{d / 'summary.json'}: not a fleetsim summary (nested too deeply)"]


def test_a_scenario_json_nested_too_deeply_or_a_folder(run_folder, tmp_path, capsys):
    """One nested too deeply stopped ``fleetsim report`` with "nested too deeply to process (RecursionError
    ...)"; compare said a folder of that name as "cannot read or write a file (IsADirectoryError ...)".
    Report, reprice and compare now refuse both alike, naming the file."""
    d = _copy(run_folder, tmp_path, "scenario.json", "deep")
    assert _main(["report", str(d)]) == 2
    assert _err(capsys) == [f"{d / 'scenario.json'}: not a scenario as fleetsim writes it (nested too deeply); "
                            "write the folder again, or move the file out of the folder to report without it"]
    assert not (d / "report.html").exists()
    (d / "scenario.json").unlink()
    (d / "scenario.json").mkdir()
    assert _main(["compare", str(run_folder), str(d)]) == 2
    assert _err(capsys) == [f"{d / 'scenario.json'}: not a scenario as fleetsim writes it (a folder, not a file); "
                            "write the folder again, or move the file out of the folder to compare without it"]


def test_reprice_of_a_summary_not_in_utf8(run_folder, tmp_path, capsys):
    """It said Python's "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"."""
    d = _copy(run_folder, tmp_path, "summary.json", "binary")
    assert _main(["reprice", str(d), "--set", "economics.gpu_hour_usd=3", "--out", str(tmp_path / "rp")]) == 2
    assert _err(capsys) == [f"{d}: summary.json is not a fleetsim summary (not UTF-8 text)"]


# ------------------------------------------------------------------ an integer of hundreds of digits
@pytest.mark.parametrize("field", ["workload.arrival.rate", "economics.gpu_hour_usd"])
def test_a_number_of_400_digits_is_said_too_large_not_no_number(tmp_path, capsys, field):
    """It said "must be a number (got 1000...)" of a number."""
    path = _scenario(tmp_path)
    big = "1" + "0" * 400
    assert _main(["validate", str(path), "--set", f"{field}={big}"]) == 2
    assert _err(capsys) == [f"{path}: {field}: must be at most 1.8e308, a float's largest (got {big[:57]}...)"]


@pytest.mark.parametrize("field", ["duration", "warmup", "slo.ttft_s", "metrics.interval"])
def test_a_duration_of_400_digits_is_refused_by_field(tmp_path, capsys, field):
    """YAML reads ``1000...0`` (401 digits) as a whole integer, which no float holds: the run stopped at the
    catch-all "a number is too large to compute with" naming no field."""
    path = _scenario(tmp_path)
    big = "1" + "0" * 400
    assert _main(["validate", str(path), "--set", f"{field}={big}"]) == 2
    assert _err(capsys) == [f"{path}: {field}: must be at most 1.8e308 s, a float's largest (got {big[:57]}...)"]


def test_python_out_of_the_wrong_type_is_said_before_the_run():
    import sim

    with pytest.raises(TypeError, match=r"^out: give a folder \(a str or Path\), not int 5$"):
        sim.run(hc._small(), out=5)


@pytest.mark.parametrize("out", ["", "  "])
def test_python_out_of_no_name_is_refused(tmp_path, monkeypatch, out):
    """``sim.run(out="")`` wrote the result into the working folder (``Path("")`` is ``.``); ``--out ''``
    is refused."""
    import sim
    from sim.errors import InputError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=f"^out: give a folder name \\(got '{out}'\\)$"):
        sim.run(hc._small(), out=out)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ a byte not in UTF-8 on the command line
def test_a_non_utf8_byte_in_an_override_is_said_as_such(tmp_path, capsys):
    """A Latin-1 terminal passes ``caf\\xe9`` as bytes Python keeps as ``'caf\\udce9'``: the message was
    pydantic's "Input should be a valid string, unable to parse raw data as a unicode string"."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "name=caf\udce9"]) == 2
    assert _err(capsys) == [f"{path}: name: got 'caf\\udce9', whose byte 0xe9 is not UTF-8 (the terminal passed "
                            "another encoding): write it in UTF-8"]


def test_a_lone_surrogate_from_python_is_said_as_such():
    import sim
    from sim.errors import ScenarioError

    sc = hc._small()
    sc["fleet"]["pools"][0]["name"] = "p\ud800"
    with pytest.raises(ScenarioError) as exc:
        sim.run(sc)
    assert str(exc.value) == ("<scenario>: fleet.pools.0.name: got 'p\\ud800', whose U+D800 is half of a pair, not a "
                              "character: write it in UTF-8")


# ------------------------------------------------------------------ a device as a trace
@pytest.mark.parametrize("key", ["arrival", "prompt_tokens"])
def test_a_device_as_a_trace_is_not_said_missing(tmp_path, capsys, key):
    """``/dev/zero`` exists: it was said "trace file not found"."""
    path = _scenario(tmp_path)
    value = "{process: trace, path: /dev/zero}" if key == "arrival" else "{dist: trace, path: /dev/zero}"
    assert _main(["validate", str(path), "--set", f"workload.{key}={value}"]) == 2
    assert _err(capsys) == [f"{path}: workload.{key}.path: '/dev/zero' is not a regular file (a device, pipe or "
                            "socket cannot be a trace)"]


def test_one_configuration_is_said_in_the_singular(tmp_path, capsys):
    path = _scenario(tmp_path)
    assert _main(["sweep", str(path), "--grid", "seed=1", "--seeds", "100000000000000000000",
                  "--out", str(tmp_path / "sw")]) == 2
    assert _err(capsys) == [f"{path}: --seeds: 1 configuration x 100,000,000,000,000,000,000 seeds = 1e+20 points (at "
                            "most 100,000); pass --allow-large to run it anyway"]


# ------------------------------------------------------------------ libyaml's errors in PyYAML's words
@pytest.mark.parametrize("tail,said", [
    ("x:\n\t- 1\n", "column 1: a tab where YAML expects spaces (YAML indents with spaces only)"),
    ("x: *nope\n", "column 4: found undefined alias 'nope'"),
])
def test_a_long_file_s_syntax_error_is_said_as_a_short_one_s(tmp_path, capsys, tail, said):
    """libyaml says "found character that cannot start any token" for a tab and leaves the name out of
    "found undefined alias"; PyYAML (and so a short file) says both."""
    for long in (False, True):
        text = _long("") + tail if long else tail
        p = tmp_path / f"s{long}.yaml"
        p.write_text(text)
        assert _main(["validate", str(p)]) == 2
        line = text.count("\n") - tail.count("\n") + tail.rstrip("\n").count("\n") + 1
        assert _err(capsys) == [f"{p}: not valid YAML: line {line}, {said}"]


@pytest.mark.parametrize("key,kind", [("1", "a number"), ("2.5", "a number"), ("2025-01-01", "a date")])
def test_a_key_that_reads_as_a_number_is_said_as_such(tmp_path, capsys, key, kind):
    """pydantic's "Keys should be strings" named the key and nothing else."""
    sc = yaml.safe_dump(hc._small())
    p = tmp_path / "k.yaml"
    p.write_text(sc + f"{key}: 3\n")
    assert _main(["validate", str(p)]) == 2
    assert _err(capsys) == [f"{p}: {key}: the key {key} reads as {kind}, not a name; every key is text: quote it "
                            "if it is meant as one"]


def test_ctrl_c_while_sim_run_writes_keeps_the_earlier_result_and_lets_go(tmp_path, monkeypatch):
    """Stopped between two of its files, ``sim.run(out=...)`` leaves the folder's earlier result whole (the
    folder is staged and swapped in) and lets go of the folder (a rerun is not refused as 'writing')."""
    import hashlib

    import sim
    import sim.metrics.output as output

    out = tmp_path / "r"
    sim.run(hc._small(), out=out)

    def files():
        return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir() if f.is_file()}

    before = files()
    real = output.atomic_write_text

    def stopped(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "atomic_write_text", stopped)
    other = dict(hc._small(), seed=2)
    with pytest.raises(KeyboardInterrupt):
        sim.run(other, out=out)
    assert files() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]        # no staged folder left beside it
    monkeypatch.setattr(output, "atomic_write_text", real)
    sim.run(other, out=out)
    assert files() != before


# ------------------------------------------------------------------ a date where a duration goes
def test_a_date_or_time_where_a_duration_goes_is_said_as_written(tmp_path, capsys):
    """YAML reads ``2025-01-01`` as a date and TOML ``07:32:00`` as a time of day; the message showed
    Python's ``datetime.date(2025, 1, 1)`` and ``datetime.time(7, 32)``."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "duration=2025-01-01"]) == 2
    assert _err(capsys) == [f"{path}: duration: expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', "
                            "in units us, ms, s, m, h, d, w (got 2025-01-01 (a date))"]
    toml = tmp_path / "s.toml"
    toml.write_text('name = "t"\nduration = 07:32:00\n')
    assert _main(["validate", str(toml)]) == 2
    assert f"{toml}: duration: a clock reading is not a duration (got 07:32:00 (a time of day)): write '7h32m'" \
           in _err(capsys)


# ------------------------------------------------------------------ a sweep folder with a broken file
@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("r18sweep")
    path = _scenario(folder)
    assert _main(["sweep", str(path), "--grid", "seed=1,2", "--out", str(folder / "sw"), "--executor", "serial",
                  "--quiet"]) == 0
    return folder / "sw"


@pytest.mark.parametrize("what,said", [
    ("folder", "a folder, not a file: not a fleetsim sweep result"),
    ("deep", "not a fleetsim sweep result (nested too deeply)"),
])
def test_report_of_a_sweep_json_that_is_a_folder_or_nested_too_deeply(sweep_folder, tmp_path, capsys, what, said):
    """It said "cannot read or write a file (IsADirectoryError ...)" or "{folder}: nested too deeply to
    process (RecursionError ...)"."""
    d = _copy(sweep_folder, tmp_path, "sweep.json", what)
    assert _main(["report", str(d)]) == 2
    assert _err(capsys) == [f"{d / 'sweep.json'}: {said}"]


def test_report_of_a_sweep_with_a_point_nested_too_deeply(sweep_folder, tmp_path, capsys):
    """The page's header reads the first point that belongs to the sweep; one nested too deeply stopped the
    report ("nested too deeply to process (RecursionError ...)"): it is passed over as an unreadable one is."""
    import shutil

    d = tmp_path / "sw"
    shutil.copytree(sweep_folder, d)
    first = sorted((d / "points").glob("*.json"))[0]
    first.write_text("[" * 100_000 + "]" * 100_000)
    assert _main(["report", str(d)]) == 0
    assert (d / "report.html").is_file()


@pytest.mark.parametrize("call", ["sweep", "plan"])
def test_python_sweep_or_plan_out_of_no_name_is_refused(tmp_path, monkeypatch, call):
    """``sim.sweep(..., out="")`` wrote its points, sweep.json and figures into the working folder."""
    import sim
    from sim.errors import InputError

    path = _scenario(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(InputError, match=r"^out: give a folder name \(got ''\)$"):
        if call == "sweep":
            sim.sweep(str(path), {"seed": [1]}, out="", progress=False, executor="serial")
        else:
            sim.plan(str(path), {"fleet.pools.0.replicas": [1, 2]}, constraints=["latency.ttft.p99<=2"], out="",
                     progress=False, executor="serial")
    assert list(work.iterdir()) == []
