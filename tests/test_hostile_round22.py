"""Hostile input, round 22: money that is no finite number wherever it enters, a renegotiated agreement's
settlement period, ``--set`` values YAML cannot read (and overrides given from Python as a mapping), calendar
days given a time or zone, names that begin or end with a space, a JSON trace's integer past a float, and a
capacity band too narrow to be one.

Each refusal is exit 2 from the command line (a :class:`~sim.errors.ScenarioError`, :class:`~sim.errors.InputError`
or :class:`TypeError` from Python) with a message naming the file, the field and what is allowed; never a
traceback, and never a result that silently means something else.
"""
from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
import yaml

import hostile_cases as hc
from sim.errors import ScenarioError

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario
DAY = 86400.0
INF = float("inf")


def _priced(tmp_path, economics: dict, text: str | None = None):
    """The small scenario with ``economics``; ``text``: the file's YAML as written (for ``.inf`` literals)."""
    sc = hc._small()
    sc["start"] = "2025-01-01"
    sc["economics"] = economics
    path = _scenario(tmp_path, sc)
    if text is not None:
        path.write_text(text)
    return path


# ------------------------------------------------------------------ 1. prices that are no finite number
@pytest.mark.parametrize("literal,got", [(".inf", "inf"), ("-.inf", "-inf"), (".nan", "nan"), ("1e999", "'1e999'")])
def test_a_price_written_as_an_infinite_yaml_number_is_refused(tmp_path, capsys, literal, got):
    """``.inf`` is YAML's infinity; ``1e999`` (no dot: YAML 1.1 reads it as text) is one a float cannot hold."""
    sc = hc._small()
    sc["economics"] = {"gpu_hour_usd": 1.0}
    text = yaml.safe_dump(sc).replace("gpu_hour_usd: 1.0", f"gpu_hour_usd: {literal}")
    path = _priced(tmp_path, {}, text)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: economics.gpu_hour_usd: must be a finite number (got {got})"]


