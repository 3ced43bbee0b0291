"""Checks of an ``economics:`` block against the rest of the scenario.

Field-level limits (non-negative prices, rates in [0, 1] ...) are enforced by the schema
(:func:`sim.scenario.economics.parse_economics`); this module checks relations: pools and revenue
lines that exist, windows that make sense, credits that have something to offset. Problems are
``(field_path, message)`` pairs; things that are legal but probably unintended are issued as
:class:`EconomicsWarning` via :func:`warnings.warn`.
"""
from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence

import numpy as np

from sim.economics.terms import compute_terms
from sim.economics.timeline import window_s
from sim.economics.calendar import Calendar, period_label
from sim.economics.ledger import MINIMUM_SUFFIX
from sim.errors import ScenarioWarning, clipped, given
from sim.scenario.economics import EconomicsConfig


class EconomicsWarning(ScenarioWarning):
    """A legal but probably unintended economics setting (``economics.field: message``)."""


def _fmt_s(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} {'day' if days == 1 else 'days'}" if seconds >= 86400 else f"{seconds:g} s"


def check(cfg: EconomicsConfig, pool_names: Sequence[str] | None, horizon_s: float,
          start: dt.date, revenue_lines: Sequence[str] = ()) -> tuple[list[tuple[str, str]], list[str]]:
    """Problems and warning messages (not yet issued). ``pool_names=None`` skips pool checks."""
    c = _Check(cfg, horizon_s, start)
    if pool_names is not None:
        c.pools(list(pool_names))
    c.compute_tiers()
    owner = c.revenue(revenue_lines)
    c.agreements(owner)
    c.credits()
    c.opening()
    c.tariff()
    return c.problems, c.warn


def _highest_rate(rate, used: float) -> float:
    """The highest fraction ``rate`` pays of a dollar of its base: a flat rate's own, a bracketed rate's
    highest bracket not wholly below ``used`` (base revenue counted before the run, never to be counted
    again).

        >>> from sim.scenario.economics import RateBracket as B
        >>> _highest_rate(0.2, 0.0), _highest_rate([B(up_to_usd=100, rate=0.9), B(rate=0.5)], 0.0)
        (0.2, 0.9)
        >>> _highest_rate([B(up_to_usd=100, rate=0.9), B(rate=0.5)], 100.0)
        0.5
    """
    if not isinstance(rate, list):
        return float(rate)
    return max(b.rate for b in rate if b.up_to_usd is None or b.up_to_usd > used)


