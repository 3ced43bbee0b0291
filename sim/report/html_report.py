"""``report.html``: one self-contained page for a result folder (figures embedded as base64 PNG, or SVG).

:func:`write_report` recognises what the folder holds — a run (``summary.json``), a sweep
(``sweep.json``), a plan (``plan.json``) or a saturation search (``saturation.json``) —
regenerates its figures from the data files, and writes ``report.html`` with the key numbers as
tables and every figure inline. The page references no external file, script or font, so it
opens in any browser and can be mailed on its own. The run and sweep parts are here; the plan
and saturation parts are :mod:`sim.report.search_pages`, the building blocks
:mod:`sim.report.html_page`.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sim import humanize
from sim.atomic import atomic_write_text
from sim.economics.statement import HEADINGS, flag, row_label
from sim.metrics.band import attainment_range, band_key, class_band, configuration_range, latency_range
from sim.metrics.band import explanation as band_explanation
from sim.metrics.names import POOL_KEYS, name_of
from sim.metrics.output import result_files
from sim.metrics.stability import growth_words
from sim.report.cashflow import NO_REVENUE, cost_rows, costs_only
from sim.report.html_page import (Markup, Page, base_header, escape, fmt, mean_ci, name_cell, simulated, table,
                                  unit_of)
from sim.report.fingerprint import SCENARIO, changed_scenario_note, scenario_changed
from sim.report.overview import overview, read_scenario, scenario_json, value_at
from sim.report.planner_columns import COLUMNS, planner_cells
from sim.report.search_result import read_search
from sim.report.result_folder import read_statement, read_summary
from sim.report.run_figures import write_run_figures
from sim.report.search_pages import add_plan, add_saturation, breaks_before_ci
from sim.report.settlements import read_settlements, settlements_section

#: the summary keys of the run page's metrics table, in order; their words and units are
#: :data:`sim.metrics.names.METRICS`'s
RUN_KEYS = (
    "requests.arrived", "requests.completed", "requests.rejected", "requests.in_flight",
    "failures.availability", "failures.failures", "failures.requests_retried", "failures.requests_failed",
    "latency.ttft.p50", "latency.ttft.p99", "latency.tpot.p50", "latency.tpot.p99", "latency.itl.p99",
    "latency.e2e.p50", "latency.e2e.p99", "latency.queue.p99",
    "throughput.requests_per_s", "throughput.output_tokens_per_s", "slo.attainment", "slo.goodput_rps",
    "utilization.gpu_busy", "utilization.kv_cache_mean", "utilization.mfu", "utilization.mbu",
    "utilization.load_factor", "stability.stable", "stability.verdict", "stability.backlog_growth_per_s",
    "gpu_hours.provisioned", "gpu_hours.busy", "cost.compute_usd", "cost.per_million_output_tokens",
    "cashflow.revenue", "cashflow.compute_cost", "cashflow.revenue_share_paid", "cashflow.revenue_share_received",
    "cashflow.training_cost", "cashflow.credits_applied", "cashflow.energy_cost", "cashflow.sla_credits",
    "cashflow.compute_commit_shortfall", "cashflow.revenue_share_net", "cashflow.cash_revenue_share_net", "cashflow.net",
    "cashflow.cash_net",
)
#: the metrics table's rows: key, words, unit
RUN_ROWS = tuple((key, name_of(key), unit_of(key)) for key in RUN_KEYS)
#: the statement columns shown per period (``cashflow.csv`` names), with their headings; the costs
#: and credits of OPTIONAL only when some row has them, so that every row's accrual net adds up
STATEMENT_COLUMNS = tuple((key, HEADINGS[key]) for key in (
    "revenue_usd", "compute_usd", "training_usd", "credits_applied_usd", "energy_usd", "sla_credits_usd",
    "compute_commit_shortfall_usd", "revenue_share_paid_usd", "revenue_share_received_usd", "revenue_share_net_usd",
    "net_usd", "cash_net_usd", "cumulative_cash_usd"))
#: the optional columns with the sign they enter ``net (accrual)`` by
OPTIONAL = {"training_usd": "−", "credits_applied_usd": "+", "energy_usd": "−", "sla_credits_usd": "−",
            "compute_commit_shortfall_usd": "−"}
#: rows shown only when not zero: the terms of ``net`` most runs do not have
ZERO_HIDDEN = ("cashflow.training_cost", "cashflow.credits_applied", "cashflow.energy_cost", "cashflow.sla_credits",
               "cashflow.compute_commit_shortfall")
#: a run's figures in the order it draws them (latency first, the money last), the order a page without
#: redrawing them keeps too
RUN_FIGURES = ("latency_cdf", "timeseries", "utilization", "cashflow")
#: rows left out, when zero, for a scenario with no revenue (its cash flows are its costs)
REVENUE_ROWS = ("cashflow.revenue", "cashflow.revenue_share_paid", "cashflow.revenue_share_received",
                "cashflow.revenue_share_net", "cashflow.cash_revenue_share_net")
TABLE_METRICS = ("latency.ttft.p99", "latency.e2e.p99", "slo.attainment", "cost.compute_usd", "$/M out tok",
                 "utilization.load_factor")
"""The sweep table's columns without ``--columns`` (not gpu_busy: under continuous batching ~100 % at any
load); the cost per million output tokens (``cost.per_million_output_tokens``, headed as the terminal's
planner column) only when the sweep priced something (:func:`sweep_columns`)."""


def sweep_columns(configurations: list[dict], named: Any) -> list[str]:
    """The sweep page's columns after the knobs, ``n`` and ``errors``: those ``fleetsim sweep --columns``
    named (``named``, kept in ``sweep.json``: summary keys and the terminal's planner columns, such as
    ``$/hour``, in the order given; when it named only planner columns, the default metrics after them, as
    the terminal keeps its default metrics then), else :data:`TABLE_METRICS`, without the cost per million
    output tokens when no configuration has one above zero (nothing was priced).

        >>> sweep_columns([{"cost.per_million_output_tokens.mean": 0.0}], None)
        ['latency.ttft.p99', 'latency.e2e.p99', 'slo.attainment', 'cost.compute_usd', 'utilization.load_factor']
        >>> sweep_columns([{"cost.per_million_output_tokens.mean": 0.48}], None)[3:5]
        ['cost.compute_usd', '$/M out tok']
        >>> sweep_columns([], ["$/hour", "latency.tpot.p99"])
        ['$/hour', 'latency.tpot.p99']
        >>> sweep_columns([], ["$/hour"])
        ['$/hour', 'latency.ttft.p99', 'latency.e2e.p99', 'slo.attainment', 'cost.compute_usd', 'utilization.load_factor']
    """
    priced = any(isinstance(v := r.get("cost.per_million_output_tokens.mean"), (int, float)) and v > 0
                 for r in configurations)
    default = [m for m in TABLE_METRICS if priced or m != "$/M out tok"]
    if isinstance(named, list) and named and all(isinstance(c, str) for c in named):
        if all(c in COLUMNS for c in named):     # planner columns only: the metrics stay, as in the terminal's table
            return list(dict.fromkeys([*named, *default]))
        return list(dict.fromkeys(named))
    return default


def _sweep_view(data: dict) -> SimpleNamespace:
    knobs = [SimpleNamespace(path=k["path"], paths=k.get("paths", [k["path"]]), values=k["values"])
             for k in data.get("knobs", [])]
    return SimpleNamespace(configurations=data.get("configurations", []), knobs=knobs,
                           seeds=data.get("seeds", 1))


def run_header(view) -> str:
    """What was simulated (paragraph, its notes: a sharded pool's, right under the paragraph that names the
    shard, before the settings and the verdict that use it; key settings) and the verdict, as HTML."""
    cls = {True: "met", False: "missed", None: "unknown"}[view.met]
    return (simulated(view, notes=view.notes)
            + f'<p class="verdict {cls}" id="verdict">{escape(view.verdict)}</p>')


def statement_section(rows: list[dict] | None, currency: str, period: str = "period", economics: Any = None) -> str:
    """The cash-flow statement per period (``cashflow.csv``) as a table; empty without one. For a
    scenario with no revenue (:func:`~sim.report.cashflow.costs_only`; ``economics``: the scenario's
    block, None when unknown) the costs per period, said so in a line, instead of columns of zeros."""
    if not rows:
        return ""
    if costs_only(rows, economics):
        header, body = cost_rows(rows)
        return (f"<h2>Costs per {escape(period)}</h2>"
                f"<p>The scenario has {NO_REVENUE} (economics.revenue, economics.agreements): its cash flows "
                f"are its costs. {escape(currency)}, accrual.</p>"
                + table(header, [[r[0], *(humanize.money(v, currency, compact=None) for v in r[1:])] for r in body],
                        cls="statement"))
    cols = [(k, h) for k, h in STATEMENT_COLUMNS if k in rows[0]
            and (k not in OPTIONAL or any(isinstance(r.get(k), float) and r[k] != 0 for r in rows))]
    net = " ".join(["revenue − compute", *(f"{OPTIONAL[k]} {h}" for k, h in cols if k in OPTIONAL), "+ net share"])
    cash = ("cash_net_usd", "cumulative_cash_usd")
    body = [[row_label(r), *("" if _after_end(r) and k not in cash and r.get(k) == 0   # nothing accrues then
                             else humanize.money(r.get(k), currency, compact=None) for k, _ in cols)] for r in rows]
    return (f"<h2>Statement per {escape(period)}</h2>"
            f"<p>{escape(currency)}; accrual columns, then cash (payments after their lags). "
            f"Net share = share received − share paid; net (accrual) = {escape(net)}. Rows labelled “after "
            f"the end †” fall after the horizon and carry only the cash that lands then (lagged settlements and invoices).</p>"
            + table(["period", *(h for _, h in cols)], body, cls="statement"))   # a period on one line


def _after_end(row: dict) -> bool:
    """Whether a statement row is cash landing after the horizon (``True``, or ``"True"`` as read back from
    ``cashflow.csv``): its accrual amounts are zero, left blank rather than said as $0.00."""
    return flag(row.get("after_horizon"))


#: a fluid-tier run's metric rows said as the terminal says them: its ``requests.in_flight`` is the backlog
#: alone, a request served in a step completed in it (``stability.in_flight_at_end`` counts the running too)
FLUID_LABELS = {"requests.in_flight": "requests waiting at the end (backlog)"}


def metrics_section(summary: dict, costs: bool = False) -> str:
    """The key metrics, per pool and per class tables, and every summary value (collapsed). ``costs``: the
    scenario has no revenue (:func:`~sim.report.cashflow.costs_only`), so its revenue and revenue-share
    rows, zeros all, are left out, said so under the table."""
    band = summary.get("capacity_band")
    hidden = (*ZERO_HIDDEN, *(REVENUE_ROWS if costs else ()))
    fluid = summary.get("engine") == "fluid"
    rows = [[FLUID_LABELS.get(key, label) if fluid else label, *_value_unit(summary, key, unit),
             *([_band_cell(band, key)] if band else [])]
            for key, label, unit in RUN_ROWS if value_at(summary, key) is not None
            and not (key in hidden and value_at(summary, key) == 0)]
    header = ["metric", "value", "unit", *([f"range at ±{band['pct']:g} % capacity"] if band else [])]
    left_out = costs and any(value_at(summary, key) == 0 for key in REVENUE_ROWS)
    # (a sharded pool's note, which numbers are one shard's, is said once, under the paragraph that names it)
    out = ("<h2>Metrics</h2>" + table(header, rows)
           + (f'<p class="note">The scenario has {NO_REVENUE}: its revenue and revenue-share rows (zero) are '
              f"left out, and its net is its costs.</p>" if left_out else "")
           + (f'<p class="note">{escape(band_explanation(band, summary.get("engine") == "fluid", summary))}</p>'
              if band else "")
           + compute_cost_note(summary))
    pools = summary.get("pools") or {}
    if pools:
        keys = [("gpu", "GPU", ""), ("replicas", "replicas", ""), ("replicas_mean", "mean replicas", ""),
                ("tensor_parallel", "TP", ""), ("pipeline_parallel", "PP", ""), ("expert_parallel", "EP", ""),
                ("gpus_per_replica", "GPUs per replica", ""), ("scale", "shards", ""),
                *((k, name_of(m) + (" (fleet)" if k == "gpu_hours_provisioned" else ""), unit_of(m))
                  for k, m in POOL_KEYS.items())]
        beyond_tp = any(isinstance(p.get(k), (int, float)) and p[k] > 1 for p in pools.values()
                        for k in ("pipeline_parallel", "expert_parallel"))
        keys = [k for k in keys if any(k[0] in p for p in pools.values())
                and (beyond_tp or k[0] not in ("pipeline_parallel", "expert_parallel", "gpus_per_replica"))]
        out += "<h3>Per pool</h3>" + table(["pool", *(h for _, h, _ in keys)], [
            [name_cell(name, pools), *(fmt(p.get(k), u) for k, _, u in keys)] for name, p in pools.items()],
            cls="pools")
    classes = summary.get("classes") or {}
    if classes:
        rows = []
        for name, c in classes.items():
            row = [name_cell(name, classes), fmt(value_at(c, "requests.completed")),
                   fmt(value_at(c, "latency.ttft.p99"), "s"),
                   fmt(value_at(c, "latency.tpot.p99"), "s"), fmt(value_at(c, "slo.attainment"), "%")]
            own = class_band(band, name) if band else None
            if band:
                row += [_band_cell(own, k) if own and value_at(c, k) is not None else ""
                        for k in ("latency.ttft.p99", "latency.tpot.p99", "slo.attainment")]
            rows.append(row)
        said = [name_of(k) for k in ("latency.ttft.p99", "latency.tpot.p99", "slo.attainment")]
        ranges = [f"{h} at ±{band['pct']:g} %" for h in said] if band else []
        out += "<h3>Per request class</h3>" + table(["class", "completed", *said, *ranges], rows)
    flat = sorted(_flatten(summary))
    out += ("<details><summary>Every value in summary.json (seconds, USD)</summary>"
            + table(["key", "value"], [[k, v] for k, v in flat]) + "</details>")
    return out


def compute_cost_note(summary: dict) -> str:
    """The words under the metrics table when it shows both compute costs: what each is, that they are one
    bill when they agree (they are booked from the same ledger entries), and that the bill is what the
    pricing tiers charge, not GPU-hours provisioned × a price.

        >>> print(compute_cost_note({"cost": {"compute_usd": 5.0, "gpu_hours_billed": 2.0,
        ...                                   "usd_per_gpu_hour_blended": 2.5},
        ...                          "cashflow": {"compute_cost": 5.0}}))  # doctest: +NORMALIZE_WHITESPACE
        <p class="aside">Compute cost and compute cost (ledger) are one bill, $5.00, from two blocks of
        summary.json: cost.compute_usd, what the costs per token and per request divide, and
        cashflow.compute_cost, the ledger&#x27;s compute entries over the run (accrual basis), the
        statement&#x27;s compute column and a term of the net. It is what the pricing tiers bill (each
        provisioned interval rounded up to the billing granularity, reserved GPUs paid whether used or not,
        each pool&#x27;s scale applied), which is GPU-hours provisioned × the price only with one on-demand
        price billed by the second: here 2 GPU-hours billed at a blended $2.50 per GPU-hour.</p>
    """
    cost, ledger = value_at(summary, "cost.compute_usd"), value_at(summary, "cashflow.compute_cost")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (cost, ledger)):
        return ""
    billed, blended = value_at(summary, "cost.gpu_hours_billed"), value_at(summary, "cost.usd_per_gpu_hour_blended")
    same = (f"are one bill, {fmt(cost, 'USD')}, from two blocks of summary.json:" if cost == ledger else
            f"differ here ({fmt(cost, 'USD')} and {fmt(ledger, 'USD')}; fleetsim books both from the same ledger "
            f"entries: the folder was edited, or written by another version):")
    rate = (f": here {fmt(billed, 'h')} GPU-hours billed at a blended {fmt(blended, 'USD')} per GPU-hour"
            if isinstance(billed, (int, float)) and isinstance(blended, (int, float)) else "")
    return escape_note(f"Compute cost and compute cost (ledger) {same} cost.compute_usd, what the costs per token "
                       f"and per request divide, and cashflow.compute_cost, the ledger's compute entries over the "
                       f"run (accrual basis), the statement's compute column and a term of the net. It is what the "
                       f"pricing tiers bill (each provisioned interval rounded up to the billing granularity, "
                       f"reserved GPUs paid whether used or not, each pool's scale applied), which is GPU-hours "
                       f"provisioned × the price only with one on-demand price billed by the second{rate}.")


def escape_note(text: str) -> str:
    """``text`` as a paragraph of explanation (grey, small: not a warning)."""
    return f'<p class="aside">{escape(text)}</p>'


def _value_unit(summary: dict, key: str, unit: str) -> list[str]:
    """A metrics row's value and unit cells; units the value carries ($, ms, %) or its words name
    (GPU-hours: '4 h' read as four hours) stay out of the unit column, and the backlog growth is said
    as the terminal says it (:func:`~sim.metrics.stability.growth_words`: ``none measurable (< 0.25
    req/s)`` within the noise of a run judged stable)."""
    if key == "stability.backlog_growth_per_s":
        return [growth_words(summary.get("stability") or {}), ""]
    value, unit = humanize.per_longer(value_at(summary, key), unit)
    return [fmt(value, unit), unit if unit not in ("USD", "s", "%", "h") else ""]



def _band_cell(band: dict, key: str) -> str:
    """The capacity band's range of a metrics row (latency percentiles, SLO attainment), else empty."""
    parts = key.split(".")
    if parts[0] == "latency" and len(parts) == 3:
        return latency_range(band, parts[1], parts[2], humanize.latency)
    return attainment_range(band, humanize.share) if key == "slo.attainment" else ""


