"""The ``economics:`` block of a scenario: GPU prices, revenue lines, revenue-share agreements.

Money follows provisioning: every provisioned GPU-second is billed under a pricing tier of its
pool, and revenue comes from the tokens of completed requests plus optional flat lines. The
top-level ``start:`` date (owned by the scenario root) pins simulated t = 0 to a calendar day
(UTC, no DST), so ledgers roll into months and quarters::

    economics:
      gpu_hour_usd: 2.5                  # every pool without a `compute` entry, on demand
      period: month                      # statement rows: day | week | month | quarter | year
      compute:
        - {pool: main, tier: reserved, gpus: 32, usd_per_gpu_hour: 2.0}
        - {pool: main, tier: on_demand, usd_per_gpu_hour: 3.5,
           terms: {invoice: month, net: 30d}}   # invoiced monthly in arrears, net 30
      revenue:
        - {name: api, usd_per_million_input_tokens: 2.5, usd_per_million_output_tokens: 10.0,
           terms: {invoice: day, net: 15d}}
        - {name: subscriptions, usd_per_month: 20, subscribers: 1000000}
        - {name: partner_resale, usd_per_month: 5.0e6, owner: partner}
      commits:                           # a cloud commit: at least $1M of compute a month
        - {name: cloud_commit, pool: main, commit_usd: 1.0e6, period: month}
      agreements:
        - {name: revenue_share, payer: provider, payee: partner, rate: 0.2,
           base: [api, subscriptions], reverse: {rate: 0.2, base: [partner_resale]},
           settle: quarter, payment_lag: 45d}
      opening:                           # owed at t = 0 (cash only)
        - {name: december_invoices, kind: receivable, usd: 2.0e6, due: 2025-01-15}

Field-level limits (prices >= 0, rates in [0, 1], names and the pools and lines they refer to
plain text of at most 200 characters as every name of a scenario, :data:`sim.scenario.types.Name`
...) are checked here; relations between
fields and the rest of the scenario (known pools, known revenue lines in ``base``, windows
inside the horizon ...) are checked by :func:`sim.economics.validate`. The semantics of every
field are in ``docs/economics.md`` and :mod:`sim.economics`.

Dates (``from``, ``until``) are calendar days; ``until`` is inclusive (the window ends at the
following midnight UTC).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from sim.errors import ScenarioError, given, printable
from sim.io import reads_as_number
from sim.scenario.types import FIELD_ERROR, Day, Duration, Name, Strict, field_error

Period = Literal["day", "week", "month", "quarter", "year"]
"""Calendar periods: ISO weeks start on Monday; quarters start in Jan, Apr, Jul and Oct."""

Tier = Literal["reserved", "on_demand", "spot"]
Party = Literal["provider", "partner"]

USD = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""A non-negative, finite amount of US dollars."""

Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
"""A fraction in [0, 1]."""


def _not_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"must be >= 0 (got {seconds:g} s)")
    return seconds


Lag = Annotated[Duration, AfterValidator(_not_negative)]
"""A delay before money moves (a payment lag, payment terms' ``net``): a duration >= 0."""


class RateBracket(Strict):
    """One bracket of a stepped revenue-share rate: ``rate`` on the base revenue above the previous
    bracket's ``up_to_usd`` (0 for the first) and up to this one's; the last bracket has none (open)."""

    up_to_usd: USD | None = None
    rate: Rate


#: the tags of the two forms of a share's ``rate`` (pydantic puts them in an error's location; they
#: are no key of the file, so the error messages leave them out)
RATE_TAGS = ("Fraction", "Brackets")



_RATE_FORMS = ("must be a fraction in [0, 1] or a list of brackets such as [{up_to_usd: 1.0e9, rate: 0.2}, "
               "{rate: 0.15}]")


def _not_one_bracket(value: Any) -> Any:
    """A share's rate in neither form: a mapping (brackets go in a list, even one), a bare number in
    the list (each bracket is a mapping), or no number at all (text, null: a percentage is a fraction)."""
    if isinstance(value, Mapping):
        raise ValueError(f"{_RATE_FORMS} (got the mapping {given(dict(value))}: brackets go in a list, the last "
                         f"without up_to_usd)")
    if isinstance(value, (list, tuple)):
        for i, b in enumerate(value):
            if not isinstance(b, Mapping):
                raise ValueError(f"{_RATE_FORMS} (got {given(b)} as bracket {i}: each bracket is a mapping of "
                                 f"up_to_usd and rate)")
    elif isinstance(value, str) and reads_as_number(value):
        return value        # text that is a number is the number, as in every number field (YAML reads 2e-1 as text)
    elif value is None or isinstance(value, (str, bool)):
        raise ValueError(f"{_RATE_FORMS} (got {given(value)}{'; 20 % is 0.2' if isinstance(value, str) else ''})")
    return value


