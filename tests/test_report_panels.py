"""The run page's "every value in summary.json" panel is a table all the way down: a list of records
(``cashflow.sla_periods``) is a table of its own in its cell, an empty block reads ``none``; no cell
shows a Python or JSON literal (``[{'line': 'api', ...}]``, ``{}``, ``[]``), as it did."""
import re
from html.parser import HTMLParser

import pytest

from sim.report import write_report


class Cells(HTMLParser):
    """The page's tables as nested lists: each table a list of rows, each row a list of cells, a cell
    its text and, under ``tables``, the tables inside it."""

    def __init__(self):
        super().__init__()
        self.tables, self.stack, self.cell = [], [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.stack.append({"cls": dict(attrs).get("class", ""), "rows": [], "parent": self.cell})
            self.cell = None
        elif tag == "tr" and self.stack:
            self.stack[-1]["rows"].append([])
        elif tag in ("td", "th") and self.stack:
            self.cell = {"text": "", "tables": []}
            self.stack[-1]["rows"][-1].append(self.cell)

    def handle_endtag(self, tag):
        if tag == "table" and self.stack:
            t = self.stack.pop()
            self.cell = t["parent"]
            (self.cell["tables"] if self.cell is not None else self.tables).append(t)
        elif tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def every_value_panel(html: str) -> dict:
    """The rows of the table under "Every value in summary.json", by key: the value cell."""
    start = html.index("Every value in summary.json")
    parser = Cells()
    parser.feed(html[start:html.index("</details>", start)])
    (panel,) = parser.tables
    assert [c["text"] for c in panel["rows"][0]] == ["key", "value"]
    return {row[0]["text"]: row[1] for row in panel["rows"][1:]}


@pytest.fixture(scope="module")
def sla_run(tmp_path_factory):
    """One H100 for 3 minutes at $2/GPU-hour, its revenue line with an SLA: the summary, the page."""
    from sim.api import run

    scn = {"name": "sla", "seed": 2, "duration": "3m", "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                        "prompt_tokens": {"dist": "fixed", "value": 200},
                        "output_tokens": {"dist": "fixed", "value": 20}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]},
           "slo": {"ttft_s": 2.0, "tpot_s": 0.1},
           "economics": {"gpu_hour_usd": 2.0, "revenue": [
               {"name": "api", "usd_per_million_output_tokens": 10, "sla": {"attainment": 0.99, "credit_pct": 0.1}}]}}
    result = run(scn)
    out = tmp_path_factory.mktemp("sla") / "run"
    result.write(out)
    return result.summary, write_report(out, regenerate=False).read_text()


def test_a_list_of_records_is_a_table_and_no_cell_is_a_literal(sla_run):
    summary, html = sla_run
    periods = summary["cashflow"]["sla_periods"]
    assert periods                          # one period of the api line: the case that read as a literal
    panel = every_value_panel(html)

    cell = panel["cashflow.sla_periods"]
    (inner,) = cell["tables"]
    head, *rows = inner["rows"]
    assert [c["text"] for c in head] == list(periods[0])          # a column per field, as summary.json has them
    assert [[c["text"] for c in r] for r in rows][0][:2] == [periods[0]["line"], periods[0]["period"]]
    assert len(rows) == len(periods)
    assert panel["requests.rejected_by_reason"]["text"] == "none"    # {} in summary.json
    for key, value in panel.items():
        assert not value["text"].startswith(("[", "{")), (key, value["text"])


def test_the_two_compute_costs_are_said_to_be_one_bill_under_the_metrics_table(sla_run):
    """One GPU for 180 s at $2.00 an hour billed by the second: 0.05 GPU-hours, $0.10, in both the cost block
    and the ledger; the page says under the table that they are the same bill and what it is."""
    summary, html = sla_run
    assert summary["cost"]["compute_usd"] == summary["cashflow"]["compute_cost"] == pytest.approx(0.10)
    metrics = html[html.index("<h2>Metrics</h2>"):html.index("<h3>Per pool</h3>")]
    assert {"compute cost", "compute cost (ledger)"} <= set(re.findall(r"<tr><td>([^<]*)</td>", metrics))
    note = re.search(r'<p class="aside">(Compute cost and compute cost \(ledger\)[^<]+)</p>', metrics).group(1)
    assert "are one bill, $0.10," in note and "here 0.05 GPU-hours billed at a blended $2.00 per GPU-hour" in note
