"""Plain-text rendering of a run's summary for the terminal.

It opens with the same header as ``report.html`` (:mod:`sim.report.overview`): what was
simulated and the verdict; then the numbers, formatted for people (:mod:`sim.humanize`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sim import humanize
from sim.metrics.band import attainment_range, class_band, explanation, latency_range
from sim.metrics.names import name_of
from sim.metrics.stability import factor_words, growth_words, overload
from sim.planning.stats import is_number
from sim.report.cashflow import NO_REVENUE, cost_rows, costs_only
from sim.report.overview import overview, shard_notes, slo_bound

if TYPE_CHECKING:
    from sim.api import Result

#: width the header's paragraphs are wrapped to (narrower in a narrower terminal)
WIDTH = 100


def _ms(x) -> str:
    return "-" if x is None else f"{x * 1000:,.1f}"


def _usd(v) -> str:
    """Money for the terminal: cents below a million, $1.30M / $2.90B above."""
    return humanize.money(v, compact=None)


def _rate(value: float, unit: str, decimals: int) -> str:
    """A rate with ``decimals`` decimals and its unit; one too small to read so (ten requests over four
    months: ``0.00 req/s``, ``0 in tok/s``) per hour or per day, to three significant figures
    (:func:`sim.humanize.per_longer`, by the rule :func:`sim.humanize.small_rate_below` the page follows too).

        >>> _rate(12.02, "req/s", 2), _rate(10 / (120 * 86400), "req/s", 2), _rate(0.3, "in tok/s", 0)
        ('12.02 req/s', '0.0833 req/day', '1,080 in tok/h')
    """
    shown, per = humanize.per_longer(value, unit)
    return f"{value:,.{decimals}f} {unit}" if per == unit else f"{humanize.number(shown)} {per}"


def _wrap(text: str) -> list[str]:
    """A paragraph broken at spaces to :data:`WIDTH` or the terminal's width if narrower
    (:func:`~sim.planning.table.fill`, the one text wrapper), its lines flush left."""
    from sim.planning.table import fill, terminal_width

    return fill(text, min(WIDTH, terminal_width() or WIDTH), indent="").split("\n")


def fields(label: str, parts, width: int | None = -1) -> list[str]:
    """``label  part  part ...``: one line, or, wider than the terminal, broken between parts (never
    inside one) with the later lines indented under the first part; ``width`` by default the terminal's
    (:func:`~sim.planning.table.terminal_width`), one line when there is none (a file or a pipe).

        >>> for line in fields("requests", ["arrived 43,304", "completed 43,275", "rejected 0"], 40): print(line)
        requests  arrived 43,304
                  completed 43,275  rejected 0
    """
    from sim.planning.table import terminal_width

    parts = [p for p in parts if p]
    width = terminal_width() if width == -1 else width
    line = "  ".join([label, *parts])
    if width is None or len(line) <= width:
        return [line]
    indent = " " * (len(label) + 2)
    out, cur, on_line = [], label, 0
    for part in parts:
        if on_line and len(cur) + 2 + len(part) > width:
            out.append(cur)
            cur, on_line = indent + part, 1
        else:
            cur, on_line = f"{cur}  {part}", on_line + 1
    return out + [cur]


def prose(label: str, text: str) -> list[str]:
    """``label  text``, broken at spaces to the terminal as :func:`fields`, the later lines under the text."""
    from sim.planning.table import fill

    return fill(f"{label}  {text}", indent=" " * (len(label) + 2)).split("\n")


def header(result: "Result") -> list[str]:
    """What was simulated and the verdict, wrapped: the head of the terminal summary."""
    scn = result.scenario.scenario.model_dump(mode="json", by_alias=True) if result.scenario is not None else None
    view = overview(result.summary, scn)
    lines = [view.title, *_wrap(view.paragraph)]
    for note in view.notes:             # (a sharded pool's: said before the verdict, which uses the shard)
        lines += _wrap("note: " + note)
    return [*lines, *_wrap(view.verdict)]


def autoscale_lines(by_pool: dict) -> list[str]:
    """The autoscaler's actions per pool (``summary["autoscale"]``, both tiers): what the replica curve
    of the time series steps by.

        >>> autoscale_lines({"a100": {"scale_ups": 22, "scale_downs": 22, "replicas_provisioned": 22,
        ...                           "replicas_drained": 22, "scale_up_delay_s": 130.55}})
        ['autoscale a100  22 scale-ups adding 22 replicas, 22 scale-downs removing 22; a replica serves 130.55 s after it is provisioned']
    """
    out = []
    for name, a in by_pool.items():
        ups, downs = a.get("scale_ups", 0), a.get("scale_downs", 0)
        text = (f"autoscale {name}  {ups:,} {humanize.plural(ups, 'scale-up')} adding {a.get('replicas_provisioned', 0):,} "
                f"{humanize.plural(a.get('replicas_provisioned', 0), 'replica')}, {downs:,} {humanize.plural(downs, 'scale-down')} "
                f"removing {a.get('replicas_drained', 0):,}")
        if isinstance(delay := a.get("scale_up_delay_s"), (int, float)):
            text += f"; a replica serves {humanize.number(delay, digits=5)} s after it is provisioned"
        out.append(text)
    return out


#: why a retried request was turned away on its retry, in words (keys of ``failures.retries_rejected_by_reason``)
RETRY_REFUSALS = {"queue_full": "by a full waiting room", "no_replica": "with no replica up",
                  "timeout": "as their client gave up"}


def refused_retries(by_reason: dict) -> str:
    """The failures line's tail: the retries turned away, every reason that occurred (a full waiting room
    first), ``''`` when none was.

        >>> refused_retries({"no_replica": 282, "queue_full": 335})
        ', 335 retries refused by a full waiting room, 282 with no replica up'
        >>> refused_retries({"timeout": 1}), refused_retries({})
        (', 1 retry refused as their client gave up', '')
    """
    order = [*RETRY_REFUSALS, *sorted(set(by_reason) - set(RETRY_REFUSALS))]
    parts = [(n, RETRY_REFUSALS.get(k, f"({k})")) for k in order if (n := by_reason.get(k, 0))]
    if not parts:
        return ""
    (n, words), rest = parts[0], parts[1:]
    return (f", {n:,} {'retry' if n == 1 else 'retries'} refused {words}"
            + "".join(f", {m:,} {w}" for m, w in rest))


def format_summary(result: "Result") -> str:
    s = result.summary
    r = s["requests"]
    # the fluid tier counts a request served in a step as completed in it: its ``in_flight`` is the backlog
    # still waiting at the end (the stability line's "at the end" adds the running ones)
    left = "waiting" if s.get("engine") == "fluid" else "in flight"
    lines = [*header(result), "",
             *fields(f"scenario {s['scenario']}", [f"seed {s['seed']}",
                     f"simulated {humanize.duration(s['simulated_seconds'])}",
                     f"wall {s.get('wall_seconds', 0):.2f} s", f"engine {s.get('engine', '')}"]),
             *fields("requests", [f"arrived {r['arrived']:,}", f"completed {r['completed']:,}",
                                  f"rejected {r['rejected']:,}", f"{left} {r['in_flight']:,}",
                                  # (the fluid tier's are inside its curves: null in its summary, not said)
                                  *([] if "preemptions" in r and r["preemptions"] is None
                                    else [f"preemptions {r.get('preemptions') or 0:,}"])]),
             "",
             f"{'latency (ms)':<14}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}"]
    for k in ("ttft", "tpot", "itl", "e2e", "queue"):
        v = s["latency"][k]
        lines.append(f"{k:<14}{_ms(v['mean']):>10}{_ms(v['p50']):>10}{_ms(v['p90']):>10}{_ms(v['p99']):>10}")
    if s.get("capacity_band"):
        lines += ["", *band_table(s)]
    t = s["throughput"]
    u = s["utilization"]
    pools = s.get("pools") or {}
    sharded = _sharded(s)
    slo = s["slo"]
    att = attainment(slo["attainment"])
    lines += ["",
              *fields(f"throughput{' (per shard)' if sharded else ''}",
                      [_rate(t['requests_per_s'], "req/s", 2), _rate(t['input_tokens_per_s'], "in tok/s", 0),
                       _rate(t['output_tokens_per_s'], "out tok/s", 0)]),
              *fields(f"SLO (TTFT <= {slo_bound(slo['ttft_s'])}, TPOT <= {slo_bound(slo['tpot_s'])})",
                      [f"attainment {att}", f"goodput {_rate(slo['goodput_rps'], 'req/s', 2)}"]),
              *fields("utilization", [f"{name_of('utilization.' + k)} {u[k]:.1%}" if k != "load_factor"
                                      else f"{name_of('utilization.' + k)} {u[k]:.2f}"
                                      for k in UTILIZATION if isinstance(u.get(k), (int, float))]),
              *stability_line(s),
              *fields(f"GPU-hours{' (whole fleet)' if sharded else ''}",
                      [f"provisioned {humanize.number(s['gpu_hours']['provisioned'], compact=True)}",
                       f"busy {humanize.number(s['gpu_hours']['busy'], compact=True)}"]),
              *cost_line(s)]
    if len(pools) > 1 or sharded or any(p.get("replicas_mean") not in (None, p.get("replicas"))
                                        for p in pools.values()):
        lines += ["", *pool_table(pools)]
    classes = s.get("classes") or {}
    if classes:
        lines += ["", *class_table(s)]
    if s.get("autoscale"):
        lines += ["", *autoscale_lines(s["autoscale"])]
    f = s.get("failures")
    if f:
        lines += ["", f"failures  {f.get('failures', 0)} failures, availability {f.get('availability', 0):.2%}, "
                      f"{f.get('requests_retried', 0):,} requests retried, {f.get('requests_failed', 0):,} failed"
                      + refused_retries(f.get("retries_rejected_by_reason") or {})]
    d = s.get("disaggregation")
    if d:
        lines += ["", f"disaggregation  {d.get('prefill_pool')} -> {d.get('decode_pool')}: {d.get('transfers', 0):,} KV "
                      f"transfers, mean {(d.get('transfer_s_mean') or 0) * 1000:.2f} ms"]
    econ = result.economics
    lines += cashflow_lines(s, costs=_costs_only(econ))
    if econ is not None and econ.statement:
        # the header's shard note already says which pools are sharded: the statement's would repeat it
        said = (econ.usage.scale_note,) if econ.usage is not None and shard_notes(s) else ()
        lines += ["", statement_text(econ, leave_out=said)]
    return "\n".join(lines)


def pool_table(pools: dict) -> list[str]:
    """Each pool's GPU, replicas, shards, mean replicas, GPU-hours of the whole fleet, GPU busy and mean KV
    use: a table as narrow as its cells (:func:`~sim.planning.table.text_table`), its headings broken over
    lines where the terminal is narrower (:func:`~sim.planning.table.fit_table`)."""
    heads = ["pool", "gpu", "replicas", "shards", "mean", "GPU-h (fleet)", "busy", "KV"]
    rows = [dict(zip(heads, (name, p["gpu"], f"{p['replicas']}", humanize.count(p.get("scale", 1)),
                             f"{p.get('replicas_mean', p.get('replicas')):.2f}",
                             humanize.number(p["gpu_hours_provisioned"], compact=True),
                             f"{p['gpu_busy']:.1%}", f"{p['kv_cache_mean']:.1%}")))
            for name, p in pools.items()]
    return _table(rows, heads, right=heads[2:])


def _table(rows: list[dict], heads: list[str], right: list[str]) -> list[str]:
    """A text table of ``rows`` as narrow as its cells, its headings broken over lines only when it is wider
    than the terminal (:func:`~sim.planning.table.fit_table`)."""
    from sim.planning.table import fit_table, terminal_width, text_table

    whole = text_table(rows, heads, right=right).splitlines()
    width = terminal_width()
    if width is None or max(map(len, whole)) <= width:
        return whole
    return fit_table(rows, heads, None, width, right=right)[0].splitlines()


def _costs_only(econ) -> bool:
    return econ is not None and costs_only(econ.statement, econ.config)


def statement_text(econ, leave_out: tuple[str, ...] = ()) -> str:
    """The statement per period for the terminal; for a scenario with no revenue (:func:`costs_only`)
    the costs it holds per period instead of a table of zero revenue and shares, then the notes
    (but those in ``leave_out``, said elsewhere)."""
    from sim.economics.statement import after_end_grouped
    from sim.text_table import table_lines
    from sim.planning.table import fill, terminal_width

    width = terminal_width()
    if not _costs_only(econ):
        lines = econ.format_table(leave_out, width).split("\n")
    else:
        header, rows = cost_rows(econ.statement)
        table = after_end_grouped([header] + [[r[0], *(_usd(v) for v in r[1:])] for r in rows], econ.statement,
                                  keep=[len(header) - 1])      # the cumulative cost carried on
        lines = [f"Costs per {econ.config.period if econ.config is not None else 'period'} ({econ.currency}, accrual)",
                 *table_lines(table, width),
                 *(["† after the horizon: the cash of these costs lands then (lagged invoices); nothing accrues"]
                   if len(table) > len(rows) + 1 else []),
                 *(f"note: {n}" for n in econ.notes if n not in leave_out)]
    # the notes under the table (and its † line) broken to the terminal, the table's rows kept whole
    return "\n".join(fill(line, width, indent="  ") if line.startswith(("note: ", "† ")) else line for line in lines)


#: the latency rows of the capacity band table (the summary's ``capacity_band``)
BAND_ROWS = ("ttft", "tpot", "e2e", "queue")


def _hours(v: float) -> str:
    return humanize.number(v, compact=True)


def band_table(s: dict) -> list[str]:
    """Each latency percentile as ``point (faster – slower)`` in ms, SLO attainment as ``point (low –
    high)``, each side's stability verdict, the GPU-hours provisioned when they differ (an autoscaled
    fleet), and the one-line explanation (:mod:`sim.metrics.band`). Wider than the terminal, the
    percentiles come in blocks of columns, each beside the metric's name
    (:func:`~sim.text_table.table_lines`)."""
    from sim.planning.table import terminal_width
    from sim.text_table import table_lines

    b = s["capacity_band"]
    pct = f"{b['pct']:g} %"
    stats = ("p50", "p90", "p99")
    table = [[f"±{pct} capacity", *(f"ms {q} (+{pct} – −{pct})" for q in stats)]]
    table += [[k, *(f"{_ms(s['latency'][k][q])} ({latency_range(b, k, q)})" for q in stats)] for k in BAND_ROWS]
    lines = table_lines(table, terminal_width())
    att = s["slo"]["attainment"]
    verdicts = ", ".join(f"{label} {(b[side]['stability'] or {}).get('verdict') or '-'}"
                         for side, label in (("faster", "+" + pct), ("slower", "−" + pct)))
    gh = [(x.get("gpu_hours") or {}).get("provisioned") for x in (s, b["faster"], b["slower"])]
    lines += ["", f"{'SLO':<15}{attainment(att)} ({attainment_range(b)})",
              f"{'stability':<15}this run {s.get('stability', {}).get('verdict', '-')}, {verdicts}",
              *([f"{'GPU-hours':<15}{_hours(gh[0])} ({_hours(gh[1])} – {_hours(gh[2])}) provisioned"]
                if all(isinstance(v, (int, float)) for v in gh) and len(set(gh)) > 1 else []),
              *_wrap(explanation(b, fluid=s.get("engine") == "fluid", summary=s))]
    return lines


def attainment(v) -> str:
    """An SLO attainment in per cent to two decimals, more where that would read as 100 % (or 0 %) without
    being it (:func:`sim.humanize.attainment`); None as a dash.

        >>> attainment(0.9876), attainment(0.99999), attainment(1.0), attainment(None)
        ('98.76%', '99.999%', '100.00%', '-')
    """
    return "-" if v is None else humanize.attainment(v)


def class_table(s: dict) -> list[str]:
    """Each class's completions, TTFT and TPOT p99 (ms) and SLO attainment; with a capacity band each
    value as ``point (faster – slower)`` (attainment ``point (low – high)``) from the class's own blocks
    of each side (:func:`sim.metrics.band.class_band`); a table as :func:`pool_table`."""
    b = s.get("capacity_band")
    latencies = [f"{name_of(k)} ms" for k in ("latency.ttft.p99", "latency.tpot.p99")]
    rows = [["class", "completed", *latencies, "SLO"]]
    if b:
        pct = f"{b['pct']:g} %"
        rows[0][2:] = [f"{h} (+{pct} – −{pct})" for h in latencies] + [f"SLO (−{pct} – +{pct})"]
    for name, c in s["classes"].items():
        lat = c["latency"]
        att = c["slo"]["attainment"]
        cells = [name, f"{c['requests']['completed']:,}", _ms(lat["ttft"]["p99"]), _ms(lat["tpot"]["p99"]),
                 attainment(att)]
        own = class_band(b, name) if b else None
        if own is not None:             # a range beside each value there is
            for i, key in ((2, "ttft"), (3, "tpot")):
                cells[i] += f" ({latency_range(own, key, 'p99')})" if lat[key]["p99"] is not None else ""
            cells[4] += f" ({attainment_range(own)})" if att is not None else ""
        rows.append(cells)
    if b:       # cells of a value and its range stay whole: wider than the terminal, in blocks of columns
        from sim.planning.table import terminal_width
        from sim.text_table import table_lines

        return table_lines(rows, terminal_width())
    return _table([dict(zip(rows[0], r)) for r in rows[1:]], rows[0], right=rows[0][1:])


#: utilization measures of the summary shown on the terminal (the new ones when present); the load
#: factor first: under continuous batching a replica steps whenever it holds a sequence, so GPU busy
#: reads ~100 % at any load and the load factor is the one that says how full the fleet is
UTILIZATION = ("load_factor", "gpu_busy", "kv_cache_mean", "mfu", "mbu")


def stability_line(s: dict) -> list[str]:
    """The stability verdict and the backlog growth as the run page says it
    (:func:`~sim.metrics.stability.growth_words`), and an overload met by refusals
    (:func:`~sim.metrics.stability.overload`) with its offered load factor; none for a summary without the block."""
    b = s.get("stability")
    if not isinstance(b, dict) or "verdict" not in b:
        return []
    over = overload(s)
    # two decimals, but never "1.00" for an overload (factor_words)
    said = [] if over is None else [
        "overloaded: offered load factor " + (f"{over[0]:,.2f}" if over[0] >= 1.005 else factor_words(over[0]))]
    return fields("stability", [b["verdict"], f"{name_of('stability.backlog_growth_per_s')} {growth_words(b)}",
                                peak_words(b), *said])


def peak_words(b: dict) -> str:
    """The most requests in the system at once (``in_flight_peak``, waiting + running) beside how many were
    left at the end, on a run judged by its end alone: a burst that piled up and drained before the end
    reads ``stable`` (the verdict a plan's feasibility takes), and this says how high it piled; empty for a
    closed loop (bounded by its clients) or without the figures. How it was counted
    (``in_flight_peak_basis``) says the word before it: none where exact (the request level counts every
    arrival and departure), "mean-load" for the fluid tier's (its steps' and sub-steps' largest backlog
    plus running requests: the fluid limit, the mean count without the queue's own swings above it, so
    below capacity Little's ``λ W``, not an estimate of the most at once), "sampled" for the time series'
    samples (a summary written before the exact count: a burst between two samples unseen).

        >>> peak_words({"verdict": "stable", "in_flight_peak": 88, "in_flight_at_end": 0, "in_flight_peak_basis": "exact"})
        'peak 88 in system (0 at the end)'
        >>> peak_words({"verdict": "stable", "in_flight_peak": 88, "in_flight_at_end": 0, "in_flight_peak_basis": "estimate"})
        'mean-load peak 88 in system (0 at the end)'
        >>> peak_words({"verdict": "stable", "in_flight_peak": 88, "in_flight_at_end": 0})
        'sampled peak 88 in system (0 at the end)'
        >>> peak_words({"verdict": "stable", "closed_loop_clients": 64, "in_flight_peak": 64, "in_flight_at_end": 64})
        ''
    """
    peak, end = b.get("in_flight_peak"), b.get("in_flight_at_end")
    if "closed_loop_clients" in b or not all(isinstance(v, int) and not isinstance(v, bool) for v in (peak, end)):
        return ""
    basis = b.get("in_flight_peak_basis")        # (a hand-edited summary's may be anything)
    word = {"exact": "", "estimate": "mean-load "}.get(basis, "sampled ") if isinstance(basis, str) else "sampled "
    return f"{word}peak {peak:,} in system ({end:,} at the end)"


def _sharded(s: dict) -> bool:
    """Whether summary ``s`` is of a sharded run (a pool's ``scale``: it stands for that many identical
    shards, one simulated): its throughput is per shard, its GPU-hours and cost the whole fleet's."""
    return any(p.get("scale", 1) != 1 for p in (s.get("pools") or {}).values())


def _was(s: dict, before: dict | None, block: str, key: str, default=None, scale: float = 1.0) -> str:
    """A money value of ``s[block][key]`` (times ``scale``), followed by ``(was X)`` when ``before`` holds another."""
    now = s.get(block, {}).get(key, default)
    text = _usd(now * scale if is_number(now) else now)
    if before is not None:
        old = (before.get(block) or {}).get(key, default)
        if is_number(old) and old != now:
            text += f" (was {_usd(old * scale)})"
    return text


def cost_line(s: dict, before: dict | None = None, width: int | None = -1) -> list[str]:
    """The compute bill, the cost per million output tokens, per million tokens of both kinds (the
    summary's ``cost.per_million_tokens``: prompt and output tokens served) and per thousand requests
    (``cost.per_request``, whose cents would read $0.00) (:func:`fields`); with ``before`` (the summary
    before ``fleetsim reprice``), each changed value followed by what it was. A summary written before
    the last two were kept shows the first two alone.

        >>> cost = {"compute_usd": 10.0, "per_million_output_tokens": 0.93, "per_million_tokens": 0.186,
        ...         "per_request": 0.000231}
        >>> print(cost_line({"cost": cost}, width=None)[0])
        cost  compute $10.00  $0.93 per million output tokens  $0.19 per million tokens in + out  $0.23 per 1,000 requests
    """
    cost = s.get("cost") or {}
    return fields(f"cost{' (whole fleet)' if _sharded(s) else ''}",
                  [f"compute {_was(s, before, 'cost', 'compute_usd')}",
                   f"{_was(s, before, 'cost', 'per_million_output_tokens')} per million output tokens",
                   *([f"{_was(s, before, 'cost', 'per_million_tokens')} per million tokens in + out"]
                     if is_number(cost.get("per_million_tokens")) else []),
                   *([f"{_was(s, before, 'cost', 'per_request', scale=1000)} per 1,000 requests"]
                     if is_number(cost.get("per_request")) else [])], width)


#: the summary's ``cashflow`` keys the accrual ``net`` is made of, in the order of its formula
#: (revenue − compute − share paid + received − training + credits − energy − SLA credits − commit
#: shortfall, docs/economics.md), with their words on the terminal; the last five are shown only
#: when not zero (they are 0 unless set), so the parts on the line are all of the net
NET_PARTS = (("revenue", "revenue"), ("compute_cost", "compute"), ("revenue_share_paid", "share paid"),
             ("revenue_share_received", "received"), ("training_cost", "training"),
             ("credits_applied", "credits"), ("energy_cost", "energy"), ("sla_credits", "SLA credits"),
             ("compute_commit_shortfall", "commit shortfall"))
ALWAYS = ("revenue", "compute_cost", "revenue_share_paid", "revenue_share_received")


def cashflow_lines(s: dict, before: dict | None = None, costs: bool = False) -> list[str]:
    """The accrual totals of the cash flows and the revenue share netted, as :func:`cost_line`; with
    ``costs`` (a scenario with no revenue, :func:`~sim.report.cashflow.costs_only`) one line saying so."""
    c = s.get("cashflow", {})
    if not c:
        return []
    if costs and not any(c.get(k) for k in ("revenue", "revenue_share_paid", "revenue_share_received")):
        return prose("cash flow", f"costs only, net {_was(s, before, 'cashflow', 'net', 0)}: the scenario has "
                                  f"{NO_REVENUE}")
    old = (before or {}).get("cashflow") or {}
    parts = [f"{label} {_was(s, before, 'cashflow', key, 0)}" for key, label in NET_PARTS
             if key in ALWAYS or c.get(key) or old.get(key)]
    lines = fields("cash flow (accrual)", [*parts, f"net {_was(s, before, 'cashflow', 'net', 0)}"])
    if c.get("revenue_share_paid") or c.get("revenue_share_received"):
        lines += prose("revenue share, net", net_share(c))
        if old and net_share(old) != net_share(c):
            lines.append("  was  " + net_share(old))
    return lines


def format_reprice(s: dict, before: dict | None, econ, shown: str | None = None) -> str:
    """What ``fleetsim reprice`` prints: the folder (``shown``: as typed; else the summary's absolute
    ``repriced.from``) and the overrides, the new money totals with what each changed value was
    (``before``: the folder's summary before re-pricing; None when it could not be read), then the statement."""
    overrides = ", ".join((s.get("repriced") or {}).get("overrides") or []) or "no overrides"
    folder = shown if shown is not None else (s.get("repriced") or {}).get("from", "")
    lines = [f"repriced {folder} with {overrides}",
             *cost_line(s, before), *cashflow_lines(s, before, costs=_costs_only(econ))]
    if econ is not None and econ.statement:
        lines += ["", statement_text(econ)]
    return "\n".join(lines)


def net_share(cashflow: dict) -> str:
    """The revenue share netted (received − paid) on both bases, as the provider sees it; a negative
    net is paid, and what the cash basis has not settled by the end is said as owed (the numbers here
    are made up, not any scenario's output):

        >>> net_share({"revenue_share_net": -500e6, "cash_revenue_share_net": -320e6,
        ...            "revenue_share_outstanding": -180e6})
        'paid $500M accrual, paid $320M cash (owed to the partner at the end: $180M)'
        >>> net_share({"revenue_share_net": 1200.0})
        'received $1,200.00 accrual, - cash'
    """
    def one(v) -> str:
        if not isinstance(v, (int, float)):
            return "-"
        return f"{'paid' if v < 0 else 'received'} {_usd(abs(v))}"

    text = (f"{one(cashflow.get('revenue_share_net'))} accrual, "
            f"{one(cashflow.get('cash_revenue_share_net'))} cash")
    owed = cashflow.get("revenue_share_outstanding")
    if isinstance(owed, (int, float)) and owed:
        text += f" ({'owed to the partner' if owed < 0 else 'owed by the partner'} at the end: {_usd(abs(owed))})"
    return text
