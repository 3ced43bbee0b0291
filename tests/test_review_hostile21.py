"""Review of hostile input round 21: what its checks refuse that they should not, and what they still let
through.

* The shares one party pays of one revenue line add up to at most 1 on any day: a bracketed rate pays its
  highest bracket on the days its running base revenue is in that bracket, so the check counts the highest
  bracket it can still reach, not its lowest (a falling rate, 0.9 of the first $100 then 0.5, beside a flat
  0.4 paid 130 % of the line's first $100, and was taken).
* Legitimate agreements stay taken: a share plus a reverse share on resale, a stepped rate beside a flat
  one within the whole line, a renegotiated agreement of the same name in a later window (run to the end).
* ``--set`` values: a comment YAML drops after a word holding ``#`` (``a#b #c``) is refused like ``run #2``;
  a ``#`` inside a word, a URL's fragment, a Windows path, unicode and brackets inside a word stay text.
"""
from __future__ import annotations

import csv
import shlex

import numpy as np
import pytest
import yaml

import hostile_cases as hc
from sim.economics.tiers import share

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


def _money(tmp_path, agreements: list[dict], revenue: list[dict] | None = None):
    sc = hc._small()
    sc["start"] = "2024-01-01"
    sc["duration"] = 3600
    sc["economics"] = {"gpu_hour_usd": 2.0,
                       "revenue": revenue or [{"name": "api", "usd_per_million_input_tokens": 2.5,
                                               "usd_per_million_output_tokens": 10},
                                              {"name": "subs", "usd_per_month": 10000}],
                       "agreements": agreements}
    return _scenario(tmp_path, sc)


# ------------------------------------------------------------------ stepped rates and the whole line
_FALLING = [{"up_to_usd": 100, "rate": 0.9}, {"rate": 0.5}]     # 90 % of the first $100, then 50 %
_RISING = [{"up_to_usd": 1.0e9, "rate": 0.2}, {"rate": 0.7}]    # 20 % of the first $1B, then 70 %


def test_a_falling_stepped_rate_pays_its_first_bracket_first():
    """By the engine's own bracket arithmetic: $60 and $60 of base revenue under 0.9 to $100 then 0.5 pay
    54 and 0.9 x 40 + 0.5 x 20 = 46; beside a flat 0.4 (24 and 24) the first $60 pays 78, 130 % of it."""
    brackets = [(100.0, 0.9), (None, 0.5)]
    paid = share(np.array([60.0, 60.0]), brackets, np.zeros(2, dtype=int)) + 0.4 * np.array([60.0, 60.0])
    assert paid.tolist() == pytest.approx([78.0, 70.0])
    assert paid[0] / 60.0 == pytest.approx(1.3)


@pytest.mark.parametrize("rate,pct", [(_FALLING, "130"), (_RISING, "110")])
def test_a_stepped_rate_counts_its_highest_bracket_toward_the_whole_line(tmp_path, capsys, rate, pct):
    """0.9 of the first $100 (then 0.5) beside 0.4: every dollar of the first $100 pays 1.3 (the one-hour
    run earns $5.04 of ``api``: all of it in that bracket); 0.7 past $1B beside 0.4 pays 1.1 of each dollar
    past it. Counted at their lowest bracket (0.5 + 0.4, 0.2 + 0.4) both were taken."""
    path = _money(tmp_path, [{"name": "a", "rate": rate, "base": ["api"]},
                             {"name": "b", "rate": 0.4, "base": ["api"]}])
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: economics.agreements.1.rate: with agreements.0.rate "
                            f"{max(b['rate'] for b in rate):g} (its highest bracket), the provider pays {pct} % of "
                            "the revenue of line "
                            "'api' over the same days; the shares of one line add up to at most 1 (its whole "
                            "revenue): give each share once, as a fraction (0.2 for 20 %)"]


def test_a_stepped_reverse_share_counts_its_highest_bracket_too(tmp_path, capsys):
    path = _money(tmp_path, [{"name": "a", "rate": 0.4, "base": ["api"]},
                             {"name": "b", "payer": "partner", "payee": "provider", "rate": 0.1, "base": ["subs"],
                              "reverse": {"rate": _FALLING, "base": ["api"]}}])
    assert _main(["validate", str(path)]) == 2
    assert "economics.agreements.1.reverse.rate: with agreements.0.rate 0.4, the provider pays 130 %" in \
        _err(capsys)[-1]


