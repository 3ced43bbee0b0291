"""The plan and saturation-search parts of ``report.html``: a plan's answer (and, with the capacity
band, its robust answer) with the cheapest configuration of every group; a saturation search's
highest sustained rate with every rate it probed. Each adds to a :class:`~sim.report.html_page.Page`
when the folder holds its file (``plan.json``, ``saturation.json``).

    >>> plan_knobs({"columns": ["fleet.pools.0.replicas"],
    ...             "evaluated": [{"fleet.pools.0.replicas": 8}, {"fleet.pools.0.replicas": 4}]})
    [(['fleet.pools.0.replicas'], [4, 8])]
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sim import humanize
from sim.metrics.band import SLOWER, answer_rows, rate_range, robust_feasible
from sim.metrics.constraint_text import ConstraintError, split_constraint
from sim.metrics.names import amount, name_of
from sim.report.html_page import Page, base_header, escape, fmt, mean_ci, table, unit_of
from sim.report.planner_columns import (COLUMNS, plain, plan_rows, planner_cells, planner_values, replicas_repeat_a_knob,
                                        traffic_line, verdict)
from sim.report.scenario_words import Varied
from sim.report.search_result import read_search


def add_plan(page: Page, folder: Path, regenerate: bool) -> None:
    """A plan's answer (the cheapest feasible configuration), its table and Pareto figure."""
    if (folder / "plan.json").exists():
        page.kinds.append("plan")
        data = read_search(folder, "plan.json")
        if not page.head:
            page.title, page.head = base_header(folder, data, ", ".join(knob_paths(data))
                                                + f"; objective: minimise {name_of(str(data.get('objective')))}",
                                                plan_knobs(data))
        if regenerate:
            from sim.report.sweep_figures import pareto_figure, row_index

            ev = data.get("evaluated", [])
            band = data.get("capacity_band")
            robust = data.get("robust") if isinstance(band, dict) and isinstance(band.get("pct"), (int, float)) else None
            page.figures += [p for p in pareto_figure(ev, folder / "figures" / "pareto",
                                                      label_keys=data.get("knobs", []),
                                                      feasible=[bool(r.get("feasible")) for r in ev],
                                                      best=row_index(ev, data.get("best")), title="plan: cost vs p99 TTFT",
                                                      constraints=[c for c in data.get("constraints") or []
                                                                   if isinstance(c, str)],
                                                      robust=None if robust is None else (row_index(ev, robust), band["pct"]))
                             if p.suffix == ".png"]
        best = data.get("best")
        answer = ("<p><b>Cheapest configuration meeting every constraint:</b> "
                  + escape(", ".join(best["overrides"]) + _priced(best)) + "</p>"
                  + _traffic(best)) if best else \
            "<p><b>No configuration meets every constraint.</b></p>"
        band = data.get("capacity_band") if isinstance(data.get("capacity_band"), dict) else None
        pct = band.get("pct") if band and isinstance(band.get("pct"), (int, float)) else None
        slower = f"at −{pct:g} %" if pct is not None else None
        if slower:
            answer += _robust_answer(best, data.get("robust"), pct)
        answer += skipped_note(data) + one_price_paragraph(data)
        cons = ", ".join(map(constraint_words, data.get("constraints", []))) or "none (the cheapest that keeps up)"
        seeds = data.get("seeds")
        judged = ("each constraint must hold at the unfavourable end of the 95% confidence interval"
                  if isinstance(seeds, int) and seeds > 1 else "each constraint judged on the run's value")
        objective = str(data.get("objective"))
        page.sections.append(f"<h2>Plan</h2><p>Objective: minimise {escape(name_of(objective))} "
                             f"({escape(objective)}); constraints: {escape(cons)}; "
                             f"{seeds} {'seed' if seeds == 1 else 'seeds'} per configuration, {judged}.</p>" + answer
                             + plan_tables(data, slower) + PLAN_NOTE
                             + (f'<p class="note">{slower}: every configuration evaluated was also run with the '
                                f"model's capacity {pct:g} % lower, the same seeds (fleetsim plan --capacity-band); "
                                f"point: the cheapest configuration of its group meeting the constraints; robust: "
                                f"the cheapest meeting them {slower}.</p>" if slower else ""))


