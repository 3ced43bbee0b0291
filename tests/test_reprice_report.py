"""What ``fleetsim reprice`` tells a first-time user: the report of a re-priced folder says its money was
re-priced, and with what (its ``scenario.json`` is the scenario as run, whose ``economics:`` block the
money no longer follows); a field named without its ``economics.`` prefix is refused with the name meant."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sim.cli import main
from sim.report.overview import overview

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rr") / "base"
    assert main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--set", "duration=2m", "--set", "warmup=0",
                 "--out", str(out), "--quiet", "--figures", "none"]) == 0
    return out


def test_the_report_of_a_repriced_folder_names_its_overrides(base, tmp_path, capsys):
    re = tmp_path / "re"
    assert main(["reprice", str(base), "--set", "economics.gpu_hour_usd=3", "--out", str(re), "--quiet"]) == 0
    summary = json.loads((re / "summary.json").read_text())
    scenario = json.loads((re / "scenario.json").read_text())
    assert scenario["economics"]["gpu_hour_usd"] == 2.5           # the scenario as it was run
    assert summary["cost"]["compute_usd"] == pytest.approx(3.0 * 4 * 2 / 60, rel=1e-12)   # 4 GPUs, 2 min, $3
    o = overview(summary, scenario)
    assert ("re-priced with", "economics.gpu_hour_usd=3") in o.settings
    assert "re-priced (fleetsim reprice) with economics.gpu_hour_usd=3" in o.paragraph
    assert not any(k == "re-priced with" for k, _ in overview(json.loads((base / "summary.json").read_text()),
                                                              scenario).settings)
    capsys.readouterr()
    assert main(["report", str(re), "--no-regenerate"]) == 0
    assert "economics.gpu_hour_usd=3" in (re / "report.html").read_text()


def test_a_folder_repriced_twice_names_every_override_since_the_run(base, tmp_path, capsys):
    """Re-priced at $3 per GPU-hour, then that folder at a 10 % discount rate: the money is both (the NPV of
    a one-step re-price with both overrides; by hand, $3 x 4 GPUs x 2 min = $0.40), so the page and compare
    name both against the scenario as run ($2.50), where they named the discount rate alone."""
    first, second, both = tmp_path / "first", tmp_path / "second", tmp_path / "both"
    price, rate = "economics.gpu_hour_usd=3", "economics.discount_rate=0.1"
    assert main(["reprice", str(base), "--set", price, "--out", str(first), "--quiet"]) == 0
    assert main(["reprice", str(first), "--set", rate, "--out", str(second), "--quiet"]) == 0
    assert main(["reprice", str(base), "--set", price, "--set", rate, "--out", str(both), "--quiet"]) == 0
    s2, sb = (json.loads((f / "summary.json").read_text()) for f in (second, both))
    assert s2["cost"]["compute_usd"] == pytest.approx(3.0 * 4 * 2 / 60, rel=1e-12)
    assert (s2["cost"], s2["cashflow"]) == (sb["cost"], sb["cashflow"])
    assert s2["repriced"] == {"from": str(first.resolve()), "from_folder": "../first", "overrides": [rate],
                              "since_run": [price, rate]}
    assert sb["repriced"] == {"from": str(base.resolve()), "from_folder": os.path.relpath(base, both),
                              "overrides": [price, rate]}       # one step: no since_run
    scenario = json.loads((second / "scenario.json").read_text())
    assert ("re-priced with", f"{price} {rate}") in overview(s2, scenario).settings
    capsys.readouterr()
    assert main(["compare", str(base), str(second), "--json"]) == 0
    diff = {d["key"]: d["values"] for d in json.loads(capsys.readouterr().out)["differences"]}
    assert diff["repriced with"] == [None, f"{price} {rate}"]


def test_an_economics_field_without_its_prefix_is_refused_naming_the_field_meant(base, capsys):
    capsys.readouterr()
    assert main(["reprice", str(base), "--set", "gpu_hour_usd=3", "--set", "agreements.0.rate=0.1",
                 "--set", "fleet.pools.0.replicas=3"]) == 2
    err = capsys.readouterr().err.splitlines()
    why = "re-pricing changes only economics.* fields; anything else changes the simulation (use fleetsim run)"
    assert err == [f"{base}: gpu_hour_usd: {why}; did you mean economics.gpu_hour_usd?",
                   f"{base}: agreements.0.rate: {why}; did you mean economics.agreements.0.rate?",
                   f"{base}: fleet.pools.0.replicas: {why}"]


def test_a_capacity_band_keeps_its_usage_but_not_its_costs_at_the_old_prices(tmp_path, capsys):
    """The band's two runs keep no usage.npz: their costs at the old price stood, unchanged, beside the
    re-priced bill (a $0.50 range around $0.60)."""
    band = tmp_path / "band"
    assert main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--set", "duration=2m", "--set", "warmup=0",
                 "--capacity-band", "--out", str(band), "--quiet", "--figures", "none"]) == 0
    before = json.loads((band / "summary.json").read_text())["capacity_band"]
    assert before["slower"]["cost"]["compute_usd"] == pytest.approx(2.5 * 4 * 2 / 60, rel=1e-12)
    capsys.readouterr()
    assert main(["reprice", str(band), "--set", "economics.gpu_hour_usd=3", "--out", str(tmp_path / "re"),
                 "--quiet"]) == 0
    assert (f"{band}: capacity_band: its sides' costs are left out of the re-priced summary (the band's runs kept "
            "no usage to re-price); for the band at the new prices, run the scenario again with --capacity-band"
            ) in capsys.readouterr().err
    after = json.loads((tmp_path / "re" / "summary.json").read_text())["capacity_band"]
    for k in ("slower", "faster"):
        assert "cost" not in after[k]
        assert after[k] == {key: v for key, v in before[k].items() if key != "cost"}    # usage and latency kept
    # re-priced as it was: the money has not moved, the band's costs stay
    assert main(["reprice", str(band), "--out", str(tmp_path / "same"), "--quiet"]) == 0
    assert json.loads((tmp_path / "same" / "summary.json").read_text())["capacity_band"] == before
    assert "capacity_band" not in capsys.readouterr().err


def test_the_folder_repriced_is_found_again_after_both_folders_move(base, tmp_path, capsys):
    """``repriced.from`` is absolute (the same whatever folder the command ran in); ``from_folder`` is relative to
    the re-priced folder, so a results folder moved whole (here renamed) still leads from one to the other;
    re-priced in place, it is the folder itself."""
    import shutil

    results = tmp_path / "results"
    shutil.copytree(base, results / "base")
    assert main(["reprice", str(results / "base"), "--set", "economics.gpu_hour_usd=3",
                 "--out", str(results / "dear"), "--quiet"]) == 0
    block = json.loads((results / "dear" / "summary.json").read_text())["repriced"]
    assert Path(block["from"]).is_absolute() and Path(block["from"]) == (results / "base").resolve()
    moved = tmp_path / "elsewhere"
    results.rename(moved)
    assert (moved / "dear" / block["from_folder"]).resolve() == (moved / "base").resolve()
    assert main(["reprice", str(moved / "base"), "--set", "economics.gpu_hour_usd=3",
                 "--out", str(moved / "base"), "--quiet"]) == 0
    assert json.loads((moved / "base" / "summary.json").read_text())["repriced"]["from_folder"] == "."
    assert f"repriced {moved / 'base'} with" in capsys.readouterr().out       # as typed on the terminal


def test_a_re_priced_folder_is_the_same_bytes_wherever_it_is_written_but_for_repriced_from(base, tmp_path):
    """Same seed, same bytes, on any machine: the same folder re-priced the same way in two places (each beside its
    own copy of the run) gives the same files byte for byte, but for the one value documented to depend on where
    the folders live, ``repriced.from`` (an absolute path); ``from_folder`` is the same in both."""
    import shutil

    written = {}
    for where in ("a", "b/deeper"):
        results = tmp_path / where
        shutil.copytree(base, results / "base")
        assert main(["reprice", str(results / "base"), "--set", "economics.gpu_hour_usd=3",
                     "--out", str(results / "dear"), "--quiet"]) == 0
        dear = results / "dear"
        written[where] = {p.relative_to(dear).as_posix(): p.read_bytes()
                          for p in sorted(dear.rglob("*")) if p.is_file()}
    a, b = written.values()
    assert a.keys() == b.keys() and "usage.npz" in a
    assert [k for k in a if a[k] != b[k]] == ["summary.json"]
    froms = [json.loads(x["summary.json"])["repriced"]["from"] for x in (a, b)]
    assert froms == [str((tmp_path / w / "base").resolve()) for w in ("a", "b/deeper")]
    # the bytes with that one value taken out are the same (from_folder included: ../base in both)
    same = [x["summary.json"].replace(json.dumps(f).encode(), b'"FROM"') for x, f in zip((a, b), froms)]
    assert same[0] == same[1] and b'"from_folder": "../base"' in same[0]