def _flatten(d: dict, prefix: str = ""):
    """The summary's values as (dotted key, cell) pairs, a nested block's under its path; a list of
    records (``cashflow.sla_periods``) as a table in its cell, a column per field; a list of values
    comma-separated; an empty block or list as ``none``. No cell shows Python's or JSON's brackets.

        >>> [(k, str(v)) for k, v in _flatten({"a": {"b": 1, "c": {}}, "d": [1, 2], "e": []})]
        [('a.b', '1'), ('a.c', 'none'), ('d', '1, 2'), ('e', 'none')]
        >>> cell = dict(_flatten({"p": [{"line": "api", "credit_usd": 0.5}]}))["p"]
        >>> print(cell)
        <table class='inner'><tr><th>line</th><th>credit_usd</th></tr><tr><td>api</td><td>0.5</td></tr></table>
    """
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            yield from _flatten(v, f"{key}.")
        elif isinstance(v, (dict, list)) and not v:
            yield key, "none"
        elif isinstance(v, list) and all(isinstance(x, dict) for x in v):
            fields = list(dict.fromkeys(f for x in v for f in x))
            yield key, Markup(table(fields, [[_leaf(x.get(f)) for f in fields] for x in v], cls="inner"))
        elif isinstance(v, list):
            yield key, Markup(", ".join(fmt(_leaf(x)) for x in v))
        else:
            yield key, _leaf(v)