def test_a_toml_price_of_inf_is_refused(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text('duration = 60\nmodel = "llama-3-8b"\n[workload]\narrival = {process = "poisson", rate = 2}\n'
                    'prompt_tokens = {dist = "fixed", value = 200}\noutput_tokens = {dist = "fixed", value = 20}\n'
                    '[fleet]\npools = [{name = "p", gpu = "h100-sxm", replicas = 1}]\n'
                    '[economics]\ngpu_hour_usd = inf\n')
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: economics.gpu_hour_usd: must be a finite number (got inf)"]


@pytest.mark.parametrize("where,block", [
    ("revenue.0.usd_per_million_output_tokens", {"revenue": [{"name": "api", "usd_per_million_output_tokens": INF}]}),
    ("agreements.0.cap_usd", {"agreements": [{"name": "a", "rate": 0.2, "base": ["subs"], "cap_usd": INF}]}),
    ("agreements.0.minimum_usd", {"agreements": [{"name": "a", "rate": 0.2, "base": ["subs"], "minimum_usd": INF}]}),
    ("agreements.0.rate.0.up_to_usd", {"agreements": [{"name": "a", "base": ["subs"],
                                                       "rate": [{"up_to_usd": INF, "rate": 0.2}, {"rate": 0.1}]}]}),
])
def test_an_infinite_amount_in_a_revenue_line_or_an_agreement_is_refused(tmp_path, capsys, where, block):
    """The agreements' amounts (a cap, a minimum, a bracket's top) are money as much as a price: an infinite
    cap is no cap (leave it out), an infinite bracket top is the open last bracket (leave ``up_to_usd`` out)."""
    economics = {"gpu_hour_usd": 1.0, "revenue": [{"name": "subs", "usd_per_month": 1000}], **block}
    if "revenue" in block:
        economics["revenue"] = block["revenue"] + [{"name": "subs", "usd_per_month": 1000}]
    path = _priced(tmp_path, economics)
    assert ": .inf" in path.read_text()                                     # YAML's own infinity
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: economics.{where}: must be a finite number (got inf)"]


def test_an_infinite_price_by_set_or_by_a_python_mapping_is_refused(tmp_path, capsys):
    path = _priced(tmp_path, {"gpu_hour_usd": 1.0})
    assert _main(["validate", str(path), "--set", "economics.gpu_hour_usd=.inf"]) == 2
    assert _err(capsys) == [f"{path}: economics.gpu_hour_usd: must be a finite number (got inf)"]
    from sim import load_scenario

    with pytest.raises(ScenarioError, match=r"economics\.gpu_hour_usd: must be a finite number \(got inf\)"):
        load_scenario(str(path), {"economics.gpu_hour_usd": float("inf")})


@pytest.mark.parametrize("vary", ["economics.gpu_hour_usd=1,.inf",
                                  "fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&inf"])
def test_a_plan_varying_a_price_to_infinity_is_refused_before_it_runs(tmp_path, capsys, vary):
    path = _priced(tmp_path, {"gpu_hour_usd": 1.0})
    out = tmp_path / "plan"
    assert _main(["plan", str(path), "--vary", vary, "--executor", "serial", "--quiet", "--out", str(out)]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"{path}: economics.gpu_hour_usd: must be a finite number (got ")
    assert not (out / "plan.json").exists()


def test_reprice_refuses_an_infinite_price(tmp_path, capsys):
    path = _priced(tmp_path, {"gpu_hour_usd": 1.0})
    out = tmp_path / "r"
    assert _main(["run", str(path), "--out", str(out), "--figures", "none", "--quiet"]) == 0
    before = (out / "summary.json").read_bytes()
    capsys.readouterr()
    assert _main(["reprice", str(out), "--set", "economics.gpu_hour_usd=1e999", "--quiet"]) == 2
    assert _err(capsys) == [f"{out}: economics.gpu_hour_usd: must be a finite number (got '1e999')"]
    assert (out / "summary.json").read_bytes() == before                     # nothing lost


def test_a_plan_file_holding_an_infinite_cost_per_million_tokens_shows_no_price_of_inf():
    """A plan.json written by hand or by another tool may hold ``Infinity`` (Python's json reads it): the two
    per-million lines leave it out, as they leave out NaN, rather than print ``$inf``."""
    from sim.commands.plan import million_tokens_line
    from sim.report.search_pages import _per_million_tokens

    row = json.loads('{"cost.per_million_output_tokens.mean": 37.397, "cost.per_million_tokens.mean": Infinity}')
    assert million_tokens_line(row) == "" and _per_million_tokens(row) == ""
    row["cost.per_million_tokens.mean"] = 0.5474
    assert million_tokens_line(row).startswith("a million tokens costs $37.40 counting output tokens alone, $0.55")
    assert _per_million_tokens(row) == "$0.55 per million prompt and output tokens"
    row["throughput.input_tokens_per_s.mean"], row["throughput.output_tokens_per_s.mean"] = float("inf"), 283.3
    assert "prompt tokens)" not in million_tokens_line(row)      # no "(nan % of them prompt tokens)"


# ------------------------------------------------------------------ 2. a renegotiated agreement's shared period
def _renegotiated(second: dict | None = None):
    from sim.economics import parse_economics

    later = {"name": "deal", "rate": 0.1, "base": ["api"], "settle": "month", "from": "2025-01-11", **(second or {})}
    return parse_economics({"revenue": [{"name": "api", "usd_per_month": 3.1e6}], "period": "month",
                            "agreements": [{"name": "deal", "rate": 0.2, "base": ["api"], "settle": "month",
                                            "until": "2025-01-10"}, later]})


def test_new_terms_from_a_date_inside_a_settlement_period_settle_it_as_one_row():
    """$3.1M a month in January is $100,000 a day: 20 % of Jan 1-10 is $200,000, 10 % of Jan 11-31 is
    $210,000. One agreement, one month: one settlement of $410,000 paid by the provider on Feb 1, the one
    netted payment the statement shows (two rows of one name and one period were written before)."""
    from sim.economics import evaluate
    from sim.economics.synthetic import usage_from_rows

    r = evaluate(_renegotiated(), dt.date(2025, 1, 1), usage_from_rows(31 * DAY))
    (s,) = r.settlements
    assert (s.agreement, s.period, s.cash_date) == ("deal", "2025-01", dt.date(2025, 2, 1))
    assert s.forward_usd == pytest.approx(410_000) and s.provider_net_usd == pytest.approx(-410_000)
    feb = next(x for x in r.statement if x["period"] == "2025-02")
    assert feb["cash_revenue_share_paid_usd"] == pytest.approx(410_000)


def test_new_terms_starting_with_a_period_keep_a_row_each():
    """From Feb 1 the new terms' first period is their own: January at 20 % (31 days: $620,000), February
    at 10 % of $3.1M (28 days in February, the line's monthly amount: $310,000)."""
    from sim.economics import evaluate
    from sim.economics.synthetic import usage_from_rows

    cfg = _renegotiated({"from": "2025-02-01"})
    cfg.agreements[0].until = dt.date(2025, 1, 31)
    r = evaluate(cfg, dt.date(2025, 1, 1), usage_from_rows(59 * DAY))
    assert [(s.period, round(s.forward_usd)) for s in r.settlements] == [("2025-01", 620_000), ("2025-02", 310_000)]


@pytest.mark.parametrize("second,said", [
    ({"payment_lag": "30d"}, "payment_lag (0 s, then 30 days)"),
    ({"payer": "partner", "payee": "provider"}, "payer (provider, then partner)"),
])
def test_new_terms_paying_a_shared_period_another_way_are_refused_naming_both(second, said):
    """One row and one payment cannot hold two payment dates or two payers: refused, naming both agreements."""
    from sim.economics import evaluate
    from sim.economics.synthetic import usage_from_rows

    with pytest.raises(ScenarioError) as exc:
        evaluate(_renegotiated(second), dt.date(2025, 1, 1), usage_from_rows(31 * DAY))
    key = said.split(" ")[0]
    assert str(exc.value) == (f"<scenario>: economics.agreements.1.name: agreement 'deal' is named twice "
                              f"(agreements.0) and both windows fall in settlement period 2025-01, which settles "
                              f"once under the name (one row, one netted payment), but they differ in {said}: give "
                              f"both terms the same {key}, or each its own name")


def test_a_renegotiated_agreement_writes_one_settlement_row_per_period(tmp_path, capsys):
    """End to end: settlements.csv holds one row of the name for the month, its amount the two terms' sum."""
    sc = hc._small()
    sc.update(start="2025-01-01", duration="2d", warmup=0)
    sc["workload"]["arrival"]["rate"] = 0.01
    sc["economics"] = {"gpu_hour_usd": 1.0, "revenue": [{"name": "subs", "usd_per_month": 3100}],
                       "agreements": [{"name": "d", "rate": 0.2, "base": ["subs"], "settle": "month",
                                       "until": "2025-01-01"},
                                      {"name": "d", "rate": 0.1, "base": ["subs"], "settle": "month",
                                       "from": "2025-01-02"}]}
    out = tmp_path / "r"
    assert _main(["run", str(_scenario(tmp_path, sc)), "--out", str(out), "--figures", "none", "--quiet"]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader((out / "settlements.csv").open()))
    assert [(r["agreement"], r["period"]) for r in rows] == [("d", "2025-01")]
    assert float(rows[0]["forward_usd"]) == pytest.approx(0.2 * 100 + 0.1 * 100)     # $100 a day, one day each


# ------------------------------------------------------------------ 3. --set values and Python overrides
def test_a_set_value_of_a_list_with_words_after_it_says_so_and_shows_the_quotes(tmp_path, capsys):
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", "name=[draft]v2"]) == 2
    assert _err(capsys) == ["--set: name: not valid YAML: [draft] reads as a list, and v2 after it makes the value "
                            "no YAML list; to mean the words, quote them for YAML inside the shell's quotes "
                            "(--set 'name=\"[draft]v2\"')"]
    assert _main(["validate", str(path), "--set", 'name="[draft]v2"']) == 0        # the hint, pasted, is taken


def test_a_mapping_of_overrides_from_python_takes_its_values_as_given(tmp_path):
    """``{"name": "[draft]v2"}`` is the words (a Python value, not YAML to quote); iterated as before, the
    mapping's keys were read as overrides and refused with ``--set`` syntax ('override must look like ...')."""
    from sim import load_scenario

    path = _scenario(tmp_path)
    assert load_scenario(str(path), {"name": "[draft]v2", "seed": 7}).scenario.name == "[draft]v2"
    with pytest.raises(ScenarioError) as exc:
        load_scenario(str(path), {"fleet.pools.1.replicas": 2})
    assert str(exc.value) == ("overrides: fleet.pools.1: index out of range: the list has 1 item, index 0 to 0; an "
                              "override cannot add an item: give the whole list, e.g. {'fleet.pools': [...]}, or add "
                              "it in the scenario file")
    assert "--set" not in str(exc.value)
    with pytest.raises(TypeError, match=r"overrides: each key of the mapping is a dotted path"):
        load_scenario(str(path), {("fleet", "pools"): 1})


def test_a_python_sweep_grid_text_yaml_cannot_read_is_the_words(tmp_path):
    """A grid's text value is YAML (``"30m"``, ``"[1, 2]"``); one YAML refuses is the words, not an error telling
    a Python caller to quote it for a shell."""
    from sim.planning.knobs import configurations, parse_knobs
    from sim.scenario.load import apply_overrides

    (knob,) = parse_knobs({"name": ["[draft]v2", "run #2", "plain"]})
    got = [apply_overrides({"name": "x"}, list(c))["name"] for c in configurations([knob])]
    assert got == ["[draft]v2", "run #2", "plain"]


# ------------------------------------------------------------------ calendar days
@pytest.mark.parametrize("field,value,utc", [
    ("start", "2025-01-01T00:00:00+05:00", "2024-12-31 19:00"),
    ("start", "2025-01-01 00:00:00-03:00", "2025-01-01 03:00"),
    ("economics.agreements.0.from", "2025-01-01T00:00:00+05:00", "2024-12-31 19:00"),
    ("economics.agreements.0.until", "2025-03-31T00:00:00+01:00", "2025-03-30 23:00"),
])
def test_a_calendar_day_given_a_midnight_in_another_zone_is_refused(tmp_path, capsys, field, value, utc):
    """Days begin at midnight UTC: ``2025-01-01T00:00:00+05:00`` is 2024-12-31 19:00 UTC, yet pydantic took any
    midnight as its day, five hours off; quoted (text) or not (YAML's datetime), it is refused, saying the UTC
    moment it is."""
    sc = hc._small()
    sc["economics"] = {"gpu_hour_usd": 1.0, "revenue": [{"name": "subs", "usd_per_month": 1000}],
                       "agreements": [{"name": "a", "rate": 0.2, "base": ["subs"]}]}
    if field == "start":
        sc["start"] = value
    else:
        sc["economics"]["agreements"][0][field.rsplit(".", 1)[1]] = value
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: {field}: must be a date such as 2025-01-01; days begin at midnight UTC, and "
                            f"this moment is {utc} UTC (got {value!r})"]
    path.write_text(path.read_text().replace(f"'{value}'", value))         # unquoted: YAML's datetime
    assert _main(["validate", str(path)]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"{path}: {field}: must be a date such as 2025-01-01; days begin at midnight UTC, and "
                           f"this moment is {utc} UTC")


