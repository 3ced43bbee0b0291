"""Hostile input, round 21: YAML's merge keys, ``--set`` values YAML reads as a list or mapping it then
refuses, revenue-share agreements written twice (one name, or more than the whole of a line between them),
and the last calendar year a run may touch.

Each is exit 2 from the command line (a :class:`~sim.errors.ScenarioError` from Python) with a message naming
the file or option, the field and what is allowed; never a traceback, or a run that silently means
something else.
"""
from __future__ import annotations

import pytest

import hostile_cases as hc
from sim.errors import ScenarioError

_main, _err, _scenario = hc.exit_status, hc.err_lines, hc.write_scenario


# ------------------------------------------------------------------ YAML merge keys
_MERGED = hc.MERGED_SCENARIO


def test_a_merge_key_given_twice_in_one_mapping_is_refused(tmp_path, capsys):
    """``{<<: *b, <<: {value: 30}}``: the second ``<<`` merged over the first, silently (a key given twice is
    refused everywhere else in a scenario); YAML's own way to merge several is one key, ``<<: [*a, *b]``."""
    path = tmp_path / "s.yaml"
    path.write_text(_MERGED.replace("MERGE", "{<<: *b, <<: {value: 30}}"))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: line 8: duplicate merge key '<<' (first given on line 8); merge several "
                            "mappings with one, <<: [*a, *b]"]


@pytest.mark.parametrize("merge,output", [
    ("{<<: *b, value: 20}", 20),             # a key of its own overrides the merged one, in either order
    ("{value: 20, <<: *b}", 20),
    ("{<<: [{value: 30}, {dist: fixed}]}", 30),     # several merged, each key given by one
    ("{<<: [{value: 30}, *b], value: 40}", 40),     # or given by the mapping itself
    ("*b", 200),
])
def test_merge_keys_written_once_still_read_as_yaml_intends(tmp_path, merge, output):
    from sim import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(_MERGED.replace("MERGE", merge))
    assert load_scenario(path).scenario.workload.output_tokens.value == output


@pytest.mark.parametrize("merge,lines", [
    ("{<<: [{value: 30}, *b]}", "8 and 7"),
    ("{<<: [*b, {value: 30}]}", "7 and 8"),
])
def test_mappings_merged_by_one_key_that_give_the_same_key_are_refused(tmp_path, capsys, merge, lines):
    """YAML 1.1's merge type takes the first mapping's value; the PyYAML this runs on (6.0.4) took the last for
    a key of two or more characters and the first for a one-character key (yaml/pyyaml#953): ``value: 30``
    ran as 200, and the same file ran otherwise under PyYAML 6.0.3."""
    path = tmp_path / "s.yaml"
    path.write_text(_MERGED.replace("MERGE", merge))
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: line 8: the mappings merged by '<<' both give 'value' (lines {lines}); which "
                            "one wins differs between YAML readers: give 'value' in this mapping itself, or in one "
                            "of them only"]


def test_a_long_file_with_a_merge_key_twice_is_refused_as_a_short_one(tmp_path, capsys):
    """Text over the fast parser's threshold is read by libyaml's loader: the same refusal, the same line."""
    from sim.scenario.safe_yaml import FAST_BYTES

    path = tmp_path / "s.yaml"
    text = _MERGED.replace("MERGE", "{<<: *b, <<: {value: 30}}")
    path.write_text(text + "#" * (FAST_BYTES + 10) + "\n")
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys)[0].startswith(f"{path}: line 8: duplicate merge key '<<'")