def skipped_note(data: dict) -> str:
    """The groups a plan skipped as their layout cannot hold the model (``plan.json``'s ``skipped``,
    :mod:`sim.planning.unfit`), each with why, as the terminal says them; empty when none was.

        >>> skipped_note({"skipped": [{"group": ["tp=1"], "reason": "x does not fit on 1x h100"}]})
        '<p class="note">Skipped tp=1, which cannot hold the model: x does not fit on 1x h100.</p>'
    """
    out = []
    for s in data.get("skipped") or []:
        if isinstance(s, dict) and isinstance(s.get("group"), list):
            out.append(f'<p class="note">Skipped {escape(", ".join(map(str, s["group"])) or "the plan")}, which '
                       f'cannot hold the model: {escape(str(s.get("reason", "")))}.</p>')
    return "".join(out)


def one_price_paragraph(data: dict) -> str:
    """``plan.json``'s note that GPU types competed at one price per GPU-hour (:mod:`sim.planning.one_price`:
    the cost ranking counts GPUs alone), as the terminal says it; empty without one.

        >>> one_price_paragraph({"one_price_note": "every GPU type was priced at $2.50 per GPU-hour: ..."})
        '<p class="note">Every GPU type was priced at $2.50 per GPU-hour: ....</p>'
    """
    note = data.get("one_price_note")
    if not isinstance(note, str) or not note:
        return ""
    return f'<p class="note">{escape(note[0].upper() + note[1:])}.</p>'


def constraint_words(text: str) -> str:
    """A constraint of ``plan.json`` in words with its unit, the key after it: ``TTFT p99 ≤ 2 s
    (latency.ttft.p99<=2)``; a text that is no constraint (:func:`~sim.metrics.constraint_text.split_constraint`),
    as it is.

        >>> constraint_words("slo.attainment>=0.99")
        'SLO attainment ≥ 99 % (slo.attainment>=0.99)'
    """
    try:
        metric, op, bound = split_constraint(str(text))
    except ConstraintError:
        return str(text)
    return f"{bound_said(metric, op, bound)} ({text})"


def bound_said(metric: str, op: str, bound: float) -> str:
    """A constraint's parts in words with its unit, as the page and the plan's figure say them: ``TTFT p99 ≤ 2 s``.

        >>> bound_said("latency.ttft.p99", "<=", 0.5)
        'TTFT p99 ≤ 500 ms'
    """
    return f"{name_of(metric)} {SIGNS.get(op, op)} {amount(metric, bound, bound)}"


#: the signs of a constraint's comparisons as a page says them
SIGNS = {"<=": "≤", ">=": "≥"}


def constraint_metric(text: str) -> str | None:
    """The metric a constraint of ``plan.json`` bounds (None for a text that is no constraint)."""
    try:
        return split_constraint(str(text))[0]
    except ConstraintError:
        return None