@pytest.mark.parametrize("value", ["2025-01-01T00:00:00Z", "2025-01-01 00:00:00", "2025-01-01T00:00:00+00:00"])
def test_a_calendar_day_given_as_midnight_utc_or_without_a_zone_is_the_day(tmp_path, capsys, value):
    from sim import load_scenario

    sc = hc._small()
    sc["start"] = value
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()
    assert load_scenario(str(path)).scenario.start == dt.date(2025, 1, 1)      # that day, not one either side


def test_a_calendar_day_given_as_a_number_is_refused(tmp_path, capsys):
    """1735689600 is 2025-01-01 00:00 UTC in Unix time, which pydantic took as that day; a day is written as one."""
    sc = hc._small()
    sc["start"] = 1735689600
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: start: must be a date such as 2025-01-01, not a number (got 1735689600)"]


@pytest.mark.parametrize("start,until", [("2024-02-29", "2024-02-29"), ("2024-12-30", "2025-01-05")])
def test_a_leap_day_and_a_week_across_the_new_year_are_days_as_written(tmp_path, capsys, start, until):
    sc = hc._small()
    sc.update(start=start, duration=3600)
    sc["economics"] = {"gpu_hour_usd": 1.0, "revenue": [{"name": "subs", "usd_per_month": 1000}],
                       "agreements": [{"name": "a", "rate": 0.2, "base": ["subs"], "settle": "week",
                                       "from": start, "until": until}]}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()
    from sim import load_scenario

    loaded = load_scenario(str(path)).scenario
    (ag,) = loaded.economics.agreements
    assert (loaded.start, ag.from_, ag.until) == (dt.date.fromisoformat(start), dt.date.fromisoformat(start),
                                                  dt.date.fromisoformat(until))


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("name,said", [
    (" p ", "must not begin or end with a space (got ' p '): it shows as 'p', which, written elsewhere (a price's "
            "pool, a weight), would name nothing; write 'p'"),
    ("p\u00a0", "must not begin or end with a space (got 'p\\xa0'): it shows as 'p', which, written elsewhere (a "
                "price's pool, a weight), would name nothing; write 'p'"),
    ("   ", "must not be blank (got '   '): a name is shown in titles and tables"),
])
def test_a_pool_name_beginning_or_ending_with_a_space_is_refused(tmp_path, capsys, name, said):
    """A pool `` p `` shows as ``p`` in every table, while ``economics.compute.0.pool: p`` named no pool."""
    sc = hc._small()
    sc["fleet"]["pools"][0]["name"] = name
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: fleet.pools.0.name: {said}"]