@pytest.mark.parametrize("agreements", [
    # a stepped rate whose highest bracket and the flat share fit in the whole line (0.2 + 0.8)
    [{"name": "a", "rate": [{"up_to_usd": 1.0e9, "rate": 0.2}, {"rate": 0.15}], "base": ["api"]},
     {"name": "b", "rate": 0.8, "base": ["api"]}],
    # a bracket the life-long running total has passed before the run (base_used_usd) is never paid again
    [{"name": "a", "rate": _FALLING, "base": ["api"], "base_used_usd": 100},
     {"name": "b", "rate": 0.5, "base": ["api"]}],
    # a revenue share plus a reverse share on the partner's resale of the same line: each party pays 0.2
    [{"name": "a", "rate": 0.2, "base": ["api"], "reverse": {"rate": 0.2, "base": ["api"]}}],
    # a forward share and a reverse share the provider pays back on another line
    [{"name": "a", "rate": 0.6, "base": ["api"]},
     {"name": "b", "payer": "partner", "payee": "provider", "rate": 0.3, "base": ["subs"],
      "reverse": {"rate": 0.4, "base": ["api"]}}],
])
def test_legitimate_shares_within_the_whole_line_are_taken(tmp_path, capsys, agreements):
    path = _money(tmp_path, agreements)
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()


def test_a_yearly_stepped_rate_counts_every_bracket_again(tmp_path, capsys):
    """``tier_period: year`` restarts the running total at each anniversary: the passed bracket comes back."""
    path = _money(tmp_path, [{"name": "a", "rate": _FALLING, "base": ["api"], "base_used_usd": 100,
                              "tier_period": "year"},
                             {"name": "b", "rate": 0.5, "base": ["api"]}])
    assert _main(["validate", str(path)]) == 2
    assert "the provider pays 140 %" in _err(capsys)[-1]


def test_a_renegotiated_agreement_of_one_name_runs_each_terms_in_its_window(tmp_path, capsys):
    """20 % until 2024-01-01 (inclusive), 10 % from 2024-01-02: a two-day run whose ``subs`` line earns
    10,000 / 31 a day (January) pays 2,000/31 then 1,000/31 under one name, settled as one row for the quarter
    (one agreement, one period, one netted payment: the settlement the statement shows)."""
    sc_path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["subs"], "until": "2024-01-01"},
                                {"name": "a", "rate": 0.1, "base": ["subs"], "from": "2024-01-02"}])
    sc = yaml.safe_load(sc_path.read_text())
    sc.update(duration="2d", warmup=0)
    sc["workload"]["arrival"]["rate"] = 0.01
    sc["metrics"] = {"interval": 3600}
    path = _scenario(tmp_path, sc)
    out = tmp_path / "r"
    assert _main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader((out / "settlements.csv").open()))
    assert [(r["agreement"], r["period"]) for r in rows] == [("a", "2024-Q1")]        # settle: quarter (the default)
    assert [float(r["forward_usd"]) for r in rows] == pytest.approx([2000 / 31 + 1000 / 31])


# ------------------------------------------------------------------ --set values and YAML comments
@pytest.mark.parametrize("value,read", [
    ("run#2", "run#2"),                                         # a '#' inside a word is no comment
    ("https://example.com/models#llama", "https://example.com/models#llama"),
    ("C:\\Users\\me\\runs", "C:\\Users\\me\\runs"),
    ("a[1]{b}:c", "a[1]{b}:c"),
    ("café-運行", "café-運行"),
    ("'run #2'", "run #2"),                                     # quoted for YAML: the words
])
def test_words_holding_marks_stay_the_words(tmp_path, capsys, value, read):
    from sim import load_scenario

    assert load_scenario(_scenario(tmp_path), [f"name={value}"]).scenario.name == read


@pytest.mark.parametrize("value,kept,dropped", [
    ("run #2", "'run'", "'#2'"),
    ("a#b #c", "'a#b'", "'#c'"),          # the word's own '#' hid the comment YAML dropped
])
def test_a_comment_yaml_drops_is_refused_with_how_to_quote(tmp_path, capsys, value, kept, dropped):
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"name={value}"]) == 2
    assert _err(capsys) == [f"--set: name: YAML reads {value!r} as {kept}, dropping {dropped} as a comment; to "
                            "mean the words, quote them for YAML inside the shell's quotes (--set "
                            f"'name=\"{value}\"'), or leave the comment out"]


@pytest.mark.parametrize("windows,days", [
    # new terms written from the day the old ones were written until: `until` is inclusive, so both hold it
    (({"until": "2024-07-01"}, {"from": "2024-07-01"}), "both hold 2024-07-01 (until is inclusive: the later "
                                                        "terms start the day after)"),
    (({"until": "2024-07-31"}, {"from": "2024-07-01"}), "both hold 2024-07-01 to 2024-07-31"),
    (({"from": "2024-03-01"}, {}), "both hold every day from 2024-03-01"),
])
def test_a_renegotiated_name_whose_windows_overlap_says_the_days_both_hold(tmp_path, capsys, windows, days):
    """A window's edges are whole days, ``until`` inclusive (docs/economics.md): the days both hold are
    counted by hand from the dates."""
    path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["subs"], **windows[0]},
                             {"name": "a", "rate": 0.1, "base": ["subs"], **windows[1]}])
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: economics.agreements.1.name: agreement 'a' is named twice (agreements.0) "
                            f"with overlapping from/until windows ({days}): the settlements and the ledger name "
                            "each agreement's rows by its name, so give each its own name (a repeated name needs "
                            "disjoint windows, a change of terms on a date)"]


