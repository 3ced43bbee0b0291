"""Review of hostile input round 22: the renegotiated agreement's one settlement row, the split modules,
calendar days and names in old result folders, and Python mapping overrides against ``--set``.

* Each row of ``settlements.csv`` is one cash movement, and the statement's cash columns show each one:
  two settlements of one name falling due at the same moment for different periods (monthly terms
  followed by quarterly ones, or payment lags that meet) were netted by the statement into one payment,
  so its cash paid and received no longer matched the rows' (worked by hand below).
* Python mapping overrides: ``sim.run`` refused a mapping with ``--set`` syntax (``load_scenario`` took it);
  ``sim.reprice`` recorded a numpy integer as a quoted text. ``sim.sweep`` took one already.
* Result folders written before the name rule: a pool ' p ' in ``usage.npz`` stopped re-pricing with an
  internal error; a saved block the rule refuses now ends with a line saying how to re-price it.
* Midnight UTC written in another zone (05:00 at +05:00) is that day, not refused as not midnight UTC.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

DAY = 86400.0
# $3,100 a month is $100 a day in every 31-day month (January, March), $3,100/28 in February
REVENUE = [{"name": "api", "usd_per_month": 3100}, {"name": "resale", "owner": "partner", "usd_per_month": 3100}]


def _evaluate(agreements: list[dict], days: float):
    from sim.economics import evaluate, parse_economics
    from sim.economics.synthetic import usage_from_rows

    cfg = parse_economics({"revenue": REVENUE, "period": "month", "agreements": agreements})
    return evaluate(cfg, dt.date(2025, 1, 1), usage_from_rows(days * DAY))


def _cash(result) -> dict[str, tuple[float, float]]:
    """Per statement row: (cash revenue share paid, received)."""
    return {r["period"] + ("+" if r.get("after_horizon") else ""):
            (round(r["cash_revenue_share_paid_usd"], 6), round(r["cash_revenue_share_received_usd"], 6))
            for r in result.statement}


@pytest.mark.parametrize("old,new", [
    # monthly terms until Mar 9, quarterly from Mar 10: March's row and Q1's are both paid on Apr 1
    ({"settle": "month", "until": "2025-03-09"}, {"settle": "quarter", "from": "2025-03-10"}),
])
def test_two_settlements_of_one_name_paid_at_one_moment_are_each_their_own_payment(old, new):
    """The provider pays 10 % of api: $310 for January, $310 for February, $90 for March 1-9 (paid Apr 1).
    From Mar 10 the partner pays 30 % of resale quarterly: 22 days of March, $660, for Q1 (paid Apr 1).
    settlements.csv: the provider pays 90 and the partner pays 660 on Apr 1, two rows; the statement
    showed one payment of 570 received, so its cash paid (620) and received (1,500 with Q2's 930) were
    not the rows' 710 and 1,590."""
    r = _evaluate([{"name": "deal", "rate": 0.1, "base": ["api"], **old},
                   {"name": "deal", "payer": "partner", "payee": "provider", "rate": 0.3, "base": ["resale"],
                    **new}], 120)
    rows = [(s.period, round(s.provider_net_usd, 6), s.cash_date) for s in r.settlements]
    apr1 = dt.date(2025, 4, 1)
    assert rows == [("2025-01", -310, dt.date(2025, 2, 1)), ("2025-02", -310, dt.date(2025, 3, 1)),     # by the
                    ("2025-Q1", 660, apr1), ("2025-03", -90, apr1), ("2025-Q2", 930, dt.date(2025, 7, 1))]  # period's end
    cash = _cash(r)
    assert cash["2025-04"] == (90, 660)
    assert sum(p for p, _ in cash.values()) == pytest.approx(710)
    assert sum(q for _, q in cash.values()) == pytest.approx(1590)


def test_two_settlements_of_one_name_whose_payment_lags_meet_are_each_their_own_payment():
    """January's row with a 28-day lag (Feb 1 + 28 days) and February's with none are both paid on Mar 1:
    the provider pays $310 (10 % of January's api), the partner $930 (30 % of February's resale)."""
    r = _evaluate([{"name": "deal", "rate": 0.1, "base": ["api"], "settle": "month", "payment_lag": "28d",
                    "until": "2025-01-31"},
                   {"name": "deal", "payer": "partner", "payee": "provider", "rate": 0.3, "base": ["resale"],
                    "settle": "month", "from": "2025-02-01"}], 59)
    assert [(s.period, round(s.provider_net_usd, 6), s.cash_date) for s in r.settlements] == [
        ("2025-01", -310, dt.date(2025, 3, 1)), ("2025-02", 930, dt.date(2025, 3, 1))]
    assert _cash(r)["2025-03+"] == (310, 930)


# ------------------------------------------------------------------ Python mapping overrides against --set
def _small(tmp_path):
    import hostile_cases as hc

    sc = hc._small()
    sc.update(start="2025-01-01", duration=30)
    sc["economics"] = {"gpu_hour_usd": 1.0}
    return hc.write_scenario(tmp_path, sc)


MAPPING = {"fleet.pools.0.replicas": np.int64(2), "economics.gpu_hour_usd": np.float64(2.5),
           "workload.prompt_tokens": {"dist": "fixed", "value": np.int32(100)}, "warmup": None}
TEXTS = ["fleet.pools.0.replicas=2", "economics.gpu_hour_usd=2.5", "workload.prompt_tokens={dist: fixed, value: 100}",
         "warmup=null"]


def _same(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_seconds"}


def test_sim_run_takes_a_mapping_of_overrides_as_set_takes_their_texts(tmp_path):
    """``sim.run(path, overrides={...})`` was refused with --set syntax ('override must look like key.path=value',
    each key iterated as a text) while ``sim.load_scenario`` took the same mapping: numpy scalars, a nested
    mapping and None run as the texts do (the same summary, to the byte: one seed)."""
    import sim

    path = _small(tmp_path)
    try:
        MAPPING["warmup"] = 0          # null is no warmup to --set either: both refused alike (below)
        texts = [*TEXTS[:3], "warmup=0"]
        a, b = sim.run(path, overrides=MAPPING), sim.run(path, overrides=texts)
    finally:
        MAPPING["warmup"] = None
    assert _same(a.summary) == _same(b.summary)
    assert a.summary["gpu_hours"] == b.summary["gpu_hours"] and a.scenario.scenario == b.scenario.scenario
    assert a.summary["cost"]["compute_usd"] == pytest.approx(2 * 2.5 * 30 / 3600)     # 2 GPUs, 30 s, $2.50/h
    with pytest.raises(Exception) as by_map:
        sim.run(path, overrides={"warmup": None})
    with pytest.raises(Exception) as by_text:
        sim.run(path, overrides=["warmup=null"])
    assert type(by_map.value) is type(by_text.value)
    assert str(by_map.value).split(": ", 1)[1] == str(by_text.value).split(": ", 1)[1]


def test_sim_sweep_takes_a_mapping_of_overrides_as_set_takes_their_texts(tmp_path):
    """The base overrides of a sweep, as a mapping of numpy values and a nested block or as texts: the same rows."""
    import sim

    path = _small(tmp_path)
    texts = [*TEXTS[:3], "warmup=0"]
    rows = [sim.sweep(path, {"seed": [1, 2]}, overrides=o, progress=False)
            for o in ({**MAPPING, "warmup": 0}, texts)]
    assert [{k: v for k, v in r.items() if "wall" not in k} for r in rows[0]] == \
        [{k: v for k, v in r.items() if "wall" not in k} for r in rows[1]]
    assert rows[0][0]["cost.compute_usd"] == pytest.approx(2 * 2.5 * 30 / 3600)

def test_reprice_records_a_mapping_s_numpy_numbers_as_the_numbers_set_would_give(tmp_path, capsys):
    """``sim.reprice(folder, {"economics.gpu_hour_usd": np.int64(2)})`` recorded ``economics.gpu_hour_usd="2"``
    (numpy's integer is no JSON number, so it was written as its text, quoted): ``fleetsim compare`` then listed
    it against ``--set economics.gpu_hour_usd=2`` as a setting that differs. Twice $1 a GPU-hour is twice the bill."""
    import hostile_cases as hc
    import sim

    out = tmp_path / "r"
    assert hc.exit_status(["run", str(_small(tmp_path)), "--out", str(out), "--figures", "none", "--quiet"]) == 0
    capsys.readouterr()
    given = {"economics.gpu_hour_usd": np.int64(2), "economics.revenue": [{"name": "s", "usd_per_month": np.int64(100)}],
             "economics.discount_rate": np.float32(0.5)}
    _, by_map = sim.reprice(out, given)
    texts = ["economics.gpu_hour_usd=2", 'economics.revenue=[{"name": "s", "usd_per_month": 100}]',
             "economics.discount_rate=0.5"]
    _, by_text = sim.reprice(out, texts)
    assert by_map["repriced"]["overrides"] == texts
    assert by_map["cost"] == by_text["cost"] and by_map["cashflow"] == by_text["cashflow"]
    assert by_map["cost"]["compute_usd"] == pytest.approx(2 * 30 / 3600)


# ------------------------------------------------------------------ result folders written before round 22
def test_a_saved_usage_whose_pool_name_has_a_space_at_either_end_is_priced():
    """A result folder written before names with a space at either end were refused saves its pool ' p ' in
    usage.npz; re-pricing it under gpu_hour_usd built the pool's price with the scenario's name check and
    stopped with an internal error (exit 1, a pydantic ValidationError). 8 GPUs for an hour at $2: $16."""
    from sim.economics import evaluate, parse_economics
    from sim.economics.synthetic import usage_from_rows

    usage = usage_from_rows(3600, intervals=[(" p ", 8, 0, 3600)])
    r = evaluate(parse_economics({"gpu_hour_usd": 2.0}), dt.date(2025, 1, 1), usage)
    assert r.cost["compute_usd"] == pytest.approx(16.0)


def _folder_of_an_earlier_version(tmp_path, capsys):
    """A result folder whose saved economics block names its revenue line ' subs ' (with its agreement's base),
    as a run before names with a space at either end were refused wrote it (its fingerprints its own)."""
    import json

    import hostile_cases as hc
    from sim.economics.usage_file import read_usage, write_usage
    from sim.report.fingerprint import KEY, folder_fingerprints
    from sim.scenario.economics import parse_economics

    sc = hc._small()
    sc.update(start="2025-01-01", duration=30)
    sc["economics"] = {"gpu_hour_usd": 1.0, "revenue": [{"name": "subs", "usd_per_month": 100}],
                       "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs"]}]}
    out = tmp_path / "old"
    assert hc.exit_status(["run", str(hc.write_scenario(tmp_path, sc)), "--out", str(out), "--figures", "none",
                           "--quiet"]) == 0
    capsys.readouterr()
    saved = read_usage(out / "usage.npz")
    cfg = parse_economics(saved.economics)
    cfg.revenue[0].__dict__["name"], cfg.agreements[0].__dict__["base"] = " subs ", [" subs "]    # unchecked
    write_usage(out, saved.usage, cfg, saved.start)
    summary = json.loads((out / "summary.json").read_text())
    summary[KEY] = folder_fingerprints(out)
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def test_reprice_of_a_folder_whose_saved_block_a_newer_check_refuses_says_how_to_re_price_it(tmp_path, capsys):
    """The problems name fields of a block the user cannot edit (it is in usage.npz): a closing line says so,
    and the --set values it asks for re-price the folder ($0.10 of the line's $100 a month for 30 s, 10 %)."""
    import hostile_cases as hc

    out = _folder_of_an_earlier_version(tmp_path, capsys)
    assert hc.exit_status(["reprice", str(out), "--set", "economics.gpu_hour_usd=2"]) == 2
    lines = hc.err_lines(capsys)
    assert lines[0].startswith(f"{out}: economics.revenue.0.name: must not begin or end with a space (got ' subs ')")
    assert lines[-1] == (f"{out}: the economics block saved in usage.npz is refused as its run took it (a check "
                         f"newer than the run): re-price with --set for each field above (--set KEY=VALUE, the "
                         f"value the message asks for), or run the scenario again with --out")
    assert hc.exit_status(["reprice", str(out), "--set", "economics.revenue.0.name=subs", "--set",
                           "economics.agreements.0.base=[subs]", "--out", str(tmp_path / "new")]) == 0