@pytest.mark.parametrize("name", ["\u6c60-\u00f1-\U0001F680", "p" * 200, "<b>x</b>&amp;"])
def test_a_unicode_long_or_markup_pool_name_reaches_the_page_escaped(tmp_path, capsys, name):
    sc = hc._small()
    sc["duration"] = 20
    sc["fleet"]["pools"][0]["name"] = name
    out = tmp_path / "r"
    assert _main(["run", str(_scenario(tmp_path, sc)), "--out", str(out), "--figures", "svg", "--quiet"]) == 0
    assert _main(["report", str(out)]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<b>x</b>" not in page
    assert name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in page


# ------------------------------------------------------------------ traces
def _trace(tmp_path, body: bytes | str, name: str = "t.csv"):
    (tmp_path / name).write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "trace", "path": name}}
    return _scenario(tmp_path, sc)


_TIME_CAP = ("must be at most 9,007,199,255 s (about 285 years; 2**53 microseconds, past which a time loses its "
             "microseconds)")


@pytest.mark.parametrize("digits", [400, 20])
def test_a_json_trace_time_past_a_float_is_named_at_its_line(tmp_path, capsys, digits):
    """JSON reads ``1`` and 400 zeros as a Python integer, which no float holds: it crashed the reader into the
    command line's last resort ('a number is too large to compute with'), naming no file, line or column."""
    path = _trace(tmp_path, '{"timestamp_s": 1' + "0" * digits + ', "prompt_tokens": 3, "output_tokens": 4}\n',
                  "t.jsonl")
    assert _main(["validate", str(path)]) == 2
    (line,) = _err(capsys)
    assert line.startswith(f"{path}: workload.arrival.path: t.jsonl: no usable rows: all 1 data row(s) are bad, so "
                           f"the trace holds no requests (first: line 1: column 'timestamp_s': {_TIME_CAP} (got 1000")


