"""What a person reads of a run with every money term set, checked against its own parts.

One short run (three days from 2025-03-30, two one-GPU pools, a revenue share with a minimum, a
yearly cap and a capped reverse share, training paid partly with credits, owned-pool energy, an SLA
credit and two compute commits) is made once; each test reads what the terminal, the CSVs and the
page say and checks that the parts add up to the totals they sit beside (the net formula of
docs/economics.md), not what the code computed.
"""
from __future__ import annotations

import csv
import itertools
import json
import re
from pathlib import Path

import pytest
import yaml

from sim.cli import main

EVERY = {
    "name": "every_term", "seed": 5, "start": "2025-03-30", "duration": "3d", "warmup": 0,
    "model": "llama-3-8b",
    "workload": {"arrival": {"process": "poisson", "rate": 0.05},
                 "prompt_tokens": {"dist": "fixed", "value": 500}, "output_tokens": {"dist": "fixed", "value": 50}},
    "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 1},
                        {"name": "aux", "gpu": "h100-sxm", "replicas": 1, "tensor_parallel": 1}]},
    "slo": {"ttft_s": 0.001, "tpot_s": 0.1},        # nothing meets it: the SLA credit is owed
    "metrics": {"interval": "1h"},
    "economics": {
        "period": "month",
        "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}, {"pool": "aux", "usd_per_gpu_hour": 0.5}],
        "commits": [{"name": "main_commit", "pool": "main", "commit_usd": 730, "period": "month"},
                    {"name": "fleet_commit", "commit_usd": 3300, "period": "quarter", "payment_lag": "15d"}],
        "revenue": [{"name": "subs", "usd_per_month": 3000},
                    {"name": "api", "usd_per_million_output_tokens": 10,
                     "sla": {"attainment": 0.99, "credit_pct": 0.10}},
                    {"name": "resale", "owner": "partner", "usd_per_month": 1000}],
        "agreements": [{"name": "deal", "rate": 0.1, "base": ["subs", "api"],
                        "reverse": {"rate": 0.05, "base": ["resale"], "cap_usd": 4, "cap_used_usd": 1},
                        "settle": "month", "minimum_usd": 1200, "from": "2024-05-16", "cap_usd": 1000,
                        "cap_used_usd": 600, "cap_period": "year", "payment_lag": "10d"}],
        "training": {"usd_per_month": 500},
        "credits": [{"name": "tc", "usd": 20, "applies_to": "training"}],
        "energy": {"owned": ["main"], "usd_per_kwh": 0.08}}}

#: the accrual net's parts with their sign (docs/economics.md, the summary's ``net``)
SIGNS = {"revenue": 1, "compute_cost": -1, "revenue_share_paid": -1, "revenue_share_received": 1,
         "training_cost": -1, "credits_applied": 1, "energy_cost": -1, "sla_credits": -1,
         "compute_commit_shortfall": -1}


@pytest.fixture(scope="module")
def every(tmp_path_factory):
    """The run's folder and what ``fleetsim run`` printed."""
    tmp = tmp_path_factory.mktemp("every")
    path = tmp / "every.yaml"
    path.write_text(yaml.safe_dump(EVERY, sort_keys=False))
    out = tmp / "run"
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", str(path), "--out", str(out), "--figures", "none"]) == 0
    return out, buf.getvalue()


def _money(text: str) -> float:      # (a blank cell: nothing accrues in a row after the horizon)
    return float(text.replace("$", "").replace(",", "") or 0.0)


def test_every_term_is_set_in_the_run(every):
    """The run this file reads has each optional part of the net non-zero (else the checks prove little)."""
    c = json.loads((every[0] / "summary.json").read_text())["cashflow"]
    assert all(c[k] > 0 for k in SIGNS), {k: c[k] for k in SIGNS}


