"""The cash-flow chart: the money layer's statement per period, drawn; and, for a scenario with no
revenue (cost only), the statement as the costs it holds (:func:`costs_only`, :func:`cost_rows`).

The money layer (:mod:`sim.economics`) computes the statement rows and writes them as
``cashflow.csv``; this module turns those rows into a :class:`sim.report.chart.Chart`
(stacked bars per period, accrual: money in up, money out down; a line of cumulative cash)
and, for a standalone :class:`sim.economics.EconomicsResult`, into a PNG.

    >>> from sim.report.cashflow import write_cashflow_png       # doctest: +SKIP
    >>> write_cashflow_png(econ, "out")    # writes out/cashflow.png  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.atomic import atomic_write_bytes
from sim.economics.statement import HEADINGS, flag, row_label
from sim.report.chart import Chart, Panel, Rule, Series, figure_text

#: money in, stacked upwards: statement column, legend label, colour
MONEY_IN = (("revenue_usd", "revenue", "#4c956c"), ("revenue_share_received_usd", "share received", "#90be6d"),
            ("credits_applied_usd", "credits", "#b8d8ba"))
#: money out, stacked downwards
MONEY_OUT = (("compute_usd", "compute", "#d1495b"), ("training_usd", "training", "#edae49"),
             ("revenue_share_paid_usd", "share paid", "#8d6a9f"), ("energy_usd", "energy", "#00798c"),
             ("sla_credits_usd", "SLA credits", "#6d597a"),
             ("compute_commit_shortfall_usd", "commit shortfall", "#a4243b"))


def cashflow_chart(statement: list[dict], currency: str = "USD") -> Chart:
    """Stacked bars per period (accrual: money in up, money out down) and cumulative cash, from
    the statement rows of :class:`sim.economics.EconomicsResult` (or ``cashflow.csv``); the title's
    second line explains the marks the period labels carry (``*`` partial, ``after the end †``), those
    only (a run of one whole-horizon period explained a † it did not show).

        >>> cashflow_chart([{"period": "2025-01", "partial": True, "compute_usd": 1.0,
        ...                  "cumulative_cash_usd": -1.0}]).panels[0].title.splitlines()[1]
        '* partial period'
    """
    rows = statement
    labels = [figure_text(row_label(r, partial="*")) for r in rows]
    width, height = max(7.5, 0.5 * len(rows) + 4.5), 4.5
    # fixed margins in inches: y tick labels and label on the left, the legend on the right,
    # the two-line title on top, the 45-degree period labels below (about 0.05 in of height
    # per character at 8 pt)
    bottom_in = 0.3 + 0.05 * max((len(lab) for lab in labels), default=4)
    x = list(range(len(rows)))
    scale, unit = _scale(rows)
    keys = [k for k, present in (("* partial period", any(flag(r.get("partial")) for r in rows)),
                                 ("after the end †: cash landing after the horizon (lagged)",
                                  any(flag(r.get("after_horizon")) for r in rows))) if present]
    panel = Panel(ylabel=f"{currency} {unit}".strip(), categories=labels, rotation=45.0, category_pt=8.0,
                  title="Cash flows per period (bars: accrual; line: cumulative cash)"
                        + "".join(f"\n{'   '.join(keys)}" if keys else ""),
                  title_pt=9.0, legend="outside", legend_pt=7.0, grid="")
    for sign, stack in ((1.0, MONEY_IN), (-1.0, MONEY_OUT)):
        bottom = [0.0] * len(rows)
        for key, label, color in stack:
            vals = [sign * r.get(key, 0.0) / scale for r in rows]
            if any(vals):
                panel.series.append(Series(x, vals, kind="bar", bottom=bottom, color=color, label=label))
                bottom = [b + v for b, v in zip(bottom, vals)]
    panel.series.append(Series(x, [r["cumulative_cash_usd"] / scale for r in rows], color="black",
                               width=1.5, marker=True, label="cumulative cash"))
    panel.rules.append(Rule(0.0, axis="y", color="grey", width=0.8))
    return Chart([panel], width_in=width, height_in=height, margins=(0.85, 1.5, bottom_in, 0.5))


def cashflow_png(economics: Any) -> bytes:
    """The cash-flow chart of an :class:`sim.economics.EconomicsResult`, drawn by matplotlib as
    PNG bytes."""
    from sim.report.render import png_bytes      # matplotlib only when a PNG is asked for

    return png_bytes(cashflow_chart(economics.statement, economics.currency))


def write_cashflow_png(economics: Any, out_dir: Path | str) -> Path:
    """Write ``out_dir/cashflow.png`` (atomically) for an :class:`sim.economics.EconomicsResult`;
    returns its path. A run's result folder has the same chart as ``figures/cashflow.*``."""
    return atomic_write_bytes(Path(out_dir) / "cashflow.png", cashflow_png(economics))