def test_a_json_trace_time_of_minus_a_huge_integer_is_negative(tmp_path, capsys):
    path = _trace(tmp_path, '{"timestamp_s": -1' + "0" * 400 + ', "prompt_tokens": 3, "output_tokens": 4}\n', "t.jsonl")
    assert _main(["validate", str(path)]) == 2
    assert "column 'timestamp_s': must be >= 0 (got -1000" in _err(capsys)[0]


@pytest.mark.parametrize("body", [
    "\ufefftimestamp_s,prompt_tokens,output_tokens\r\n0.1,10,5\r\n\r\n1,10,5\r\n",     # BOM, CRLF, a blank line
    "timestamp_s,prompt_tokens,output_tokens\n1,10,5\n1,10,5\n",                       # two requests at one time
])
def test_a_trace_with_a_bom_crlf_or_simultaneous_arrivals_is_read(tmp_path, capsys, body):
    from sim.workload.traces import read_trace

    path = _trace(tmp_path, body)
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()
    assert read_trace(tmp_path / "t.csv").arrival_s.tolist() in ([0.1, 1.0], [1.0, 1.0])


# ------------------------------------------------------------------ the capacity band
@pytest.mark.parametrize("pct", ["1e-300", "1e-15"])
def test_a_capacity_band_too_narrow_to_change_capacity_is_refused(tmp_path, capsys, pct):
    """``1 - 1e-302`` is 1.0: both sides ran at the nominal capacity and reported a band of width 0 as one."""
    assert 1 - float(pct) / 100 == 1.0 or float(pct) < 1e-12
    assert _main(["run", str(_scenario(tmp_path)), "--capacity-band", pct]) == 2
    (line,) = _err(capsys)
    assert "give a percentage of capacity of at least 1e-12" in line and repr(pct) in line