# ------------------------------------------------------------------ calendar days
@pytest.mark.parametrize("value", ["2025-01-01T05:00:00+05:00", "'2024-12-31T19:00:00-05:00'"])
def test_midnight_utc_written_in_another_zone_is_that_utc_day(tmp_path, capsys, value):
    """5:00 at +05:00 is midnight UTC: refused with 'days begin at midnight UTC, and this moment is 2025-01-01
    00:00 UTC', which names the very moment the rule asks for; it is the day 2025-01-01."""
    import hostile_cases as hc
    from sim import load_scenario

    sc = hc._small()
    path = hc.write_scenario(tmp_path, sc)
    path.write_text(path.read_text() + f"start: {value}\n")
    assert load_scenario(str(path)).scenario.start == dt.date(2025, 1, 1)
    assert hc.exit_status(["validate", str(path)]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("key", ["", "  "])
def test_a_blank_key_in_a_mapping_of_overrides_is_named_as_written(key):
    """A blank key of a Python mapping was named by the pair it came in, ``('', 3)``: the problem's field is the key
    as the caller wrote it, quoted (a blank one shows as nothing otherwise), as a bad key of ``--set`` is its text."""
    from sim.errors import ScenarioError
    from sim.scenario.overrides import apply_overrides

    with pytest.raises(ScenarioError) as exc:
        apply_overrides({"seed": 1}, {key: 3})
    assert exc.value.problems == [(repr(key), "override key must be a dotted path such as fleet.pools.0.replicas")]
    assert str(exc.value) == f"overrides: {key!r}: override key must be a dotted path such as fleet.pools.0.replicas"


def test_terms_listed_newest_first_are_said_in_the_order_of_their_dates():
    """Two terms of one name sharing January, listed new terms first: "payment_lag (0 s, then 30 days)" says
    the old terms' value, then the new ones', as their dates run (it said the list's order, 30 days then 0 s,
    the old terms read as coming after the new)."""
    from sim.economics import evaluate, parse_economics
    from sim.economics.synthetic import usage_from_rows
    from sim.errors import ScenarioError

    old = {"name": "deal", "rate": 0.2, "base": ["api"], "settle": "month", "until": "2025-01-10"}
    new = {"name": "deal", "rate": 0.1, "base": ["api"], "settle": "month", "from": "2025-01-11",
           "payment_lag": "30d"}
    said = []
    for agreements in ([old, new], [new, old]):
        cfg = parse_economics({"revenue": [{"name": "api", "usd_per_month": 3.1e6}], "period": "month",
                               "agreements": agreements})
        with pytest.raises(ScenarioError) as exc:
            evaluate(cfg, dt.date(2025, 1, 1), usage_from_rows(31 * DAY))
        said.append(str(exc.value))
    assert all("they differ in payment_lag (0 s, then 30 days): give both terms the same payment_lag" in s
               for s in said), said


def test_reprice_refuses_a_mapping_s_infinite_or_nan_price_as_set_refuses_it(tmp_path, capsys):
    """``sim.reprice(folder, {"economics.gpu_hour_usd": float("inf")})`` was refused as the text ``'Infinity'``
    (JSON's word, which YAML reads as text): the message now is that of ``--set economics.gpu_hour_usd=.inf``,
    the number given (``got inf``), as ``sim.run`` says it for the same mapping."""
    import hostile_cases as hc
    import sim
    from sim.errors import ScenarioError

    out = tmp_path / "r"
    assert hc.exit_status(["run", str(_small(tmp_path)), "--out", str(out), "--figures", "none", "--quiet"]) == 0
    capsys.readouterr()
    for value, text in ((float("inf"), ".inf"), (-float("inf"), "-.inf"), (float("nan"), ".nan")):
        said = []
        for overrides in ({"economics.gpu_hour_usd": value}, [f"economics.gpu_hour_usd={text}"]):
            with pytest.raises(ScenarioError) as exc:
                sim.reprice(out, overrides)
            said.append(str(exc.value))
        assert said[0] == said[1] and f"(got {value})" in said[0], said
