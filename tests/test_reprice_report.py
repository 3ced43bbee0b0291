"""A re-priced folder's report says its money was re-priced, and with what: its ``scenario.json`` is the
scenario as run, whose ``economics:`` block the money no longer follows."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.report.overview import overview

ROOT = Path(__file__).resolve().parents[1]


def test_the_report_of_a_repriced_folder_names_its_overrides(tmp_path, capsys):
    base, re = tmp_path / "base", tmp_path / "re"
    assert main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--set", "duration=2m", "--set", "warmup=0",
                 "--out", str(base), "--quiet", "--figures", "none"]) == 0
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