ShareRate = Annotated[
    Annotated[Rate, Tag(RATE_TAGS[0])] | Annotated[list[RateBracket], Field(min_length=1), Tag(RATE_TAGS[1])],
    Discriminator(lambda v: RATE_TAGS[1] if isinstance(v, (list, tuple)) else RATE_TAGS[0]),
    BeforeValidator(_not_one_bracket)]
"""A revenue share's rate: one fraction in [0, 1] of the base revenue, or marginal brackets of the
cumulative base revenue, ``[{up_to_usd: 1.0e9, rate: 0.20}, {rate: 0.15}]``: 20 % of the first
$1B, 15 % of the rest (:mod:`sim.economics.tiers`)."""


def _bracket_problem(rate: float | list[RateBracket], field: str) -> Exception | None:
    """The first problem of a bracketed ``rate`` (``None`` for a fraction or good brackets): every
    bracket but the last names its ``up_to_usd``, ascending; the last is open."""
    if not isinstance(rate, list):
        return None
    previous = 0.0
    for i, b in enumerate(rate):
        where = f"{field}.{i}.up_to_usd"
        if i == len(rate) - 1:
            if b.up_to_usd is not None:
                return field_error(where, f"the last bracket must be open: leave up_to_usd out (got {b.up_to_usd:g}); "
                                          f"it holds the base revenue above the bracket before it")
        elif b.up_to_usd is None:
            return field_error(where, f"is required on every bracket but the last (bracket {i} of {len(rate)})")
        elif b.up_to_usd <= previous:
            return field_error(where, f"must be above {previous:g}" + (
                ": a first bracket up to 0 holds nothing" if i == 0 else
                ", the previous bracket's up_to_usd: brackets must ascend") + f" (got {b.up_to_usd:g})")
        else:
            previous = b.up_to_usd
    return None


def _tier_problem(rate: float | list[RateBracket], base_used_usd: float) -> Exception | None:
    """A bracketed ``rate``'s first problem, or ``base_used_usd`` without brackets to count it toward."""
    if (problem := _bracket_problem(rate, "rate")) is not None:
        return problem
    if base_used_usd and not isinstance(rate, list):
        return field_error("base_used_usd", "needs a bracketed rate (the base revenue before the run counts "
                                            "toward its brackets)")
    return None