def test_the_terminal_cash_flow_line_adds_up_to_its_net(every):
    """The ``cash flow (accrual)`` line names every part of the net: with the signs of the net's formula
    the amounts it shows sum to the net it shows (to the cent of each rounded amount)."""
    out, text = every
    line = next(x for x in text.splitlines() if x.startswith("cash flow (accrual)"))
    amounts = dict((w.strip(), _money(v)) for w, v in re.findall(r"([A-Za-z ]+?) (-?\$[\d,.]+)", line[19:]))
    net = amounts.pop("net")
    words = {"revenue": "revenue", "compute": "compute_cost", "share paid": "revenue_share_paid",
             "received": "revenue_share_received", "training": "training_cost", "credits": "credits_applied",
             "energy": "energy_cost", "SLA credits": "sla_credits", "commit shortfall": "compute_commit_shortfall"}
    assert set(amounts) == set(words), line
    total = sum(SIGNS[words[w]] * v for w, v in amounts.items())
    assert total == pytest.approx(net, abs=0.005 * (len(amounts) + 1)), line
    summary = json.loads((out / "summary.json").read_text())["cashflow"]
    assert net == pytest.approx(summary["net"], abs=0.005)


#: the run page's metrics-table rows of the accrual net's parts, with their sign
PAGE_PARTS = {"revenue": 1, "compute cost (ledger)": -1, "revenue share paid": -1, "revenue share received": 1,
              "training cost": -1, "credits applied": 1, "energy cost (owned pools)": -1, "SLA credits owed": -1,
              "compute commit shortfall": -1}


@pytest.fixture(scope="module")
def page(every):
    """The run's ``report.html``."""
    out, _ = every
    assert main(["report", str(out)]) == 0
    return (out / "report.html").read_text()


def _cells(html: str) -> dict[str, str]:
    """The two-cell rows of the page's tables (words, value)."""
    return dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td>", html))


def test_the_page_metrics_table_adds_up_to_its_net(page):
    """The run page's metrics table shows each part of the net (the commit shortfall too): its money rows,
    signed as the net's formula, add up to its ``net (accrual)`` row."""
    cells = _cells(page)
    missing = [k for k in PAGE_PARTS if k not in cells]
    assert not missing, missing
    total = sum(sign * _money(cells[k]) for k, sign in PAGE_PARTS.items())
    assert total == pytest.approx(_money(cells["net (accrual)"]), abs=0.005 * len(PAGE_PARTS))


def test_sweep_columns_named_come_in_the_same_order_on_the_terminal_and_the_page(tmp_path, capsys):
    """``--columns`` naming summary keys and planner columns mixed: the terminal's table and the report
    page's table show them in the order named (the terminal put the planner columns first, in their own
    order, so ``GPUs`` came before ``slo.attainment`` there and last on the page)."""
    from sim.commands.sweep import column_name
    from sim.metrics.names import name_of

    named = ["slo.attainment", "$/month", "latency.ttft.p99", "GPUs"]
    out = tmp_path / "sw"
    assert main(["sweep", "scenarios/baseline.yaml", "--set", "duration=30s", "--set", "warmup=0",
                 "--set", "workload.arrival.rate=2", "--grid", "fleet.pools.0.replicas=1,2",
                 "--columns", ",".join(named), "--out", str(out), "--quiet", "--executor", "serial",
                 "--no-figures"]) == 0
    heading = capsys.readouterr().out.splitlines()[0]
    terminal = [c for c in map(column_name, re.split(r"\s{2,}", heading.strip())) if c in named]
    assert terminal == named, heading
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    first = re.search(r"<table[^>]*><tr>(.*?)</tr>", html[html.index("Sweep:"):]).group(1)
    page = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th>(.*?)</th>", first)]   # (a path may break: <wbr>)
    words = {name_of(c) if "." in c else c: c for c in named}
    assert [words[h] for h in page if h in words] == named, page


