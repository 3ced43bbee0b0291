"""Metric names given to ``sweep --columns``, ``plan --constraint/--objective/--columns`` and
``saturation --constraint`` are checked against the summary's keys before any point runs
(:func:`sim.metrics.schema.summary_key_problem`); the keys that only a run can tell (cost, cashflow,
...) are still checked against the first run."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import hostile_cases as hc
import sim
from sim.cli import main
from sim.metrics.schema import summary_key_problem
from sim.planning.evaluator import scenario_names
from sim.planning.sweep import point_row

ROOT = Path(__file__).resolve().parents[1]


# the shortest runs past each scenario's warm-up whose numeric keys are all those of a run twice as long or longer
# (measured: baseline 191, dedicated_long_context 210, disaggregated 153, failures 143 keys, the same sets at
# 10m / 10m / 10m / 20m as at these lengths; a key whose value is None, say a percentile of no requests, would
# drop out of the check, so a shorter run must not lose one)
@pytest.mark.parametrize("name,overrides,band", [
    ("baseline", ["duration=6m"], 3.0),
    ("dedicated_long_context", ["duration=6m"], None),
    ("disaggregated", ["duration=4m"], None),
    ("failures", ["duration=12m"], None),
    pytest.param("provider_partner_2024", ["duration=2d"], None, marks=pytest.mark.slow),   # the fluid tier
])
def test_every_numeric_key_a_run_reports_passes_the_early_check(name, overrides, band):
    """The early check refuses no key a run reports (the fixed blocks' lists are complete): every
    column of a sweep's point row, for scenarios with pools, classes, disaggregation, failures, the
    fluid tier and the capacity band."""
    path = ROOT / "scenarios" / f"{name}.yaml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sim.run(str(path), overrides=overrides, capacity_band=band)
    pools, classes = scenario_names(yaml.safe_load(path.read_text()))
    row = point_row({"config": {}, "replication": 0, "seed": 1, "summary": result.summary})
    keys = [k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("replication", "seed")]
    assert len(keys) > 100
    assert {k: summary_key_problem(k, pools, classes) for k in keys
            if summary_key_problem(k, pools, classes)} == {}


@pytest.mark.parametrize("fidelity", ["request", "fluid"])
def test_the_early_check_accepts_a_band_key_exactly_when_a_run_reports_it(tmp_path, fidelity):
    """On main ``capacity_band.slower.<any summary key>`` passed the early check, but a band side keeps only
    some of a summary (``capacity_band.slower.throughput.output_tokens_per_s`` was an empty column); now the
    check accepts a band key exactly when a run of either tier reports it."""
    from sim.metrics.schema import FIXED_KEYS

    sc = yaml.safe_load(_small(tmp_path).read_text())
    chat = sc["workload"]["classes"][0]
    sc["workload"]["classes"] = [{**chat, "share": 0.5}, {**chat, "name": "batch", "share": 0.5}]
    sc.update(fidelity=fidelity, duration=60)
    if fidelity == "fluid":     # a coarse curve: which keys a run reports does not depend on its resolution
        sc["fluid"] = {"grid": [0.5, 0.9], "calibration_duration": 60, "calibration_requests": 100}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sim.run(sc, capacity_band=3.0)
    row = point_row({"config": {}, "replication": 0, "seed": 1, "summary": result.summary})
    reported = {k for k, v in row.items() if k.startswith("capacity_band.") and isinstance(v, (int, float))
                and not isinstance(v, bool)}
    inner = {*FIXED_KEYS, "capacity", "load_factor", "stability.stable", "cost.compute_usd", "cost.gpu_hours_billed",
             "cost.per_million_output_tokens",
             *(f"classes.{c}.{k}" for c in ("chat", "batch") for k in FIXED_KEYS)}
    candidates = {f"capacity_band.{side}.{k}" for side in ("slower", "faster") for k in inner}
    accepted = {k for k in candidates if summary_key_problem(k, ("p",), ("chat", "batch")) is None}
    assert len(reported) > 100 and accepted == reported & candidates, (accepted ^ (reported & candidates))
    assert reported <= candidates | {"capacity_band.pct"}


def _small(tmp_path: Path) -> Path:
    sc = hc._small()
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 2},
                      "classes": [{"name": "chat", "share": 1, "prompt_tokens": {"dist": "fixed", "value": 200},
                                   "output_tokens": {"dist": "fixed", "value": 20}}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


COLUMNS = ["sweep", "--grid", "seed=1,2", "--columns"]
PLAN = ["plan", "--vary", "fleet.pools.0.replicas=1,2"]


@pytest.mark.parametrize("argv,expected", [
    ([*COLUMNS, "nosuch"],
     "--columns: unknown metric nosuch: must be a numeric summary key such as latency.ttft.p99"),
    ([*COLUMNS, "slo.attainment,ttft_p99"],
     "--columns: unknown metric ttft_p99 (did you mean classes.chat.latency.ttft.p99 or latency.ttft.p99?)"),
    ([*COLUMNS, "latency.ttft.p98"],
     "--columns: unknown metric latency.ttft.p98 (not a key of the summary block latency; did you mean "
     "latency.ttft.p99 or latency.ttft.p90 or latency.ttft.p50?)"),
    ([*COLUMNS, "pools.q.load_factor"],
     "--columns: unknown metric pools.q.load_factor (the scenario has no pool 'q' (its pools: p); did you mean "
     "pools.p.load_factor?)"),
    ([*COLUMNS, "classes.chta.slo.attainment"],
     "--columns: unknown metric classes.chta.slo.attainment (the scenario has no workload class 'chta' "
     "(its classes: chat); did you mean classes.chat.slo.attainment or classes.chat.slo.ttft_s?)"),
    ([*COLUMNS, "capacity_band.slower.slo.attainment"],
     "--columns: unknown metric capacity_band.slower.slo.attainment (the capacity band's keys are there only "
     "with --capacity-band)"),
    ([*COLUMNS, "capacity_band.slower.throughput.output_tokens_per_s", "--capacity-band"],
     "--columns: unknown metric capacity_band.slower.throughput.output_tokens_per_s (a capacity band side keeps "
     "only capacity, load_factor, latency.*, "),
    ([*PLAN, "--capacity-band", "--constraint", "capacity_band.slower.classes.chat.latency.itl.p99<=1"],
     "--constraint: unknown metric capacity_band.slower.classes.chat.latency.itl.p99 (a class's part of a capacity "
     "band side keeps only its latency (ttft, tpot, e2e, queue) and slo.attainment, slo.goodput_rps (got "
     "'latency.itl.p99'))"),
    ([*COLUMNS, "seed"],
     "--columns: unknown metric seed (seed differs between the replications of a configuration"),
    ([*PLAN, "--columns", "nosuch"],
     "--columns: unknown metric nosuch: must be"),
    ([*PLAN, "--objective", "nosuch"],
     "--objective: unknown metric nosuch: must be"),
    ([*PLAN, "--constraint", "latency.ttft.p98<=1"],
     "--constraint: unknown metric latency.ttft.p98 (not a key of the summary block latency"),
    (["saturation", "--constraint", "pools.x.load_factor<=1"],
     "--constraint: unknown metric pools.x.load_factor (the scenario has no pool 'x' (its pools: p)"),
])
def test_a_metric_no_summary_holds_is_refused_before_any_point_runs(tmp_path, capsys, argv, expected):
    """``sweep --columns nosuch`` ran every point, then warned and exited 0."""
    path = _small(tmp_path)
    out = tmp_path / "r"
    with warnings.catch_warnings():
        rc = main([argv[0], str(path), *argv[1:], "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(expected), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (out / "points").exists()


def test_a_class_metric_of_a_scenario_without_classes_is_refused(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(hc._small()))
    rc = main(["sweep", str(path), "--grid", "seed=1,2", "--columns", "classes.chat.slo.attainment",
               "--out", str(tmp_path / "r"), "--quiet"])
    assert rc == 2 and capsys.readouterr().err.startswith(
        "--columns: unknown metric classes.chat.slo.attainment (the scenario has no classes block: it lists no "
        "workload class)")


def test_a_pool_named_by_a_knob_is_left_to_the_run(tmp_path, capsys):
    """A knob renaming a pool makes names the base scenario does not have: the run decides."""
    path = _small(tmp_path)
    with warnings.catch_warnings():
        rc = main(["sweep", str(path), "--grid", "fleet.pools.0.name=q", "--columns", "pools.q.load_factor",
                   "--out", str(tmp_path / "r"), "--quiet", "--executor", "serial"])
    assert rc == 0, capsys.readouterr().err
    assert "pools.q.load_factor" in capsys.readouterr().out


#: an economics block using every part that adds keys to the money blocks: the three pricing tiers,
#: provider and partner revenue lines, an agreement, credits, training, priced energy, an opening balance
RICH_ECONOMICS = yaml.safe_load("""
gpu_hour_usd: 2.5
compute:
  - {pool: main, tier: reserved, gpus: 8, usd_per_gpu_hour: 2.0}
  - {pool: main, tier: on_demand, usd_per_gpu_hour: 3.5}
  - {pool: spare, tier: spot, usd_per_gpu_hour: 1.0}
revenue:
  - {name: api, usd_per_million_input_tokens: 2.5, usd_per_million_output_tokens: 10.0}
  - {name: subscriptions, usd_per_month: 20, subscribers: 1000}
  - {name: resale, usd_per_month: 5.0e4, owner: partner}
agreements:
  - {name: share, payer: provider, payee: partner, rate: 0.2, base: [api], reverse: {rate: 0.2, base: [resale]}}
credits: [{name: grant, usd: 1000, applies_to: any}]
training: {usd_per_month: 100}
energy: {usd_per_kwh: 0.1, owned: [main, spare]}
opening: [{name: owed, kind: receivable, usd: 500, due: 2025-01-15}]
""")


def test_every_money_key_the_economics_reports_passes_the_early_check():
    """cost.* and cashflow.* are checked before any point runs (a typo cost a whole simulation): every
    numeric key the money layer reports, with every part of the economics block in use, passes."""
    import dataclasses
    import datetime as dt

    from sim.economics import evaluate, parse_economics
    from sim.economics.synthetic import usage_from_rows
    from sim.planning.stats import flatten

    usage = usage_from_rows(86400, intervals=[("main", 16, 0, 86400), ("spare", 4, 0, 43200)],
                            requests=[(10.0 * i, 1000, 200, i % 2) for i in range(100)],
                            names=("api", "subscriptions"), busy_gpu_seconds={"main": 3e5, "spare": 1e4})
    usage = dataclasses.replace(usage, gpu_tdp_w={"main": 700.0, "spare": 400.0}, cls=np.arange(100) % 2,
                                class_names=("chat", "batch"))
    econ = evaluate(parse_economics(RICH_ECONOMICS), dt.date(2025, 1, 1), usage)
    keys = [k for k, v in flatten({"cost": econ.cost, "cashflow": econ.cashflow}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]
    named = {k.rsplit(".", 1)[0] for k in keys if k.startswith(("cost.by_", "cashflow.revenue_by_line"))}
    assert {"cost.by_tier", "cost.by_pool", "cashflow.revenue_by_line"} <= named and len(keys) > 60
    assert {"cost.by_tier.reserved", "cost.by_tier.spot", "cost.energy.usd_by_pool.spare",
            "cashflow.partner_revenue_by_line.resale", "cashflow.chargeback.classes.batch.work"} <= set(keys)
    assert {k: summary_key_problem(k, ("main", "spare"), ("chat", "batch")) for k in keys
            if summary_key_problem(k, ("main", "spare"), ("chat", "batch"))} == {}


@pytest.mark.parametrize("argv,expected", [
    ([*COLUMNS, "cost.compute_ust"],
     "--columns: unknown metric cost.compute_ust (not a key of the summary block cost; did you mean "
     "cost.compute_usd?)"),
    ([*PLAN, "--constraint", "cashflow.nett>=0"],
     "--constraint: unknown metric cashflow.nett (not a key of the summary block cashflow; did you mean "
     "cashflow.net or cashflow.cash_net?)"),
    ([*PLAN, "--objective", "cost.by_pool.q"],
     "--objective: unknown metric cost.by_pool.q ('q' is no pool of the scenario (its pools: p)"),
    (["saturation", "--constraint", "cost.by_tier.cheap<=10"],
     "--constraint: unknown metric cost.by_tier.cheap ('cheap' is no pricing tier (the tiers: reserved, "
     "on_demand, spot)"),
    ([*COLUMNS, "cashflow.currency"],
     "--columns: unknown metric cashflow.currency (cashflow.currency holds text (the currency of every amount, USD), not a number"),
    ([*COLUMNS, "cashflow.chargeback.classes.chta.revenue"],
     "--columns: unknown metric cashflow.chargeback.classes.chta.revenue ('chta' is no workload class of "
     "the scenario (its classes: chat)"),
])
def test_a_money_metric_no_summary_holds_is_refused_before_any_point_runs(tmp_path, capsys, argv, expected):
    """On main the cost and cashflow blocks were left to the first run: a typo cost a whole simulation."""
    test_a_metric_no_summary_holds_is_refused_before_any_point_runs(tmp_path, capsys, argv, expected)


def test_a_pool_or_class_name_holding_dots_is_read_whole(tmp_path):
    """A pool ``v1.5``'s keys are ``pools.v1.5.…``: on main the early check read the pool as ``v1`` and refused
    ``pools.v1.5.load_factor`` ("no pool 'v1' ... did you mean pools.v1.5.load_factor?")."""
    sc = hc._small()
    sc["fleet"]["pools"][0]["name"] = "v1.5"
    sc["workload"] = {"arrival": {"process": "poisson", "rate": 2},
                      "classes": [{"name": n, "share": 0.5, "prompt_tokens": {"dist": "fixed", "value": 200},
                                   "output_tokens": {"dist": "fixed", "value": 20}} for n in ("chat.v2", "chat")]}
    sc["economics"] = {"gpu_hour_usd": 2.5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sim.run(sc)
    pools, classes = scenario_names(sc)
    row = point_row({"config": {}, "replication": 0, "seed": 1, "summary": result.summary})
    keys = [k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("replication", "seed")]
    assert {"pools.v1.5.load_factor", "classes.chat.v2.slo.attainment", "cost.by_pool.v1.5",
            "cashflow.chargeback.classes.chat.v2.work"} <= set(keys)
    assert {k: summary_key_problem(k, pools, classes) for k in keys if summary_key_problem(k, pools, classes)} == {}
    assert summary_key_problem("pools.v1.load_factor", pools, classes) == \
        "the scenario has no pool 'v1' (its pools: v1.5)"
    assert summary_key_problem("classes.chat.v3.slo.attainment", pools, classes) == \
        "a class's block holds requests, latency, throughput, slo (got 'v3')"