class _Windowed(Strict):
    """A block that applies only between ``from`` (inclusive) and ``until`` (inclusive) dates."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Day | None = Field(default=None, alias="from")
    until: Day | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> "_Windowed":
        if self.from_ is not None and self.until is not None and self.until < self.from_:
            raise field_error("until", f"must not be before from (got from {self.from_}, until {self.until})")
        return self


class PaymentTerms(Strict):
    """When accrued amounts move in cash: everything accrued in a calendar ``invoice`` period is
    invoiced at the period's end and paid ``net`` later, in one payment (e.g. ``{invoice: month,
    net: 30d}``: monthly in arrears, net 30). A period cut short by the horizon is still invoiced
    at its calendar end. Without terms, money moves as it accrues."""

    invoice: Period = "month"
    net: Lag = 0.0


class OpeningBalance(Strict):
    """Money owed at t = 0 from before the horizon: a ``receivable`` (owed to the provider,
    collected on ``due``) or a ``payable`` (owed by the provider, paid on ``due``). Cash only:
    it was accrued before the horizon."""

    name: Name
    kind: Literal["receivable", "payable"]
    usd: USD
    due: Day


class PoolPower(Strict):
    """Per-GPU board power of one pool at idle and at full load (watts)."""

    idle_w: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    peak_w: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None


class Tariff(Strict):
    """An electricity price for the UTC hours ``[from_hour, to_hour)`` of every day."""

    from_hour: Annotated[int, Field(ge=0, le=23)]
    to_hour: Annotated[int, Field(ge=1, le=24)]
    usd_per_kwh: USD

    @model_validator(mode="after")
    def _hours_in_order(self) -> "Tariff":
        if self.to_hour <= self.from_hour:
            raise field_error("to_hour", f"must be after from_hour (got {self.from_hour}-{self.to_hour})")
        return self


class Energy(Strict):
    """GPU energy: power between idle and peak by utilization, times PUE, priced per kWh.

    ``owned``: pools whose energy the provider pays (an ``energy`` statement line); every pool's
    kWh and tCO2e are reported either way. ``idle_fraction`` of the catalog's ``tdp_w`` is the
    idle power unless ``pools.<name>.idle_w`` says otherwise; ``tariff`` prices hours of the day
    (UTC), other hours cost ``usd_per_kwh``.
    """

    usd_per_kwh: USD = 0.0
    tariff: list[Tariff] = Field(default_factory=list)
    pue: Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)] = 1.0
    idle_fraction: Rate = 0.15
    kg_co2e_per_kwh: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = 0.37
    owned: list[Name] = Field(default_factory=list)
    pools: dict[Name, PoolPower] = Field(default_factory=dict)


class ComputePrice(_Windowed):
    """How one pool's GPUs are billed under one tier.

    ``reserved``: ``gpus`` committed GPUs billed for every second of the horizon (inside the
    window), provisioned or not. ``spot`` and ``on_demand``: GPUs provisioned beyond the
    reservation, filled in the order listed, each up to its optional ``gpus`` cap.
    ``preemption_rate_per_hour`` (spot) is read by the serving engine, not by the money layer.
    """

    pool: Name
    tier: Tier = "on_demand"
    usd_per_gpu_hour: USD
    gpus: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    preemption_rate_per_hour: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    terms: PaymentTerms | None = None

    @model_validator(mode="after")
    def _reserved_needs_gpus(self) -> "ComputePrice":
        if self.tier == "reserved" and self.gpus is None:
            raise field_error("gpus", "is required for a reserved tier (the committed GPU count)")
        if self.tier != "spot" and self.preemption_rate_per_hour:
            raise field_error("preemption_rate_per_hour", f"applies to tier spot only (got tier {self.tier})")
        return self


class ServiceLevel(Strict):
    """A service-level agreement on a revenue line: in a statement period where the share of
    the line's requests meeting the SLO falls below ``attainment``, the provider credits
    ``credit_pct`` of that period's revenue on the line back to its customers."""

    attainment: Rate
    credit_pct: Rate


class RevenueLine(_Windowed):
    """One revenue line: token-priced (completed requests), flat per month, or both.

    Token prices are per million tokens of completed requests (times their weight).
    ``usd_per_month`` is the line's whole monthly amount, or the amount per subscriber when
    ``subscribers`` is given; it is prorated by the seconds of each calendar month covered and
    grows by ``growth_per_month`` (compound, stepping at each calendar month after the first).
    ``owner: partner`` lines are the partner's revenue: not the provider's income, but they can
    be the base of a reverse revenue share.
    """

    name: Name
    owner: Party = "provider"
    usd_per_million_input_tokens: USD | None = None
    usd_per_million_output_tokens: USD | None = None
    usd_per_request: USD | None = None
    usd_per_month: USD | None = None
    subscribers: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    growth_per_month: Annotated[float, Field(gt=-1, allow_inf_nan=False)] = 0.0
    terms: PaymentTerms | None = None
    sla: ServiceLevel | None = None

    @property
    def token_priced(self) -> bool:
        return any(v is not None for v in (self.usd_per_million_input_tokens,
                                           self.usd_per_million_output_tokens, self.usd_per_request))

    @model_validator(mode="after")
    def _has_a_price(self) -> "RevenueLine":
        if not self.token_priced and self.usd_per_month is None:
            raise ValueError("a revenue line needs a token price (usd_per_million_input_tokens, "
                             "usd_per_million_output_tokens, usd_per_request) or usd_per_month")
        if self.subscribers is not None and self.usd_per_month is None:
            raise field_error("subscribers", "needs usd_per_month (the price per subscriber per month)")
        return self