def plan_tables(data: dict, slower: str | None) -> str:
    """The configurations a planner compares (:func:`~sim.report.planner_columns.plan_rows`: every
    group's cheapest configuration meeting the constraints, best first, then the nearest miss), each
    with its knobs' values, verdict, the planner columns (GPUs, replicas, $/hour, $/month, $/M output
    tokens, the window's cost), the objective and the constraints' metrics, load factor, headroom and
    why not; with a capacity band (``slower``: ``at −3 %``) also each group's robust answer, and a
    second table of the same rows as judged on the slower side (its verdict, the summary keys
    ``--columns`` named and the constraints' metrics there), so that neither table is wider than the
    page; then every configuration evaluated, collapsed. Metric names in the headings may break after a dot."""
    objective = data.get("objective", "cost.compute_usd")
    constraints = [m for m in map(constraint_metric, data.get("constraints", [])) if m is not None]
    metrics = list(dict.fromkeys(([] if objective == "cost.compute_usd" else [objective]) + constraints))
    knobs = knob_paths(data)
    groups = [g for g in data.get("groups", []) if isinstance(g, dict)]
    evaluated = [r for r in data.get("evaluated", []) if isinstance(r, dict)]
    shown = plan_rows(answer_rows(groups, data.get("robust_groups", []) if slower else []), evaluated, objective)
    best = (data.get("best") or {}).get("overrides") if isinstance(data.get("best"), dict) else None
    short = short_paths(knobs)
    first = [*short, "verdict"]

    named = shown_columns(data)
    load = "utilization.load_factor"

    def columns(rows: list[tuple[dict, str]], full: bool = False) -> tuple[list[str], list[list[Any]], list[int]]:
        cells = [planner_cells(g) for g, _ in rows]
        planner = [c for c in COLUMNS if c not in named and c not in ("GPU-hours", *(["$/hour"] if full else []))
                   and (c != "cost (window)" or objective != "cost.compute_usd")       # (GPU-hours: the widest)
                   and any(x[c] != "-" for x in cells)
                   and (c != "replicas" or (any(x["replicas"] not in (x["GPUs"], "-") for x in cells)
                                            and not replicas_repeat_a_knob([g for g, _ in rows], knobs)))]
        order = [*named, *planner, *(m for m in metrics if m not in named)]   # --columns first, in their order
        why = full and any(not g.get("feasible") for g, _ in rows)
        header = [*first, *(_heading(c, first) if c in COLUMNS else name_of(c) for c in order),
                  *([name_of(load)] if load not in named else []), "headroom", *(["why not"] if why else [])]
        body = [[*(g.get(k) for k in knobs), verdict(g, a, best),
                 *(c[m] if m in COLUMNS else breaks_before_ci(mean_ci(g, m)) for m in order),
                 *([plain(g.get(f"{load}.mean"))] if load not in named else []),
                 g.get("headroom.text", "–"), *([_signs(g.get("why") or "")] if why else [])] for (g, a), c in zip(rows, cells)]
        return header, body, [len(first) + i for i, m in enumerate(order) if m not in COLUMNS] + (
            [len(header) - 1] if why else [])

    said = [f"{a}: {k}" for a, k in zip(short, knobs) if a != k]
    out = ((f"<p>{escape('; '.join(said))}.</p>" if said else "")
           + _table(*columns(shown)) + why_not(shown, short, knobs))
    if slower:
        # the summary keys --columns named, in their order, then the constraints' metrics, on the slower side
        judged = list(dict.fromkeys([*(c for c in named if c not in COLUMNS), *constraints]))
        at = slower.replace(" %", "\u00a0%")         # a heading never breaks between -3 and %
        out += (f"<h3>The same configurations {escape(slower)} capacity</h3>"
                + table([*first, f"feasible {at}", *(f"{name_of(m)} {at}" for m in judged)],
                        [[*(g.get(k) for k in knobs), verdict(g, a, best), robust_feasible(g),
                          *(breaks_before_ci(mean_ci(g, SLOWER + m, unit_of(m))) for m in judged)]
                         for g, a in shown], cls="plan", wrap_header=True,
                        wrap=range(len(first) + 1, len(first) + 1 + len(judged))))
    ranked = sorted(evaluated, key=lambda r: (not r.get("feasible"), _num_or_inf(r.get(f"{objective}.mean"))))
    out += (f"<details><summary>Every configuration evaluated ({len(evaluated)}), those meeting every constraint "
            f"first, by {escape(name_of(objective))}</summary>"
            + _table(*columns([(r, "") for r in ranked], full=True)) + "</details>")
    return out


