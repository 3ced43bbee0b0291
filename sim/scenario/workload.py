"""The ``workload:`` block of a scenario: who sends requests, when, and how long they are.

A workload is an arrival process (requests per second over time), two token-length
distributions (prompt and output) and, optionally, request classes (tenants) with their own
share of traffic, lengths, priority, SLO and revenue line::

    workload:
      arrival: {process: poisson, rate: 12}            # requests/s
      prompt_tokens: {dist: lognormal, mean: 1000, cv: 1.0, max: 8192}
      output_tokens: {dist: lognormal, mean: 250, cv: 1.0, max: 2048}

Field-level limits (``rate > 0`` ...) are checked here by pydantic; relations between fields
(shares summing to 1, ``low <= high``, a trace file that exists ...) are checked by
:func:`sim.workload.validate`, which returns ``(field_path, message)`` problems.
The semantics of every process and distribution are documented in ``docs/workload.md`` and in
:mod:`sim.workload.arrivals` / :mod:`sim.workload.lengths`.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from sim.scenario.types import Duration, Name, Strict, Switch, field_error

TraceFormat = Literal["fleetsim", "azure", "burstgpt"]
"""``fleetsim``: our CSV/JSONL (``timestamp_s, prompt_tokens, output_tokens[, tenant]``);
``azure``: Azure LLM inference trace (``TIMESTAMP, ContextTokens, GeneratedTokens``);
``burstgpt``: BurstGPT (``Timestamp, Model, Request tokens, Response tokens, ...``)."""

TokenCount = Annotated[int, Field(ge=1, le=100_000_000)]  # longer than any model's context

MAX_ARRIVAL_RATE = 1e7
"""The most requests/s any arrival process brings (``rate``, ``mean_rate``, ``rates``; a replayed trace's mean,
``rate_scale`` copies of its rows over its span: :func:`sim.workload.arrivals.trace_rate_problem`)."""

MAX_TRACE_COPIES = 1e15
"""``rate_scale``'s own bound, a count of copies any float holds exactly (under 2^53); the bound that matters,
which needs the file, is the arrival rate's."""

MAX_TIME_SCALE = 1e15
"""``time_scale``'s bound: a trace's latest time (at most 2^53 microseconds) times it stays a finite float (1e308
overflowed to infinity in the replay, said only by numpy's "overflow encountered in multiply")."""

# ---------------------------------------------------------------- token-length distributions
class FixedTokens(Strict):
    """Every request has exactly ``value`` tokens."""

    dist: Literal["fixed"]
    value: TokenCount


class UniformTokens(Strict):
    """Integers drawn uniformly from ``low..high`` (both inclusive)."""

    dist: Literal["uniform"]
    low: TokenCount
    high: TokenCount


Truncate = Literal["clip", "resample"]
"""How a length distribution keeps inside its bounds: ``clip`` (values outside become the bound) or
``resample`` (drawn from the distribution truncated to the bounds, as benchmark generators redraw)."""


class LognormalTokens(Strict):
    """Lognormal with the given mean and coefficient of variation (of the untruncated
    continuous distribution), rounded to the nearest integer and kept in ``[min, max]`` by
    ``truncate``: ``clip`` (default) or ``resample``."""

    dist: Literal["lognormal"]
    mean: float = Field(gt=0, le=1e8)
    cv: float = Field(gt=0, le=100)
    min: TokenCount = 1
    max: TokenCount | None = None
    truncate: Truncate = "clip"


class ExponentialTokens(Strict):
    """Exponential with the given mean, rounded up to an integer >= 1, kept at most ``max`` by
    ``truncate``: ``clip`` (default) or ``resample``."""

    dist: Literal["exponential"]
    mean: float = Field(gt=0, le=1e8)
    max: TokenCount | None = None
    truncate: Truncate = "clip"


class EmpiricalTokens(Strict):
    """``values[i]`` with probability ``weights[i] / sum(weights)`` (equal weights if omitted)."""

    dist: Literal["empirical"]
    values: list[TokenCount] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None


