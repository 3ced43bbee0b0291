"""Re-pricing a saved run equals a fresh run with the same economics overrides, byte for byte."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.economics.usage_file import read_usage

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
PARTNER = ROOT / "scenarios" / "provider_partner_2024.yaml"
SHORT = ["--set", "duration=3m", "--set", "warmup=0"]
MONEY = ("cashflow.csv", "ledger.csv", "settlements.csv", "usage.npz")


def _sets(overrides: list[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


def _run(path: Path, out: Path, extra: list[str], overrides: list[str] = ()) -> Path:
    assert main(["run", str(path), *extra, *_sets(list(overrides)), "--out", str(out), "--quiet", "--json",
                 "--figures", "none"]) == 0
    return out


def _assert_same_money(a: Path, b: Path) -> None:
    for name in MONEY:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    for key in ("cost", "cashflow"):
        assert json.dumps(sa[key]) == json.dumps(sb[key]), key


@pytest.mark.parametrize("overrides", [
    ["economics.gpu_hour_usd=1.8"],
    ["economics.revenue=[{name: api, usd_per_million_input_tokens: 2.5, usd_per_million_output_tokens: 10}]",
     "economics.agreements=[{rate: 0.2, base: [api], settle: day, payment_lag: 0}]",
     "economics.compute=[{pool: main, tier: reserved, gpus: 2, usd_per_gpu_hour: 2.0}]",
     "economics.billing_granularity=minute", "economics.period=day", "economics.discount_rate=0.1"],
    ["economics.energy={owned: [main], usd_per_kwh: 0.12, pue: 1.3, tariff: [{from_hour: 0, to_hour: 1, "
     "usd_per_kwh: 0.05}]}"],
])
def test_reprice_equals_a_fresh_run_request_level(tmp_path, capsys, overrides):
    base = _run(BASELINE, tmp_path / "base", SHORT)
    fresh = _run(BASELINE, tmp_path / "fresh", SHORT, overrides)
    capsys.readouterr()
    assert main(["reprice", str(base), *_sets(overrides), "--out", str(tmp_path / "re"), "--json",
                 "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    _assert_same_money(fresh, tmp_path / "re")
    assert printed["cashflow"] == json.loads((fresh / "summary.json").read_text())["cashflow"]
    # the folder re-priced, absolute and relative to the one written (both are in tmp_path)
    assert printed["repriced"] == {"from": str(base.resolve()), "from_folder": "../base", "overrides": overrides}
    # what re-pricing does not touch is copied unchanged
    assert (tmp_path / "re" / "requests.csv.gz").read_bytes() == (base / "requests.csv.gz").read_bytes()


def test_reprice_equals_a_fresh_run_fluid_year_with_shares_credits_and_lags(tmp_path, capsys):
    overrides = ["economics.agreements.0.rate=0.15", "economics.agreements.0.payment_lag=30d",
                 "economics.credits.0.usd=1.0e9"]
    base = _run(PARTNER, tmp_path / "base", [])
    fresh = _run(PARTNER, tmp_path / "fresh", [], overrides)
    assert main(["reprice", str(base), *_sets(overrides), "--out", str(tmp_path / "re"), "--quiet"]) == 0
    assert "Cash-flow statement" in capsys.readouterr().out
    _assert_same_money(fresh, tmp_path / "re")
    # no override: the money of the run itself
    assert main(["reprice", str(base), "--out", str(tmp_path / "same"), "--quiet"]) == 0
    _assert_same_money(base, tmp_path / "same")


def test_usage_file_round_trips_exactly_and_is_deterministic(tmp_path):
    a = _run(BASELINE, tmp_path / "a", SHORT)
    b = _run(BASELINE, tmp_path / "b", SHORT)
    assert (a / "usage.npz").read_bytes() == (b / "usage.npz").read_bytes()   # same seed, same bytes
    summary = json.loads((a / "summary.json").read_text())
    busy = summary["utilization"]["gpu_busy"]        # four H100s (700 W) for 3 minutes, idle 15 % of TDP
    assert summary["cost"]["energy"]["kwh"] == pytest.approx(4 * (105 + 595 * busy) / 1000 * 3 / 60, rel=1e-12)
    saved = read_usage(a)
    assert saved.usage.gpu_tdp_w == {"main": 700.0}
    assert saved.economics["gpu_hour_usd"] == 2.5 and str(saved.start) == "2025-01-01"
    assert saved.usage.horizon_s == 180.0
    with np.load(a / "usage.npz", allow_pickle=False) as z:
        assert z["interval_gpus"].tolist() == [1.0] * 4      # four one-GPU replicas, the whole run
        assert z["completion_s"].dtype == np.float64 and np.all(z["completion_s"] <= 180.0)


def test_reprice_refuses_bad_input_with_exit_2(tmp_path, capsys):
    base = _run(BASELINE, tmp_path / "base", SHORT)
    capsys.readouterr()
    assert main(["reprice", str(base), "--set", "fleet.pools.0.replicas=8"]) == 2
    assert "fleet.pools.0.replicas: re-pricing changes only economics.* fields" in capsys.readouterr().err
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=-1"]) == 2
    assert "economics.gpu_hour_usd: must be >= 0" in capsys.readouterr().err
    assert main(["reprice", str(base), "--set", "economics.compute=[{pool: mian, usd_per_gpu_hour: 1}]"]) == 2
    assert "economics.compute.0.pool: unknown pool 'mian' (pools: main)" in capsys.readouterr().err
    assert main(["reprice", str(tmp_path)]) == 2
    assert "no usage.npz" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "usage.npz").write_bytes(b"not a zip")
    assert main(["reprice", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "usage.npz: not a usage file this version of fleetsim can read (not a NumPy .npz archive, which is a " \
           "zip file)" in err and "pickle" not in err
    (tmp_path / "base" / "summary.json").unlink()
    assert main(["reprice", str(base)]) == 2
    assert "summary.json is missing" in capsys.readouterr().err


def test_reprice_equals_a_fresh_run_with_two_tenants_and_chargeback(tmp_path):
    path = ROOT / "scenarios" / "diurnal_week.yaml"
    extra = ["--set", "duration=10m", "--set", "warmup=0"]
    overrides = ["economics.chargeback_by=requests", "economics.rounding=cents"]
    base = _run(path, tmp_path / "base", extra)
    fresh = _run(path, tmp_path / "fresh", extra, overrides)
    assert main(["reprice", str(base), *_sets(overrides), "--out", str(tmp_path / "re"), "--quiet"]) == 0
    _assert_same_money(fresh, tmp_path / "re")
    cb = json.loads((fresh / "summary.json").read_text())["cashflow"]["chargeback"]
    assert set(cb["classes"]) == {"chat", "batch"} and cb["by"] == "requests"
    header = (fresh / "cashflow.csv").read_text().splitlines()[0]
    assert "class_chat_compute_usd" in header and "class_batch_margin_usd" in header


def test_sla_credits_from_a_run_that_misses_its_slo_and_reprice_agrees(tmp_path):
    # a 1 ms TTFT objective no request meets: attainment 0, so the whole credit is owed
    extra = [*SHORT, "--set", "slo.ttft_s=0.001"]
    overrides = ["economics.revenue=[{name: api, usd_per_million_output_tokens: 10, "
                 "sla: {attainment: 0.99, credit_pct: 0.25}}]"]
    base = _run(BASELINE, tmp_path / "base", extra)
    fresh = _run(BASELINE, tmp_path / "fresh", extra, overrides)
    assert main(["reprice", str(base), *_sets(overrides), "--out", str(tmp_path / "re"), "--quiet"]) == 0
    _assert_same_money(fresh, tmp_path / "re")
    cf = json.loads((fresh / "summary.json").read_text())["cashflow"]
    assert cf["sla_periods"][0]["attainment"] == 0.0
    assert cf["sla_credits"] == pytest.approx(0.25 * cf["revenue"], rel=1e-12)
    assert cf["revenue_lost"] == 0.0                  # nothing rejected at 12 req/s on four H100s


def test_usage_keeps_intervals_as_columns_and_prices_rows_and_columns_alike():
    from sim.economics import evaluate, parse_economics
    from sim.economics.usage import Intervals, ProvisionedInterval, Usage

    rows = [ProvisionedInterval("a", 2.0, 0.0, 90.0), ProvisionedInterval("b", 1.0, 30.0, 3600.0),
            ProvisionedInterval("a", 0.5, 100.0, 200.0)]
    cols = dict(busy_gpu_seconds={"a": 10.0, "c": 0.0}, completion_s=np.zeros(0), input_tokens=np.zeros(0, np.int64),
                output_tokens=np.zeros(0, np.int64), revenue_line=np.zeros(0, np.int64), revenue_line_names=(),
                weight=np.zeros(0))
    from_rows = Usage(horizon_s=3600.0, intervals=rows, **cols)
    ivs = from_rows.intervals
    assert isinstance(ivs, Intervals) and ivs.pool_names == ("a", "b") and ivs.pool.tolist() == [0, 1, 0]
    assert list(ivs) == rows                                  # iterating gives the rows back
    # the column form a usage file holds, with a pool listed that has no interval
    from_cols = Usage(horizon_s=3600.0, intervals=Intervals(("a", "b", "c"), ivs.pool, ivs.gpus, ivs.start_s,
                                                            ivs.end_s), **cols)
    assert from_rows.pools() == from_cols.pools() == ("a", "b", "c")
    # 2 x 90 + 0.5 x 100 = 230 GPU-seconds in a, 3570 in b, none in c
    assert from_rows.provisioned_gpu_seconds() == from_cols.provisioned_gpu_seconds() == {
        "a": 230.0, "b": 3570.0, "c": 0.0}
    cfg = parse_economics({"gpu_hour_usd": 3.6, "billing_granularity": "minute"})
    jan1 = dt.date(2025, 1, 1)
    ra, rb = evaluate(cfg, jan1, from_rows), evaluate(cfg, jan1, from_cols)
    assert ra.cashflow == rb.cashflow and ra.ledger == rb.ledger
    # minute billing: a's 90 s -> 120 s x 2 GPUs, 100 s -> 120 s x 0.5; b 3570 s -> 3600 s (USD 0.001 per GPU-second)
    assert ra.cost["by_pool"] == {"a": pytest.approx(0.3), "b": pytest.approx(3.6), "c": 0.0}
    bad = Intervals(("a",), np.array([0]), np.array([1.0]), np.array([10.0]), np.array([5.0]))
    with pytest.raises(ValueError, match="bad provisioned interval"):
        Usage(horizon_s=3600.0, intervals=bad, **cols).check()


def test_usage_file_rewritten_for_new_prices_keeps_its_usage_members_byte_for_byte(tmp_path):
    from sim.economics.usage_file import usage_npz_bytes
    from sim.scenario.economics import parse_economics

    saved = read_usage(_run(BASELINE, tmp_path / "a", SHORT))
    cfg = parse_economics({**saved.economics, "gpu_hour_usd": 1.8})
    fresh = usage_npz_bytes(saved.usage, cfg, saved.start)
    assert usage_npz_bytes(saved.usage, cfg, saved.start, like=saved.archive) == fresh
    assert fresh != saved.archive and read_usage_bytes(fresh)["economics"]["gpu_hour_usd"] == 1.8
    # an archive whose last member is not meta (or not a zip) is written in full, same bytes
    assert usage_npz_bytes(saved.usage, cfg, saved.start, like=b"not a zip") == fresh


def read_usage_bytes(data: bytes) -> dict:
    import io

    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        assert z.files[-1] == "meta"
        return json.loads(str(z["meta"]))


DERIVED = ROOT / "scenarios" / "provider_partner_derived.yaml"


@pytest.mark.parametrize("horizon", [
    pytest.param(["--set", "duration=7d", "--set", "fluid.grid=[0.1,0.4,0.7,0.9,1.0]",
                  "--set", "fluid.calibration_duration=60", "--set", "fluid.calibration_requests=300"], id="week"),
    pytest.param([], id="639-days", marks=pytest.mark.slow),      # 3.3 million provisioned intervals
])
@pytest.mark.filterwarnings("ignore:economics.agreements.0.payment_lag")   # a week is shorter than the lag
def test_reprice_equals_a_fresh_run_on_the_autoscaled_fluid_partner_scenario(tmp_path, horizon):
    # the partner's $1.30 per A100-hour replaced by the public list price the file cites
    overrides = ["economics.compute.0.usd_per_gpu_hour=1.844", "economics.discount_rate=0.08"]
    base = _run(DERIVED, tmp_path / "base", horizon)
    fresh = _run(DERIVED, tmp_path / "fresh", horizon, overrides)
    with np.load(base / "usage.npz", allow_pickle=False) as z:
        assert len(z["interval_start_s"]) > 100          # autoscaled fractional replica slots
    assert main(["reprice", str(base), *_sets(overrides), "--out", str(tmp_path / "re"), "--quiet"]) == 0
    _assert_same_money(fresh, tmp_path / "re")
    a, b = (json.loads((d / "summary.json").read_text())["cost"] for d in (base, fresh))
    assert b["compute_usd"] == pytest.approx(a["compute_usd"] * 1.844 / 1.30, rel=1e-12)


def test_reprice_warns_when_an_override_changes_nothing(tmp_path, capsys):
    tiers = ["economics.compute=[{pool: main, tier: on_demand, usd_per_gpu_hour: 3.0}]"]
    base = _run(BASELINE, tmp_path / "base", SHORT, tiers)
    capsys.readouterr()
    # every GPU-hour of the only pool is billed by its uncapped compute tier: gpu_hour_usd is never used
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=1.0", "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{base}: economics.gpu_hour_usd: changes nothing: every provisioned GPU-hour is billed by "
                   "the economics.compute tiers; gpu_hour_usd prices only pools without a compute entry and "
                   "GPU-hours beyond the tiers' gpus caps; set economics.compute.N.usd_per_gpu_hour instead"]
    # the tier's own price does change the money: no warning
    assert main(["reprice", str(base), "--set", "economics.compute.0.usd_per_gpu_hour=1.0", "--json"]) == 0
    assert capsys.readouterr().err == ""
    # the value the saved block already has
    assert main(["reprice", str(base), "--set", "economics.discount_rate=0.1", "--set",
                 "economics.gpu_hour_usd=2.5", "--json"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{base}: economics.gpu_hour_usd: changes nothing: the saved economics block already has this "
                   "value"]


TIERS = "economics.compute=[{pool: main, tier: on_demand, usd_per_gpu_hour: 3.0}]"
OVERRIDES = [     # scenario, run options, the overrides, evaluations of one re-price
    (BASELINE, SHORT, ["economics.gpu_hour_usd=1.8"], 1),                   # changes the money
    (BASELINE, SHORT, ["economics.gpu_hour_usd=2.5"], 1),                   # the saved value: the same configuration
    (BASELINE, SHORT + ["--set", TIERS], ["economics.gpu_hour_usd=1.0"], 2),  # priced by the tier: same totals
    (BASELINE, SHORT, ["economics.discount_rate=0.1"], 1),                  # changes NPV only
    (PARTNER, [], ["economics.agreements.0.payment_lag=30d"], 1),          # moves cash, not accrual
    (PARTNER, [], ["economics.credits.0.usd=1.0e9"], 1),
    # several: each configuration without one of them is evaluated unless it is the saved block's or
    # the same as with it
    (BASELINE, SHORT, ["economics.gpu_hour_usd=1.8", "economics.discount_rate=0.1"], 3),
    (BASELINE, SHORT, ["economics.gpu_hour_usd=1.8", "economics.discount_rate=0.1", "economics.period=day"], 4),
    (BASELINE, SHORT, ["economics.gpu_hour_usd=1.8", "economics.gpu_hour_usd=2.5"], 2),     # back to the saved value
    (BASELINE, SHORT, ["economics.gpu_hour_usd=1.0", "economics.gpu_hour_usd=1.8"], 2),     # the first replaced
    (BASELINE, SHORT, ["economics.gpu_hour_usd=1.8", "economics.gpu_hour_usd=1.8"], 1),     # given twice
    (BASELINE, SHORT + ["--set", TIERS], ["economics.gpu_hour_usd=1.0", "economics.discount_rate=0.1"], 3),
    (PARTNER, [], ["economics.agreements.0.payment_lag=30d", "economics.credits.0.usd=1.0e9"], 3),
]


def _always_evaluating(saved, overrides):
    """``(path, why)`` of each override that changes nothing, judged by evaluating the block without
    it every time (what the command did before it knew cheaper ways to tell): the test's oracle."""
    import warnings

    import sim.economics.reprice as rp

    econ = rp.evaluate(rp._config(saved, overrides), saved.start, saved.usage)
    out = []
    for o in overrides:
        others = [x for x in overrides if x != o]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                without = rp.evaluate(rp._config(saved, others), saved.start, saved.usage)
        except rp.ScenarioError:
            continue
        if rp._money(without) == rp._money(econ):
            path = o.partition("=")[0].strip()
            why = ("the saved economics block already has this value" if without.config == econ.config else
                   "every provisioned GPU-hour is billed by the economics.compute tiers" if
                   path == "economics.gpu_hour_usd" and econ.config.compute else "the saved economics already")
            out.append((path, why))
    return econ, out


