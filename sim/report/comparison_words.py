"""A comparison of run results in words: numbers to significant figures, money, each metric's cell
and its change against the base (``+12.3 ms (+8.1 %)``), a scenario value as a difference line
shows it, and the difference lines themselves; what :mod:`sim.report.comparison` worked out, said for
the terminal (``sim/commands/compare.py``) and the page (:mod:`sim.report.comparison_page`).
"""
from __future__ import annotations

import json
import math
from typing import Any

from sim import humanize
from sim.economics import tiers
from sim.errors import clipped
from sim.metrics.names import amount, unit_of
from sim.report.comparison import ABSENT, MISSING, Comparison, is_number
from sim.report.tier_settings import NotRead

#: from this size on a number is written in scientific notation (no 300-digit cells)
HUGE = 1e15
#: most scenario differences listed before "and N more"
MAX_DIFFERENCES = 15


def figures(v: float, digits: int = 3) -> str:
    """A number to ``digits`` significant figures, trailing zeros kept (``2.00``: not a whole 2), whole
    numbers and those of ``digits`` figures or more in whole units with thousands separators
    (:func:`sim.humanize.number`, which drops the zeros).

        >>> figures(1.997), figures(2.0), figures(611.24), figures(10017.2, 4), figures(0.0484), figures(0.1451, 4)
        ('2.00', '2', '611', '10,017', '0.0484', '0.1451')

    Past :data:`HUGE`, in scientific notation (``1e+308``, not 309 digits); not finite: :data:`MISSING`.
    """
    if not math.isfinite(v):
        return MISSING
    if abs(v) >= HUGE:
        return f"{v:.{digits}g}"
    if float(v).is_integer() or abs(v) >= 10 ** (digits - 1):
        return humanize.number(v, digits=digits)
    text = f"{v:#.{digits}g}"
    return text.rstrip(".") if "e" not in text else text


def money(key: str, usd: float) -> str:
    """An amount of ``key``: cents below a million dollars, then compact (``$738M``); a cost per million
    tokens under a cent to three figures (:func:`sim.metrics.names.amount`); past :data:`HUGE` in
    scientific notation.

        >>> money("cost.compute_usd", 15.0), money("cashflow.net", -572.4e6), money("cost.per_million_output_tokens", 0.0026)
        ('$15.00', '-$572M', '$0.0026')
        >>> money("cost.per_million_output_tokens", 0.0)
        '$0.00'

    """
    if abs(usd) >= HUGE:
        return ("-" if usd < 0 else "") + f"${abs(usd):.3g}"
    if key == "cost.per_million_output_tokens" and usd != 0:
        return amount(key, usd)
    return humanize.money(usd, compact=None)


def cell(key: str, value: Any) -> str:
    """A value of ``key`` in its unit: latencies in milliseconds whatever their size (as a sweep's table),
    anything else as :func:`sim.metrics.names.amount` says it; :data:`MISSING` for none.

        >>> cell("latency.ttft.p99", 0.1345), cell("latency.e2e.p99", 10.0172), cell("slo.attainment", 0.9987)
        ('134.5 ms', '10,017 ms', '99.87 %')
        >>> cell("slo.attainment", 0.9999862), cell("slo.attainment", 1.0)      # short of 100 % reads so
        ('99.999 %', '100 %')
        >>> cell("cost.compute_usd", 1.6667), cell("throughput.output_tokens_per_s", 3081.99), cell("x.y", None)
        ('$1.67', '3,082 tok/s', '—')
    """
    if isinstance(value, str):
        return value
    if not is_number(value):
        return MISSING
    if unit_of(key) == "s":
        return f"{figures(value * 1000, 4)} ms" if abs(value) < HUGE else f"{figures(value, 4)} s"
    unit = unit_of(key)
    if unit == "USD":
        return money(key, value)
    if unit == "%":
        text = figures(value * 100, 4)
        if value < 1 and float(text.replace(",", "")) >= 100:     # short of 1: never "100.0 %" beside a base of 100 %
            text = humanize.share(value, 1, apart=(1.0,)).removesuffix("%")
        return f"{text} %"
    return figures(value, 4) + (f" {unit}" if unit not in ("", "h") else "")


