"""Hostile input, round 16: what changed most recently (closed-loop saturation, compare, reprice, report)
and what earlier rounds did not reach (odd encodings, odd ``--set`` values, odd trace rows, odd output
folders, API misuse).

Each is exit 2 with a message naming the file (or flag) and the field, or, where the input is reasonable,
accepted and run as meant; never a traceback, an internal error, a silently ignored option or a lost file.
"""
from __future__ import annotations

import pytest

import hostile_cases as hc

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


def _closed(tmp_path, **arrival):
    sc = hc._small()
    sc["slo"] = {"ttft_s": 0.5}
    sc["workload"]["arrival"] = {"process": "closed", "concurrency": 4, **arrival}
    return _scenario(tmp_path, sc)


# ------------------------------------------------------------------ closed-loop saturation
def test_an_explicit_rate_path_on_a_closed_loop_is_refused_even_the_default(tmp_path, capsys):
    """``--rate-path workload.arrival.rate`` was taken and ignored (it equals the open loop's default,
    which the check compared against), and the search ran over client counts all the same."""
    path = _closed(tmp_path)
    assert _main(["saturation", str(path), "--rate-path", "workload.arrival.rate", "--quiet",
                  "--out", str(tmp_path / "sat")]) == 2
    assert _err(capsys) == [
        f"{path}: workload.arrival.process: closed: the search varies the client count "
        "(workload.arrival.concurrency), there is no arrival rate to search; drop --rate-path "
        "(got workload.arrival.rate)"]
    assert not (tmp_path / "sat" / "saturation.json").exists()


# ------------------------------------------------------------------ plan refusing load knobs
@pytest.mark.parametrize("arrival,knob", [
    ({"process": "offline", "count": 10}, "workload.arrival.count=1..64"),
    ({"process": "burst", "count": 10, "at": 1}, "workload.arrival.count=1..64"),
    (None, "workload.growth.monthly=0..2"),
])
def test_plan_refuses_to_bisect_a_request_count_or_growth(tmp_path, capsys, arrival, knob):
    """The request count of an offline job was bisected like a capacity knob: the smallest count (1)
    always meets a latency bound, so the plan answered ``cheapest meeting all constraints:
    workload.arrival.count=1``. More requests, or more growth a month, is more load."""
    sc = hc._small()
    if arrival:
        sc["workload"]["arrival"] = arrival
    path = _scenario(tmp_path, sc)
    assert _main(["plan", str(path), "--vary", knob, "--quiet", "--out", str(tmp_path / "pl"),
                  "--constraint", "latency.ttft.p99<=0.5"]) == 2
    field, _, rng = knob.partition("=")
    low, _, high = rng.partition("..")
    assert _err(capsys) == [
        f"--vary: {knob}: plan bisects its first range assuming more of it never breaks a constraint, and more "
        f"of {field} is more load (it only ever makes latency worse); for the most load within the SLO use "
        f"fleetsim saturation, or list the values (as {field}={low},{high}) to evaluate each"]
    assert not (tmp_path / "pl" / "plan.json").exists()


# ------------------------------------------------------------------ an output folder holding the inputs
def _trace_scenario(folder, trace_name):
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": trace_name, "format": "fleetsim"}}
    (folder / trace_name).parent.mkdir(parents=True, exist_ok=True)
    (folder / trace_name).write_bytes(hc.TRACE.read_bytes())
    return _scenario(folder, sc)


@pytest.mark.parametrize("trace_name", ["timeseries.csv", "figures/trace.csv"])
def test_a_run_never_writes_its_result_over_the_trace_it_replays(tmp_path, capsys, trace_name):
    """``fleetsim run t.yaml --out .`` beside a trace named ``timeseries.csv`` replaced the trace with the
    run's time series (and a trace under ``figures/`` went with the old figures): refused before the run."""
    path = _trace_scenario(tmp_path, trace_name)
    assert _main(["run", str(path), "--out", str(tmp_path), "--quiet"]) == 2
    assert _err(capsys) == [
        f"--out: {tmp_path}: writing the result there would replace {tmp_path / trace_name}, the file "
        "workload.arrival.path names, with the result's own file of that name; give another folder, or move the file"]
    assert (tmp_path / trace_name).read_bytes() == hc.TRACE.read_bytes()
    assert not (tmp_path / "summary.json").exists()