# ------------------------------------------------------------------ --set values YAML refuses
@pytest.mark.parametrize("override,said", [
    # a mapping with a key twice was kept as the words: "must be a mapping (got '{process: ...}')" at best,
    # and a name field (gpu, model) took the words as a name to look up
    ("workload.arrival={process: poisson, rate: 2, rate: 3}",
     "--set: workload.arrival: not valid YAML: duplicate key 'rate'; give each key once"),
    ("fleet.pools.0.gpu={bf16_tflops: 989, bf16_tflops: 2}",
     "--set: fleet.pools.0.gpu: not valid YAML: duplicate key 'bf16_tflops'; give each key once"),
    ("fleet.pools.0.batching={max_num_seqs: 8, yes: 3}",
     "--set: fleet.pools.0.batching: not valid YAML: key 'yes' reads as true, not a name; quote it if it is "
     "meant as text"),
    ("fleet.pools.0.batching={max_num_seqs: 8",
     "--set: fleet.pools.0.batching: not valid YAML: column 17: expected ',' or '}', but got '<stream end>' "
     "(while parsing a flow mapping); to mean the words, quote them for YAML inside the shell's quotes (--set "
     "'fleet.pools.0.batching=\"{max_num_seqs: 8\"')"),
    ("fleet.pools.0.batching=[1, 2",
     "--set: fleet.pools.0.batching: not valid YAML: column 6: expected ',' or ']', but got '<stream end>' "
     "(while parsing a flow sequence); to mean the words, quote them for YAML inside the shell's quotes (--set "
     "'fleet.pools.0.batching=\"[1, 2\"')"),
    ("name=[draft]v2",
     "--set: name: not valid YAML: [draft] reads as a list, and v2 after it makes the value no YAML list; to mean the "
     "words, quote them for YAML inside the shell's quotes (--set 'name=\"[draft]v2\"')"),
    # a YAML comment: the value read as null, which cleared the price (the run then cost nothing, said only
    # as a warning), or as the words before it
    ("economics.gpu_hour_usd=#2.5",
     "--set: economics.gpu_hour_usd: '#2.5' is a YAML comment, which reads as nothing (null, which clears the "
     "field to its default); to mean the words, quote them for YAML inside the shell's quotes (--set "
     "'economics.gpu_hour_usd=\"#2.5\"'), or write null to clear the field"),
    ("name=run #2", "--set: name: YAML reads 'run #2' as 'run', dropping '#2' as a comment; to mean the words, "
                    "quote them for YAML inside the shell's quotes (--set 'name=\"run #2\"'), or leave the "
                    "comment out"),
    ("fleet.pools.0.replicas=2 # two", "--set: fleet.pools.0.replicas: YAML reads '2 # two' as 2, dropping "
                                       "'# two' as a comment; to mean the words, quote them for YAML inside the "
                                       "shell's quotes (--set 'fleet.pools.0.replicas=\"2 # two\"'), or leave "
                                       "the comment out"),
])
def test_an_override_yaml_reads_as_a_broken_mapping_or_list_says_why(tmp_path, capsys, override, said):
    path = _scenario(tmp_path)
    assert _main(["validate", str(path), "--set", override]) == 2
    assert _err(capsys) == [said]


def test_the_python_api_refuses_the_same_override(tmp_path):
    from sim import load_scenario

    path = _scenario(tmp_path)
    with pytest.raises(ScenarioError, match=r"workload\.arrival: not valid YAML: duplicate key 'rate'"):
        load_scenario(path, ["workload.arrival={process: poisson, rate: 2, rate: 3}"])


@pytest.mark.parametrize("override,name", [
    ("name=a {b", "a {b"),            # text YAML cannot read, not meant as a list or mapping: the words
    ("name=x: y: z", "x: y: z"),
    ('name="[draft]v2"', "[draft]v2"),   # quoted: text starting with a bracket
    ('name="#2 run"', "#2 run"),         # quoted: a hash is text
    ("name=run#2", "run#2"),             # a hash inside a word is no comment
])
def test_words_yaml_cannot_read_stay_words(tmp_path, override, name):
    from sim import load_scenario

    path = _scenario(tmp_path)
    assert load_scenario(path, [override]).scenario.name == name



def _dotted_pools(tmp_path):
    sc = hc._small()
    sc["fleet"]["pools"] = [{"name": "llama-3.1", "gpu": "h100-sxm", "replicas": 1},
                            {"name": "b", "gpu": "h100-sxm", "replicas": 1}]
    sc["fleet"]["router"] = {"policy": "weighted", "weights": {"llama-3.1": 1, "b": 1}}
    return _scenario(tmp_path, sc)


def test_a_key_with_a_dot_in_its_name_is_set_by_its_name(tmp_path):
    """A pool named ``llama-3.1``: ``--set fleet.router.weights.llama-3.1=3`` was read as item 1 of a list
    ``llama-3``: "fleet.router.weights.llama-3: there is no list here to take item 1 of"."""
    from sim import load_scenario

    path = _dotted_pools(tmp_path)
    weights = load_scenario(path, ["fleet.router.weights.llama-3.1=3"]).scenario.fleet.router.weights
    assert weights == {"llama-3.1": 3, "b": 1}