#: p99 TTFT (ms) of baseline.yaml's four H100s for 30 s at 10, 10.05, ..., 11.95 req/s (``fleetsim sweep
#: --set duration=30s --set warmup=0 --grid workload.arrival.rate=10,...,11.95``): forty points at one cost
TTFT_MS_40 = (108.47, 103.94, 115.86, 117.51, 112.05, 111.67, 124.59, 121.58, 119.71, 123.06, 116.8, 115.48, 118.1,
              121.02, 113.71, 123.12, 116.24, 118.16, 113.78, 114.33, 114.45, 119.82, 118.33, 112.44, 119.45, 117.56,
              113.14, 116.48, 121.55, 112.28, 109.8, 110.74, 121.73, 110.47, 110.9, 120.52, 122.01, 107.8, 108.75, 116.99)


def test_pareto_labels_clear_every_marker_in_the_png_as_saved(tmp_path, monkeypatch):
    """Forty configurations at one cost and p99 TTFTs 0.5 ms apart (the sweep below): in the
    figure as its PNG is drawn (110 dpi, the picture the page shows) no label covers a point's marker or
    another label, and each stays inside the axes. The labels were measured at the figure's own 100 dpi,
    where hinted text is about a tenth narrower, so those left of their point ran into its marker."""
    from matplotlib.text import Text

    from sim.report import sweep_figures
    from sim.report.labels import overlap
    from sim.report.render import PNG_DPI

    figs = []
    real = sweep_figures.save_figure
    monkeypatch.setattr(sweep_figures, "save_figure", lambda fig, stem, *a, **k: (figs.append(fig), real(fig, stem, *a, **k))[1])
    rows = [{"rate": round(10 + 0.05 * i, 2), "cost.compute_usd.mean": 1 / 12, "latency.ttft.p99.mean": ms / 1e3}
            for i, ms in enumerate(TTFT_MS_40)]
    sweep_figures.pareto_figure(rows, tmp_path / "pareto", label_keys=["rate"])
    (fig,) = figs
    ax = fig.axes[0]
    fig.set_dpi(PNG_DPI)
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    boxes = [Text.get_window_extent(t, renderer).extents for t in ax.texts]
    assert len(boxes) >= 20
    half = 3.0 * PNG_DPI / 72          # the default marker, 6 points across
    marks = [(x - half, y - half, x + half, y + half)
             for x, y in (ax.transData.transform((r["cost.compute_usd.mean"], r["latency.ttft.p99.mean"])) for r in rows)]
    assert [(t.get_text(), m) for t, b in zip(ax.texts, boxes) for m in marks if overlap(b, m) > 0] == []
    assert not any(overlap(a, b) for a, b in itertools.combinations(boxes, 2))
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b[0] and b[2] <= frame.x1 and frame.y0 <= b[1] and b[3] <= frame.y1 for b in boxes)


#: the statement's accrual columns with the sign they enter ``net``: ``cashflow.csv`` names, page headings
FOOT = {"revenue_usd": ("revenue", 1), "compute_usd": ("compute", -1), "training_usd": ("training", -1),
        "credits_applied_usd": ("credits", 1), "energy_usd": ("energy", -1), "sla_credits_usd": ("SLA credits", -1),
        "compute_commit_shortfall_usd": ("commit shortfall", -1), "revenue_share_paid_usd": ("share paid", -1),
        "revenue_share_received_usd": ("share received", 1)}