def _heading(column: str, taken: list[str]) -> str:
    """A planner column's heading in a plan's table, never one of a knob's (``taken``): the fleet's
    time-averaged replicas beside a knob headed ``replicas`` (one pool's, as set) are ``mean replicas``.

        >>> _heading("replicas", ["replicas", "verdict"]), _heading("replicas", ["gpu", "verdict"])
        ('mean replicas', 'replicas')
    """
    return f"mean {column}" if column in taken else column


PLAN_NOTE = ('<p class="note">The table: each group\'s (each combination of the values listed, such as a GPU type) '
             "cheapest configuration meeting every constraint, ranked by the objective (a group none of whose "
             "configurations meets them shows its largest), then the configuration tried that came nearest to "
             "meeting them (nearest miss). GPUs and replicas: time-averaged; $/hour: the compute cost of the "
             "simulated window per simulated hour; $/month: $/hour × 730; $/M out tok: compute cost per million "
             "output tokens; cost (window): the simulated window's compute cost (shown when the objective is another; "
             "else it is the objective, $/hour × the simulated hours); load factor: served work / work at the batch "
             "limits (1 = saturated); headroom: the slack of the tightest constraint, a share of its bound "
             "(negative: missed).</p>")


def _traffic(row: dict) -> str:
    """How much more traffic the answer takes (:func:`~sim.report.planner_columns.traffic_line`), as the
    terminal says it under the answer, as a paragraph; empty without a load factor."""
    words = traffic_line(row)
    return f"<p>{escape(words[0].upper() + words[1:])}.</p>" if words else ""


def _priced(row: dict) -> str:
    """`` (2 GPUs, $12,556/month, $0.38 per million output tokens, $0.08 per million prompt and output tokens)``:
    what a plan's answer costs."""
    v = planner_values(row)
    parts = [f"{plain(v['GPUs'])} GPU{'' if v['GPUs'] == 1 else 's'}" if v["GPUs"] == v["GPUs"] else "",
             f"{plain(v['$/month'], money=True)}/month" if v["$/month"] == v["$/month"] else "",
             f"{plain(v['$/M out tok'], money=True)} per million output tokens" if v["$/M out tok"] == v["$/M out tok"]
             else "", _per_million_tokens(row)]
    said = ", ".join(p for p in parts if p)
    return f" ({said})" if said else ""


def _per_million_tokens(row: dict) -> str:
    """``$0.55 per million prompt and output tokens`` (``cost.per_million_tokens``): beside the price per output
    token, which on a prompt-heavy trace is many times it; empty without the figure, or with one that is no
    finite price (``Infinity`` in a plan.json edited or written by hand: not a price to show as ``$inf``).

        >>> _per_million_tokens({"cost.per_million_tokens.mean": 0.5474}), _per_million_tokens({"cost.per_million_tokens.mean": float("inf")})
        ('$0.55 per million prompt and output tokens', '')
    """
    v = row.get("cost.per_million_tokens.mean")
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return f"{plain(v, money=True)} per million prompt and output tokens" if ok else ""


def shown_columns(data: dict) -> list[str]:
    """The columns ``fleetsim plan --columns`` named (``plan.json``'s ``shown_columns``: summary keys and
    planner columns such as ``$/hour``), in their order, each once; none in a plan written without them.

        >>> shown_columns({"shown_columns": ["latency.tpot.p99", "$/hour", "latency.tpot.p99", 3]})
        ['latency.tpot.p99', '$/hour']
    """
    named = data.get("shown_columns")
    return list(dict.fromkeys(c for c in named if isinstance(c, str) and c)) if isinstance(named, list) else []


def _table(header: list[str], body: list[list[Any]], wrap: list[int]) -> str:
    words = [len(header) - 1] if header and header[-1] == "why not" else []
    return table(header, body, cls="plan", wrap_header=True, wrap=wrap, words=words)