def test_reprice_from_python_takes_a_mapping_and_records_it_as_texts(tmp_path, capsys):
    """``sim.reprice(folder, {"economics.gpu_hour_usd": 2.0})``: iterated, the mapping was its keys, each refused
    as 'override must look like key.path=value'. Twice the price of the same GPU-hours is twice the bill."""
    import sim

    out = tmp_path / "r"
    assert _main(["run", str(_priced(tmp_path, {"gpu_hour_usd": 1.0})), "--out", str(out), "--figures", "none",
                  "--quiet"]) == 0
    capsys.readouterr()
    before = json.loads((out / "summary.json").read_text())["cost"]["compute_usd"]
    _, summary = sim.reprice(out, {"economics.gpu_hour_usd": 2.0})
    assert summary["cost"]["compute_usd"] == pytest.approx(2 * before)
    assert summary["repriced"]["overrides"] == ["economics.gpu_hour_usd=2.0"]


@pytest.mark.parametrize("cell,said", [
    ("10\u00a0", "character 3 is U+00A0, no-break space"),           # a locale's thousands separator, trailing
    ("\u22125", "character 1 is U+2212, minus sign"),                # a typographic minus
])
def test_a_trace_cell_with_a_non_ascii_character_that_is_no_digit_is_named(tmp_path, capsys, cell, said):
    """The digit rule's message spoke of other scripts' digits (Arabic-Indic, full-width) for any character
    outside ASCII: a no-break space or a typographic minus is no digit, and is now named."""
    path = _trace(tmp_path, f"timestamp_s,prompt_tokens,output_tokens\n1,{cell},5\n")
    assert _main(["validate", str(path)]) == 2
    (line,) = _err(capsys)
    assert (f"line 2: column 'prompt_tokens': must be written in ASCII ({said}, which no trace writer puts in a "
            f"number, so the cell is likely not the value meant)") in line


