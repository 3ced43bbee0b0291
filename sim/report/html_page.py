"""The building blocks of ``report.html``: a :class:`Page` the kinds of result in a folder add to,
the style sheet, tables, values and figures as text, and the "What was simulated" head of a sweep,
plan or saturation search (:func:`base_header`).

Every page (:mod:`sim.report.html_report` for runs and sweeps, :mod:`sim.report.search_pages` for
plans and saturation searches) is written with these; this module imports none of them.

    >>> table(["metric", "value"], [["TTFT p99", 0.25], ["stable", True]])
    '<table><tr><th>metric</th><th>value</th></tr><tr><td>TTFT p99</td><td>0.25</td></tr><tr><td>stable</td><td>yes</td></tr></table>'
    >>> mean_ci({"latency.ttft.p99.mean": 0.25, "latency.ttft.p99.ci_low": 0.2, "latency.ttft.p99.ci_high": 0.3},
    ...         "latency.ttft.p99")
    '250.0 ms ± 50.0 ms'
"""
from __future__ import annotations

import base64
import copy
import datetime as _dt
import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import humanize
from sim.metrics.names import unit_of   # (the display unit of a summary key; imported from here too)
from sim.report.chart import figure_text
from sim.report.overview import overview, read_scenario
from sim.report.render import short_name
from sim.report.scenario_words import Varied
from sim.text_table import distinct_shortened

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
              "configuration is both cheaper and faster); each point is labelled "
              "with its values of the knobs varied, in their order (a plan's “4, 8”: the first knob 4, the "
              "second 8), past 40 configurations only those on the frontier and the chosen ones; in a plan the chosen configuration is starred (with "
              "the capacity band, the cheapest meeting the constraints with less capacity is ringed).",
    "saturation": "Saturation search: SLO attainment and p99 TTFT of each rate probed (each client count, on a "
                  "closed loop); the highest sustained rate (the most clients) is marked (with the capacity band, "
                  "the span between those sustained with the model's capacity lower and higher is shaded).",
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0;display:block;max-width:100%;overflow-x:auto}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.note{color:#a60;font-size:.9em}.aside{font-size:.85em;color:#555}
.lead{font-size:1.05em;line-height:1.45}
.verdict{padding:.6em .9em;border-radius:4px;margin:1em 0;font-size:1.05em}
.met{background:#e8f5e9;border-left:5px solid #2e7d32}.missed{background:#fdecea;border-left:5px solid #c62828}
.unknown{background:#f4f4f4;border-left:5px solid #888}
table.settings td,table.settings th{text-align:left}table.settings td:first-child{overflow-wrap:anywhere;min-width:12em}details{margin:1em 0}summary{cursor:pointer}
table.plan td{white-space:nowrap;padding:.25em .45em}table.plan th{padding:.25em .45em}
table.plan td.wrap{white-space:normal}table.plan td.words{text-align:left;min-width:8em;overflow-wrap:anywhere}
table.inner{display:table;font-size:1em;margin:0}table.inner td,table.inner th{padding:.1em .4em}
table.statement td{white-space:nowrap}table.compare td{white-space:nowrap}table.pools td+td{white-space:nowrap}table.diffs td:first-child{white-space:nowrap}td.better{background:#e8f5e9;color:#1b5e20}td.worse{background:#fdecea;color:#b71c1c}
"""


@dataclass
class Page:
    """What ``report.html`` is assembled from, as each kind of result in the folder adds to it."""

    title: str
    head: str = ""
    kinds: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    knobs: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    def html(self, folder_name: str, lead: str | None = None, stamped: bool = True) -> str:
        """The whole page: title, what the folder holds (``folder_name``; or ``lead``, a line of
        words of the caller's) and, if ``stamped``, when the page was generated, the head, the
        sections, the figures, the tail and the notes."""
        notes_html = "".join(f'<p class="note">{escape(n)}</p>' for n in self.notes)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("; generated %Y-%m-%d %H:%M UTC") if stamped else ""
        where = lead if lead is not None else f"{' + '.join(self.kinds)} results in {folder_name}"
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                f"<title>fleetsim report: {escape(self.title)}</title><style>{CSS}</style></head>"
                f"<body><h1>fleetsim report: {escape(self.title)}</h1>"
                f"<p>{escape(where)}{stamp}.</p>"
                + self.head + "".join(self.sections)
                + ("<h2>Figures</h2>" + "".join(figure(p, self.knobs) for p in self.figures) if self.figures else "")
                + "".join(self.tail) + notes_html + "</body></html>\n")


def escape(text: str) -> str:
    r"""``text`` for the page: shown as a figure shows it (:func:`~sim.report.chart.figure_text`: control
    characters and bidirectional overrides written as escapes, as on the terminal, so a scenario, pool
    or class name, or a folder's path, cannot reorder or hide what the page shows; spaces as they are,
    the page's no-break and thin spaces too, ``−3\u00a0%``), then HTML-escaped.

        >>> escape("<b>pool</b>\x1b[2J\u202e")
        '&lt;b&gt;pool&lt;/b&gt;\\x1b[2J\\u202e'
        >>> escape("−3\u00a0%\u2009x") == "−3\u00a0%\u2009x"
        True
    """
    return html.escape(figure_text(text))


class Markup(str):
    """HTML a page's code built itself (a table inside a cell): :func:`fmt` passes it through unescaped."""


def name_cell(name: str, among: Iterable[str] = ()) -> Markup:
    """A pool's or class's name as a table's first cell: whole when short, else :func:`~sim.text_table.shortened`
    as on the terminal, the whole name in the cell's ``title`` (shown on hover; a 200-character name made the
    per-pool table scroll sideways). ``among``: the names of the table's other rows, from which it is kept
    distinct (:func:`~sim.text_table.distinct_shortened`: two names differing in their middle).

        >>> name_cell("chat"), name_cell("<b>" + "p" * 40)[:73]
        ('chat', '<span title="&lt;b&gt;pppppppppppppppppppppppppppppppppppppppp">&lt;b&gt;')
    """
    short = distinct_shortened([name, *among])[name]
    return Markup(escape(short) if short == name else f'<span title="{escape(name)}">{escape(short)}</span>')


def fmt(v: Any, unit: str = "") -> str:
    """A value as text for the page: money, latencies and shares for people (:mod:`sim.humanize`),
    other numbers to four significant figures; ``None``/NaN as a dash."""
    if isinstance(v, Markup):
        return v
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
        if unit == "%":     # short of 100 % (or above 0 %) never reads as it: 0.9999 is 99.99%, not 100.0%
            return humanize.share(v, apart=(0.0, 1.0))
        if unit == "h":
            return humanize.number(v, digits=4)
        if isinstance(v, int) or float(v).is_integer():
            return humanize.count(v)
        return f"{v:,.4g}" if abs(v) < 1e4 else humanize.number(v)
    return escape(str(v))


def table(header: list[str], rows: list[list[Any]], cls: str = "", wrap_header: bool = False,
          wrap: Sequence[int] = (), words: Sequence[int] = ()) -> str:
    """A table: ``header`` as written (escaped; with ``wrap_header`` a heading may break after each
    dot, so that ``latency.ttft.p99`` takes no wider a column than its values), each cell as
    :func:`fmt` says it; the cells of the columns numbered in ``wrap`` carry ``class="wrap"`` (in a
    table whose class keeps its cells on one line, those may break: ``table.plan``), those numbered in
    ``words`` (sentences, such as why a configuration misses) ``class="wrap words"``, left-aligned there.
    (A number column last in its table was left-aligned as if it were words.)"""
    head = "".join(f"<th>{_breakable(h) if wrap_header else escape(h)}</th>" for h in header)
    td = lambda i: '<td class="wrap words">' if i in words else '<td class="wrap">' if i in wrap else "<td>"
    body = "".join("<tr>" + "".join(f"{td(i)}{fmt(c)}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table{f' class={cls!r}' if cls else ''}><tr>{head}</tr>{body}</table>"


def _breakable(text: str) -> str:
    """``text`` escaped, with a line-break opportunity after each dot.

    >>> _breakable("latency.ttft.p99 at −3 %")
    'latency.<wbr>ttft.<wbr>p99 at −3 %'
    """
    return escape(text).replace(".", ".<wbr>")


def mean_ci(row: dict, metric: str, unit: str | None = None) -> str:
    """``metric``'s mean (± the 95 % CI half-width when there is one, or the interval's ends when it was
    clipped to the metric's range), in the metric's unit."""
    unit = unit_of(metric) if unit is None else unit
    m = row.get(f"{metric}.mean")
    lo, hi = row.get(f"{metric}.ci_low"), row.get(f"{metric}.ci_high")
    if isinstance(m, (int, float)):
        return humanize.interval(float(m), lo, hi, lambda v: fmt(float(v), unit))
    return "–"


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


def figure(path: Path, knobs: Sequence[Sequence[str]] = ()) -> str:
    """A figure file embedded (base64 PNG or SVG) with its :func:`caption`."""
    return embedded(path.read_bytes(), "svg" if path.suffix == ".svg" else "png", path.stem,
                    caption(path.stem, knobs))


def embedded(data: bytes, kind: str, alt: str, words: str) -> str:
    """A figure's bytes (``kind``: ``png`` or ``svg``) embedded in base64, captioned with ``words``.

        >>> embedded(b"<svg/>", "svg", "cdf", "x < y")
        '<figure><img alt="cdf" src="data:image/svg+xml;base64,PHN2Zy8+"><figcaption>x &lt; y</figcaption></figure>'
    """
    mime = "image/svg+xml" if kind == "svg" else "image/png"
    return (f'<figure><img alt="{escape(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode("ascii")}">'
            f"<figcaption>{escape(words)}</figcaption></figure>")


def simulated(view, source: str = "", notes: Sequence[str] = ()) -> str:
    """The "What was simulated" heading, paragraph (``source`` appended), the ``notes`` on it (a sharded
    pool's, explaining the word the paragraph has just used) and key-settings table."""
    return (f'<h2>What was simulated</h2><p class="lead">{escape(view.paragraph + source)}</p>'
            + "".join(f'<p class="note">{escape(n)}</p>' for n in notes)
            + table(["setting", "value"], [[k, v] for k, v in view.settings], cls="settings"))


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
    ``knobs`` said as its values, :func:`with_varied`) and the summary of a point of this result
    (:func:`point_of`; in a folder an earlier command of another configuration also wrote to, its
    points are kept, and the first one may be one of them), then what was varied."""
    path = data.get("scenario")
    scn = with_varied(read_scenario(folder), knobs)
    summary: dict = {"scenario": Path(str(path)).stem if path else folder.name}
    mine = point_of(folder, data, scn)
    if mine is not None:
        summary = {k: mine[k] for k in ("scenario", "pools", "slo", "simulated_seconds") if k in mine}
    view = overview(_varied_gpus(summary, scn), scn)
    source = f" (base scenario {path})" if path else ""
    return view.title, simulated(view, source) + f"<p><b>Varied:</b> {escape(varied)}</p>"


def point_of(folder: Path, data: dict, scenario: dict | None) -> dict | None:
    """The summary of the first point in ``folder/points`` (by file name) that belongs to the result
    ``data`` describes: its configuration is that of one of the result's rows (``evaluated``, ``points``,
    ``configurations``, ``groups``; a saturation search's ``probes`` by their ``rate`` at its
    ``rate_path``) on every field both name, and its scenario name and its pools' GPU and parallelism
    are those of ``scenario`` (``scenario.json``, the varied fields as :class:`Varied`, not compared);
    None when no point does."""
    rows = [r for key in ("evaluated", "points", "configurations", "groups") if isinstance(data.get(key), list)
            for r in data[key] if isinstance(r, dict)]
    if isinstance(data.get("probes"), list) and data.get("rate_path"):
        rows += [{str(data["rate_path"]): p.get("rate")} for p in data["probes"] if isinstance(p, dict)]
    folder_points = sorted((folder / "points").glob("*.json")) if (folder / "points").is_dir() else []
    for p in folder_points:
        try:
            point = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):      # (a broken point: the next one serves)
            continue
        summary = point.get("summary") if isinstance(point, dict) else None
        config = point.get("config") if isinstance(point, dict) else None
        if not isinstance(summary, dict) or not isinstance(config, dict):
            continue
        if rows and not any(_of_row(config, r) for r in rows):
            continue
        if _same_scenario(summary, scenario):
            return summary
    return None


def _of_row(config: dict, row: dict) -> bool:
    """Whether a point's ``config`` is the configuration of a result's ``row``: on every field both name
    the same value (16 == 16.0: a rate the probe wrote as a float), and a point that varied fields names
    at least one of the row's (a point of an earlier plan over other knobs, kept in the folder, names
    none of this one's and is not this result's).

        >>> _of_row({"a": 16.0}, {"a": 16, "b": 1}), _of_row({"c": 3}, {"a": 16}), _of_row({}, {"a": 16})
        (True, False, True)
    """
    shared = [k for k in config if k in row]
    return (bool(shared) or not config) and all(row[k] == config[k] or str(row[k]) == str(config[k])
                                                for k in shared)


def _same_scenario(summary: dict, scenario: dict | None) -> bool:
    """Whether a point's ``summary`` was run from ``scenario`` as far as the page's header says it: the
    same name and, per pool (by name), the same GPU and parallelism where ``scenario`` gives them
    (a :class:`Varied` field is not compared).

        >>> scn = {"name": "a", "fleet": {"pools": [{"name": "main", "gpu": "a100-80gb", "tensor_parallel": 2}]}}
        >>> _same_scenario({"scenario": "a", "pools": {"main": {"gpu": "a100-80gb", "tensor_parallel": 2}}}, scn)
        True
        >>> _same_scenario({"scenario": "a", "pools": {"main": {"gpu": "h100-sxm", "tensor_parallel": 1}}}, scn)
        False
    """
    if not isinstance(scenario, dict):
        return True
    if "name" in scenario and "scenario" in summary and not isinstance(scenario["name"], Varied) \
            and str(scenario["name"]) != str(summary["scenario"]):
        return False
    pools = (scenario.get("fleet") or {}).get("pools") if isinstance(scenario.get("fleet"), dict) else None
    ran = summary.get("pools")
    if not isinstance(pools, list) or not isinstance(ran, dict):
        return True
    for pool in pools:
        if not isinstance(pool, dict):
            continue
        got = ran.get(pool.get("name"))      # (a pool always has a name: the schema requires it)
        if not isinstance(got, dict):
            continue
        for key in ("gpu", "tensor_parallel", "pipeline_parallel"):
            if key in pool and key in got and not isinstance(pool[key], Varied) \
                    and str(pool[key]) != str(got[key]):
                return False
    return True


def _varied_gpus(summary: dict, scenario: dict | None) -> dict:
    """``summary`` with each pool's GPU as the described scenario says it: a varied GPU's values in
    words (:class:`Varied`), so that the title names every GPU tried, not the first point's.

        >>> s = {"pools": {"main": {"gpu": "a100-80gb"}}}
        >>> scn = {"fleet": {"pools": [{"name": "main", "gpu": Varied("h100-sxm, b200")}]}}
        >>> _varied_gpus(s, scn)["pools"]["main"]["gpu"]
        'h100-sxm, b200'
    """
    pools = ((scenario or {}).get("fleet") or {}).get("pools")
    if not isinstance(pools, list) or not isinstance(summary.get("pools"), dict):
        return summary
    varied = {p.get("name"): str(p["gpu"]) for p in pools if isinstance(p, dict) and isinstance(p.get("gpu"), Varied)}
    return {**summary, "pools": {name: {**p, "gpu": varied[name]} if name in varied and isinstance(p, dict) else p
                                 for name, p in summary["pools"].items()}}