def breaks_before_ci(text: str) -> str:
    """A value with its interval that may break only before the interval: ``1.27 s`` / ``± 68.2 ms``.

        >>> breaks_before_ci("1.27 s ± 68.2 ms") == "1.27\u00a0s ±\u00a068.2\u00a0ms"
        True
    """
    return text.replace(" ", "\u00a0").replace("\u00a0±", " ±").replace("\u00a0(", " (")


def short_paths(paths: list[str]) -> list[str]:
    """Each knob path by its shortest ending no other path shares, for a table's heading.

        >>> short_paths(["fleet.pools.0.replicas", "fleet.pools.0.gpu", "economics.gpu_hour_usd"])
        ['replicas', 'gpu', 'gpu_hour_usd']
        >>> short_paths(["fleet.pools.0.replicas", "fleet.pools.1.replicas"])
        ['0.replicas', '1.replicas']
    """
    out = []
    for path in paths:
        parts = path.split(".")
        for n in range(1, len(parts) + 1):
            end = ".".join(parts[-n:])
            if not any(o != path and (o == end or o.endswith("." + end)) for o in paths):
                break
        out.append(end)
    return out


def _signs(text: str) -> str:
    """A why-not sentence of ``plan.json`` (written for the terminal: ``needs <= 500 ms``) with the page's
    signs, as its constraints line says them (``TTFT p99 ≤ 500 ms``).

        >>> _signs("TTFT p99 510.3 ms, needs <= 500 ms; SLO attainment 98 %, needs >= 99 %")
        'TTFT p99 510.3 ms, needs ≤ 500 ms; SLO attainment 98 %, needs ≥ 99 %'
    """
    return text.replace("<=", "≤").replace(">=", "≥")


def why_not(rows: list[tuple[dict, str]], short: list[str], knobs: list[str]) -> str:
    """Why each row of a plan's table that does not meet every constraint misses, as a list."""
    items = [f"<li>{escape(', '.join(f'{a}={g.get(k)}' for a, k in zip(short, knobs)))}"
             f"{' (' + a + ')' if a else ''}: {escape(_signs(str(g.get('why') or 'no reason recorded')))}</li>"
             for g, a in rows if not g.get("feasible")]
    return f"<p>Why not:</p><ul>{''.join(items)}</ul>" if items else ""


def plan_knobs(data: dict) -> list[tuple[list[str], list[Any]]]:
    """Each field a plan varies (``plan.json``'s ``columns``, a joint knob's parts apart; else its
    ``knobs``) with the values its evaluated configurations gave it, in order: numbers ascending,
    others as first evaluated."""
    rows = [r for r in data.get("evaluated") or [] if isinstance(r, dict)]
    out = []
    for path in knob_paths(data):
        values = list(dict.fromkeys(r[path] for r in rows if isinstance(r.get(path), (str, int, float))))
        if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            values.sort()
        if values:
            out.append(([path], values))
    return out


def knob_paths(data: dict) -> list[str]:
    """The fields a plan varies: ``plan.json``'s ``columns`` (a joint knob's parts apart), else its
    ``knobs``; what is not a list of texts there is passed over."""
    lists = [v for v in (data.get("columns"), data.get("knobs")) if isinstance(v, list) and v]
    return [k for k in (lists[0] if lists else []) if isinstance(k, str)]


def rates_searched(data: dict) -> list[tuple[list[str], Varied]]:
    """A saturation search's arrival-rate field (``rate_path``) as the span of the rates it probed
    (every side of a capacity band included): ``10–120``, said "(searched)"; a closed loop's search
    (``concurrency`` in the file), the span of its client counts."""
    band = data.get("capacity_band") if isinstance(data.get("capacity_band"), dict) else {}
    key = "concurrency" if "concurrency" in data else "rate"
    rates = [p[key] for b in [data, *(band.get(s) for s in ("slower", "faster"))] if isinstance(b, dict)
             for p in b.get("probes") or [] if isinstance(p, dict) and _is_number(p.get(key))]
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
    return (f"<p><b>{lower.capitalize()} you need:</b> {escape(', '.join(robust.get('overrides') or []))}"
            f" (robust).</p>")