def test_the_statement_rows_foot_in_the_csv_and_on_the_page(every, page):
    """Every statement row, in ``cashflow.csv`` (to the micro-dollar) and on the page (to the cent of each
    rounded cell), sums its accrual columns to its net, the new commit shortfall column included."""
    out, _ = every
    with open(out / "cashflow.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(k in rows[0] for k in FOOT)
    for r in rows:
        assert sum(s * float(r[k]) for k, (_, s) in FOOT.items()) == pytest.approx(float(r["net_usd"]), abs=1e-5)
    table = page[page.index("Statement per"):]
    table = table[:table.index("</table>")]
    heads = re.findall(r"<th>([^<]*)</th>", table)
    cells = [re.findall(r"<td>([^<]*)</td>", tr) for tr in re.findall(r"<tr>(<td>.*?)</tr>", table)]
    assert len(cells) == len(rows) and all(h in heads for h, _ in FOOT.values())
    for row in cells:
        got = dict(zip(heads, row))
        shown = sum(s * _money(got[h]) for h, s in FOOT.values())
        assert shown == pytest.approx(_money(got["net (accrual)"]), abs=0.005 * (len(FOOT) + 1)), row


def test_a_sweep_that_priced_nothing_draws_no_negative_dollars(tmp_path, monkeypatch):
    """Two configurations at $0 (no price set): the Pareto figure's cost axis has no tick below $0 (it ran
    from -$0.04 to $0.04 around the points), and the points stay inside the axes."""
    from sim.report import sweep_figures

    figs = []
    real = sweep_figures.save_figure
    monkeypatch.setattr(sweep_figures, "save_figure", lambda fig, stem, *a, **k: (figs.append(fig), real(fig, stem, *a, **k))[1])
    rows = [{"r": r, "cost.compute_usd.mean": 0.0, "latency.ttft.p99.mean": t} for r, t in ((2, 0.12), (3, 0.1))]
    sweep_figures.pareto_figure(rows, tmp_path / "pareto", label_keys=["r"])
    (fig,) = figs
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo < 0.0 < hi
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and min(ticks) >= 0.0, ticks
    assert all(not sweep_figures.money_tick(t).startswith("-") for t in ticks)


def test_a_class_named_in_chinese_keeps_the_terminal_columns_aligned():
    """A CJK name takes two terminal columns a character: the run summary's class table pads it by what
    it shows, so the numbers after it line up (they were three columns to the right of the others')."""
    import unicodedata

    from sim.report_text import class_table

    def shown(text: str) -> int:        # terminal columns, counted here from the Unicode tables
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    block = {"requests": {"completed": 280}, "latency": {"ttft": {"p99": 0.0314}, "tpot": {"p99": 0.0085}},
             "slo": {"attainment": 1.0}}
    s = {"classes": {"interactive_premium": block, "批处理": {**block, "requests": {"completed": 323}}}}
    lines = class_table(s)
    rows = [line for line in lines if line.startswith(("interactive", "批"))]
    assert len(rows) == 2
    assert shown(rows[0]) == shown(rows[1]), lines           # the last column, right-aligned, ends at one place
    cut = [shown(r[:r.index("  ")]) + len(r[r.index("  "):]) - len(r[r.index("  "):].lstrip()) for r in rows]
    assert cut[0] == cut[1], lines                           # the second column starts at one place


LONG_POOL = "a_pool_with_an_extraordinarily_long_name_that_goes_on_and_on_and_on"
LONG_CLASS = "interactive_chat_requests_from_the_very_long_named_premium_tier_customers"


@pytest.mark.browser
def test_long_names_do_not_push_the_settings_table_sideways(tmp_path):
    """A 68-character pool name and a 74-character class name: in a 1280-px window the run page's
    settings table fits (the pool's name, one unbroken word, widened the first column so far that the
    values scrolled out of sight)."""
    pytest.importorskip("websocket", reason="needs websocket-client (the 'browser' extra)")
    from headless import Page, file_url, find_browser

    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium installed (make test-browser installs it)")
    import sim
    from sim.report import write_report

    sc = {"name": "long_names", "seed": 1, "duration": "1m", "warmup": 0, "model": "llama-3-8b",
          "workload": {"arrival": {"process": "poisson", "rate": 2},
                       "prompt_tokens": {"dist": "fixed", "value": 200}, "output_tokens": {"dist": "fixed", "value": 20},
                       "classes": [{"name": LONG_CLASS, "share": 0.5}, {"name": "batch", "share": 0.5}]},
          "fleet": {"pools": [{"name": LONG_POOL, "gpu": "h100-sxm", "replicas": 1}]},
          "slo": {"ttft_s": 2, "tpot_s": 0.1}, "economics": {"gpu_hour_usd": 2.5}}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(sc, sort_keys=False))
    folder = sim.run(path).write(tmp_path / "run")
    with Page(browser) as page:
        page.open(file_url(write_report(folder)))
        tables = page.evaluate("[...document.querySelectorAll('table.settings')].map(t => [t.scrollWidth, t.clientWidth])")
    assert tables and all(w <= shown for w, shown in tables), tables