def change_cell(key: str, delta: dict | None) -> str:
    """A change (:func:`~sim.report.comparison.change`) in the metric's unit with its sign, then relative
    to the base in per cent: ``+12.3 ms (+8.1 %)``, or from ten times the base on as a multiple
    (``×286``); a share by percentage points; a text metric ``changed`` or nothing.

        >>> from sim.report.comparison import change
        >>> change_cell("latency.ttft.p99", change(0.1518, 0.1641)), change_cell("slo.attainment", change(0.99, 0.975))
        ('+12.3 ms (+8.1 %)', '-1.50 pp (-1.5 %)')
        >>> change_cell("cost.compute_usd", change(1.6667, 2.5)), change_cell("utilization.load_factor", change(0.15, 0.15))
        ('+$0.83 (+50.0 %)', '0 (0.0 %)')
        >>> change_cell("cashflow.revenue", change(0, 1e6)), change_cell("stability.verdict", change("stable", "unstable"))
        ('+$1.00M', 'changed')
        >>> change_cell("throughput.requests_per_s", change(12.4, 1e308))
        '+1e+308 req/s'
        >>> change_cell("requests.completed", change(7, 2_000)), change_cell("requests.completed", change(7, 3e10))
        ('+1,993 (×286)', '+29,999,999,993 (×4.29e+09)')
        >>> change_cell("latency.ttft.mean", change(0.05109, 77.687))
        '+77,636 ms (×1,521)'
    """
    if delta is None:
        return MISSING
    if "changed" in delta:
        return "changed" if delta["changed"] else ""
    d, rel = delta["absolute"], delta["relative"]
    sign = "+" if d > 0 else "-" if d < 0 else ""
    unit = unit_of(key)
    if unit == "s":
        text = f"{figures(abs(d) * 1000)} ms" if abs(d) < HUGE else f"{figures(abs(d))} s"
    elif unit == "%":
        text = f"{figures(abs(d) * 100)} pp"
    elif unit == "USD":
        text = money(key, abs(d))
    else:
        text = figures(abs(d)) + (f" {unit}" if unit not in ("", "h") else "")
    pct = rel * 100 if rel is not None else math.nan
    if not math.isfinite(pct):          # (no base, or a share past the largest float: 1e308 against 12)
        return sign + text
    if abs(pct) >= 900:                 # ten times the base and more: as a multiple (×1,523, not ×1.52e+03)
        return sign + text + (f" (×{1 + rel:,.0f})" if 100 <= 1 + rel < 1e6 else f" (×{1 + rel:.3g})")
    return sign + text + (" (0.0 %)" if d == 0 else f" ({pct:+.1f} %)" if abs(pct) >= 0.05 else f" ({pct:+.1g} %)")


#: the scenario fields whose numbers are seconds though their names do not say so (the scenario file
#: writes them ``1h``, ``5m``): a difference shows them as durations
DURATIONS = ("duration", "warmup", "fluid.step", "fluid.calibration_duration")


