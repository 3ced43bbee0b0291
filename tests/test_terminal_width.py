"""What a planner reads in a terminal of 80 columns: every line of prose the commands print is broken
to the terminal ($COLUMNS), as their tables are, and printed to a file or a pipe (no width) it is whole;
the hint under a table that left columns out names one that --columns accepts; each command that writes
a result folder says where it went and how to read it, and one that wrote nothing says so."""
import re

import pytest

from sim.cli import main

SHORT = ["--set", "duration=2m", "--set", "warmup=0"]


def _widest(text: str) -> int:
    """The widest line of ``text``, a line of one word (a long path, kept whole) aside."""
    return max((len(line) for line in text.splitlines() if len(line.split()) > 1), default=0)


def _words(text: str) -> list[str]:
    return text.split()


def test_validate_breaks_its_lines_to_the_terminal_and_keeps_every_word(capsys, monkeypatch):
    """The memory plan's lines ran to 137-176 characters in any terminal."""
    argv = ["validate", "scenarios/deepseek_v3_cluster.yaml"]
    assert main(argv) == 0
    whole = capsys.readouterr().out
    assert _widest(whole) > 150                                  # to a file: one line each, as before
    monkeypatch.setenv("COLUMNS", "80")
    assert main(argv) == 0
    narrow = capsys.readouterr().out
    assert _widest(narrow) <= 80 and _words(narrow) == _words(whole)
    lines = narrow.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("    per GPU: "))
    assert lines[at + 1].startswith("      ")                    # a continuation sits under its line


@pytest.mark.parametrize("scenario, words", [("scenarios/provider_partner_2024.yaml", "duration 366 d (31,622,400 s))"),
                                             ("scenarios/diurnal_week.yaml", "duration 7 d (604,800 s))"),
                                             ("scenarios/baseline.yaml", "duration 3600 s)")])
def test_validate_says_a_long_duration_in_days(capsys, scenario, words):
    """A year was 'duration 3.16224e+07 s'."""
    assert main(["validate", scenario]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(words)


def test_run_says_where_its_folder_went_and_how_to_read_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    out = tmp_path / "r"
    assert main(["run", "scenarios/baseline.yaml", *SHORT, "--out", str(out)]) == 0
    printed = capsys.readouterr()
    head = printed.out.split("\n\n")[0]                          # what was simulated and the verdict
    assert len(head.splitlines()) > 3 and _widest(head) <= 60
    said = " ".join(printed.err.split())
    assert f"fleetsim: wrote {out}/; to read it in a browser: fleetsim report {out}" in said
    assert _widest(printed.err) <= 60
    # and the summary comes before it
    assert main(["run", "scenarios/baseline.yaml", *SHORT]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "fleetsim: nothing written (--out DIR writes the result folder that fleetsim report and reprice read)" \
        in err
    assert main(["run", "scenarios/baseline.yaml", *SHORT, "--quiet"]) == 0
    assert "nothing written" not in capsys.readouterr().err


@pytest.mark.parametrize("scenario", ["scenarios/baseline.yaml", "scenarios/provider_partner_2024.yaml"])
def test_the_run_summarys_lines_fit_the_terminal_between_their_fields(scenario, capsys, monkeypatch):
    """Each ``label  field  field`` line of the summary breaks between fields (never inside one), the
    later lines under the first field; printed to a pipe it is one line. Tables (the per-pool, per-class
    and statement ones) keep their rows whole; the per-pool and per-class ones break their headings."""
    assert main(["run", scenario, *SHORT]) == 0
    whole = capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["run", scenario, *SHORT]) == 0
    broken = capsys.readouterr().out
    # the same words (a table's headings break over lines in their own order, a statement wider than the
    # terminal comes in blocks of columns, each with the period column again; its rows whole)
    assert set(_words(re.sub(r"wall \S+", "", broken))) == set(_words(re.sub(r"wall \S+", "", whole)))
    for label in ("requests", "utilization", "stability", "cost", "cash flow"):
        lines = broken.splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith(label + "  ") or
                     line.startswith(label + " ("))
        start = lines[first].index("  ") + 2                     # where the first field starts
        for line in lines[first:]:
            if line is not lines[first] and not line.startswith(" " * start):
                break
            assert len(line) <= 60, line
    assert "utilization  load factor" in broken                  # the load factor leads
    assert "\n           " in broken or "\n             " in broken   # something was broken