def test_a_trace_cell_with_another_script_s_digit_keeps_the_digits_message(tmp_path, capsys):
    path = _trace(tmp_path, "timestamp_s,prompt_tokens,output_tokens\n1,1\u0660,5\n")
    assert _main(["validate", str(path)]) == 2
    assert "column 'prompt_tokens': must be written in the digits 0-9 (Python reads other scripts' digits" in \
        _err(capsys)[0]


# ------------------------------------------------------------------ an empty scenario
@pytest.mark.parametrize("name,body", [("s.yaml", ""), ("s.yaml", "# a comment only\n\n"), ("s.yaml", "null\n"),
                                       ("s.toml", "")])
def test_an_empty_scenario_file_is_one_problem(tmp_path, capsys, name, body):
    """Four lines, one per required field ('duration: required field is missing', ...), said less than one:
    the file holds nothing."""
    path = tmp_path / name
    path.write_text(body)
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: is empty (no keys; comments and blank lines hold none): a scenario needs at "
                            f"least duration, model, workload and fleet, e.g. scenarios/baseline.yaml"]


def test_an_empty_file_given_every_field_by_set_is_a_scenario(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("")
    sets = ["duration=60", "model=llama-3-8b",
            "workload={arrival: {process: poisson, rate: 2}, prompt_tokens: {dist: fixed, value: 200}, "
            "output_tokens: {dist: fixed, value: 20}}",
            "fleet={pools: [{name: p, gpu: h100-sxm, replicas: 1}]}"]
    assert _main(["validate", str(path), *[w for s in sets for w in ("--set", s)]]) == 0
    capsys.readouterr()
    from sim import load_scenario

    with pytest.raises(ScenarioError, match=r"^<scenario>: is empty \(no keys"):
        load_scenario({})


def test_a_shared_period_sums_each_terms_own_minimum_and_true_up():
    """Each terms' take-or-pay minimum is prorated to its own days and trued up on its own: $400,000 a month
    is $129,032.26 for Jan 1-10 (paid 200,000: no shortfall) and $270,967.74 for Jan 11-31 (paid 210,000:
    60,967.74 short). The one row shows both minimums, $400,000, and the one shortfall."""
    from sim.economics import evaluate
    from sim.economics.synthetic import usage_from_rows

    cfg = _renegotiated({"minimum_usd": 4.0e5})
    cfg.agreements[0].minimum_usd = 4.0e5
    (s,) = evaluate(cfg, dt.date(2025, 1, 1), usage_from_rows(31 * DAY)).settlements
    assert s.minimum_usd == pytest.approx(4.0e5)
    assert s.shortfall_usd == pytest.approx(4.0e5 * 21 / 31 - 210_000)
    assert s.provider_net_usd == pytest.approx(-(410_000 + 4.0e5 * 21 / 31 - 210_000))


@pytest.mark.parametrize("bound", ["inf", "1e999", "nan"])
def test_a_plan_constraint_on_money_with_no_finite_bound_is_refused(tmp_path, capsys, bound):
    path = _priced(tmp_path, {"gpu_hour_usd": 1.0})
    assert _main(["plan", str(path), "--vary", "fleet.pools.0.replicas=1..2", "--constraint",
                  f"cost.per_million_tokens<={bound}", "--executor", "serial", "--quiet",
                  "--out", str(tmp_path / "plan")]) == 2
    assert _err(capsys) == [f"--constraint: cost.per_million_tokens: bound must be finite (got '{bound}')"]
