"""The run page's revenue-share settlements: who pays whom, how much and on which day, per period.

The expected amounts and dates are worked by hand from the agreement's terms and the calendar (the same
scenario as ``tests/test_money_handworked.py``'s cents case), never read from the money layer."""
from __future__ import annotations

import html
import re

import pytest

from money_files import TOKENS, rows, run
from sim.errors import ScenarioError
from sim.report import write_report

#: lines of $33.33.., $66.66.. and the partner's $3.33.. a month; a third of the provider's revenue paid
#: to the partner, a fifth of the partner's paid back, netted per quarter, paid 60 days after it
THIRDS = {"period": "month", "rounding": "cents", "compute": [{"pool": "main", "usd_per_gpu_hour": 1 / 3}],
          "revenue": [{"name": "a", "usd_per_month": 100 / 3}, {"name": "b", "usd_per_month": 200 / 3},
                      {"name": "p", "owner": "partner", "usd_per_month": 10 / 3}],
          "agreements": [{"rate": 1 / 3, "base": ["a", "b"], "reverse": {"rate": 0.2, "base": ["p"]},
                          "settle": "quarter", "payment_lag": "60d"}]}


def _scenario(economics: dict) -> dict:
    """From 2023-12-15 for 100 days: the run ends 2024-03-24 00:00, inside 2024-Q1."""
    return {"name": "settle", "seed": 3, "start": "2023-12-15", "duration": "100d", "warmup": 0,
            "model": "llama-3-8b", "workload": {"arrival": {"process": "burst", "count": 10, "at": 0}, **TOKENS},
            "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]},
            "economics": economics, "metrics": {"interval": "1h"}}


def _section(page: str) -> str:
    start = page.index("<h2>Revenue-share settlements</h2>")
    return page[start:page.index("</table>", start)]


def _rows(section: str) -> list[list[str]]:
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)]
            for tr in re.findall(r"<tr>(.*?)</tr>", section) if "<td" in tr]


def test_the_run_page_says_each_quarters_netted_payment_who_pays_it_and_when_it_lands(tmp_path):
    """2023-Q4 holds Dec 15-31 (17 of 31 days): a third of $100 x 17/31 = $18.28 owed to the partner, a
    fifth of $3.33.. x 17/31 = $0.37 owed back, net $17.91, paid 60 days after Dec 31: Mar 1 2024 (Jan 31 +
    Feb 29 days). 2024-Q1 holds Jan, Feb and Mar 1-23 (23 of 31 days): a third of $100 x (2 + 23/31) =
    $91.40, back a fifth of $3.33.. x (2 + 23/31) = $1.83, net $89.57, paid 60 days after Mar 31: May 30
    + 1 = May 31, after the run's end (Mar 24), so marked †."""
    out = run(tmp_path, _scenario(THIRDS))
    section = _section(write_report(out).read_text())
    assert "share owed provider → partner" in section and "share owed back partner → provider" in section
    months = 2 + 23 / 31
    q1 = (round(100 * months / 3, 2), round(0.2 * 10 / 3 * months, 2))
    assert q1 == (91.40, 1.83)
    assert _rows(section) == [
        ["2023-Q4", "$18.28", "$0.37", "$17.91", "provider pays", "2024-03-01"],
        ["2024-Q1", f"${q1[0]:.2f}", f"${q1[1]:.2f}", f"${q1[0] - q1[1]:.2f}", "provider pays", "2024-05-31 †"]]
    assert "† after the run's horizon" in section


def test_a_partner_paying_says_so_and_a_run_without_agreements_has_no_section(tmp_path):
    """The partner as payer of 100 % of its $300/month line for January 2025, settled monthly with no lag:
    $300 owed partner → provider, paid by the partner on Feb 1, inside the 40-day run."""
    partner = {"period": "month", "compute": [{"pool": "main", "usd_per_gpu_hour": 1.0}],
               "revenue": [{"name": "resale", "owner": "partner", "usd_per_month": 300}],
               "agreements": [{"name": "resale_share", "payer": "partner", "payee": "provider", "rate": 1.0,
                               "base": ["resale"], "settle": "month"}]}
    sc = {**_scenario(partner), "start": "2025-01-01", "duration": "40d"}
    section = _section(write_report(run(tmp_path, sc, "partner")).read_text())
    assert "share owed partner → provider" in section
    assert _rows(section)[0] == ["2025-01", "$300.00", "$0.00", "$300.00", "partner pays", "2025-02-01"]
    # a 31-day run ends as February 1 begins, the moment the cash lands: the statement holds it in its "after
    # the end" row (cash of the run's 31 days: the compute alone), so the table marks it † as well
    edge = run(tmp_path, {**sc, "duration": "31d"}, "edge")
    cash = [r for r in rows(edge) if r["period"] == "2025-02"]
    assert [(r["after_horizon"], float(r["cash_revenue_share_received_usd"])) for r in cash] == [("True", 300.0)]
    section = _section(write_report(edge).read_text())
    assert _rows(section)[0][-1] == "2025-02-01 †" and "† after the run's horizon" in section
    plain = {**_scenario({"gpu_hour_usd": 2.0}), "duration": "1d"}
    assert "Revenue-share settlements" not in write_report(run(tmp_path, plain, "plain")).read_text()


def test_a_damaged_settlements_file_stops_the_report_naming_it(tmp_path):
    out = run(tmp_path, _scenario(THIRDS))
    path = out / "settlements.csv"
    text = path.read_text()
    assert "2024-01-01,18.280000," in text
    path.write_text(text.replace("2024-01-01,18.280000,", "2024-01-01,lots,"))
    with pytest.raises(ScenarioError) as err:
        write_report(out)
    assert "settlements.csv" in str(err.value) and "forward_usd" in str(err.value)
