"""The plan and saturation-search parts of ``report.html``: a plan's answer (and, with the capacity
band, its robust answer) with the cheapest configuration of every group; a saturation search's
highest sustained rate with every rate it probed. Each adds to a :class:`~sim.report.html_page.Page`
when the folder holds its file (``plan.json``, ``saturation.json``).

    >>> plan_knobs({"columns": ["fleet.pools.0.replicas"],
    ...             "evaluated": [{"fleet.pools.0.replicas": 8}, {"fleet.pools.0.replicas": 4}]})
    [(['fleet.pools.0.replicas'], [4, 8])]
"""
from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from sim import humanize
from sim.metrics.band import SLOWER, answer_rows, rate_range, robust_feasible
from sim.report.html_page import Page, base_header, fmt, load_json, mean_ci, table, unit_of
from sim.report.overview import Varied


def add_plan(page: Page, folder: Path, regenerate: bool) -> None:
    """A plan's answer (the cheapest feasible configuration), its table and Pareto figure."""
    if (folder / "plan.json").exists():
        page.kinds.append("plan")
        data = load_json(folder / "plan.json")
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
        page.sections.append(f"<h2>Plan</h2><p>objective: minimise {html.escape(str(data.get('objective')))}"
                             f"; constraints: {html.escape(cons)}; {data.get('seeds')} seed(s); a "
                             f"constraint must hold at the unfavourable 95% CI bound.</p>" + answer
                             + plan_tables(data, slower)
                             + (f'<p class="note">{slower}: every configuration evaluated was also run with the '
                                f"model's capacity {pct:g} % lower, the same seeds (fleetsim plan --capacity-band); "
                                f"point: the cheapest configuration of its group meeting the constraints; robust: "
                                f"the cheapest meeting them {slower}.</p>" if slower else ""))


def plan_tables(data: dict, slower: str | None) -> str:
    """The cheapest configuration of every group: its verdict, objective and constraint metrics at
    the model's capacity; with a capacity band (``slower``: ``at −3 %``) also each group's robust
    answer, and a second table of the same rows as judged on the slower side (its verdict and the
    constraints' metrics there), so that neither table is wider than the page. Metric names in the
    headings may break after a dot."""
    metrics = [data.get("objective", "cost.compute_usd")] + [
        c.split("<")[0].split(">")[0] for c in data.get("constraints", [])]
    shown = answer_rows(data.get("groups", []), data.get("robust_groups", []) if slower else [])
    first = ["configuration", *(["answer"] if slower else [])]
    cells = [[", ".join(g.get("overrides", [])), *([label] if slower else [])] for g, label in shown]
    out = table([*first, "feasible", *metrics],
                [[*c, g.get("feasible"), *(mean_ci(g, m) for m in metrics)] for c, (g, _) in zip(cells, shown)],
                wrap_header=True)
    if slower:
        judged = metrics[1:]         # the constraints' metrics, as judged on the slower side
        at = slower.replace(" %", "\u00a0%")         # a heading never breaks between -3 and %
        out += (f"<h3>The same configurations {html.escape(slower)} capacity</h3>"
                + table([*first, f"feasible {at}", *(f"{m} {at}" for m in judged)],
                        [[*c, robust_feasible(g), *(mean_ci(g, SLOWER + m, unit_of(m)) for m in judged)]
                         for c, (g, _) in zip(cells, shown)], wrap_header=True))
    return out


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


def _num_or_inf(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.inf


def _robust_answer(best: dict | None, robust: Any, pct: float) -> str:
    """The plan page's sentence on its robust answer (``fleetsim plan --capacity-band``)."""
    lower = f"with capacity {pct:g} % lower than modelled"
    if not isinstance(robust, dict):
        return f"<p><b>No configuration tried meets every constraint {lower}.</b></p>"
    if best is not None and robust.get("overrides") == best.get("overrides"):
        return f"<p>It still meets every constraint {lower} (robust).</p>"
    return (f"<p><b>{lower.capitalize()} you need:</b> {html.escape(', '.join(robust.get('overrides') or []))}"
            f" (robust).</p>")


def add_saturation(page: Page, folder: Path, regenerate: bool) -> None:
    """A saturation search's sustained rate, its probes and figure."""
    if (folder / "saturation.json").exists():
        page.kinds.append("saturation")
        data = load_json(folder / "saturation.json")
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
        ranged = f" ({html.escape(rate_range(band, fmt))})" if band else ""
        page.sections.append(
            f"<h2>Saturation</h2><p>Highest sustained arrival rate: <b>{fmt(data.get('rate'))} "
            f"req/s</b>{ranged} (first failing rate {fmt(data.get('upper'))} req/s; SLO attainment ≥ "
            f"{fmt(data.get('attainment'))}).</p>"
            + table([*(["capacity"] if band else []), "rate (req/s)", "sustained", "slo.attainment",
                     "latency.ttft.p99"],
                    [[*([p.get("capacity", 1.0)] if band else []), p.get("rate"), p.get("feasible"),
                      mean_ci(p, "slo.attainment"), mean_ci(p, "latency.ttft.p99", "s")] for p in probes])
            + (f'<p class="note">The range: the highest rate sustained with the model\'s capacity {band["pct"]:g} % '
               f"lower and {band['pct']:g} % higher (fleetsim saturation --capacity-band), each searched to the same "
               f"tolerance; capacity 1 is the model's.</p>" if band else ""))