@pytest.mark.parametrize("path,extra,overrides,evaluations", OVERRIDES,
                         ids=[f"{p.stem}:{'+'.join(o)}" for p, _, o, _ in OVERRIDES])
def test_overrides_are_judged_with_the_fewest_evaluations_and_as_if_evaluating_each(
        tmp_path, capsys, monkeypatch, path, extra, overrides, evaluations):
    """Whether each override changes the money is told without evaluating where the configuration
    tells (the same as with it; the saved block's, whose totals differ) and by evaluating each other
    configuration once: the money and the warnings are those of evaluating the block without each
    override every time."""
    import warnings

    import sim.economics.reprice as rp

    base = _run(path, tmp_path / "base", extra)
    saved = read_usage(base)
    summary = json.loads((base / "summary.json").read_text())
    totals = {k: summary[k] for k in ("cost", "cashflow")}
    expected, judged = _always_evaluating(saved, overrides)
    calls = []
    evaluate = rp.evaluate
    monkeypatch.setattr(rp, "evaluate", lambda *a: calls.append(1) or evaluate(*a))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        econ = rp.reprice(saved, overrides, totals)
    assert len(calls) == evaluations
    assert rp._money(econ) == rp._money(expected) and econ.cashflow == expected.cashflow
    said = [str(w.message) for w in caught]
    assert len(said) == len(judged) and all(m.startswith(f"{p}: changes nothing: {why}")
                                            for m, (p, why) in zip(said, judged)), (said, judged)