def _leaf(v: Any) -> Any:
    """A value as the summary table shows it: a number, a switch or a text as itself, anything else as
    compact JSON."""
    if isinstance(v, (int, float, bool, str, type(None))):
        return v
    return json.dumps(v, separators=(", ", ": "), default=str)


def write_report(folder: Path | str, regenerate: bool = True) -> Path:
    """Regenerate the folder's figures and write ``report.html`` atomically (:func:`sim.atomic.atomic_write_text`:
    a temporary file of its own, renamed over it); returns its path.

    Raises FileNotFoundError when the folder holds no recognised result.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such result folder")
    page = Page(title=folder.name)
    _add_run(page, folder, regenerate)
    _add_sweep(page, folder, regenerate)
    add_plan(page, folder, regenerate)
    add_saturation(page, folder, regenerate)
    if not page.kinds:
        raise FileNotFoundError(f"{folder}: no summary.json, sweep.json, plan.json or "
                                "saturation.json to report on")
    if not regenerate:   # the result's PNGs, and its SVGs without a PNG (a run's quick-look figures)
        figures = [p for p in result_files(folder) if p.parent != folder]
        stems = {p.stem for p in figures if p.suffix == ".png"}
        page.figures = sorted((p for p in figures if p.suffix == ".png" or p.stem not in stems),
                              key=lambda p: (RUN_FIGURES.index(p.stem) if p.stem in RUN_FIGURES else len(RUN_FIGURES), p))
    seen: set[Path] = set()
    page.figures = [p for p in page.figures if not (p in seen or seen.add(p))]
    text = page.html(folder.name)
    return atomic_write_text(folder / "report.html", text)


def _add_run(page: Page, folder: Path, regenerate: bool) -> None:
    """A run's header (what was simulated, the verdict), figures, statement and metrics tables."""
    summary = read_summary(folder)
    if summary is not None:
        page.kinds.append("run")
        if regenerate:
            page.figures += [p for p in write_run_figures(folder, page.notes) if p.suffix == ".png"]
        scenario = read_scenario(folder)
        if scenario_changed(summary, scenario_json(folder / SCENARIO)[0]):
            page.notes.append(changed_scenario_note(str(folder)))
        view = overview(summary, scenario)
        page.title = view.title
        page.head = run_header(view)
        economics = (scenario or {}).get("economics") if scenario is not None else None
        economics = economics if isinstance(economics, dict) else {} if scenario else None
        statement = read_statement(folder)
        currency = value_at(summary, "cashflow.currency") or "USD"
        page.tail = [statement_section(statement, currency, str(value_at(summary, "cashflow.period") or "period"),
                                       economics),
                     settlements_section(read_settlements(folder), currency, value_at(summary, "cashflow.horizon_s"),
                                         economics),
                     metrics_section(summary, costs_only(statement, economics))]