def setting(value: Any, key: str = "") -> str:
    """A scenario value as a difference line shows it: unset (``null``) or absent as ``—``, text as it is,
    numbers short (``600``, not ``600.0``), ``true``/``false`` as JSON, at most 40 characters; a list or a block as compact
    JSON without its unset (``null``) keys, at most 60. The number of a ``key`` in seconds, with its unit:
    a run's length as a duration (``1 h``, not ``3600``), a field named ``..._s`` in seconds (``0.08 s``);
    an arrival rate in requests per second (``12 req/s``); a share's brackets in words.

        >>> setting("h100-sxm"), setting(600.0), setting(0.1), setting(None), setting([]), setting(ABSENT)
        ('h100-sxm', '600', '0.1', '—', '[]', '—')
        >>> setting({"name": "api", "from": None, "usd_per_million_output_tokens": 10.0})
        '{"name":"api","usd_per_million_output_tokens":10.0}'
        >>> setting(3600.0, "duration"), setting(120, "warmup"), setting(0.08, "slo.tpot_s")
        ('1 h', '2 m', '0.08 s')

    A share's bracketed rate in words (:func:`sim.economics.tiers.words`):

        >>> setting([{"up_to_usd": 1.0e9, "rate": 0.2}, {"rate": 0.15}], "economics.agreements.0.rate")
        '20 % to $1.00B, then 15 %'

    A setting the folder's tier does not read (:class:`~sim.report.comparison.NotRead`: ``fluid.step`` in a
    request-level run) is said so, not as the default its scenario holds:

        >>> setting(NotRead(3600.0), "fluid.step"), setting(1800.0, "fluid.step")
        ('not read (fluid tier only)', '30 m')
    """
    if isinstance(value, NotRead):
        return f"not read ({value.reader} only)"
    if value is ABSENT or value is None:     # unset: one way in every row
        return MISSING
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        if key in DURATIONS:
            return humanize.duration(value)
        if key.endswith("_s"):
            return f"{value:.12g} s"
        if key.endswith("arrival.rate"):
            return f"{value:.12g} req/s"
    if isinstance(value, str):
        return clipped(value, 40)
    if isinstance(value, float):
        return f"{value:.12g}"
    if tiers.RATE_KEY.fullmatch(key) and (brackets := tiers.words(value)) is not None:
        return clipped(brackets, 60)
    if isinstance(value, (dict, list)):
        return clipped(json.dumps(_set_only(value), separators=(",", ":"), default=str), 60)
    return clipped(json.dumps(value, default=str), 40)


def _set_only(value: Any) -> Any:
    """``value`` without the keys of its blocks that are ``null`` (unset), at any depth."""
    if isinstance(value, dict):
        return {k: _set_only(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_set_only(v) for v in value]
    return value


def settings(values: list[Any], key: str = "") -> list[str]:
    """Each of a key's ``values`` (one per folder) as :func:`setting` shows it, except that texts which differ
    but would show alike, cut to their first 40 characters (``capacity-planning-experiment-h100-con...`` for
    every folder of a series named ``...-variant-01``, ``...-variant-02``), keep the part where they differ
    (:func:`sim.text_table.distinct_shortened`).

        >>> settings([f"capacity-planning-experiment-h100-variant-{i:02d}" for i in (1, 2)], "name")
        ['capacity-planning-experime…00-variant-01', 'capacity-planning-experime…00-variant-02']
        >>> settings(["h100-sxm", "b200", "h100-sxm"]), settings(["x" * 50, "y" * 50])[0]
        (['h100-sxm', 'b200', 'h100-sxm'], 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...')
    """
    from sim.text_table import distinct_shortened

    shown = [setting(v, key) for v in values]
    texts = {v for v in values if isinstance(v, str)}
    if len({setting(v, key) for v in texts}) < len(texts):      # two texts that differ shown alike
        kept = distinct_shortened(sorted(texts), 40)
        shown = [kept[v] if isinstance(v, str) else text for v, text in zip(values, shown)]
    return shown


def difference_lines(comparison: Comparison, most: int = MAX_DIFFERENCES) -> list[str]:
    """What differs between the scenarios, one key a line (``fleet.pools.0.replicas: 4 → 6``), at most
    ``most`` lines and then how many more; one line saying so when nothing does."""
    diff = comparison.differences
    if not diff:
        return ["the scenarios are the same (seed and run length included)"]
    lines = [f"{key}: {' → '.join(settings(values, key))}" for key, values in diff[:most]]
    if len(diff) > most:
        lines.append(f"and {len(diff) - most} more")
    return lines