@pytest.mark.parametrize("override", [
    "economics.gpu_hour_usd=nan", "economics.gpu_hour_usd=true", "economics.discount_rate=-1",
    "economics=[1, 2]", "economics=null", "economics=abc", "economics.bogus=1", "economics.period=fortnight",
    "economics.compute=[{pool: main, usd_per_gpu_hour: false}]", "economics.credits=[{usd: 1}]",
])
def test_a_bad_override_is_refused_naming_the_folder_in_the_words_of_a_run(tmp_path, capsys, override):
    # re-pricing read true as 1 and null as no economics at all, and named no file ("<scenario>")
    base = _run(BASELINE, tmp_path / "base", SHORT)
    capsys.readouterr()
    assert main(["validate", str(BASELINE), *SHORT, "--set", override]) == 2
    run_says = [line.removeprefix(f"{BASELINE}: ") for line in capsys.readouterr().err.splitlines()]
    assert main(["reprice", str(base), "--set", override, "--json"]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and "Traceback" not in printed.err
    assert printed.err.splitlines() == [f"{base}: {line}" for line in run_says]


def test_money_past_a_float_and_broken_folders_exit_2_naming_the_folder(tmp_path, capsys):
    base = _run(BASELINE, tmp_path / "base", SHORT)
    capsys.readouterr()
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=1e308", "--json"]) == 2
    err = capsys.readouterr().err
    assert f"{base}: economics: money totals overflow (cost.compute_usd" in err and "Traceback" not in err
    import shutil
    for name, damage, says in [("summary.json", b"[1, 2]", "summary.json is not a fleetsim summary (expected a JSON "
                                                           "object, got a list)"),
                               ("usage.npz", (base / "usage.npz").read_bytes()[:1000],
                                "usage.npz: not a usage file this version of fleetsim can read (File is not a zip "
                                "file)")]:
        broken = tmp_path / f"broken_{name}"
        shutil.copytree(base, broken)
        (broken / name).write_bytes(damage)
        assert main(["reprice", str(broken), "--set", "economics.gpu_hour_usd=1.0", "--json"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"{broken}: ") and says in err, err


def test_a_summary_an_editor_saved_with_a_bom_is_read_and_one_not_json_is_named(tmp_path, capsys):
    """On main a summary.json with a byte-order mark (an editor's) was refused as
    'Unexpected UTF-8 BOM (decode using utf-8-sig)', a message naming the folder but not the file."""
    base = _run(BASELINE, tmp_path / "base", SHORT)
    capsys.readouterr()
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=3", "--json"]) == 0
    want = json.loads(capsys.readouterr().out)
    summary = base / "summary.json"
    summary.write_bytes(b"\xef\xbb\xbf" + summary.read_bytes())
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=3", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {k: got[k] for k in ("cost", "cashflow")} == {k: want[k] for k in ("cost", "cashflow")}
    summary.write_text('{"cost": ')
    assert main(["reprice", str(base)]) == 2
    assert capsys.readouterr().err.startswith(f"{base}: summary.json is not a fleetsim summary (not JSON: ")


def test_reprice_out_is_written_whole_or_not_at_all(tmp_path, capsys, monkeypatch):
    """``reprice --out`` writes a result folder as a run does: staged beside its place and swapped in.
    A failure while writing the money (a full disk, an interrupt) leaves the folder as it was; a copy
    written file by file into it left half the new result over the old one."""
    import sim.economics.reprice as rp

    run = _run(BASELINE, tmp_path / "run", SHORT)
    out = tmp_path / "out"
    assert main(["reprice", str(run), "--set", "economics.gpu_hour_usd=1.8", "--out", str(out)]) == 0
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    def fail(econ, folder, **kwargs):
        (Path(folder) / "cashflow.csv").write_text("half\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rp.EconomicsResult, "write", fail)
    with pytest.raises(OSError):
        rp.reprice_folder(run, ["economics.gpu_hour_usd=2.2"], out=out)
    after = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []     # no stage left behind
