"""Compound durations (``2h30m``, ``1d 12h``, ``PT2H30M``) wherever a duration goes, against hand-worked
seconds; and a duration that is none refused with the file, the field and what to write.

``2h30m`` was refused (``expected a duration such as 3600, '90s', '30m', '1h' or '7d'``), as were
``1d12h``, ``1h 30m`` and ISO 8601's ``PT2H30M``: a planner had to work out 9000 s by hand.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

import hostile_cases as hc
from sim.scenario.durations import parse_duration

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ what each text is, worked by hand
@pytest.mark.parametrize("text,seconds", [
    ("2h30m", 2 * 3600 + 30 * 60),                  # 9000
    ("1d12h", 86400 + 12 * 3600),                   # 129600
    ("1h 30m", 3600 + 1800),
    ("1 h 30 m", 3600 + 1800),
    ("1 hour 30 minutes", 3600 + 1800),
    ("2 days 3 hrs", 2 * 86400 + 3 * 3600),
    ("1w2d", 7 * 86400 + 2 * 86400),
    ("30m2h", 9000),                                # any order, as Go's time.ParseDuration reads it
    ("1h30m15s", 3600 + 1800 + 15),
    ("1m30.5s", 90.5),
    ("1s500ms", 1.5),
    ("-1h30m", -5400),                              # the sign is the whole duration's
    ("PT2H30M", 9000), ("pt2h30m", 9000), ("P1DT12H", 129600), ("P2W", 2 * 604800), ("PT1.5H", 5400),
    ("PT0,5S", 0.5), ("-PT1H", -3600),
    ("250us", 0.00025), ("10µs", 1e-05), ("10us", 1e-05),
])
def test_a_compound_or_iso_duration_is_the_sum_of_its_parts(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text,seconds", [
    (3600, 3600.0), (2.5, 2.5), ("3600", 3600.0), ("90s", 90.0), ("30m", 1800.0), ("1h", 3600.0), ("7d", 604800.0),
    ("1w", 604800.0), ("1.5h", 5400.0), (".5h", 1800.0), ("500ms", 0.5), ("1e3", 1000.0), ("1e3s", 1000.0),
    ("10 s", 10.0), ("10 min", 600.0), ("+5m", 300.0), ("-5m", -300.0), ("-1e-6", -1e-06), ("  5m ", 300.0),
])
def test_what_was_read_before_is_read_the_same(text, seconds):
    """Every form the single-unit parser took gives the same float (the same bytes of a run)."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text,said", [
    ("2h30", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d': each number needs its unit, in us, "
             "ms, s, m, h, d, w (got '2h30')"),
    ("1h1h", "gives hours twice (got '1h1h'): write each unit once, such as '2h30m'"),
    ("2H30M", "units are written in lowercase (got '2H30M'): write '2h30m'"),
    ("5M", "'M' is not a unit of time (got '5M'): write 'm' for minutes; a month has no one length: write days, "
           "such as '30d'"),
    ("2 years", "a year has no one length (got '2 years'): write days, such as '30d' or '365d'"),
    ("1mo", "a month has no one length (got '1mo'): write days, such as '30d' or '365d'"),
    ("P1M", "an ISO 8601 duration in years or months has no one length (got 'P1M'): write days, such as 'P30D' "
            "or '30d'"),
    ("PT", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', or ISO 8601's such as 'PT2H30M' or "
           "'P1DT12H' (got 'PT')"),
    ("1:30", "a clock reading is not a duration, 1:30 being 1 h 30 min or 1 min 30 s (got '1:30'): write '1h30m' "
             "or '1m30s'"),
    ("1:30:00", "a clock reading is not a duration (got '1:30:00'): write '1h30m'"),
    ("30:00", "a clock reading is not a duration, 30:00 being 30 h 0 min or 30 min 0 s (got '30:00'): write '30h' "
              "or '30m'"),
    (dt.time(0, 0, 30), "a clock reading is not a duration (got 00:00:30 (a time of day)): write '30s'"),
    ("10 parsecs", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d'; 'parsecs' is not a unit of "
                   "time, which are us, ms, s, m, h, d, w (got '10 parsecs')"),
    ("1h-30m", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', in units us, ms, s, m, h, d, w "
               "(got '1h-30m')"),
    ("1h, 30m", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', in units us, ms, s, m, h, d, w "
                "(got '1h, 30m')"),
    ("1e308w", "must be a finite duration (got '1e308w')"),
    ("1e308h1e308h", "gives hours twice (got '1e308h1e308h'): write each unit once, such as '2h30m'"),
    ("1e308w1e308d", "must be a finite duration (got '1e308w1e308d')"),
])
def test_text_that_is_no_duration_says_what_to_write(text, said):
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert str(err.value) == said


# ------------------------------------------------------------------ in a file, with --set, from Python
@pytest.mark.parametrize("field", [("duration",), ("warmup",), ("metrics", "interval"), ("slo", "ttft_s"),
                                   ("workload", "patience_s")])