def test_a_frontier_of_one_point_is_not_in_the_legend(tmp_path, monkeypatch):
    """Configurations at one cost: the frontier is the fastest point alone, a step line of no length; the
    legend named a green "Pareto frontier" line that the figure did not show."""
    from sim.report import sweep_figures

    figs = []
    real = sweep_figures.save_figure
    monkeypatch.setattr(sweep_figures, "save_figure", lambda fig, stem, *a, **k: (figs.append(fig), real(fig, stem, *a, **k))[1])
    rows = [{"r": r, "cost.compute_usd.mean": 0.5, "latency.ttft.p99.mean": t} for r, t in ((1, 0.12), (2, 0.1), (3, 0.11))]
    sweep_figures.pareto_figure(rows, tmp_path / "one", label_keys=["r"])
    rows[0]["cost.compute_usd.mean"] = 0.25                 # now two points on the frontier: the line is drawn
    sweep_figures.pareto_figure(rows, tmp_path / "two", label_keys=["r"])
    legends = [[t.get_text() for t in fig.axes[0].get_legend().get_texts()] if fig.axes[0].get_legend() else []
               for fig in figs]
    assert legends == [[], ["Pareto frontier"]]


def test_a_weighted_histogram_p99_stays_within_its_values():
    """Weights summing to 75.85 (the fluid tier's per-class mixtures: requests per step times the class's
    share), every value 0.1 to 0.7 s: the p99 lies among them. The linear method interpolated toward the
    order statistic of rank 76, past the total, read as the histogram's top (10^7 s): the provider_partner
    scenario's api class printed a TTFT p99 of 994,150,219 ms beside a mean of 159 ms."""
    import numpy as np

    from sim.metrics.histogram import LogHistogram

    from sim.fluid.sums import mixture_stats

    values = np.linspace(0.1, 0.7, 300)
    weights = np.full(300, 75.85 / 300)
    counts = np.zeros(LogHistogram().n_bins)
    np.add.at(counts, LogHistogram().bin_index(values), weights)
    out = mixture_stats(counts, float(values.mean()))           # the fluid tier's per-class statistics
    for q in ("p50", "p90", "p99"):
        assert 0.1 * 0.99 <= out[q] <= 0.7 * 1.01, out
    assert out["p99"] == pytest.approx(np.percentile(values, 99), rel=0.02)


@pytest.mark.parametrize("mean, half, shown", [(146.96, 84.72, "147 ± 85"), (146.96, 0.3, "147 ± 0.3"),
                                               (2.5, 0.126, "2.50 ± 0.13"), (0.5, 0.0123, "0.500 ± 0.012")])
def test_a_sweep_cell_writes_the_half_width_to_no_more_places_than_the_mean(mean, half, shown):
    """A mean of 147 ms beside a half-width of 84.72 claims a precision the mean does not show: the
    half-width keeps no more decimals than the mean (unless that leaves it no significant digit)."""
    from sim.commands.sweep import _cell

    row = {"latency.ttft.p99.mean": mean / 1000, "latency.ttft.p99.ci_low": (mean - half) / 1000,
           "latency.ttft.p99.ci_high": (mean + half) / 1000}
    assert _cell(row, "latency.ttft.p99") == shown
