"""A second look at the minimum guarantee, the compute commit and the yearly cap: cases worked out
by hand (plain arithmetic from the terms and the calendar) that the first tests did not cover,
checked against what ``fleetsim run``, ``reprice``, ``compare`` and ``report`` write."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.report.comparison import compare
from sim.report.html_report import metrics_section

TOKENS = {"prompt_tokens": {"dist": "fixed", "value": 1000}, "output_tokens": {"dist": "fixed", "value": 100}}
NO_DEMAND = {"arrival": {"process": "burst", "count": 1, "at": 1e9}, **TOKENS}   # arrives long after the horizon

# From 2025-01-01 for 120 days (Jan 31, Feb 28, Mar 31, Apr 30 days; the run ends May 1 00:00), one GPU
# in each of two pools held the whole time: main at $1/hour ($24 a day), aux at $0.50/hour.
COMPUTE = [{"pool": "main", "usd_per_gpu_hour": 1.0}, {"pool": "aux", "usd_per_gpu_hour": 0.5}]
QUARTER_COMMIT = {"name": "q", "pool": "main", "commit_usd": 2500, "period": "quarter", "payment_lag": "30d"}


def _scenario(economics: dict, start: str = "2025-01-01", duration: str = "120d") -> dict:
    pool = {"gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 1}
    return {"name": "review", "seed": 3, "start": start, "duration": duration, "warmup": 0,
            "model": "llama-3-8b", "workload": NO_DEMAND,
            "fleet": {"pools": [{"name": "main", **pool}, {"name": "aux", **pool}]},
            "slo": {"ttft_s": 2.0, "tpot_s": 0.1}, "economics": economics, "metrics": {"interval": "1h"}}


def _run(tmp_path: Path, sc: dict, name: str = "run") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = tmp_path / name
    assert main(["run", str(path), "--out", str(out), "--quiet", "--figures", "none"]) == 0
    return out


def _rows(folder: Path, name: str) -> list[dict]:
    with open(folder / name, newline="") as fh:
        return list(csv.DictReader(fh))


def _col(rows: list[dict], col: str) -> list[float]:
    return [float(r[col] or 0) for r in rows]


def test_a_commit_shortfall_is_a_row_of_the_metrics_table_and_of_compare_so_net_adds_up(tmp_path):
    """main bills $24 a day: Q1's 90 days 2,160 against a $2,500 commit, $340 short; Q2 is cut to 30
    of its 91 days, 2,500 x 30/91 = 824.18 against April's 720: $104.18 short. The net is revenue
    12,000 - compute 120 x 36 = 4,320 - the 444.18 of shortfalls: the page's metrics table and
    ``fleetsim compare`` name the shortfall as they name training or SLA credits, so the rows shown
    add up to the net; a run without a commit has no such row."""
    revenue = [{"name": "subs", "usd_per_month": 3000}]
    plain = _run(tmp_path, _scenario({"compute": COMPUTE, "revenue": revenue}), "plain")
    commit = _run(tmp_path, _scenario({"compute": COMPUTE, "revenue": revenue, "commits": [QUARTER_COMMIT]}),
                  "commit")
    short = (2500 - 90 * 24) + (2500 * 30 / 91 - 30 * 24)
    assert short == pytest.approx(444.1758, abs=1e-4)
    s = json.loads((commit / "summary.json").read_text())
    assert s["cashflow"]["net"] == pytest.approx(12000 - 120 * 36 - short, rel=1e-12)

    page = metrics_section(s)
    assert "compute commit shortfall</td>" in page and "$444.18" in page
    assert "compute commit shortfall" not in metrics_section(json.loads((plain / "summary.json").read_text()))

    rows = {r.key: r for r in compare([plain, commit]).rows}
    row = rows["cashflow.compute_commit_shortfall"]
    assert row.label == "compute commit shortfall"
    assert row.values == [0.0, pytest.approx(short, rel=1e-12)]
    assert "cashflow.compute_commit_shortfall" not in {r.key for r in compare([plain, plain]).rows}