class _Check:
    """One pass over an ``economics:`` block, collecting problems and warnings in the order the
    block's parts are checked: pools, compute tiers, revenue lines, agreements, credits and
    training, opening balances, the energy tariff."""

    def __init__(self, cfg: EconomicsConfig, horizon_s: float, start: dt.date) -> None:
        self.cfg, self.horizon_s, self.start = cfg, horizon_s, start
        self.cal = Calendar(start)
        self.problems: list[tuple[str, str]] = []
        self.warn: list[str] = []

    def window(self, path: str, block) -> None:
        """Warn when a block's ``from``/``until`` window lies wholly outside the horizon."""
        lo, hi = window_s(self.cal, block.from_, block.until)
        if lo >= self.horizon_s:
            self.warn.append(f"{path}.from: {block.from_} is after the simulated horizon "
                             f"(ends {self.cal.datetime_at(self.horizon_s):%Y-%m-%d %H:%M} UTC); it never applies")
        if hi <= 0:
            self.warn.append(f"{path}.until: {block.until} is before start {self.start}; it never applies")

    def pools(self, known: list[str]) -> None:
        """Energy and compute prices name pools that exist; pools without any price are free."""
        cfg, p = self.cfg, "economics"
        named = [(f"{p}.energy.owned.{i}", name) for i, name in enumerate(cfg.energy.owned)]
        named += [(f"{p}.energy.pools.{name}", name) for name in cfg.energy.pools]
        named += [(f"{p}.compute.{i}.pool", c.pool) for i, c in enumerate(cfg.compute)]
        named += [(f"{p}.commits.{i}.pool", c.pool) for i, c in enumerate(cfg.commits) if c.pool is not None]
        for path, name in named:
            if name not in known:
                self.problems.append((path, f"unknown pool {given(name)} (pools: {', '.join(map(clipped, known)) or 'none'})"))
        if cfg.gpu_hour_usd is None and (cfg.compute or cfg.revenue or cfg.agreements):
            # an empty block is a deliberate cost-free run (the result's notes still say so)
            unpriced = [n for n in known if not any(c.pool == n for c in cfg.compute)]
            if unpriced:
                self.warn.append(f"{p}: pools {unpriced} have no compute price and gpu_hour_usd is not set; "
                                 "their GPUs cost 0")

    def compute_tiers(self) -> None:
        """Compute prices and commits apply within the horizon; a second uncapped flexible tier of a pool is
        never used."""
        cfg, p = self.cfg, "economics"
        for i, c in enumerate(cfg.compute):
            self.window(f"{p}.compute.{i}", c)
        for i, c in enumerate(cfg.commits):
            self.window(f"{p}.commits.{i}", c)
        flex_uncapped: dict[str, int] = {}
        for i, c in enumerate(cfg.compute):
            if c.tier != "reserved" and c.gpus is None and c.from_ is None and c.until is None:
                if c.pool in flex_uncapped:
                    k = flex_uncapped[c.pool]
                    self.warn.append(f"{p}.compute.{i}: pool {c.pool} already has an uncapped "
                                     f"{cfg.compute[k].tier} tier (compute.{k}) that takes all GPUs beyond the "
                                     "reservation; this tier is never used")
                else:
                    flex_uncapped[c.pool] = i

    def revenue(self, workload_lines: Sequence[str]) -> dict[str, str]:
        """Revenue lines: one owner per name, disjoint windows for a repeated name, service levels
        on the provider's lines only, and every line the workload names defined. Returns each
        line's owner."""
        cfg, p = self.cfg, "economics"
        owner: dict[str, str] = {}
        for j, line in enumerate(cfg.revenue):
            self.window(f"{p}.revenue.{j}", line)
            if line.sla is not None and line.owner != "provider":
                self.problems.append((f"{p}.revenue.{j}.sla", "a service level applies to the provider's own "
                                      "lines (this line is owned by the partner)"))
            if line.name in owner:
                if owner[line.name] != line.owner:
                    self.problems.append((f"{p}.revenue.{j}.owner", f"line {line.name!r} is defined with owner "
                                          f"{owner[line.name]} earlier (got {line.owner})"))
                self._repeated_line(j)
            owner.setdefault(line.name, line.owner)
        if cfg.revenue:
            for name in dict.fromkeys(workload_lines):
                if name not in owner:
                    self.problems.append((f"{p}.revenue", f"the workload names revenue line {given(name)}, which is "
                                          f"not defined here (lines: {', '.join(clipped(n) for n in owner)})"))
        elif workload_lines and (cfg.gpu_hour_usd is not None or cfg.compute or cfg.agreements):
            # legal (a re-pricing may add the lines) but a priced run earns nothing; an empty block is a
            # deliberately money-free run (the fluid tier's capacity measurements are such runs)
            named = ", ".join(map(repr, dict.fromkeys(workload_lines)))
            self.warn.append(f"{p}.revenue: the workload names revenue line {named} but no line is defined: the "
                             f"run books no revenue (define economics.revenue, or add it later with fleetsim "
                             f"reprice --set economics.revenue=...)")
        return owner

    def _repeated_line(self, j: int) -> None:
        """Revenue line ``j`` repeats an earlier name: their windows must not overlap."""
        line = self.cfg.revenue[j]
        lo, hi = window_s(self.cal, line.from_, line.until)
        for k, other in enumerate(self.cfg.revenue[:j]):
            if other.name == line.name:
                olo, ohi = window_s(self.cal, other.from_, other.until)
                if lo < ohi and olo < hi:
                    self.problems.append((f"economics.revenue.{j}.name",
                                          f"line {line.name!r} is defined twice (revenue.{k}) with "
                                          "overlapping from/until windows; a repeated name needs "
                                          "disjoint windows (a price change on a date)"))

    def agreements(self, owner: dict[str, str]) -> None:
        """Each agreement's bases list known lines once (a party usually shares its own), and a
        payment lag longer than the horizon is pointed out."""
        for i, ag in enumerate(self.cfg.agreements):
            path = f"economics.agreements.{i}"
            self.window(path, ag)
            if ag.name.endswith(MINIMUM_SUFFIX):
                self.problems.append((f"{path}.name", f"must not end in {MINIMUM_SUFFIX!r}: the ledger names a minimum "
                                      f"guarantee's true-up <agreement>{MINIMUM_SUFFIX} (got {given(ag.name)})"))
            for key, base, who in (("base", ag.base, ag.payer),
                                   ("reverse.base", ag.reverse.base if ag.reverse else [], ag.payee)):
                self._base(f"{path}.{key}", key, base, who, owner)
            if ag.payment_lag > self.horizon_s:
                self.warn.append(f"{path}.payment_lag: {_fmt_s(ag.payment_lag)} is longer than the simulated "
                                 f"horizon ({_fmt_s(self.horizon_s)}); no settlement cash moves within it, so "
                                 "cash totals lag accrual totals")
            self._repeated_agreement(i)
        self._shares_over_whole()

    def _repeated_agreement(self, j: int) -> None:
        """Agreement ``j`` repeats an earlier name: their windows must not overlap (the settlements and the
        ledger name an agreement's rows by its name alone, so two at once could not be told apart)."""
        ag = self.cfg.agreements[j]
        lo, hi = window_s(self.cal, ag.from_, ag.until)
        for k, other in enumerate(self.cfg.agreements[:j]):
            olo, ohi = window_s(self.cal, other.from_, other.until)
            if other.name == ag.name and lo < ohi and olo < hi:
                touching = ({ag.from_} & {other.until}) | ({other.from_} & {ag.until})
                days = self._days_both(max(lo, olo), min(hi, ohi), touching)
                self.problems.append((f"economics.agreements.{j}.name",
                                      f"agreement {ag.name!r} is named twice (agreements.{k}) with overlapping "
                                      f"from/until windows ({days}): the settlements and the ledger name each "
                                      "agreement's rows by its name, so give each its own name (a repeated name needs "
                                      "disjoint windows, a change of terms on a date)"))
                return
            if other.name == ag.name and other.settle == ag.settle:
                self._one_settlement(j, k, (lo, hi), (olo, ohi))

    def _one_settlement(self, j: int, k: int, win: tuple[float, float], other_win: tuple[float, float]) -> None:
        """Agreements ``j`` and ``k`` share a name and disjoint windows: where the earlier ends inside the
        settlement period the later starts in, that period settles once under the name (one row, one
        netted payment), so both must pay it the same way: the same payer and payment lag."""
        ag, other = self.cfg.agreements[j], self.cfg.agreements[k]
        (elo, ehi), (llo, _) = sorted((win, other_win))
        if not (0 <= llo < self.horizon_s and ehi > 0) or ehi == np.inf:
            return
        period = self.cal.period_start_s(ehi - 1, ag.settle)
        if period != self.cal.period_start_s(llo, ag.settle):
            return
        shown = {"payer": str, "payment_lag": _fmt_s}
        differ = [key for key in shown if getattr(other, key) != getattr(ag, key)]
        if differ:
            label = period_label(self.cal.date_at(period), ag.settle)
            first, then = (other, ag) if other_win[0] <= win[0] else (ag, other)     # as their dates run
            said = "; ".join(f"{key} ({shown[key](getattr(first, key))}, then {shown[key](getattr(then, key))})"
                             for key in differ)
            self.problems.append((f"economics.agreements.{j}.name",
                                  f"agreement {ag.name!r} is named twice (agreements.{k}) and both windows fall "
                                  f"in settlement period {label}, which settles once under the name (one row, one "
                                  f"netted payment), but they differ in {said}: give both terms the same "
                                  f"{' and '.join(differ)}, or each its own name"))

    def _days_both(self, lo: float, hi: float, touching: set) -> str:
        """The days two windows both hold, ``[lo, hi)`` in seconds, in words; ``touching``: the dates one
        window's ``from`` and the other's ``until`` share (``until`` is inclusive, so both hold that day)."""
        first = self.cal.date_at(lo) if lo > -np.inf else None
        last = self.cal.date_at(hi) - dt.timedelta(days=1) if hi < np.inf else None
        if first is not None and first == last:
            inclusive = " (until is inclusive: the later terms start the day after)" if first in touching else ""
            return f"both hold {first}{inclusive}"
        if first is not None and last is not None:
            return f"both hold {first} to {last}"
        if first is not None or last is not None:
            return f"both hold every day from {first}" if first is not None else f"both hold every day up to {last}"
        return "both hold every day"

    def _shares_over_whole(self) -> None:
        """The shares one party pays of one revenue line (forward shares it pays, reverse shares it pays
        back) add up to at most 100 % at any time: each agreement's rate is at most 1, and more than the
        whole line in all is a share written twice or a percentage read as a fraction. A bracketed rate
        counts its highest bracket, which it pays on the days its running base revenue is in it (a falling
        rate in its first days, a rising one past its last edge), leaving out the brackets a life-long
        running total has passed before the run (``base_used_usd``)."""
        shares: dict[tuple[str, str], list[tuple[str, float, float, float]]] = {}
        bracketed: set[str] = set()
        for i, ag in enumerate(self.cfg.agreements):
            lo, hi = window_s(self.cal, ag.from_, ag.until)
            sides = [(f"economics.agreements.{i}.rate", ag.payer, ag.rate, ag.base, ag.base_used_usd)]
            if ag.reverse is not None:
                sides.append((f"economics.agreements.{i}.reverse.rate", ag.payee, ag.reverse.rate, ag.reverse.base,
                              ag.reverse.base_used_usd))
            for path, payer, rate, base, used in sides:
                most = _highest_rate(rate, used if ag.tier_period != "year" else 0.0)
                if isinstance(rate, list):
                    bracketed.add(path)
                for line in dict.fromkeys(base):
                    shares.setdefault((payer, line), []).append((path, most, lo, hi))
        said: set[str] = set()
        for (payer, line), parts in shares.items():
            for _, _, at, _ in parts:
                active = [p for p in parts if p[2] <= at < p[3]]
                total = sum(p[1] for p in active)
                if len(active) > 1 and total > 1.0 + 1e-9 and active[-1][0] not in said:
                    said.add(active[-1][0])
                    others = " and ".join(f"{p[0].removeprefix('economics.')} {p[1]:g}"
                                          + (" (its highest bracket)" if p[0] in bracketed else "")
                                          for p in active[:-1])
                    self.problems.append((active[-1][0], f"with {others}, the {payer} pays {total * 100:.4g} % "
                                          f"of the revenue of line {line!r} over the same days; the shares of one "
                                          f"line add up to at most 1 (its whole revenue): give each share once, "
                                          f"as a fraction (0.2 for 20 %)"))
                    break

    def _base(self, path: str, key: str, base: list[str], who: str, owner: dict[str, str]) -> None:
        for j, name in enumerate(base):
            if name in base[:j]:
                self.problems.append((f"{path}.{j}", f"revenue line {name!r} is listed twice "
                                      f"(also {key}.{base.index(name)}); each line's revenue counts once, "
                                      "so list it once"))
            elif name not in owner:
                self.problems.append((f"{path}.{j}", f"unknown revenue line {given(name)} "
                                      f"(lines: {', '.join(map(clipped, owner)) or 'none'})"))
            elif owner[name] != who:
                self.warn.append(f"{path}.{j}: line {name!r} is owned by the {owner[name]}, but "
                                 f"this share is paid by the {who}; usually a party shares its own revenue")

    def credits(self) -> None:
        """Credits and training apply within the horizon; a credit has something to offset, and
        credits on compute need one set of payment terms for every compute price."""
        cfg, p = self.cfg, "economics"
        for i, c in enumerate(cfg.credits):
            self.window(f"{p}.credits.{i}", c)
            if c.applies_to == "training" and cfg.training is None:
                self.problems.append((f"{p}.credits.{i}.applies_to", "applies to training but economics.training "
                                      "is not set (set training: {usd_per_month: ...} or applies_to: compute)"))
        if cfg.training is not None:
            self.window(f"{p}.training", cfg.training)
        on_compute = [i for i, c in enumerate(cfg.credits) if c.applies_to in ("compute", "any")]
        if on_compute and cfg.compute and compute_terms(cfg) is None and any(c.terms for c in cfg.compute):
            self.problems.append((f"{p}.credits.{on_compute[0]}.applies_to", "credits on compute are paid on "
                                  "the compute invoices' terms, so every compute price needs the same terms "
                                  "(and gpu_hour_usd none)"))

    def opening(self) -> None:
        """Opening balances fall due on or after the start."""
        for i, b in enumerate(self.cfg.opening):
            if b.due < self.start:
                self.problems.append((f"economics.opening.{i}.due", f"{b.due} is before start {self.start}; an "
                                      "opening balance is settled on or after t = 0"))

    def tariff(self) -> None:
        """Each UTC hour of the day has at most one tariff price: overlapping windows would leave it to
        the order listed which one an hour pays."""
        hours = self.cfg.energy.tariff
        for j, t in enumerate(hours):
            for k, other in enumerate(hours[:j]):
                if t.from_hour < other.to_hour and other.from_hour < t.to_hour:
                    self.problems.append((f"economics.energy.tariff.{j}",
                                          f"hours {t.from_hour}-{t.to_hour} overlap tariff.{k} "
                                          f"({other.from_hour}-{other.to_hour}); each hour of the day has one "
                                          "price, so make the windows disjoint"))
                    break


def validate(cfg: EconomicsConfig, pool_names: Sequence[str], horizon_s: float,
             start: dt.date, revenue_lines: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(field_path, message)`` problems of ``cfg`` in a scenario with these pools, horizon
    (simulated seconds) and ``start`` date; warnings are issued as :class:`EconomicsWarning`.

    ``revenue_lines``: the line names the workload's classes use; each must be defined in
    ``economics.revenue`` unless that list is empty (a cost-only scenario).
    """
    problems, warn = check(cfg, pool_names, horizon_s, start, revenue_lines)
    for w in warn:
        warnings.warn(w, EconomicsWarning, stacklevel=2)
    return problems