def test_a_run_never_writes_its_result_over_its_own_scenario_file(tmp_path, capsys):
    """A scenario saved as ``scenario.json`` (JSON is YAML) in the folder given to ``--out`` was replaced
    by the result's copy of it: comments, order and anything else the file held were lost."""
    body = '{"name": "t", "seed": 1, "duration": 60, "model": "llama-3-8b", # mine\n' \
           '"workload": {"arrival": {"process": "poisson", "rate": 2}, "prompt_tokens": {"dist": "fixed", ' \
           '"value": 200}, "output_tokens": {"dist": "fixed", "value": 20}},\n' \
           '"fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]}}\n'
    path = tmp_path / "scenario.json"
    path.write_text(body)
    assert _main(["run", str(path), "--out", str(tmp_path), "--quiet"]) == 2
    assert _err(capsys) == [
        f"--out: {tmp_path}: writing the result there would replace {path}, the scenario file, with the "
        "result's own file of that name; give another folder, or move the file"]
    assert path.read_text() == body


def test_the_python_api_never_writes_a_result_over_what_it_read(tmp_path):
    import sim
    from sim.errors import InputError

    path = _trace_scenario(tmp_path, "timeseries.csv")
    result = sim.run(str(path))
    with pytest.raises(InputError, match="would replace .*timeseries.csv, the file workload.arrival.path names"):
        result.write(tmp_path)
    assert (tmp_path / "timeseries.csv").read_bytes() == hc.TRACE.read_bytes()
    result.write(tmp_path / "elsewhere")       # another folder is written as before
    assert (tmp_path / "elsewhere" / "summary.json").is_file()


# ------------------------------------------------------------------ the Python API given the wrong types
@pytest.mark.parametrize("call,said", [
    (lambda sim, p: sim.run(p, overrides="seed=3"),
     "overrides: give a list of texts such as ['fleet.pools.0.replicas=8'], not one text (got 'seed=3')"),
    (lambda sim, p: sim.run(p, overrides=[1]),
     "overrides: each item is a text such as 'fleet.pools.0.replicas=8' (got 1, of type int)"),
    (lambda sim, p: sim.sweep(p, grid={"seed": [1]}, overrides="seed=3", progress=False),
     "overrides: give a list of texts such as ['fleet.pools.0.replicas=8'], not one text (got 'seed=3')"),
    (lambda sim, p: sim.plan(p, vary=["fleet.pools.0.replicas=1..2"], constraints="latency.ttft.p99<=2",
                             progress=False),
     "constraints: give a list of texts such as ['latency.ttft.p99<=2'], not one text (got 'latency.ttft.p99<=2')"),
    (lambda sim, p: sim.saturation(p, constraints="latency.ttft.p99<=2", progress=False),
     "constraints: give a list of texts such as ['latency.ttft.p99<=2'], not one text (got 'latency.ttft.p99<=2')"),
])
def test_one_text_where_a_list_of_texts_goes_is_a_type_error(tmp_path, call, said):
    """Iterated, the text ``"seed=3"`` was the overrides ``s``, ``e``, ``e``, ``d`` and ``=3`` (five
    messages about none of which the caller wrote), a constraint text a constraint per character."""
    import sim

    with pytest.raises(TypeError) as exc:
        call(sim, str(_scenario(tmp_path)))
    assert str(exc.value) == said


def test_reprice_given_one_override_text_is_a_type_error(tmp_path, capsys):
    import sim

    run_folder = tmp_path / "r"
    assert _main(["run", str(_scenario(tmp_path)), "--out", str(run_folder), "--quiet"]) == 0

    with pytest.raises(TypeError, match=r"^overrides: give a list of texts such as \['economics.gpu_hour_usd=1.8'\], "
                                        r"not one text \(got 'economics.gpu_hour_usd=2'\)$"):
        sim.reprice(run_folder, "economics.gpu_hour_usd=2")