def test_a_compound_duration_in_a_scenario_file_is_the_seconds_written_out(tmp_path, field):
    """Each field given ``1m30s`` in the file validates to the scenario given ``90``."""
    from sim.scenario import load_scenario

    def loaded(value):
        sc = hc._small()
        sc["duration"] = 600
        node = sc
        for key in field[:-1]:
            node = node.setdefault(key, {})
        node[field[-1]] = value
        folder = tmp_path / f"{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        return load_scenario(_scenario(folder, sc)).scenario.model_dump(mode="json")

    assert loaded("1m30s") == loaded(90)
    assert loaded("PT1M30S") == loaded(90)


def test_a_compound_duration_with_set_validates_to_its_seconds(tmp_path, capsys):
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "duration=2h30m", "--set", "warmup=1m 30s"]) == 0
    assert "(t: 1 pool, duration 9000 s)" in capsys.readouterr().out


def test_a_run_of_a_compound_duration_writes_the_bytes_of_its_seconds(tmp_path):
    """``duration: 1m30s`` and ``warmup: 0h0m10s`` run the scenario of ``90`` and ``10``: the same summary."""
    import sim

    sc = hc._small()
    sc.update(duration="1m30s", warmup="0h0m10s", metrics={"interval": "PT5S"})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(sc))
    sc.update(duration=90, warmup=10, metrics={"interval": 5})
    (tmp_path / "n.yaml").write_text(yaml.safe_dump(sc))
    a = sim.run(str(tmp_path / "c.yaml"), out=str(tmp_path / "c"))
    b = sim.run(str(tmp_path / "n.yaml"), out=str(tmp_path / "n"))
    assert a.summary["simulated_seconds"] == 90
    for name in ("requests.csv.gz", "timeseries.csv", "scenario.json"):
        assert (tmp_path / "c" / name).read_bytes() == (tmp_path / "n" / name).read_bytes(), name
    drop = ("wall_seconds",)
    assert ({k: v for k, v in b.summary.items() if k not in drop} ==
            {k: v for k, v in a.summary.items() if k not in drop})
    assert json.loads((tmp_path / "c" / "scenario.json").read_text())["warmup"] == 10


def test_python_overrides_take_a_compound_duration(tmp_path):
    from sim.scenario import load_scenario

    path = _scenario(tmp_path)
    sc = load_scenario(path, overrides={"duration": "1d12h"}).scenario
    assert sc.duration == 129600


@pytest.mark.parametrize("value,said", [
    ("2h30", "duration: expected a duration such as 3600, '90s', '30m', '2h30m' or '7d': each number needs its "
             "unit, in us, ms, s, m, h, d, w (got '2h30')"),
    ("1:30", "duration: a clock reading is not a duration, 1:30 being 1 h 30 min or 1 min 30 s (got '1:30'): write "
             "'1h30m' or '1m30s'"),
    ("3 months", "duration: a month has no one length (got '3 months'): write days, such as '30d' or '365d'"),
])
def test_a_bad_duration_in_a_file_is_refused_naming_the_file_and_field(tmp_path, capsys, value, said):
    sc = hc._small()
    sc["duration"] = value
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: {said}"]


def test_yaml_base_60_is_a_clock_reading_not_90_seconds(tmp_path, capsys):
    """YAML 1.1 reads ``1:30`` as 90 (base 60); fleetsim reads it as text, which is no duration."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hc._small()).replace("duration: 60", "duration: 1:30"))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: duration: a clock reading is not a duration, 1:30 being 1 h 30 min or 1 min "
                            "30 s (got '1:30'): write '1h30m' or '1m30s'"]


def test_a_static_batch_timeout_takes_a_duration(tmp_path):
    """``batching.timeout_s`` (the static policy's wait to fill a batch) was a bare number where the batcher's
    ``timeout_s`` took ``500ms``; both take a duration now."""
    from sim.scenario import load_scenario

    sc = hc._small()
    sc["fleet"]["pools"][0]["batching"] = {"policy": "static", "batch_size": 4, "timeout_s": "500ms"}
    pool = load_scenario(_scenario(tmp_path, sc)).scenario.fleet.pools[0]
    assert pool.batching.timeout_s == 0.5


def test_a_time_per_token_with_a_unit_says_the_seconds_to_write(tmp_path, capsys):
    """``perf.cpu_per_seq_s`` is a time per sequence, a number: ``1m30s`` there is refused, with 90 to write."""
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "perf.cpu_per_seq_s=250us"]) == 2
    assert _err(capsys) == [f"{path}: perf.cpu_per_seq_s: must be a number (got '250us'); the field is in seconds: "
                            "write 0.00025"]


@pytest.mark.parametrize("text,said", [
    ("x" + " " * 1_000_000 + "y", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', in units us, ms, "
                                  "s, m, h, d, w (got 'x   "),
    ("1" * 1_000_000 + "y", "a year has no one length (got '1111"),
    ("1h" + " " * 1_000_000 + "x", "expected a duration such as 3600, '90s', '30m', '2h30m' or '7d', in units us, "
                                   "ms, s, m, h, d, w (got '1h  "),
])
def test_a_megabyte_of_text_that_is_no_duration_is_refused_in_one_pass(text, said):
    """A scenario's text may be 16 MB: ``x``, a million spaces and ``y`` took the parser time growing with the
    square of its length (5.5 s of CPU for 20,000 spaces, hours for a million), and a million digits did too."""
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert str(err.value).startswith(said)