class TraceTokens(Strict):
    """Resample the lengths of a trace file (its prompt column for ``prompt_tokens``, its output
    column for ``output_tokens``). When both fields name the same file and format, a request
    takes both lengths from one row, keeping the trace's prompt/output correlation."""

    dist: Literal["trace"]
    path: str
    format: TraceFormat = "fleetsim"


TokenDist = Annotated[
    Union[FixedTokens, UniformTokens, LognormalTokens, ExponentialTokens, EmpiricalTokens, TraceTokens],
    Field(discriminator="dist"),
]


# ---------------------------------------------------------------------------- arrivals
class OpenArrival(Strict):
    """An arrival process whose requests come on their own (every process but ``closed``): a
    ``ramp_up_s``, which staggers the first requests of closed-loop clients, is refused by name."""

    @model_validator(mode="before")
    @classmethod
    def _no_ramp_up(cls, data):
        if isinstance(data, dict) and "ramp_up_s" in data:
            raise field_error("ramp_up_s", f"staggers the first requests of closed-loop clients: only with "
                                           f"process: closed (got process: {data.get('process')})")
        return data


MIN_ARRIVAL_RATE = 1e-12
"""The least positive rate an arrival process takes, requests/s (about one request in 31,700 years): a gamma
process at 5e-324 divided by zero (an internal error), Poisson ones overflowed to an infinite gap (numpy's
"overflow encountered in divide"); no run is long enough to see a request at a smaller rate."""


def _not_vanishing(value: float) -> float:
    """A rate as given, refused when it is positive but under :data:`MIN_ARRIVAL_RATE`.

        >>> _not_vanishing(0.5), _not_vanishing(0.0)
        (0.5, 0.0)
        >>> _not_vanishing(5e-324)
        Traceback (most recent call last):
        ...
        ValueError: must be at least 1e-12 requests/s, about one request in 31,700 years (got 4.94066e-324): no run is long enough to see a request at a smaller rate
    """
    if 0 < value < MIN_ARRIVAL_RATE:
        raise ValueError(f"must be at least {MIN_ARRIVAL_RATE:g} requests/s, about one request in 31,700 years (got "
                         f"{value:g}): no run is long enough to see a request at a smaller rate")
    return value


Rate = Annotated[float, Field(gt=0, le=MAX_ARRIVAL_RATE), AfterValidator(_not_vanishing)]
"""An arrival process's rate, requests/s: above 0 (at least :data:`MIN_ARRIVAL_RATE`), at most 10^7."""


class PoissonArrival(OpenArrival):
    """Independent exponential inter-arrival times with mean ``1 / rate``."""

    process: Literal["poisson"]
    rate: Rate = Field(description="requests/s")


class GammaArrival(OpenArrival):
    """Renewal process with gamma inter-arrival times: mean ``1 / rate``, coefficient of
    variation ``cv`` (``cv > 1`` is burstier than Poisson, ``cv = 1`` is Poisson)."""

    process: Literal["gamma"]
    rate: Rate = Field(description="requests/s")
    cv: float = Field(gt=0, le=100)


MAX_CLUMP_MEAN = 1e4
"""The largest ``clump_mean`` of a ``compound_poisson`` process (requests arriving at one instant, on average)."""


class CompoundPoissonArrival(OpenArrival):
    """Batch (compound) Poisson arrivals: clumps of requests at one instant, the clumps a Poisson process
    at ``rate / clump_mean``, each clump's size geometric on 1, 2, ... with mean ``clump_mean``; ``rate``
    requests/s on average. Counts over windows longer than a few gaps have an index of dispersion
    (variance over mean) ``E[b^2] / E[b] = 2 clump_mean - 1`` (Poisson's 1 at ``clump_mean: 1``)."""

    process: Literal["compound_poisson"]
    rate: Rate = Field(description="requests/s")
    clump_mean: float = Field(ge=1, le=MAX_CLUMP_MEAN, description="requests per clump, on average (1: Poisson)")