class ReverseShare(Strict):
    """The payee's share back to the payer, netted against the forward share each settlement.
    ``cap_usd`` caps its lifetime amount (``cap_used_usd`` of it paid before the run), as the
    agreement's own ``cap_usd`` caps the forward share. A bracketed ``rate`` steps on the reverse
    base's cumulative revenue, over the agreement's ``tier_period``; ``base_used_usd`` is that
    revenue counted before the run toward the first tier period the run holds (as the agreement's)."""

    rate: ShareRate
    base: list[Name] = Field(min_length=1)
    cap_usd: USD | None = None
    cap_used_usd: USD = 0.0
    base_used_usd: USD = 0.0

    @model_validator(mode="after")
    def _cap_used_within_cap(self) -> "ReverseShare":
        if (problem := _tier_problem(self.rate, self.base_used_usd)) is not None:
            raise problem
        if self.cap_used_usd and self.cap_usd is None:
            raise field_error("cap_used_usd", "needs cap_usd (the lifetime cap it was paid toward)")
        if self.cap_usd is not None and self.cap_used_usd > self.cap_usd:
            raise field_error("cap_used_usd", f"must not exceed cap_usd (got {self.cap_used_usd:g} of a "
                                              f"{self.cap_usd:g} cap)")
        return self


class Agreement(_Windowed):
    """A revenue-share agreement: ``payer`` owes ``rate`` x (revenue of the ``base`` lines).

    Accrues continuously; each calendar ``settle`` period the forward and reverse amounts are
    netted and the net moves in cash ``payment_lag`` after the period ends. ``cap_usd`` caps the
    lifetime forward (payer -> payee) gross amount of this agreement; ``cap_used_usd`` is what the
    payer had already paid toward it before the run starts (a run of a later year of a capped deal),
    so only ``cap_usd - cap_used_usd`` is left to pay. ``minimum_usd`` is a minimum guarantee
    (take-or-pay) per ``settle`` period: the payer owes at least that much forward, prorated for a
    period the horizon or the window cuts short; the true-up counts toward the cap.
    ``cap_period: year`` makes ``cap_usd`` a cap per agreement year (from ``from``, or the run's
    start without it); ``cap_used_usd`` then counts toward the year in progress at the start.
    A bracketed ``rate`` (:data:`ShareRate`) steps on the base's revenue accrued in the window,
    cumulative over the agreement's life (``tier_period: life``) or each agreement year (``year``,
    the years of ``cap_period: year``); ``base_used_usd`` is base revenue counted before the run toward
    the first tier period the run holds: the one in progress at the run's start, or, when ``from`` is
    after the start, the agreement's first year (or its life) from ``from``.
    """

    name: Name = "revenue_share"
    payer: Party = "provider"
    payee: Party = "partner"
    rate: ShareRate
    base: list[Name] = Field(min_length=1)
    reverse: ReverseShare | None = None
    settle: Period = "quarter"
    payment_lag: Lag = 0.0
    cap_usd: USD | None = None
    cap_used_usd: USD = 0.0
    cap_period: Literal["lifetime", "year"] = "lifetime"
    minimum_usd: USD | None = None
    tier_period: Literal["life", "lifetime", "year"] = "life"
    base_used_usd: USD = 0.0

    @model_validator(mode="after")
    def _two_parties(self) -> "Agreement":
        if (problem := _tier_problem(self.rate, self.base_used_usd)) is not None:
            raise problem
        if self.tier_period == "year" and not isinstance(self.rate, list) and not (
                self.reverse is not None and isinstance(self.reverse.rate, list)):
            raise field_error("tier_period", "needs a bracketed rate (rate: [{up_to_usd: ..., rate: ...}, "
                                             "{rate: ...}]) on the share or its reverse")
        if self.payer == self.payee:
            raise field_error("payee", f"must differ from payer (got both {self.payer})")
        if self.cap_period != "lifetime" and self.cap_usd is None:
            raise field_error("cap_period", f"needs cap_usd (the cap per {self.cap_period})")
        if self.cap_used_usd and self.cap_usd is None:
            raise field_error("cap_used_usd", "needs cap_usd (the lifetime cap it was paid toward)")
        if self.cap_usd is not None and self.cap_used_usd > self.cap_usd:
            raise field_error("cap_used_usd", f"must not exceed cap_usd (got {self.cap_used_usd:g} of a "
                                              f"{self.cap_usd:g} cap)")
        return self