def _add_sweep(page: Page, folder: Path, regenerate: bool) -> None:
    """A sweep's table (mean ± CI per configuration), its failed points and figures."""
    if (folder / "sweep.json").exists():
        page.kinds.append("sweep")
        data = read_search(folder, "sweep.json")
        view = _sweep_view(data)
        page.knobs += [list(k.paths) for k in view.knobs]
        if not page.head:
            varied = "; ".join(f"{k.path} = {', '.join(map(str, k.values))}" for k in view.knobs)
            page.title, page.head = base_header(folder, data, f"{varied}; {view.seeds} seed(s) each",
                                                [(k.paths, k.values) for k in view.knobs])
        if regenerate:
            from sim.report.sweep_figures import write_sweep_figures

            page.figures += [p for p in write_sweep_figures(folder, view) if p.suffix == ".png"]
        knob_paths = [p for k in view.knobs for p in k.paths]
        ci = " (mean ± 95% CI half-width; low–high where cut at the metric's range)" if view.seeds > 1 else ""
        pct = next((r.get("capacity_band.pct.mean") for r in view.configurations
                    if isinstance(r.get("capacity_band.pct.mean"), (int, float))), None)
        shown = sweep_columns(view.configurations, data.get("columns"))
        ranged = [m for m in shown if pct is not None and m not in COLUMNS and band_key(m, "faster")]
        # a value never breaks inside itself (212.2 ms), only before its interval (± 185.6 ms); a knob's path
        # after a dot: in a narrow window the cells broke mid-number (2 m / 46 s / ± / 56.03 / s)
        rows = [[*(r.get(k) for k in knob_paths), r.get("n"), r.get("errors"),
                 *(planner_cells(r)[m] if m in COLUMNS else breaks_before_ci(mean_ci(r, m)) for m in shown)]
                for r in view.configurations]
        first = len(knob_paths) + 2
        page.sections.append(f"<h2>Sweep: {len(view.configurations)} configurations × {view.seeds} "
                             f"seed(s){ci}</h2>"
                             + table([*knob_paths, "n", "errors", *(m if m in COLUMNS else name_of(m) for m in shown)],
                                     rows, cls="plan", wrap_header=True,
                                     wrap=[first + i for i, m in enumerate(shown) if m not in COLUMNS]))
        if ranged:
            page.sections.append(
                f"<h3>Ranges at ±{pct:g} % capacity</h3>" + table(
                    [*knob_paths, *map(name_of, ranged)],
                    [[*(r.get(k) for k in knob_paths),
                      *(configuration_range(r, m, lambda v, m=m: fmt(v, unit_of(m))) for m in ranged)]
                     for r in view.configurations])
                + f'<p class="note">Each configuration at {pct:g} % more (lower latency) and {pct:g} % less of '
                  f"the model's capacity (fleetsim sweep --capacity-band), means over its replications; "
                  f"'overload': a side that did not keep up; '?': too short to tell.</p>")
        errors = [p for p in data.get("points", []) if p.get("error")]
        if errors:
            page.sections.append("<h2>Failed points</h2>" + table(
                [*knob_paths, "seed", "error"],
                [[*(p.get(k) for k in knob_paths), p.get("seed"), p.get("error")] for p in errors]))