def test_reprice_without_out_says_the_folder_is_unchanged(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "scenarios/baseline.yaml", *SHORT, "--out", str(out), "--quiet", "--figures", "none"]) == 0
    capsys.readouterr()
    before = (out / "summary.json").read_bytes()
    assert main(["reprice", str(out), "--set", "economics.gpu_hour_usd=1.8"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"fleetsim: nothing written ({out} is as it was; --out DIR writes the re-priced result folder" in err
    assert (out / "summary.json").read_bytes() == before
    assert main(["reprice", str(out), "--set", "economics.gpu_hour_usd=1.8", "--json"]) == 0
    assert capsys.readouterr().err == ""             # under --json stderr carries problems only
    assert main(["reprice", str(out), "--set", "economics.gpu_hour_usd=1.8", "--out", str(tmp_path / "c")]) == 0
    assert f"to read it in a browser: fleetsim report {tmp_path / 'c'}" in capsys.readouterr().err


def _plan(tmp_path, *extra):
    return ["plan", "scenarios/baseline.yaml", *SHORT, "--set", "workload.arrival.rate=50",
            "--vary", "fleet.pools.0.replicas=1..4", "--constraint", "latency.ttft.p99<=2",
            "--out", str(tmp_path / "p"), "--quiet", "--no-figures", "--executor", "serial", *extra]


def test_the_plans_prose_fits_the_terminal_and_explains_only_the_columns_shown(tmp_path, capsys, monkeypatch):
    """The answer line was 127 characters and the legend under the table 155 in an 80-column terminal,
    the legend explaining columns the table had left out."""
    assert main(_plan(tmp_path)) == 0
    whole = capsys.readouterr()
    assert "cost (window): the simulated window only" in whole.err   # every column shown: every word said
    monkeypatch.setenv("COLUMNS", "80")
    assert main(_plan(tmp_path)) == 0
    narrow = capsys.readouterr()
    assert _widest(narrow.out) <= 80 and _widest(narrow.err) <= 80
    out = " ".join(narrow.out.split())
    assert re.search(r"cheapest meeting all constraints: fleet\.pools\.0\.replicas=\d+ \(\d GPUs?, \$[\d,]+/month;",
                     out)
    err = " ".join(narrow.err.split())
    gone = err.split("left out to fit 80 columns: ")[1].split(" (keep")[0].split(", ")
    assert "cost (window)" in gone and "cost (window):" not in err and "headroom: slack" in err
    assert f"to read it in a browser: fleetsim report {tmp_path / 'p'}" in err


def _hint(err: str) -> str:
    """The value of ``--columns`` the left-out hint gives."""
    return " ".join(err.split()).split("keep one by naming it: --columns ")[1].split(";")[0].strip("'")


def test_the_left_out_hint_names_a_column_that_columns_accepts(tmp_path, capsys, monkeypatch):
    """At 80 columns the sweep left out slo.attainment and hinted `--columns 'slo.attainment (%)'`
    (its heading, which --columns refuses); the plan hinted `--columns 'load factor'`, refused too."""
    monkeypatch.setenv("COLUMNS", "66")       # (80 with the one-hour runs' wider numbers)
    sweep = ["sweep", "scenarios/baseline.yaml", "--grid", "fleet.pools.0.replicas=2,4", *SHORT,
             "--out", str(tmp_path / "s"), "--quiet", "--no-figures", "--executor", "serial"]
    assert main(sweep) == 0
    err = capsys.readouterr().err
    assert "slo.attainment (%)" in err and _hint(err) == "slo.attainment"
    assert main([*sweep, "--columns", _hint(err)]) == 0
    assert "slo." in capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", "70")       # (80 before feasible was left out first)
    assert main(_plan(tmp_path)) == 0
    err = capsys.readouterr().err
    assert "load factor" in " ".join(err.split()).split("(keep")[0] and _hint(err) == "utilization.load_factor"
    assert main(_plan(tmp_path, "--columns", _hint(err))) == 0
    assert "utilization." in capsys.readouterr().out


@pytest.mark.parametrize("heading, name", [("slo.attainment (%)", "slo.attainment"), ("$/hour", "$/hour"),
                                           ("load factor", "utilization.load_factor"),
                                           ("latency.tpot.p99 (ms)", "latency.tpot.p99"),
                                           ("utilization.load_factor", "utilization.load_factor"),
                                           ("n", None), ("why not", None), ("answer", None),
                                           ("latency.ttft.p99 ±3 % (ms)", None)])
def test_a_left_out_column_is_named_as_columns_takes_it(heading, name):
    from sim.commands.sweep import column_name, left_out

    assert column_name(heading) == name
    hint = left_out(["n", heading], "sweep.csv")
    assert ("keep one by naming it" in hint) == (name is not None)


def test_the_saturation_table_fits_the_terminal_with_why_not_under_it(tmp_path, capsys, monkeypatch):
    argv = ["saturation", "scenarios/baseline.yaml", "--set", "duration=5m", "--set", "warmup=30s",
            "--set", "slo.ttft_s=0.001", "--out", str(tmp_path / "s"), "--quiet", "--executor", "serial"]
    assert main(argv) == 1
    whole = capsys.readouterr()
    assert _widest(whole.out) > 80 and not any(line.startswith("why not ") for line in whole.out.splitlines())
    monkeypatch.setenv("COLUMNS", "60")
    assert main(argv) == 1
    narrow = capsys.readouterr()
    # (the scenario's warning that a 1 ms TTFT is shorter than any iteration is one line, as every field's is)
    err = "\n".join(x for x in narrow.err.splitlines() if not x.startswith("scenarios/baseline.yaml: slo.ttft_s: "))
    assert _widest(narrow.out) <= 60 and _widest(err) <= 60
    lines = narrow.out.splitlines()
    assert lines[0].split() == ["rate", "sustained", "slo.", "latency."] and "why" not in lines[0]
    assert any(line.startswith("why not 12 req/s: SLO attainment 0 %") for line in lines)
    assert "no rate meets the SLO: at 0.1875 req/s" in " ".join(narrow.out.split())


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--help"], ["calibrate", "--help"]])
def test_help_fits_an_80_column_terminal(capsys, monkeypatch, argv):
    """The top-level help's description and the heading of its examples were 95 and 98 characters."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit):
        main(argv)
    printed = capsys.readouterr().out
    assert max(map(len, printed.splitlines())) <= 80
    if argv == ["--help"]:      # the examples stay one command a line (the plan's two), as typed
        assert "  fleetsim run scenarios/baseline.yaml --out results/baseline\n" in printed
        assert "cost and cash flows." in " ".join(printed.split())


def test_calibrate_says_how_a_scenario_uses_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    assert main(["calibrate", "examples/calibration_points.csv", "--gpu", "h100-sxm", "--model", "llama-2-7b",
                 "--weight-dtype", "fp8", "--kv-dtype", "fp8", "--out", str(out)]) == 0
    assert f"wrote {out} (use it in a scenario as perf: {{model: roofline, calibration: {out}}}" \
        in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["calibrate", "--help"])
    printed = " ".join(capsys.readouterr().out.split())
    assert "precision of the measured replica's weights" in printed and "(default bf16)" in printed


@pytest.mark.parametrize("module", ["sim.planning.table", "sim.commands.sweep", "sim.commands.plan", "sim.cli",
                                    "sim.commands.validate"])
def test_the_examples_in_the_docstrings_hold(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