def test_a_path_past_a_dotted_key_s_value_is_said_at_that_key(tmp_path, capsys):
    path = _dotted_pools(tmp_path)
    assert _main(["validate", str(path), "--set", "fleet.router.weights.llama-3.1.x=3"]) == 2
    assert _err(capsys) == ["--set: fleet.router.weights.llama-3.1: is a value, not a mapping; cannot set 'x'"]


def test_a_key_of_its_own_still_goes_before_a_dotted_one():
    from sim.scenario.load import apply_overrides

    assert apply_overrides({"w": {"a": {"b": 1}, "a.b": 2}}, ["w.a.b=3"]) == {"w": {"a": {"b": 3}, "a.b": 2}}
    assert apply_overrides({"w": {"a.b": 1}}, ["w.x.y=5"]) == {"w": {"a.b": 1, "x": {"y": 5}}}


@pytest.mark.parametrize("override,said", [
    # the slip one level up was not seen: "give the whole list, e.g. --set 'Fleet.pools=[...]'", a list the
    # schema then refuses as an unknown key
    ("Fleet.pools.0.replicas=2", "--set: Fleet.pools: there is no list here to take item 0 of (did you mean "
                                 "fleet.pools?)"),
    ("economic.revenue.0.usd_per_month=1", "--set: economic.revenue: there is no list here to take item 0 of "
                                           "(did you mean economics.revenue?)"),
    ("xyz.pools.0.replicas=2", "--set: xyz.pools: there is no list here to take item 0 of; give the whole list, "
                               "e.g. --set 'xyz.pools=[...]'"),
])
def test_a_slip_above_a_list_index_is_said_where_it_is(tmp_path, capsys, override, said):
    sc = hc._small()
    sc["economics"] = {"gpu_hour_usd": 1.0, "revenue": [{"name": "subs", "usd_per_month": 100}]}
    path = _scenario(tmp_path, sc)
    assert _main(["validate", str(path), "--set", override]) == 2
    assert _err(capsys) == [said]


_ALIASED = _MERGED.replace("MERGE", "*b")        # output_tokens: *b, the same mapping as prompt_tokens


def test_an_override_of_an_aliased_mapping_changes_that_place_only(tmp_path):
    """``output_tokens: *b`` is the mapping of ``prompt_tokens`` in YAML: ``--set workload.prompt_tokens.value=500``
    set the output length to 500 too, silently (a copy keeps the two places one object)."""
    from sim import load_scenario

    path = tmp_path / "s.yaml"
    path.write_text(_ALIASED)
    w = load_scenario(path, ["workload.prompt_tokens.value=500"]).scenario.workload
    assert (w.prompt_tokens.value, w.output_tokens.value) == (500, 200)
    w = load_scenario(path).scenario.workload
    assert (w.prompt_tokens.value, w.output_tokens.value) == (200, 200)


def test_a_sweep_over_an_aliased_mapping_varies_that_place_only(tmp_path):
    import sim

    path = tmp_path / "s.yaml"
    path.write_text(_ALIASED.replace("duration: 60", "duration: 20"))
    result = sim.sweep(path, grid={"workload.prompt_tokens.value": [100, 300]}, executor="serial",
                       out=tmp_path / "sw")
    # every request is 20 s x 2 req/s of fixed lengths: the output tokens per request stay 200
    outs = {row["workload.prompt_tokens.value"]: row["throughput.output_tokens_per_s"] / row["throughput.requests_per_s"]
            for row in result}
    assert outs == pytest.approx({100: 200, 300: 200})

# ------------------------------------------------------------------ agreements written twice
def _money(tmp_path, agreements: list[dict]):
    sc = hc._small()
    sc["start"] = "2024-01-01"
    sc["duration"] = 3600
    sc["economics"] = {"gpu_hour_usd": 2.0,
                       "revenue": [{"name": "api", "usd_per_million_input_tokens": 2.5,
                                    "usd_per_million_output_tokens": 10},
                                   {"name": "subs", "usd_per_month": 10000}],
                       "agreements": agreements}
    return _scenario(tmp_path, sc)


def test_two_agreements_of_one_name_at_once_are_refused(tmp_path, capsys):
    """Both ran, and settlements.csv and the ledger held two rows named ``a`` per period that could not be
    told apart (a repeated revenue line's name is refused the same way)."""
    path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["api"]},
                             {"name": "a", "rate": 0.1, "base": ["subs"], "from": "2024-01-01"}])
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: economics.agreements.1.name: agreement 'a' is named twice (agreements.0) "
                            "with overlapping from/until windows (both hold every day from 2024-01-01): the "
                            "settlements and the ledger name each "
                            "agreement's rows by its name, so give each its own name (a repeated name needs "
                            "disjoint windows, a change of terms on a date)"]