def _scale(rows: list[dict]) -> tuple[float, str]:
    """A divisor and its word so the largest amount reads in units, thousands, millions or billions."""
    peak = max([abs(r.get(k, 0.0)) for r in rows for k in ("revenue_usd", "compute_usd", "cumulative_cash_usd",
                                                            "training_usd")] or [0.0])
    for div, unit in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands")):
        if peak >= div:
            return div, unit
    return 1.0, ""


#: the statement's income columns: all zero in a scenario without revenue or agreement terms
INCOME = ("revenue_usd", "revenue_share_paid_usd", "revenue_share_received_usd")
#: the cost columns a cost-only statement shows (when any period has one), with their headings
COSTS = tuple((key, HEADINGS[key]) for key in ("compute_usd", "training_usd", "energy_usd", "sla_credits_usd",
                                                "compute_commit_shortfall_usd", "credits_applied_usd"))
#: what says a scenario has no revenue
NO_REVENUE = "no revenue or agreement terms"


def costs_only(statement: list[dict] | None, economics: Any = None) -> bool:
    """Whether a statement is costs only: no period has revenue or a revenue share, and the
    scenario's ``economics`` (an ``EconomicsConfig`` or its dict; None when unknown) has no revenue
    lines, agreements or opening balances (a revenue line that earned nothing in the window still makes
    its zeros news).

        >>> costs_only([{"revenue_usd": 0.0, "revenue_share_paid_usd": 0.0, "compute_usd": 1.5}], {"revenue": []})
        True
        >>> costs_only([{"revenue_usd": 0.0, "compute_usd": 1.5}], {"revenue": [{"price_per_million_tokens": 1}]})
        False
    """
    if not statement:
        return False
    get = (economics.get if isinstance(economics, dict) else lambda k, d=None: getattr(economics, k, d))
    if economics is not None and (get("revenue", None) or get("agreements", None) or get("opening", None)):
        return False
    return all(not r.get(k) for r in statement for k in INCOME)


def cost_rows(statement: list[dict]) -> tuple[list[str], list[list[Any]]]:
    """A cost-only statement as costs: the headings (``period``, each cost column some period has,
    ``total`` when there are several, ``cumulative``) and per period its label and amounts. The total
    is what the period's accrual net says it lost (``-net_usd``), so credits lower it.

        >>> cost_rows([{"period": "2025-01", "partial": True, "compute_usd": 1.5, "training_usd": 0.0,
        ...             "net_usd": -1.5}, {"period": "2025-02", "compute_usd": 2.0, "net_usd": -2.0}])
        (['period', 'compute', 'cumulative'], [['2025-01 (partial)', 1.5, 1.5], ['2025-02', 2.0, 3.5]])
    """
    cols = [(k, h) for k, h in COSTS if any(isinstance(r.get(k), (int, float)) and r[k] for r in statement)]
    cols = cols or [COSTS[0]]
    total = len(cols) > 1
    out, cum = [], 0.0
    for r in statement:
        lost = -float(r.get("net_usd") or 0.0)
        cum += lost
        label = row_label(r)
        out.append([label, *(float(r.get(k) or 0.0) for k, _ in cols), *([lost] if total else []), cum])
    return ["period", *(h for _, h in cols), *(["total"] if total else []), "cumulative"], out