class DiurnalArrival(OpenArrival):
    """Non-homogeneous Poisson process with a cosine daily cycle and optional weekday factors::

        rate(t) = mean_rate * weekly[weekday(t)] * (1 + a cos(2 pi (clock(t) - peak_hour h) / period))
        a = (peak_to_trough - 1) / (peak_to_trough + 1)
    """

    process: Literal["diurnal"]
    mean_rate: Rate = Field(description="requests/s, averaged over one period")
    peak_to_trough: float = Field(2.0, ge=1, le=1e6)
    peak_hour: float = Field(14.0, ge=0, lt=24, description="hours after midnight of the peak")
    period: Duration = 86400.0
    weekly: list[Annotated[float, Field(ge=0, le=1e3)]] | None = None


class PiecewiseArrival(OpenArrival):
    """Poisson with rate ``rates[i]`` on ``[times[i], times[i+1])``; the last rate holds on."""

    process: Literal["piecewise"]
    times: list[Duration] = Field(min_length=1)
    rates: list[Annotated[float, Field(ge=0, le=MAX_ARRIVAL_RATE), AfterValidator(_not_vanishing)]] = \
        Field(min_length=1)


class TraceArrival(OpenArrival):
    """Replay a trace file's arrival times (and, unless distributions are given, its lengths)."""

    process: Literal["trace"]
    path: str
    format: TraceFormat = "fleetsim"
    time_scale: float = Field(1.0, gt=0, le=MAX_TIME_SCALE, description="multiplies every inter-arrival time")
    rate_scale: float = Field(1.0, gt=0, le=MAX_TRACE_COPIES,
                              description="expected copies of each trace request; the trace's mean arrival rate "
                                          "times it is at most 10^7 requests/s, as every arrival rate is (a trace "
                                          "of one request a day may take 10^11 copies)")
    loop: Switch = False
    loop_period: Duration | None = Field(
        None, gt=0, le=MAX_TIME_SCALE,
        description="with loop: true, the file's seconds after which the trace repeats (times time_scale; at least "
                    "the span of its rows); default its last row plus the mean gap between rows")

    @model_validator(mode="after")
    def _period_loops(self):
        if self.loop_period is not None and not self.loop:
            raise field_error("loop_period", f"{self.loop_period:g} s repeats a looped trace: only with loop: true "
                                             "(without it arrivals stop at the trace's end)")
        return self


class BurstArrival(OpenArrival):
    """``count`` requests all arriving at time ``at`` (default 0): an offline batch job, or MLPerf's
    Offline scenario. With ``drain: true`` the run's throughput is then the offline throughput
    (tokens over the time until the last request finishes). ``offline`` is another name for it."""

    process: Literal["burst", "offline"]
    count: int = Field(ge=1, le=100_000_000)
    at: Duration = Field(0.0, ge=0, description="arrival time of the burst")


class ClosedArrival(Strict):
    """A closed loop: ``concurrency`` clients, each sending a request, waiting for its last token
    (or its rejection or failure), thinking ``think_time_s`` (``think: fixed``, or exponential with
    that mean) and sending the next; every client sends its first request at t = 0, as vLLM's
    ``benchmark_serving.py --max-concurrency`` and GenAI-Perf's ``--concurrency`` start theirs,
    unless ``ramp_up_s`` staggers them (client ``i``, from 0, at ``i * ramp_up_s / concurrency``, as a
    load generator's spawn rate does). The arrival rate is then what the fleet serves
    (:mod:`sim.workload.closed`)."""

    process: Literal["closed"]
    concurrency: int = Field(ge=1, le=1_000_000, description="clients, each with one request outstanding at most")
    think_time_s: Duration = Field(0.0, ge=0, description="(mean) seconds a client waits after its last token")
    think: Literal["fixed", "exponential"] = "fixed"
    ramp_up_s: Duration = Field(0.0, ge=0, description="seconds over which the clients' first requests are "
                                                         "spread evenly (0: all at t = 0; at most duration)")