def test_overrides_none_is_no_override(tmp_path):
    import sim

    path = _scenario(tmp_path)
    assert sim.run(str(path), overrides=None).summary["requests"] == sim.run(str(path)).summary["requests"]


@pytest.mark.parametrize("values,shown", [(2, "[2] (got 2)"),
                                          ({"process": "poisson", "rate": 3},
                                           "[{process: poisson, rate: 3}] (got {'process': 'poisson', 'rate': 3})")])
def test_a_sweep_grid_value_that_is_no_list_is_refused(tmp_path, values, shown):
    """A mapping was iterated as its keys (``workload.arrival`` swept over the 'values' ``process`` and
    ``rate``); a number raised Python's own ``'int' object is not iterable``."""
    import sim
    from sim.planning.knobs import KnobError

    with pytest.raises(KnobError) as exc:
        sim.sweep(str(_scenario(tmp_path)), grid={"workload.arrival": values}, progress=False)
    assert str(exc.value) == ("workload.arrival: expected a list of values such as [4, 8, 16], a range or "
                              f"'LOW..HIGH'; a single value is a list of one, {shown}")


@pytest.mark.parametrize("kw,said", [
    ({"rel_tol": float("nan")}, "rel_tol must be a number in (0, 1), e.g. 0.02 (got nan)"),
    ({"rel_tol": 5}, "rel_tol must be a number in (0, 1), e.g. 0.02 (got 5)"),
    ({"attainment": "0.9"}, "attainment must be a number in (0, 1] (got '0.9')"),
])
def test_saturation_from_python_refuses_what_the_command_line_refuses(tmp_path, kw, said):
    """``rel_tol=nan`` or ``5`` ran a search that stopped at its first bracket (``--tolerance`` refuses
    both); ``attainment="0.9"`` was Python's own ``'<' not supported``."""
    import sim

    with pytest.raises(ValueError) as exc:
        sim.saturation(str(_scenario(tmp_path)), progress=False, **kw)
    assert str(exc.value) == said


@pytest.mark.parametrize("where", ["file", "file/below"])
def test_result_write_to_a_file_says_so(tmp_path, where):
    """``Result.write`` (and ``sim.run(out=...)``) onto a file raised ``NotADirectoryError`` naming the
    hidden staging folder beside it."""
    import sim
    from sim.errors import InputError

    path = _scenario(tmp_path)
    (tmp_path / "file").write_text("mine")
    result = sim.run(str(path))
    said = (f"{tmp_path / 'file'}: exists and is not a folder; give a folder, new or existing" if where == "file"
            else f"{tmp_path / where}: cannot be made: {tmp_path / 'file'} is not a folder")
    with pytest.raises(InputError) as exc:
        result.write(tmp_path / where)
    assert str(exc.value) == said
    assert (tmp_path / "file").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "s.yaml"]


# ------------------------------------------------------------------ a folder named with an escape sequence
def test_a_folder_named_with_an_escape_sequence_is_said_not_run_on_the_terminal(tmp_path, capsys):
    """``fleetsim run --out``, ``report`` and ``compare --out`` printed the folder's name as given: an
    escape sequence in it (``\\x1b[31m``) recoloured the terminal, as a pool's name no longer can."""
    path = _scenario(tmp_path)
    out = tmp_path / "run\x1b[31mred"
    assert _main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert _main(["report", str(out)]) == 0
    assert _main(["compare", str(out), str(out), "--out", str(out / "c.json")]) == 0
    captured = capsys.readouterr()
    said = captured.out + captured.err
    assert "\x1b" not in said
    assert said.count("run\\x1b[31mred") >= 4     # wrote ...; fleetsim report ...; report.html; wrote c.json


# ------------------------------------------------------------------ scenario files in wide encodings
@pytest.mark.parametrize("codec,said", [("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32"),
                                        ("utf-32-le", "UTF-32"), ("utf-16", "UTF-16")])
