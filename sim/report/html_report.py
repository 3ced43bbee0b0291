"""``report.html``: one self-contained page for a result folder (figures embedded as base64 PNG, or SVG).

:func:`write_report` recognises what the folder holds — a run (``summary.json``), a sweep
(``sweep.json``), a plan (``plan.json``) or a saturation search (``saturation.json``) —
regenerates its figures from the data files, and writes ``report.html`` with the key numbers as
tables and every figure inline. The page references no external file, script or font, so it
opens in any browser and can be mailed on its own.
"""
from __future__ import annotations

import base64
import copy
import datetime as _dt
import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sim import humanize
from sim.metrics.band import SLOWER, answer_rows, attainment_range, band_key, class_band, configuration_range
from sim.metrics.band import latency_range, rate_range, robust_feasible
from sim.metrics.band import explanation as band_explanation
from sim.report.overview import Varied, overview, read_scenario, shard_notes
from sim.report.render import short_name
from sim.report.result_folder import read_statement, read_summary
from sim.report.run_figures import write_run_figures

RUN_ROWS = (
    ("requests.arrived", "requests arrived", ""), ("requests.completed", "requests completed", ""),
    ("requests.rejected", "requests rejected", ""), ("requests.in_flight", "requests in flight at the end", ""),
    ("latency.ttft.p50", "TTFT p50", "s"), ("latency.ttft.p99", "TTFT p99", "s"),
    ("latency.tpot.p50", "TPOT p50", "s"), ("latency.tpot.p99", "TPOT p99", "s"),
    ("latency.itl.p99", "ITL p99", "s"),
    ("latency.e2e.p50", "E2E p50", "s"), ("latency.e2e.p99", "E2E p99", "s"),
    ("latency.queue.p99", "queue p99", "s"),
    ("throughput.requests_per_s", "throughput", "req/s"),
    ("throughput.output_tokens_per_s", "output tokens/s", "tok/s"),
    ("slo.attainment", "SLO attainment", "%"), ("slo.goodput_rps", "goodput", "req/s"),
    ("utilization.gpu_busy", "GPU busy", "%"), ("utilization.kv_cache_mean", "KV cache mean", "%"),
    ("utilization.mfu", "MFU", "%"), ("utilization.mbu", "MBU (memory bandwidth)", "%"),
    ("utilization.load_factor", "load factor", ""),
    ("stability.stable", "stable (no growing backlog)", ""),
    ("stability.verdict", "stability verdict", ""),
    ("stability.backlog_growth_per_s", "backlog growth", "req/s"),
    ("gpu_hours.provisioned", "GPU-hours provisioned", "h"), ("gpu_hours.busy", "GPU-hours busy", "h"),
    ("cost.compute_usd", "compute cost", "USD"),
    ("cost.per_million_output_tokens", "cost per 1M output tokens", "USD"),
    ("cashflow.revenue", "revenue", "USD"), ("cashflow.compute_cost", "compute cost (ledger)", "USD"),
    ("cashflow.revenue_share_paid", "revenue share paid", "USD"),
    ("cashflow.revenue_share_received", "revenue share received", "USD"),
    ("cashflow.revenue_share_net", "net revenue share (accrual; + received)", "USD"),
    ("cashflow.cash_revenue_share_net", "net revenue share (cash; + received)", "USD"),
    ("cashflow.net", "net (accrual)", "USD"), ("cashflow.cash_net", "net (cash)", "USD"),
)
#: captions of the run figures, by file stem
CAPTIONS = {
    "latency_cdf": "Latency distributions: share of measured requests at or below a latency "
                   "(TTFT, time per output token, end to end), with the p50 and p99 marked.",
    "timeseries": "The fleet over time, per pool: requests waiting, sequences running, KV-cache blocks "
                  "in use and replicas provisioned. Over long runs each shaded band spans the lowest to "
                  "the highest sample of a short slice of time and the line is the slice's mean.",
    "utilization": "Utilization per pool: GPU busy time, mean KV-cache use, model FLOPs utilization "
                   "(MFU) and, when the run reports them, memory-bandwidth utilization (MBU) and load "
                   "factor (served work / what the pool could serve at its batch limits).",
    "cashflow": "Cash flow per period: money in (up) and out (down) on the accrual basis, and "
                "cumulative cash.",
    "pareto": "Compute cost against p99 TTFT of every configuration (mean, with 95% CI bars when "
              "there are several seeds); the green step line is the Pareto frontier (no other "
              "configuration is both cheaper and faster); in a plan the chosen configuration is starred (with "
              "the capacity band, the cheapest meeting the constraints with less capacity is ringed).",
    "saturation": "Saturation search: SLO attainment and p99 TTFT of each rate probed; the highest "
                  "sustained rate is marked (with the capacity band, the span between the rates sustained "
                  "with the model's capacity lower and higher is shaded).",
}
#: the statement columns shown per period (``cashflow.csv`` names), with their headings
STATEMENT_COLUMNS = (("revenue_usd", "revenue"), ("compute_usd", "compute"),
                     ("revenue_share_paid_usd", "share paid"), ("revenue_share_received_usd", "share received"),
                     ("revenue_share_net_usd", "net share"), ("net_usd", "net (accrual)"),
                     ("cash_net_usd", "net (cash)"), ("cumulative_cash_usd", "cumulative cash"))
