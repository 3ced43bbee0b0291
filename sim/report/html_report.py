"""``report.html``: one self-contained page for a result folder (figures embedded as base64 PNG, or SVG).

:func:`write_report` recognises what the folder holds — a run (``summary.json``), a sweep
(``sweep.json``), a plan (``plan.json``) or a saturation search (``saturation.json``) —
regenerates its figures from the data files, and writes ``report.html`` with the key numbers as
tables and every figure inline. The page references no external file, script or font, so it
opens in any browser and can be mailed on its own.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sim.report.result_folder import read_summary
from sim.report.run_figures import write_run_figures

RUN_ROWS = (
    ("requests.arrived", "requests arrived", ""), ("requests.completed", "requests completed", ""),
    ("requests.rejected", "requests rejected", ""),
    ("latency.ttft.p50", "TTFT p50", "s"), ("latency.ttft.p99", "TTFT p99", "s"),
    ("latency.tpot.p50", "TPOT p50", "s"), ("latency.tpot.p99", "TPOT p99", "s"),
    ("latency.e2e.p50", "E2E p50", "s"), ("latency.e2e.p99", "E2E p99", "s"),
    ("latency.queue.p99", "queue p99", "s"),
    ("throughput.requests_per_s", "throughput", "req/s"),
    ("throughput.output_tokens_per_s", "output tokens/s", "tok/s"),
    ("slo.attainment", "SLO attainment", ""), ("slo.goodput_rps", "goodput", "req/s"),
    ("utilization.gpu_busy", "GPU busy", ""), ("utilization.kv_cache_mean", "KV cache mean", ""),
    ("utilization.mfu", "MFU", ""),
    ("gpu_hours.provisioned", "GPU-hours provisioned", "h"), ("gpu_hours.busy", "GPU-hours busy", "h"),
    ("cost.compute_usd", "compute cost", "USD"),
    ("cost.per_million_output_tokens", "cost per 1M output tokens", "USD"),
    ("cashflow.revenue", "revenue", "USD"), ("cashflow.compute_cost", "compute cost (ledger)", "USD"),
    ("cashflow.revenue_share_paid", "revenue share paid", "USD"),
    ("cashflow.revenue_share_received", "revenue share received", "USD"),
    ("cashflow.net", "net cash flow", "USD"),
)
TABLE_METRICS = ("latency.ttft.p99", "latency.e2e.p99", "slo.attainment", "cost.compute_usd",
                 "utilization.gpu_busy")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.note{color:#a60;font-size:.9em}
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "∞"
        return f"{v:.4g}"
    return html.escape(str(v))


def _get(d: dict, dotted: str) -> Any:
    node: Any = d
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _mean_ci(row: dict, metric: str) -> str:
    m = row.get(f"{metric}.mean")
    lo, hi = row.get(f"{metric}.ci_low"), row.get(f"{metric}.ci_high")
    if isinstance(m, (int, float)) and isinstance(lo, (int, float)) and isinstance(hi, (int, float)) \
            and math.isfinite(lo) and math.isfinite(hi):
        return f"{_fmt(float(m))} ± {_fmt((float(hi) - float(lo)) / 2)}"
    return _fmt(float(m)) if isinstance(m, (int, float)) else "–"


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = html.escape(path.stem.replace("_", " "))
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return (f'<figure><img alt="{cap}" src="data:{mime};base64,{data}">'
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


def write_report(folder: Path | str, regenerate: bool = True) -> Path:
    """Regenerate the folder's figures and write ``report.html``; returns its path.

    Raises FileNotFoundError when the folder holds no recognised result.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such result folder")
    notes: list[str] = []
    sections: list[str] = []
    kinds: list[str] = []
    figures: list[Path] = []

    summary = read_summary(folder)
    if summary is not None:
        kinds.append("run")
        if regenerate:
            figures += [p for p in write_run_figures(folder, notes) if p.suffix == ".png"]
        rows = [[label, _get(summary, key), unit] for key, label, unit in RUN_ROWS
                if _get(summary, key) is not None]
        meta = [["scenario", summary.get("scenario"), ""], ["seed", summary.get("seed"), ""],
                ["simulated", summary.get("simulated_seconds"), "s"]]
        sections.append("<h2>Run summary</h2>" + _table(["metric", "value", "unit"], meta + rows))

    if (folder / "sweep.json").exists():
        kinds.append("sweep")
        data = _load_json(folder / "sweep.json")
        view = _sweep_view(data)
        if regenerate:
            from sim.report.sweep_figures import write_sweep_figures

            figures += [p for p in write_sweep_figures(folder, view) if p.suffix == ".png"]
        knob_paths = [p for k in view.knobs for p in k.paths]
        ci = " (mean ± 95% CI half-width)" if view.seeds > 1 else ""
        rows = [[*(r.get(k) for k in knob_paths), r.get("n"), r.get("errors"),
                 *(_mean_ci(r, m) for m in TABLE_METRICS)] for r in view.configurations]
        sections.append(f"<h2>Sweep: {len(view.configurations)} configurations × {view.seeds} "
                        f"seed(s){ci}</h2>"
                        + _table([*knob_paths, "n", "errors", *TABLE_METRICS], rows))
        errors = [p for p in data.get("points", []) if p.get("error")]
        if errors:
            sections.append("<h2>Failed points</h2>" + _table(
                [*knob_paths, "seed", "error"],
                [[*(p.get(k) for k in knob_paths), p.get("seed"), p.get("error")] for p in errors]))

    if (folder / "plan.json").exists():
        kinds.append("plan")
        data = _load_json(folder / "plan.json")
        if regenerate:
            from sim.report.sweep_figures import pareto_figure

            ev = data.get("evaluated", [])
            best = data.get("best")
            best_i = next((i for i, r in enumerate(ev)
                           if best is not None and r.get("overrides") == best.get("overrides")), None)
            figures += [p for p in pareto_figure(ev, folder / "figures" / "pareto",
                                                 label_keys=data.get("knobs", []),
                                                 feasible=[bool(r.get("feasible")) for r in ev],
                                                 best=best_i, title="plan: cost vs p99 TTFT")
                        if p.suffix == ".png"]
        best = data.get("best")
        answer = ("<p><b>Cheapest configuration meeting every constraint:</b> "
                  + html.escape(", ".join(best["overrides"])) + "</p>") if best else \
            "<p><b>No configuration meets every constraint.</b></p>"
        cons = ", ".join(data.get("constraints", []))
        metrics = [data.get("objective", "cost.compute_usd")] + [
            c.split("<")[0].split(">")[0] for c in data.get("constraints", [])]
        rows = [[", ".join(g.get("overrides", [])), g.get("feasible"),
                 *(_mean_ci(g, m) for m in metrics)] for g in data.get("groups", [])]
        sections.append(f"<h2>Plan</h2><p>objective: minimise {html.escape(str(data.get('objective')))}"
                        f"; constraints: {html.escape(cons)}; {data.get('seeds')} seed(s); a "
                        f"constraint must hold at the unfavourable 95% CI bound.</p>" + answer
                        + _table(["configuration", "feasible", *metrics], rows))

    if (folder / "saturation.json").exists():
        kinds.append("saturation")
        data = _load_json(folder / "saturation.json")
        sections.append(
            f"<h2>Saturation</h2><p>Highest sustained arrival rate: <b>{_fmt(data.get('rate'))} "
            f"req/s</b> (first failing rate {_fmt(data.get('upper'))} req/s; SLO attainment ≥ "
            f"{_fmt(data.get('attainment'))}).</p>"
            + _table(["rate (req/s)", "sustained", "slo.attainment", "latency.ttft.p99"],
                     [[p.get("rate"), p.get("feasible"), _mean_ci(p, "slo.attainment"),
                       _mean_ci(p, "latency.ttft.p99")] for p in data.get("probes", [])]))

    if not kinds:
        raise FileNotFoundError(f"{folder}: no summary.json, sweep.json, plan.json or "
                                "saturation.json to report on")
    if not regenerate:   # the PNGs there, and the SVGs without a PNG (a run's quick-look figures)
        drawn = sorted((folder / "figures").glob("*.png"))
        stems = {p.stem for p in drawn}
        figures = sorted(drawn + [p for p in (folder / "figures").glob("*.svg") if p.stem not in stems])
    seen: set[Path] = set()
    figures = [p for p in figures if not (p in seen or seen.add(p))]
    notes_html = "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>fleetsim report: {html.escape(folder.name)}</title><style>{_CSS}</style></head>"
            f"<body><h1>fleetsim report: {html.escape(folder.name)}</h1>"
            f"<p>{html.escape(' + '.join(kinds))} results; generated {stamp}.</p>"
            + "".join(sections)
            + ("<h2>Figures</h2>" + "".join(_img(p) for p in figures) if figures else "")
            + notes_html + "</body></html>\n")
    path = folder / "report.html"
    tmp = folder / ".report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