class ComputeCommit(_Windowed):
    """A committed compute spend (a cloud commit): ``commit_usd`` per calendar ``period`` on the
    compute billed for ``pool`` (every pool when absent). A period whose billed compute falls short
    bills the shortfall too (take-or-pay), prorated for a period the horizon or the window cuts
    short, paid at the period's end plus ``payment_lag``."""

    name: Name = "compute_commit"
    pool: Name | None = None
    commit_usd: USD
    period: Literal["month", "quarter", "year"] = "month"
    payment_lag: Lag = 0.0


class Credit(_Windowed):
    """A non-cash credit of ``usd`` that offsets eligible costs in time order until exhausted.

    ``applies_to``: ``training`` (the training line), ``compute`` (inference compute) or ``any``
    (training first, then compute).
    """

    name: Name
    usd: USD
    applies_to: Literal["training", "compute", "any"] = "training"


class Training(_Windowed):
    """A non-inference compute cost line (prorated by month like a flat revenue line)."""

    usd_per_month: USD
    growth_per_month: Annotated[float, Field(gt=-1, allow_inf_nan=False)] = 0.0
    terms: PaymentTerms | None = None


def _usd(value: Any) -> Any:
    """``currency``: only ``USD`` (every price and amount is a ``*_usd`` field, in US dollars)."""
    if value != "USD":
        raise ValueError(f"must be USD: every price and amount is in US dollars (the *_usd fields), and no "
                         f"other currency is modelled; leave currency out or give USD (got {given(value)})")
    return value


class EconomicsConfig(Strict):
    """The whole ``economics:`` block. Every field is optional; an empty block costs nothing."""

    gpu_hour_usd: USD | None = None
    currency: Annotated[Literal["USD"], BeforeValidator(_usd)] = "USD"
    period: Period = "month"
    compute: list[ComputePrice] = Field(default_factory=list)
    billing_granularity: Literal["second", "minute", "hour"] = "second"
    commits: list[ComputeCommit] = Field(default_factory=list)
    """Committed compute spend per period (take-or-pay): :mod:`sim.economics.commits`."""
    revenue: list[RevenueLine] = Field(default_factory=list)
    agreements: list[Agreement] = Field(default_factory=list)
    credits: list[Credit] = Field(default_factory=list)
    training: Training | None = None
    discount_rate: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0
    opening: list[OpeningBalance] = Field(default_factory=list)
    energy: Energy = Field(default_factory=Energy)
    chargeback_by: Literal["tokens", "output_tokens", "requests"] = "tokens"
    """What each statement period's compute cost is allocated to workload classes by."""
    rounding: Literal["none", "cents"] = "none"
    """``cents``: statement and settlement amounts rounded to the cent (summary totals stay exact)."""


# ------------------------------------------------------------------ error messages
def _problem(err: Mapping[str, Any], prefix: str) -> tuple[str, str]:
    loc = [printable(str(p), keep="") for p in err.get("loc", ()) if p not in ("function-after", "function-before")]
    loc = [p for p in loc if p not in RATE_TAGS]
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == FIELD_ERROR:
        loc.append(str(ctx["field"]))
    path = ".".join([prefix, *loc]) if prefix else ".".join(loc)
    got = err.get("input")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=",
              "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "?")
        bound = f"{bound:g}" if isinstance(bound, (int, float)) else bound
        msg = f"must be {op} {bound} (got {got!r})"
        if loc and loc[-1] == "rate":
            msg = f"must be a fraction in [0, 1] (got {got!r})"
    elif kind == "literal_error":
        msg = f"must be one of {ctx.get('expected', '?')} (got {got!r})"
    elif kind == "extra_forbidden":
        msg = "unknown field (check the spelling; see docs/economics.md for the allowed keys)"
    elif kind == "missing":
        msg = "is required"
    elif kind == FIELD_ERROR:
        msg = str(ctx["message"])
    elif kind == "value_error":
        msg = str(ctx.get("error", err.get("msg", "")))
    else:
        msg = f"{err.get('msg', 'invalid')} (got {got!r})"
    return path, msg


def parse_economics(raw: Mapping[str, Any] | None, prefix: str = "economics") -> EconomicsConfig:
    """Validate a raw ``economics:`` mapping; raise :class:`ScenarioError` with one
    ``(field_path, message)`` per problem, paths like ``economics.agreements.0.rate``."""
    try:
        return EconomicsConfig.model_validate({} if raw is None else dict(raw) if isinstance(raw, Mapping) else raw)
    except ValidationError as exc:
        raise ScenarioError([_problem(e, prefix) for e in exc.errors()]) from None
