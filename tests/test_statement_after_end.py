"""A run ending mid-month whose last settlement pays after the horizon: the statement has two rows of
that month, the partial period and the cash that lands after the end. Each says what it is in its
label on the report page and the cash-flow chart, and on the terminal by the line it comes under; cashflow.csv's period stays the month.

provider_partner_2024 settled monthly with a 10-day lag over 100 days from 2024-01-01: the horizon is
2024-04-10 (31 + 29 + 31 + 9 days), so April is partial and its settlement, paid 10 days after it, lands
after the end but still in April."""
import csv
import datetime as dt
import html as html_lib
import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.report import write_report

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "provider_partner_2024.yaml"
SETS = ["economics.period=month", "duration=100d", "economics.agreements.0.settle=month",
        "economics.agreements.0.payment_lag=10d"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("after-end") / "run"
    args = ["run", str(SCENARIO), "--out", str(out), "--quiet"]
    for s in SETS:
        args += ["--set", s]
    import contextlib
    import io

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main(args) == 0
    return out, text.getvalue()


def test_the_horizon_ends_mid_april_and_its_settlement_lands_after_it_in_april():
    end = dt.date(2024, 1, 1) + dt.timedelta(days=100)
    assert end == dt.date(2024, 4, 10) and (end + dt.timedelta(days=10)).month == 4


def _section(page: str, heading: str) -> str:
    """The page from ``heading`` to the next section's heading (the settlements' table follows the statement)."""
    start = page.index(heading)
    return page[start:page.index("<h2>", start + 1)]


def test_terminal_page_and_chart_label_the_cash_after_the_end(run):
    out, text = run
    rows = list(csv.DictReader((out / "cashflow.csv").open()))
    april = [r for r in rows if r["period"] == "2024-04"]
    assert [(r["partial"], r["after_horizon"]) for r in april] == [("True", "False"), ("False", "True")]
    lines = text.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("2024-04 (partial) "))
    # on the terminal the cash after the end comes under a line of its own, each row labelled by its period
    assert lines[at + 1] == "after the end †" and lines[at + 2].startswith("2024-04 ")
    assert lines[at + 3].startswith("2024-05 ") and lines[at + 4].startswith("† after the horizon")
    assert not any(re.match(r"2024-04 †", x) for x in lines)
    page = write_report(out).read_text()
    body = _section(page, "<h2>Statement per month")
    periods = [html_lib.unescape(c) for c in re.findall(r"<tr><td>([^<]*)</td>", body)]
    assert periods[3:] == ["2024-04 (partial)", "2024-04 after the end †", "2024-05 after the end †"]
    svg = (out / "figures" / "cashflow.svg").read_text()
    assert "2024-04 after the end †" in html_lib.unescape(svg) and "2024-04*" in svg


def test_the_period_cells_stay_on_one_line(run):
    """The statement's cells (the period above all: "2024-04 after the end †" broke over three lines in
    an 800-pixel window) do not wrap: the table is of class ``statement``, whose cells the page's style
    keeps on one line (a table wider than the page scrolls sideways)."""
    out, _ = run
    page = write_report(out).read_text()
    style = page[page.index("<style>"):page.index("</style>")]
    assert "table.statement td{white-space:nowrap}" in style
    body = _section(page, "<h2>Statement per month")
    assert re.findall(r"<table[^>]*>", body) == ["<table class='statement'>"]
    assert "table{" in style and "overflow-x:auto" in style[style.index("table{"):]