def test_a_scenario_in_utf16_or_utf32_without_or_with_a_mark_is_said_as_such(tmp_path, capsys, codec, said):
    """Without a byte-order mark (and UTF-32 with one) the file was read as UTF-8 and refused for a NUL
    'not allowed in YAML text' at line 1, column 2, or for 'byte 0xff', which names neither the cause
    nor the fix."""
    import yaml

    path = tmp_path / "s.yaml"
    path.write_bytes(yaml.safe_dump(hc._small()).encode(codec))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: is {said} text: save it as UTF-8"]


def test_a_nul_inside_a_utf8_scenario_is_still_said_where_it_is(tmp_path, capsys):
    import yaml

    path = tmp_path / "s.yaml"
    body = yaml.safe_dump(hc._small()).encode()
    path.write_bytes(body + b"x\0y: 1\n")
    line = body.count(b"\n") + 1
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: not valid YAML: line {line}, column 2: character U+0000 is not allowed in YAML "
                            "text"]


# ------------------------------------------------------------------ a trace saved by a spreadsheet
_ROWS = "timestamp_s,prompt_tokens,output_tokens\n1,10,10\n2,20,20\n"


@pytest.mark.parametrize("codec,said", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-32", "UTF-32")])
def test_a_trace_in_utf16_is_said_as_such(tmp_path, capsys, codec, said):
    """Python's own "unreadable trace file ('utf-8' codec can't decode byte 0xff in position 0: invalid
    start byte)", or, without a byte-order mark, a header 'that is no header of names'."""
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "t.csv", "format": "fleetsim"}}
    path = _scenario(tmp_path, sc)
    (tmp_path / "t.csv").write_bytes(_ROWS.encode(codec))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.path: t.csv: is {said} text: save it as UTF-8"]


@pytest.mark.parametrize("sep,said", [(";", "semicolons"), ("\t", "tabs")])
def test_a_trace_separated_by_semicolons_or_tabs_is_said_as_such(tmp_path, capsys, sep, said):
    """A spreadsheet's CSV in a locale whose decimal mark is a comma, or its tab-delimited text: the
    header was said to be 'no header of names', though it holds every name."""
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": "t.csv", "format": "fleetsim"}}
    path = _scenario(tmp_path, sc)
    (tmp_path / "t.csv").write_text(_ROWS.replace(",", sep))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: workload.arrival.path: t.csv: line 1: the header's columns are separated by "
                            f"{said}, not commas: save the file as comma-separated values (CSV)"]
    (tmp_path / "t.csv").write_text(_ROWS)          # the same rows with commas are read
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()


# ------------------------------------------------------------------ one value written twice in a grid
@pytest.mark.parametrize("grid,first,second", [
    ("workload.arrival.rate=1,1.0", "1", "1.0"), ("workload.arrival.rate=2,2.0e0", "2", "2.0e0"),
    ("fleet.pools.0.replicas=1,01", "1", "01"), ("fleet.pools.0.replicas=2,4,0x2", "2", "0x2"),
])
def test_a_grid_value_written_twice_in_two_ways_is_refused(tmp_path, capsys, grid, first, second):
    """Only the same text twice was refused: ``1,1.0`` ran the same configuration twice and the table
    showed two identical rows labelled 1 and 1.0."""
    path = _scenario(tmp_path)
    assert _main(["sweep", str(path), "--grid", grid, "--quiet", "--out", str(tmp_path / "sw")]) == 2
    field, _, values = grid.partition("=")
    assert _err(capsys) == [f"--grid: {field}: values must be distinct: {first!r} and {second!r} are the same "
                            f"value (got {values!r})"]


def test_grid_values_that_differ_are_taken():
    from sim.planning.knobs import parse_knob

    assert parse_knob("workload.arrival.rate=1,1.5,10").values == ("1", "1.5", "10")
    assert parse_knob("fleet.pools.0.gpu=h100-sxm,h200-sxm").values == ("h100-sxm", "h200-sxm")
    assert parse_knob("metrics.records=all,sample").values == ("all", "sample")