TABLE_METRICS = ("latency.ttft.p99", "latency.e2e.p99", "slo.attainment", "cost.compute_usd",
                 "utilization.load_factor")   # not gpu_busy: under continuous batching ~100 % at any load

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0;display:block;max-width:100%;overflow-x:auto}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.note{color:#a60;font-size:.9em}
.lead{font-size:1.05em;line-height:1.45}
.verdict{padding:.6em .9em;border-radius:4px;margin:1em 0;font-size:1.05em}
.met{background:#e8f5e9;border-left:5px solid #2e7d32}.missed{background:#fdecea;border-left:5px solid #c62828}
.unknown{background:#f4f4f4;border-left:5px solid #888}
table.settings td,table.settings th{text-align:left}details{margin:1em 0}summary{cursor:pointer}
"""


def _fmt(v: Any, unit: str = "") -> str:
    """A value as text for the page: money, latencies and shares for people (:mod:`sim.humanize`),
    other numbers to four significant figures; ``None``/NaN as a dash."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return "–"
        if isinstance(v, float) and math.isinf(v):
            return "∞"
        if unit in ("USD", "$"):
            return humanize.money(v, compact=None)
        if unit == "s":
            return humanize.latency(v)
        if unit == "%":
            return humanize.share(v)
        if unit == "h":
            return humanize.number(v, digits=4)
        if isinstance(v, int) or float(v).is_integer():
            return humanize.count(v)
        return f"{v:,.4g}" if abs(v) < 1e4 else humanize.number(v)
    return html.escape(str(v))


def _get(d: dict, dotted: str) -> Any:
    node: Any = d
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _table(header: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table{f' class={cls!r}' if cls else ''}><tr>{head}</tr>{body}</table>"


def _mean_ci(row: dict, metric: str, unit: str | None = None) -> str:
    """``metric``'s mean (± the 95 % CI half-width when there is one, or the interval's ends when it was
    clipped to the metric's range), in the metric's unit."""
    unit = unit_of(metric) if unit is None else unit
    m = row.get(f"{metric}.mean")
    lo, hi = row.get(f"{metric}.ci_low"), row.get(f"{metric}.ci_high")
    if isinstance(m, (int, float)):
        return humanize.interval(float(m), lo, hi, lambda v: _fmt(float(v), unit))
    return "–"


def unit_of(metric: str) -> str:
    """The display unit of a summary key: seconds for latencies, USD for money, % for shares."""
    if metric.startswith("latency.") or metric.endswith("_s") and not metric.endswith("_per_s"):
        return "s"                   # (a rate such as throughput.requests_per_s is no time)
    if metric.startswith(("cost.", "cashflow.")) or metric.endswith("_usd"):
        return "USD"
    if metric in ("slo.attainment",) or metric.startswith("utilization.") and metric != "utilization.load_factor":
        return "%"
    return ""


def caption(stem: str, knobs: Sequence[Sequence[str]] = ()) -> str:
    """The caption of a figure file: its sentence in :data:`CAPTIONS`, or for a sweep figure
    (``sweep_<knob>``) what it plots, naming the swept field by the path the sweep's ``--grid``
    gave (``knobs``: each knob's field paths, several for fields moved together).

    >>> caption("sweep_pools_0_gpu", [["fleet.pools.0.gpu", "economics.gpu_hour_usd"]])[:62]
    'Sweep over fleet.pools.0.gpu with economics.gpu_hour_usd: each'
    """
    if stem in CAPTIONS:
        return CAPTIONS[stem]
    if stem.startswith("sweep_"):
        named = {f"sweep_{short_name(paths[0])}": " with ".join(paths) for paths in knobs if paths}
        field_name = named.get(stem, stem[len("sweep_"):])
        return (f"Sweep over {field_name}: each metric against the field's "
                f"value, the mean over the seeds with its 95% confidence interval (cut at the metric's "
                f"range: attainment at 1, latencies at 0); one line per value of the other fields varied.")
    return stem.replace("_", " ")


def _num_or_inf(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.inf


def _img(path: Path, knobs: Sequence[Sequence[str]] = ()) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = html.escape(caption(path.stem, knobs))
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return (f'<figure><img alt="{html.escape(path.stem)}" src="data:{mime};base64,{data}">'
            f"<figcaption>{cap}</figcaption></figure>")


def _load_json(path: Path) -> Any:
    from sim.errors import InputError

    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: invalid JSON ({exc})") from None


def _sweep_view(data: dict) -> SimpleNamespace:
    knobs = [SimpleNamespace(path=k["path"], paths=k.get("paths", [k["path"]]), values=k["values"])
             for k in data.get("knobs", [])]
    return SimpleNamespace(configurations=data.get("configurations", []), knobs=knobs,
                           seeds=data.get("seeds", 1))


def _simulated(view, source: str = "") -> str:
    """The "What was simulated" heading, paragraph (``source`` appended) and key-settings table."""
    return (f'<h2>What was simulated</h2><p class="lead">{html.escape(view.paragraph + source)}</p>'
            + _table(["setting", "value"], [[k, v] for k, v in view.settings], cls="settings"))


def run_header(view) -> str:
    """What was simulated (paragraph and key settings) and the verdict, as HTML."""
    cls = {True: "met", False: "missed", None: "unknown"}[view.met]
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in view.notes)
    return (_simulated(view)
            + f'<p class="verdict {cls}" id="verdict">{html.escape(view.verdict)}</p>' + notes)


def values_in_words(values: Sequence[Any]) -> str:
    """A varied field's values: ``1–8`` for a run of consecutive whole numbers (three or more),
    else listed.

        >>> values_in_words(["1", "2", "3", "4"]), values_in_words(["4", "8"]), values_in_words(["h100-sxm", "b200"])
        ('1–4', '4, 8', 'h100-sxm, b200')
    """
    texts = [str(v) for v in values]
    ints = [int(t) for t in texts if t.lstrip("-").isdigit()]
    if len(texts) >= 3 and len(ints) == len(texts) and ints == list(range(ints[0], ints[0] + len(ints))):
        return f"{ints[0]}–{ints[-1]}"
    return ", ".join(texts)


def with_varied(scenario: dict | None, knobs: Sequence[tuple[Sequence[str], Sequence[Any]]]) -> dict | None:
    """A copy of ``scenario`` in which each field a sweep varies (``(paths, values)``; a joint
    knob's values ``[a, b]`` or ``a&b``, one part a path; or a :class:`Varied` already in words, for
    one path) holds its values in words (:class:`Varied`), so that the
    description says them rather than the base scenario's one value. A path through a list item or
    mapping the scenario does not have is left out (the "Varied" line still names it)."""
    if scenario is None:
        return None
    out = copy.deepcopy(scenario)
    for paths, values in knobs:
        for i, path in enumerate(paths):
            words = values if isinstance(values, Varied) else Varied(values_in_words(
                [v if len(paths) == 1 else _part(v, i) for v in values]))
            node: Any = out
            *head, last = path.split(".")
            for key in head:
                if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                    node = node[int(key)]
                elif isinstance(node, dict):
                    node = node.setdefault(key, {})
                else:
                    node = None
                    break
            if isinstance(node, dict):
                node[last] = words
    return out


def _part(value: Any, i: int) -> Any:
    """Part ``i`` of a joint knob's value (``[a, b]``, or ``a&b`` as written)."""
    parts = value if isinstance(value, (list, tuple)) else str(value).split("&")
    return parts[i] if i < len(parts) else "?"


def base_header(folder: Path, data: dict, varied: str,
                knobs: Sequence[tuple[Sequence[str], Sequence[Any]]] = ()) -> tuple[str, str]:
    """Title and "what was simulated" HTML of a sweep, plan or saturation folder: its base
    scenario (``scenario.json``, with the command's ``--set`` overrides applied; each field in
    ``knobs`` said as its values, :func:`with_varied`) and the first point's summary, then what was
    varied."""
    path = data.get("scenario")
    scn = with_varied(read_scenario(folder), knobs)
    summary: dict = {"scenario": Path(str(path)).stem if path else folder.name}
    points = sorted((folder / "points").glob("*.json")) if (folder / "points").is_dir() else []
    for p in points[:1]:
        try:
            first = json.loads(p.read_text(encoding="utf-8")).get("summary")
        except (OSError, ValueError, AttributeError):
            first = None
        if isinstance(first, dict):
            summary = {k: first[k] for k in ("scenario", "pools", "slo", "simulated_seconds") if k in first}
    view = overview(summary, scn)
    source = f" (base scenario {path})" if path else ""
    return view.title, _simulated(view, source) + f"<p><b>Varied:</b> {html.escape(varied)}</p>"


def statement_section(rows: list[dict] | None, currency: str, period: str = "period") -> str:
    """The cash-flow statement per period (``cashflow.csv``) as a table; empty without one."""
    if not rows:
        return ""
    cols = [(k, h) for k, h in STATEMENT_COLUMNS if k in rows[0]]
    body = [[str(r.get("period", "")) + (" (partial)" if r.get("partial") is True else ""),
             *(humanize.money(r.get(k), currency, compact=None) for k, _ in cols)] for r in rows]
    return (f"<h2>Statement per {html.escape(period)}</h2>"
            f"<p>{html.escape(currency)}; accrual columns, then cash (payments after their lags). "
            f"Net share = share received − share paid.</p>"
            + _table(["period", *(h for _, h in cols)], body))


def metrics_section(summary: dict) -> str:
    """The key metrics, per pool and per class tables, and every summary value (collapsed)."""
    band = summary.get("capacity_band")
    # units the value carries ($, ms, %) or its label names (GPU-hours: '4 h' read as four hours) stay out of the column
    rows = [[label, _fmt(_get(summary, key), unit), unit if unit not in ("USD", "s", "%", "h") else "",
             *([_band_cell(band, key)] if band else [])]
            for key, label, unit in RUN_ROWS if _get(summary, key) is not None]
    header = ["metric", "value", "unit", *([f"range at ±{band['pct']:g} % capacity"] if band else [])]
    out = ("<h2>Metrics</h2>" + "".join(f'<p class="note">{html.escape(n)}</p>' for n in shard_notes(summary))
           + _table(header, rows)
           + (f'<p class="note">{html.escape(band_explanation(band, fluid=summary.get("engine") == "fluid"))}</p>'
              if band else ""))
    pools = summary.get("pools") or {}
    if pools:
        keys = [("gpu", "GPU", ""), ("replicas", "replicas", ""), ("replicas_mean", "mean replicas", ""),
                ("tensor_parallel", "TP", ""), ("pipeline_parallel", "PP", ""), ("expert_parallel", "EP", ""),
                ("gpus_per_replica", "GPUs per replica", ""), ("scale", "shards", ""),
                ("gpu_hours_provisioned", "GPU-hours (fleet)", "h"), ("gpu_busy", "GPU busy", "%"),
                ("kv_cache_mean", "KV cache", "%"), ("mfu", "MFU", "%"), ("mbu", "MBU", "%"),
                ("load_factor", "load factor", "")]
        beyond_tp = any(isinstance(p.get(k), (int, float)) and p[k] > 1 for p in pools.values()
                        for k in ("pipeline_parallel", "expert_parallel"))
        keys = [k for k in keys if any(k[0] in p for p in pools.values())
                and (beyond_tp or k[0] not in ("pipeline_parallel", "expert_parallel", "gpus_per_replica"))]
        out += "<h3>Per pool</h3>" + _table(["pool", *(h for _, h, _ in keys)], [
            [name, *(_fmt(p.get(k), u) for k, _, u in keys)] for name, p in pools.items()])
    classes = summary.get("classes") or {}
    if classes:
        rows = []
        for name, c in classes.items():
            row = [name, _fmt(_get(c, "requests.completed")), _fmt(_get(c, "latency.ttft.p99"), "s"),
                   _fmt(_get(c, "latency.tpot.p99"), "s"), _fmt(_get(c, "slo.attainment"), "%")]
            own = class_band(band, name) if band else None
            if band:
                row += [_band_cell(own, k) if own and _get(c, k) is not None else ""
                        for k in ("latency.ttft.p99", "latency.tpot.p99", "slo.attainment")]
            rows.append(row)
        ranges = [f"{h} at ±{band['pct']:g} %" for h in ("TTFT p99", "TPOT p99", "SLO attainment")] if band else []
        out += "<h3>Per request class</h3>" + _table(
            ["class", "completed", "TTFT p99", "TPOT p99", "SLO attainment", *ranges], rows)
    flat = sorted(_flatten(summary))
    out += ("<details><summary>Every value in summary.json (seconds, USD)</summary>"
            + _table(["key", "value"], [[k, v] for k, v in flat]) + "</details>")
    return out


def _band_cell(band: dict, key: str) -> str:
    """The capacity band's range of a metrics row (latency percentiles, SLO attainment), else empty."""
    parts = key.split(".")
    if parts[0] == "latency" and len(parts) == 3:
        return latency_range(band, parts[1], parts[2], humanize.latency)
    return attainment_range(band, humanize.share) if key == "slo.attainment" else ""


def _flatten(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict) and v:
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", (v if isinstance(v, (int, float, bool, type(None))) else str(v))


@dataclass
class _Page:
    """What ``report.html`` is assembled from, as each kind of result in the folder adds to it."""

    title: str
    head: str = ""
    kinds: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    knobs: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)


def write_report(folder: Path | str, regenerate: bool = True) -> Path:
    """Regenerate the folder's figures and write ``report.html``; returns its path.

    Raises FileNotFoundError when the folder holds no recognised result.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such result folder")
    page = _Page(title=folder.name)
    _add_run(page, folder, regenerate)
    _add_sweep(page, folder, regenerate)
    _add_plan(page, folder, regenerate)
    _add_saturation(page, folder, regenerate)
    if not page.kinds:
        raise FileNotFoundError(f"{folder}: no summary.json, sweep.json, plan.json or "
                                "saturation.json to report on")
    if not regenerate:   # the PNGs there, and the SVGs without a PNG (a run's quick-look figures)
        drawn = sorted((folder / "figures").glob("*.png"))
        stems = {p.stem for p in drawn}
        page.figures = sorted(drawn + [p for p in (folder / "figures").glob("*.svg") if p.stem not in stems])
    seen: set[Path] = set()
    page.figures = [p for p in page.figures if not (p in seen or seen.add(p))]
    notes_html = "".join(f'<p class="note">{html.escape(n)}</p>' for n in page.notes)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>fleetsim report: {html.escape(page.title)}</title><style>{_CSS}</style></head>"
            f"<body><h1>fleetsim report: {html.escape(page.title)}</h1>"
            f"<p>{html.escape(' + '.join(page.kinds))} results in {html.escape(folder.name)}; generated {stamp}.</p>"
            + page.head + "".join(page.sections)
            + ("<h2>Figures</h2>" + "".join(_img(p, page.knobs) for p in page.figures) if page.figures else "")
            + "".join(page.tail) + notes_html + "</body></html>\n")
    path = folder / "report.html"
    tmp = folder / ".report.html.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _add_run(page: _Page, folder: Path, regenerate: bool) -> None:
    """A run's header (what was simulated, the verdict), figures, statement and metrics tables."""
    summary = read_summary(folder)
    if summary is not None:
        page.kinds.append("run")
        if regenerate:
            page.figures += [p for p in write_run_figures(folder, page.notes) if p.suffix == ".png"]
        view = overview(summary, read_scenario(folder))
        page.title = view.title
        page.head = run_header(view)
        page.tail = [statement_section(read_statement(folder), _get(summary, "cashflow.currency") or "USD",
                                       str(_get(summary, "cashflow.period") or "period")),
                     metrics_section(summary)]


def _add_sweep(page: _Page, folder: Path, regenerate: bool) -> None:
    """A sweep's table (mean ± CI per configuration), its failed points and figures."""
    if (folder / "sweep.json").exists():
        page.kinds.append("sweep")
        data = _load_json(folder / "sweep.json")
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
        ranged = [m for m in TABLE_METRICS if pct is not None and band_key(m, "faster")]
        rows = [[*(r.get(k) for k in knob_paths), r.get("n"), r.get("errors"),
                 *(_mean_ci(r, m) for m in TABLE_METRICS)] for r in view.configurations]
        page.sections.append(f"<h2>Sweep: {len(view.configurations)} configurations × {view.seeds} "
                             f"seed(s){ci}</h2>"
                             + _table([*knob_paths, "n", "errors", *TABLE_METRICS], rows))
        if ranged:
            page.sections.append(
                f"<h3>Ranges at ±{pct:g} % capacity</h3>" + _table(
                    [*knob_paths, *ranged],
                    [[*(r.get(k) for k in knob_paths),
                      *(configuration_range(r, m, lambda v, m=m: _fmt(v, unit_of(m))) for m in ranged)]
                     for r in view.configurations])
                + f'<p class="note">Each configuration at {pct:g} % more (lower latency) and {pct:g} % less of '
                  f"the model's capacity (fleetsim sweep --capacity-band), means over its replications; "
                  f"'overload': a side that did not keep up; '?': too short to tell.</p>")
        errors = [p for p in data.get("points", []) if p.get("error")]
        if errors:
            page.sections.append("<h2>Failed points</h2>" + _table(
                [*knob_paths, "seed", "error"],
                [[*(p.get(k) for k in knob_paths), p.get("seed"), p.get("error")] for p in errors]))


def _add_plan(page: _Page, folder: Path, regenerate: bool) -> None:
    """A plan's answer (the cheapest feasible configuration), its table and Pareto figure."""
    if (folder / "plan.json").exists():
        page.kinds.append("plan")
        data = _load_json(folder / "plan.json")
        if not page.head:
            page.title, page.head = base_header(folder, data, ", ".join(map(str, data.get("knobs", [])))
                                                + f"; objective {data.get('objective')}", plan_knobs(data))
        if regenerate:
            from sim.report.sweep_figures import pareto_figure, row_index

            ev = data.get("evaluated", [])
            band = data.get("capacity_band")
            robust = data.get("robust") if isinstance(band, dict) and isinstance(band.get("pct"), (int, float)) else None
            page.figures += [p for p in pareto_figure(ev, folder / "figures" / "pareto",
                                                      label_keys=data.get("knobs", []),
                                                      feasible=[bool(r.get("feasible")) for r in ev],
                                                      best=row_index(ev, data.get("best")), title="plan: cost vs p99 TTFT",
                                                      robust=None if robust is None else (row_index(ev, robust), band["pct"]))
                             if p.suffix == ".png"]
        best = data.get("best")
        answer = ("<p><b>Cheapest configuration meeting every constraint:</b> "
                  + html.escape(", ".join(best["overrides"])) + "</p>") if best else \
            "<p><b>No configuration meets every constraint.</b></p>"
        band = data.get("capacity_band") if isinstance(data.get("capacity_band"), dict) else None
        pct = band.get("pct") if band and isinstance(band.get("pct"), (int, float)) else None
        slower = f"at −{pct:g} %" if pct is not None else None
        if slower:
            answer += _robust_answer(best, data.get("robust"), pct)
        cons = ", ".join(data.get("constraints", []))
        metrics = [data.get("objective", "cost.compute_usd")] + [
            c.split("<")[0].split(">")[0] for c in data.get("constraints", [])]
        shown = answer_rows(data.get("groups", []), data.get("robust_groups", []) if slower else [])
        judged = metrics[1:] if slower else []      # the constraints' metrics, as judged on the slower side
        rows = [[", ".join(g.get("overrides", [])), *([label] if slower else []), g.get("feasible"),
                 *([robust_feasible(g)] if slower else []), *(_mean_ci(g, m) for m in metrics),
                 *(_mean_ci(g, SLOWER + m, unit_of(m)) for m in judged)] for g, label in shown]
        header = ["configuration", *(["answer"] if slower else []), "feasible", *([f"feasible {slower}"] if slower else []),
                  *metrics, *(f"{m} {slower}" for m in judged)]
        page.sections.append(f"<h2>Plan</h2><p>objective: minimise {html.escape(str(data.get('objective')))}"
                             f"; constraints: {html.escape(cons)}; {data.get('seeds')} seed(s); a "
                             f"constraint must hold at the unfavourable 95% CI bound.</p>" + answer
                             + _table(header, rows)
                             + (f'<p class="note">{slower}: every configuration evaluated was also run with the '
                                f"model's capacity {pct:g} % lower, the same seeds (fleetsim plan --capacity-band); "
                                f"point: the cheapest configuration of its group meeting the constraints; robust: "
                                f"the cheapest meeting them {slower}.</p>" if slower else ""))


def plan_knobs(data: dict) -> list[tuple[list[str], list[Any]]]:
    """Each field a plan varies (``plan.json``'s ``columns``, a joint knob's parts apart; else its
    ``knobs``) with the values its evaluated configurations gave it, in order: numbers ascending,
    others as first evaluated."""
    rows = [r for r in data.get("evaluated") or [] if isinstance(r, dict)]
    fields = data.get("columns") or data.get("knobs") or []
    out = []
    for path in (f for f in fields if isinstance(f, str)):
        values = list(dict.fromkeys(r[path] for r in rows if isinstance(r.get(path), (str, int, float))))
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            values.sort()
        if values:
            out.append(([path], values))
    return out


def rates_searched(data: dict) -> list[tuple[list[str], Varied]]:
    """A saturation search's arrival-rate field (``rate_path``) as the span of the rates it probed
    (every side of a capacity band included): ``10–120``, said "(searched)"."""
    band = data.get("capacity_band") if isinstance(data.get("capacity_band"), dict) else {}
    rates = [p["rate"] for b in [data, *(band.get(s) for s in ("slower", "faster"))] if isinstance(b, dict)
             for p in b.get("probes") or [] if isinstance(p, dict) and _is_number(p.get("rate"))]
    path = data.get("rate_path")
    if not rates or not isinstance(path, str):
        return []
    lo, hi = min(rates), max(rates)
    words = humanize.number(lo) if lo == hi else f"{humanize.number(lo)}–{humanize.number(hi)}"
    return [([path], Varied(words, note="searched"))]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _robust_answer(best: dict | None, robust: Any, pct: float) -> str:
    """The plan page's sentence on its robust answer (``fleetsim plan --capacity-band``)."""
    lower = f"with capacity {pct:g} % lower than modelled"
    if not isinstance(robust, dict):
        return f"<p><b>No configuration tried meets every constraint {lower}.</b></p>"
    if best is not None and robust.get("overrides") == best.get("overrides"):
        return f"<p>It still meets every constraint {lower} (robust).</p>"
    return (f"<p><b>{lower.capitalize()} you need:</b> {html.escape(', '.join(robust.get('overrides') or []))}"
            f" (robust).</p>")


def _add_saturation(page: _Page, folder: Path, regenerate: bool) -> None:
    """A saturation search's sustained rate, its probes and figure."""
    if (folder / "saturation.json").exists():
        page.kinds.append("saturation")
        data = _load_json(folder / "saturation.json")
        if not page.head:
            page.title, page.head = base_header(folder, data, f"the arrival rate ({data.get('rate_path')})",
                                                rates_searched(data))
        if regenerate:
            from sim.report.sweep_figures import saturation_figure

            page.figures += [p for p in saturation_figure(data, folder / "figures" / "saturation")
                             if p.suffix == ".png"]
        band = data.get("capacity_band") if isinstance(data.get("capacity_band"), dict) else None
        sides = [band[s] for s in ("slower", "faster") if isinstance(band.get(s), dict)] if band else []
        band = band if len(sides) == 2 and isinstance(band.get("pct"), (int, float)) else None
        probes = sorted([p for b in [data, *sides] for p in b.get("probes", []) if isinstance(p, dict)],
                        key=lambda p: (_num_or_inf(p.get("capacity", 1.0)), _num_or_inf(p.get("rate"))))
        ranged = f" ({html.escape(rate_range(band, _fmt))})" if band else ""
        page.sections.append(
            f"<h2>Saturation</h2><p>Highest sustained arrival rate: <b>{_fmt(data.get('rate'))} "
            f"req/s</b>{ranged} (first failing rate {_fmt(data.get('upper'))} req/s; SLO attainment ≥ "
            f"{_fmt(data.get('attainment'))}).</p>"
            + _table([*(["capacity"] if band else []), "rate (req/s)", "sustained", "slo.attainment",
                      "latency.ttft.p99"],
                     [[*([p.get("capacity", 1.0)] if band else []), p.get("rate"), p.get("feasible"),
                       _mean_ci(p, "slo.attainment"), _mean_ci(p, "latency.ttft.p99", "s")] for p in probes])
            + (f'<p class="note">The range: the highest rate sustained with the model\'s capacity {band["pct"]:g} % '
               f"lower and {band['pct']:g} % higher (fleetsim saturation --capacity-band), each searched to the same "
               f"tolerance; capacity 1 is the model's.</p>" if band else ""))