def test_one_name_for_terms_that_change_on_a_date_is_taken(tmp_path, capsys):
    path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["api"], "until": "2024-06-30"},
                             {"name": "a", "rate": 0.1, "base": ["api"], "from": "2024-07-01"}])
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()


def test_shares_of_one_line_over_its_whole_revenue_are_refused(tmp_path, capsys):
    """70 % and 60 % of ``api`` to the partner: the run paid 130 % of the line's revenue (13.36 of 10.28 in
    a two-hour run), without a word; each agreement alone is refused past 1."""
    path = _money(tmp_path, [{"name": "a", "rate": 0.7, "base": ["api"]},
                             {"name": "b", "rate": 0.6, "base": ["api", "subs"]}])
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys) == [f"{path}: economics.agreements.1.rate: with agreements.0.rate 0.7, the provider pays "
                            "130 % of the revenue of line 'api' over the same days; the shares of one line add up "
                            "to at most 1 (its whole revenue): give each share once, as a fraction (0.2 for 20 %)"]


def test_a_reverse_share_counts_toward_what_its_payer_pays_of_the_line(tmp_path, capsys):
    """The second agreement's reverse share is paid back by its payee, the provider: 0.7 + 0.4 of ``api``."""
    path = _money(tmp_path, [{"name": "a", "rate": 0.7, "base": ["api"]},
                             {"name": "b", "payer": "partner", "payee": "provider", "rate": 0.1, "base": ["subs"],
                              "reverse": {"rate": 0.4, "base": ["api"]}}])
    assert _main(["validate", str(path)]) == 2
    assert _err(capsys)[-1] == (f"{path}: economics.agreements.1.reverse.rate: with agreements.0.rate 0.7, the "
                                "provider pays 110 % of the revenue of line 'api' over the same days; the shares of "
                                "one line add up to at most 1 (its whole revenue): give each share once, as a "
                                "fraction (0.2 for 20 %)")


@pytest.mark.parametrize("agreements", [
    [{"name": "a", "rate": 0.5, "base": ["api"]}, {"name": "b", "rate": 0.5, "base": ["api"]}],   # exactly all
    [{"name": "a", "rate": 0.7, "base": ["api"], "until": "2024-03-01"},                           # one after
     {"name": "b", "rate": 0.6, "base": ["api"], "from": "2024-03-02"}],                           # the other
    [{"name": "a", "rate": 0.7, "base": ["api"]}, {"name": "b", "rate": 0.6, "base": ["subs"]}],  # two lines
    [{"name": "a", "rate": 0.7, "base": ["api"]},                                                  # the other
     {"name": "b", "payer": "partner", "payee": "provider", "rate": 0.6, "base": ["api"]}],       # party pays
    # brackets: counted at their highest rate, what they pay while the running base is in it (0.6 + 0.4)
    [{"name": "a", "rate": [{"up_to_usd": 100, "rate": 0.6}, {"rate": 0.5}], "base": ["api"]},
     {"name": "b", "rate": 0.4, "base": ["api"]}],
])
def test_shares_of_at_most_the_whole_line_at_any_time_are_taken(tmp_path, capsys, agreements):
    path = _money(tmp_path, agreements)
    assert _main(["validate", str(path)]) == 0
    capsys.readouterr()


def test_reprice_refuses_shares_over_the_whole_line_too(tmp_path, capsys):
    path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["api"]}])
    out = tmp_path / "r"
    assert _main(["run", str(path), "--out", str(out)]) == 0
    capsys.readouterr()
    assert _main(["reprice", str(out), "--set",
                  "economics.agreements=[{name: a, rate: 0.7, base: [api]}, {name: b, rate: 0.6, base: [api]}]",
                  "--out", str(tmp_path / "r2")]) == 2
    assert "economics.agreements.1.rate: with agreements.0.rate 0.7, the provider pays 130 %" in _err(capsys)[-1]


# ------------------------------------------------------------------ the last calendar year
def test_a_run_on_the_last_day_of_the_last_year_with_a_share_is_taken(tmp_path, capsys):
    """A run of one hour from 9000-12-31 (the duration's own check takes it) was refused for its payment lag
    of 0 s, "at most 0 s": the lag's room was counted to the first second of 31 December, not its end."""
    path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["api"], "settle": "month"}])
    assert _main(["validate", str(path), "--set", "start=9000-12-31"]) == 0
    capsys.readouterr()
    assert _main(["validate", str(path), "--set", "start=9000-12-31",
                  "--set", "economics.agreements.0.payment_lag=2d"]) == 2
    assert _err(capsys)[-1] == (f"{path}: economics.agreements.0.payment_lag: moves cash after the year 9000 "
                                "(got 172800 s; at most 8.28e+04 s from start 9000-12-31 and duration 3600 s)")