ArrivalProcess = Annotated[
    Union[PoissonArrival, GammaArrival, CompoundPoissonArrival, DiurnalArrival, PiecewiseArrival, TraceArrival, BurstArrival,
          ClosedArrival],
    Field(discriminator="process"),
]


class Growth(Strict):
    """Traffic grows by ``monthly`` per month: ``rate x (1 + monthly) ** (t / 30.4375 days)``."""

    monthly: float = Field(gt=-1, le=100)


# ---------------------------------------------------------------------------- classes
class ClassSlo(Strict):
    """Latency targets of a class; ``None`` means no target."""

    ttft_s: Annotated[Duration, Field(gt=0)] | None = None
    tpot_s: Annotated[Duration, Field(gt=0)] | None = None


class WorkloadClass(Strict):
    """One request class (tenant). Give either ``share`` (its fraction of ``workload.arrival``)
    or its own ``arrival`` process. Lengths default to the workload's."""

    name: Name
    share: float | None = Field(None, ge=0, le=1)
    arrival: ArrivalProcess | None = None
    prompt_tokens: TokenDist | None = None
    output_tokens: TokenDist | None = None
    priority: int = 0
    slo: ClassSlo | None = None
    revenue_line: Name | None = None
    patience_s: Duration | None = Field(None, gt=0, description="this class's clients' (mean) patience; "
                                        "default: workload.patience_s")
    patience: Literal["fixed", "exponential"] | None = Field(None, description="default: workload.patience")
    shared_prefix_tokens: int | None = Field(None, ge=0, le=1_000_000,
                                             description="leading prompt tokens every request of the class shares "
                                                         "(a system prompt); reused when the pool has "
                                                         "prefix_caching; default: workload.shared_prefix_tokens "
                                                         "(0: none, whatever the workload's)")


class WorkloadConfig(Strict):
    """The ``workload:`` block. See the module docstring and ``docs/workload.md``."""

    arrival: ArrivalProcess | None = None
    prompt_tokens: TokenDist | None = None
    output_tokens: TokenDist | None = None
    growth: Growth | None = None
    classes: list[WorkloadClass] = Field(default_factory=list)
    shared_prefix_tokens: int = Field(0, ge=0, le=1_000_000,
                                      description="shared leading prompt tokens of requests without a class")
    patience_s: Duration | None = Field(None, gt=0, description="(mean) seconds a client waits for its request "
                                        "to be admitted to a batch before giving up (reject reason timeout, "
                                        "requests.abandoned); default: clients wait however long it takes")
    patience: Literal["fixed", "exponential"] = Field("fixed", description="each request's patience: exactly "
                                                      "patience_s, or exponential of that mean")

    @property
    def offline(self) -> bool:
        """True when every request comes from a burst (an offline job): a drained run then ends
        when the last request finishes, not at ``duration``."""
        procs = [self.arrival] if self.arrival is not None else []
        procs += [c.arrival for c in self.classes if c.arrival is not None]
        return bool(procs) and all(isinstance(p, BurstArrival) for p in procs)

    @property
    def patient(self) -> bool:
        """Whether some clients give up waiting (``patience_s``, the workload's or a class's)."""
        return self.patience_s is not None or any(c.patience_s is not None for c in self.classes)

    @property
    def closed(self) -> ClosedArrival | None:
        """The closed loop (``workload.arrival: {process: closed, ...}``), or None for open arrivals."""
        return self.arrival if isinstance(self.arrival, ClosedArrival) else None


__all__ = [
    "ArrivalProcess", "BurstArrival", "ClosedArrival", "DiurnalArrival", "OpenArrival", "EmpiricalTokens", "ExponentialTokens", "FixedTokens",
    "CompoundPoissonArrival", "GammaArrival", "Growth", "LognormalTokens", "PiecewiseArrival", "PoissonArrival", "ClassSlo",
    "TokenDist", "TraceArrival", "TraceFormat", "TraceTokens", "UniformTokens", "WorkloadClass",
    "WorkloadConfig",
]