def _clients(n: Any) -> str:
    """``316 clients``, ``1 client`` (a dash for a count the file does not hold)."""
    return f"{fmt(n)} {humanize.plural(n, 'client')}" if _is_number(n) else f"{fmt(n)} clients"


def _clients_answer(data: dict, ranged: str) -> str:
    """A closed loop's answer, up to its last parenthesis: the most clients sustained and the throughput
    they reached, or that no count was (with the search's sentence saying why), and the first failing count."""
    upper = data.get("concurrency_upper")
    fails = f"first failing count {_clients(upper)}" if _is_number(upper) else "no failing count found"
    if not _is_number(data.get("concurrency")):
        why = data.get("why_no_rate")
        return (f"No client count sustained{ranged}" + (f": {escape(why)}" if isinstance(why, str) else "")
                + f" ({fails}")
    return (f"Most clients sustained: <b>{_clients(data.get('concurrency'))}</b>{ranged}, serving "
            f"{fmt(data.get('rate'))} req/s ({fails}")


def add_saturation(page: Page, folder: Path, regenerate: bool) -> None:
    """A saturation search's sustained rate, its probes and figure."""
    if (folder / "saturation.json").exists():
        page.kinds.append("saturation")
        data = read_search(folder, "saturation.json")
        closed = "concurrency" in data      # a closed loop's search: client counts
        if not page.head:
            what = "the client count" if closed else "the arrival rate"
            page.title, page.head = base_header(folder, data, f"{what} ({data.get('rate_path')})",
                                                rates_searched(data))
        if regenerate:
            from sim.report.sweep_figures import saturation_figure

            page.figures += [p for p in saturation_figure(data, folder / "figures" / "saturation")
                             if p.suffix == ".png"]
        band = data.get("capacity_band") if isinstance(data.get("capacity_band"), dict) else None
        sides = [band[s] for s in ("slower", "faster") if isinstance(band.get(s), dict)] if band else []
        band = band if len(sides) == 2 and isinstance(band.get("pct"), (int, float)) else None
        probes = sorted([p for b in [data, *sides] for p in b.get("probes", []) if isinstance(p, dict)],
                        key=lambda p: (_num_or_inf(p.get("capacity", 1.0)), _num_or_inf(p.get("concurrency" if closed else "rate"))))
        clients = {"key": "concurrency", "unit": " clients"} if closed else {}
        ranged = f" ({escape(rate_range(band, fmt, **clients))})" if band else ""
        answer = (_clients_answer(data, ranged) if closed
                  else f"Highest sustained arrival rate: <b>{fmt(data.get('rate'))} req/s</b>{ranged} "
                  f"(first failing rate {fmt(data.get('upper'))} req/s")
        page.sections.append(
            f"<h2>Saturation</h2><p>{answer}; SLO attainment ≥ {fmt(data.get('attainment'), '%')}).</p>"   # a share, as the table says it
            + table([*(["capacity"] if band else []), *(["clients", "throughput (req/s)"] if closed else ["rate (req/s)"]),
                     "sustained", name_of("slo.attainment"), name_of("latency.ttft.p99")],
                    [[*([p.get("capacity", 1.0)] if band else []), *([p.get("concurrency")] if closed else []),
                      p.get("rate"), p.get("feasible"),
                      mean_ci(p, "slo.attainment"), mean_ci(p, "latency.ttft.p99", "s")] for p in probes])
            + (f'<p class="note">The range: the highest {"client count" if closed else "rate"} sustained with the model\'s capacity {band["pct"]:g} % '
               f"lower and {band['pct']:g} % higher (fleetsim saturation --capacity-band), each searched to the same "
               f"tolerance; capacity 1 is the model's.</p>" if band else ""))