def test_a_run_past_the_last_year_is_said_once_at_its_start(tmp_path, capsys):
    """From 9999-12-31 the run is past the year 9000; each agreement's lag of 0 s was refused beside it. The
    start is at fault, not the hour's duration (said at ``duration`` before)."""
    path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["api"]}])
    assert _main(["validate", str(path), "--set", "start=9999-12-31"]) == 2
    assert _err(capsys) == [f"{path}: start: must be in the year 9000 or before, where the calendar of the cash flows "
                            "ends (got 9999-12-31)"]



# ------------------------------------------------------------------ a mapping from Python
def test_numpys_scalars_from_python_are_read_as_their_values():
    """``drain=np.bool_(True)`` (from a notebook's array) was refused as "must be true or false (got True)"."""
    import numpy as np

    from sim import load_scenario

    sc = hc._small()
    sc.update(drain=np.bool_(True), seed=np.int32(7))
    sc["workload"]["arrival"]["rate"] = np.float32(2.5)
    loaded = load_scenario(sc).scenario
    assert (loaded.drain, loaded.seed, loaded.workload.arrival.rate) == (True, 7, 2.5)
    assert isinstance(sc["drain"], np.bool_)          # the caller's mapping is left as it was


def test_a_numpy_array_or_a_mapping_that_holds_itself_is_still_refused_by_field():
    import numpy as np

    from sim import load_scenario

    sc = hc._small()
    sc["fleet"]["pools"][0]["replicas"] = np.array([2])
    with pytest.raises(ScenarioError, match=r"fleet\.pools\.0\.replicas: must be a whole number \(got \[2\]\)"):
        load_scenario(sc)
    sc = hc._small()
    sc["fleet"]["pools"].append(sc["fleet"]["pools"])
    with pytest.raises(ScenarioError, match=r"fleet\.pools\.1: must be a mapping of keys to values"):
        load_scenario(sc)


def test_a_sweep_of_a_mapping_with_numpys_scalars_runs(tmp_path):
    """The sweep's points are validated from its own copy of the mapping: it refused ``np.bool_(True)`` too."""
    import numpy as np

    import sim

    sc = hc._small()
    sc.update(drain=np.bool_(True), duration=20)
    result = sim.sweep(sc, grid={"fleet.pools.0.replicas": [1]}, executor="serial", out=tmp_path / "sw")
    assert len(result) == 1 and result.configurations[0]["n"] == 1


def test_a_lag_of_one_day_is_said_in_the_singular(tmp_path, capsys):
    from sim.scenario.load import load_scenario

    path = _money(tmp_path, [{"name": "a", "rate": 0.2, "base": ["api"], "payment_lag": "1d"}])
    with pytest.warns(Warning, match=r"payment_lag: 1 day is longer than the simulated horizon \(3600 s\)"):
        load_scenario(path)


# ------------------------------------------------------------------ an --out through the folder itself
@pytest.mark.parametrize("how", ["through", "from_inside"])
def test_a_rerun_into_a_folder_named_through_itself_replaces_it(tmp_path, capsys, monkeypatch, how):
    """``--out run1/../run1`` (or ``--out ../run1`` from inside run1): the earlier result was renamed aside, and
    the path then led nowhere (run1/.. no longer existed), so the new result was not put in nor the old one
    back: run1 was gone, its result left in a hidden ``.run1.*.old`` folder ("cannot read or write a file")."""
    path = _scenario(tmp_path)
    run1 = tmp_path / "run1"
    assert _main(["run", str(path), "--out", str(run1)]) == 0
    out = str(run1 / ".." / "run1")
    if how == "from_inside":
        monkeypatch.chdir(run1)
        out = "../run1"
    assert _main(["run", str(path), "--set", "seed=2", "--out", out]) == 0
    monkeypatch.chdir(tmp_path)
    err = capsys.readouterr().err
    assert "cannot read or write" not in err and "Traceback" not in err, err
    import json

    assert json.loads((run1 / "summary.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1", "s.yaml"]     # no staged or old folder left