@pytest.mark.parametrize("value,said", [
    ("#1", "'#1' is a YAML comment, which reads as nothing (null, which clears the field to its default); to mean "
           "the words, quote them for YAML inside the shell's quotes (--set 'name=\"#1\"'), or write null to clear "
           "the field"),
    ("[draft]v2", "not valid YAML: [draft] reads as a list, and v2 after it makes the value no YAML list; to mean the words, "
                  "quote them for YAML inside the shell's quotes (--set 'name=\"[draft]v2\"')"),
    ("Bob's run #2", "YAML reads \"Bob's run #2\" as \"Bob's run\", dropping '#2' as a comment; to mean the words, "
                     "quote them for YAML inside the shell's quotes (--set 'name=\"Bob'\"'\"'s run #2\"'), or leave "
                     "the comment out"),
])
def test_every_value_refused_as_yaml_shows_it_quoted_for_the_shell(tmp_path, capsys, value, said):
    """Someone who typed ``--set name="#1"`` has quoted the value, for the shell, which takes the quotes off:
    the message shows the quotes YAML needs inside the shell's, and the example, pasted, is taken."""
    from sim import load_scenario

    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", f"name={value}"]) == 2
    err = _err(capsys)
    assert err == [f"--set: name: {said}"]
    pasted = shlex.split(err[0].rsplit("(--set ", 1)[1].rsplit(")", 1)[0])[0]
    assert load_scenario(path, [pasted]).scenario.name == value


# ------------------------------------------------------------------ YAML merge keys
_MERGED = hc.MERGED_SCENARIO


@pytest.mark.parametrize("merge", [
    "{<<: [*b, {dist: fixed}]}",                       # both give dist, the same value: no reader differs
    "{<<: [*b, *b]}",
    "{<<: [{dist: fixed, value: 200}, *b]}",
])
def test_mappings_merged_by_one_key_that_give_a_key_the_same_value_are_taken(tmp_path, merge):
    """Which of two merged mappings wins a key matters only when they give it different values: every reader
    reads the output length 200 here, whichever it takes."""
    from sim import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(_MERGED.replace("MERGE", merge))
    assert load_scenario(path).scenario.workload.output_tokens.value == 200


def test_a_long_file_merging_a_key_of_one_value_twice_is_taken_too(tmp_path):
    """Text over the fast parser's threshold is read by libyaml's loader: the same reading."""
    from sim import load_scenario
    from sim.scenario.safe_yaml import FAST_BYTES

    path = tmp_path / "s.yaml"
    text = _MERGED.replace("MERGE", "{<<: [*b, {dist: fixed}]}")
    path.write_text(text + "#" * (FAST_BYTES + 10) + "\n")
    assert load_scenario(path).scenario.workload.output_tokens.value == 200


# ------------------------------------------------------------------ a per-pool block's unknown key
def test_an_unknown_key_in_a_pools_energy_block_is_said_not_an_internal_error(tmp_path, capsys):
    """``economics.energy.pools`` maps pool names to watts (idle_w, peak_w); a price per kWh set there (it
    belongs one level up) was 'internal error: IndexError' while the message looked for the block's keys."""
    sc = hc._small()
    sc["economics"] = {"energy": {"owned": ["p"], "usd_per_kwh": 0.08}}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--set", "economics.energy.pools.p.usd_per_kwh=0.1"]) == 2
    err = _err(capsys)
    # the block's keys as docs/economics.md lists them (pools.<pool>.idle_w and peak_w), and where the key goes
    assert err == [f"{path}: economics.energy.pools.p.usd_per_kwh: unknown key 'usd_per_kwh'; allowed: idle_w, "
                   "peak_w; did you mean economics.energy.usd_per_kwh?"]


@pytest.mark.parametrize("block", [
    "- name: api  # the public API\n  usd_per_million_output_tokens: 10\n# more lines later\n",
    "[{name: api,\n  usd_per_million_output_tokens: 10}]   # the public API\n",
])
def test_a_block_of_several_lines_keeps_its_comments(tmp_path, block):
    """A value of several lines (a file's block pasted, --set "economics.revenue=$(cat lines.yaml)") is YAML
    text, where a comment is a comment: its lines are read, as in a scenario file."""
    from sim import load_scenario

    loaded = load_scenario(_scenario(tmp_path), [f"economics.revenue={block}"])
    assert [line.name for line in loaded.scenario.economics.revenue] == ["api"]
