"""The noise of an autoscaler's reading over one ``interval``, and the reading the HPA rule acts on.

The request-level autoscaler (:mod:`sim.serving.autoscaler`) reads its metric from the requests in
the pool over each ``interval``, so a reading scatters around the metric's expected value, which is
what the fluid tier's curve gives (:mod:`sim.fluid.autoscale`). The Kubernetes HPA acts on single
readings: it scales up on ONE reading past the band and scales down to the largest recommendation
of its stabilization window. Both are decided by the largest reading: a scale-up in a step of ``k``
readings happens if the largest of them passes the band, and the recommendation the window keeps is
the one of the largest of its ``w`` readings (a recommendation grows with the reading). The fluid
tier reads, in place of the expected value, the median of the largest of ``k`` readings
(:func:`largest_of`): ``m + sd x z_k``, ``z_k = Phi^-1(2^(-1/k))`` (readings over disjoint intervals
of a steady load are independent when the interval is much longer than a request; Gaussian by the
central limit theorem over the hundreds of requests an interval holds), so it takes each step the
decision the request level takes in at least half of its runs (``k = 1``: the expected value).

**utilization** (:func:`busy_reading_sd`): the busy share of ``n`` replicas over a window ``W``,
``U = (1 / (n W)) integral_0^W f(N(t)) dt``, ``f(N) = min(N, n)`` behind a router that fills idle
replicas first (``N`` the pool's requests in the system, M/G/inf: :mod:`sim.fluid.busy`), or ``n``
independent replicas of ``f(N) = 1{N >= 1}`` behind ``random``. Its variance is
``(2 / (n W)^2) integral_0^W (W - tau) C(tau) dtau``, ``C(tau) = Cov(f(N(0)), f(N(tau)))``. In
M/G/inf, ``N(0) = A + B`` and ``N(tau) = A + B'`` with ``A`` (the requests present at both times),
``B`` (gone by ``tau``) and ``B'`` (arrived after 0) independent Poisson of means ``m rho``,
``m (1 - rho)``, ``m (1 - rho)``, ``m = n L`` the pool's mean, ``rho(tau) = integral_tau^inf P(T > u)
du / E[T]``; so ``E[f(N(0)) f(N(tau))] = sum_a P(A = a) g(a)^2``, ``g(a) = E[min(a + B, n)]``. A
request's time in the system ``T`` is taken as a gamma distribution with the curve's mean
(``L / rate``, the load the busy model reads) and the squared coefficient of variation of the
curve's E2E histogram at that rate (:func:`e2e_cv2`): the variance depends on ``T`` mostly through
``E[T^2] / E[T]`` (for ``W >> E[T]`` and a linear ``f``, ``var = 2 m E[T^2] / (2 E[T]) / (n W)^2``),
which the first two moments fix; exponential ``T`` (``cv^2 = 1``) and deterministic (0) are the
special cases. ``rho`` for a gamma of shape ``k`` and scale ``theta``: ``Q(k + 1, tau / theta) -
(tau / E[T]) Q(k, tau / theta)``, ``Q`` the regularized upper incomplete gamma function.

The other metrics are read at their expected values: ``load_factor`` (its noise, a compound Poisson
sum of the interval's tokens, was derived and measured but moved the fluid tier away from the
request level on its ramps: docs/fleet_dynamics.md, "Reading noise in the fluid tier"), ``kv``,
``queue`` and ``ttft`` (means over the interval of quantities whose time correlation the curve does
not give).

    >>> round(z_largest(1), 6), round(z_largest(12), 4), round(z_largest(6), 4)
    (0.0, 1.5882, 1.2313)
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaincc, gammaln, ndtri, pdtrc

from sim.fluid.busy import SPREADING, _busy_grid, spread_busy

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)   # relative error under 2e-5 against adaptive quadrature


def z_largest(k: int) -> float:
    """``z_k``: the median of the largest of ``k`` independent standard normal readings,
    ``Phi^-1(2^(-1/k))`` (0 for one reading)."""
    return float(ndtri(0.5 ** (1.0 / max(int(k), 1))))


def readings(dt: float, interval: float, cooldown: float) -> tuple[int, int]:
    """``(k, w)``: the decisions of a step ``dt`` long that read its load (``dt / interval``, at least
    1) and the readings whose recommendations the stabilization window keeps at a decision (those of
    the last ``cooldown`` seconds, the decision's own included: ``ceil(cooldown / interval)``, at
    least 1, as :meth:`sim.serving.autoscaler.Autoscaler.tick` keeps them).

        >>> readings(3600.0, 300.0, 1800.0), readings(60.0, 300.0, 0.0), readings(900.0, 300.0, 400.0)
        ((12, 6), (1, 1), (3, 2))
    """
    k = max(int(math.floor(dt / interval + 1e-9)), 1)
    w = max(int(math.ceil(cooldown / interval - 1e-9)), 1)
    return k, w


def e2e_cv2(curve, per_rps: float) -> float:
    """The squared coefficient of variation of a request's E2E at ``per_rps`` offered per replica,
    from the curve's E2E histograms (bins' geometric midpoints, as
    :class:`sim.metrics.histogram.LogHistogram` places them; 1 % wide), interpolated in the rate;
    1 (exponential) for a curve without them."""
    cv2 = _cv2_rows(curve)
    if cv2 is None:
        return 1.0
    return float(np.interp(per_rps, curve.rates_rps, cv2))


_CV2: dict[tuple[str, int], tuple[object, np.ndarray]] = {}


def _cv2_rows(curve) -> np.ndarray | None:
    hists = getattr(curve, "hists", None) or {}
    rows = hists.get("e2e")
    if rows is None or not len(rows):
        return None
    key = (str(curve.key), id(rows))
    if key not in _CV2 or _CV2[key][0] is not rows:
        if len(_CV2) > 64:
            _CV2.clear()
        held = rows
        rows = np.asarray(rows, dtype=np.float64)
        k = np.arange(rows.shape[1], dtype=np.float64)
        mid = 1e-6 * 1.01 ** (k - 0.5)      # LogHistogram's defaults: lo 1 us, bins 1 % wide
        mass = rows.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            m1 = rows @ mid / mass
            m2 = rows @ (mid * mid) / mass
            cv2 = np.where(mass > 0, m2 / (m1 * m1) - 1.0, 1.0)
        _CV2[key] = (held, np.clip(np.nan_to_num(cv2, nan=1.0), 0.0, 25.0))   # the rows held: their id stays theirs
    return _CV2[key][1]


def residual(tau: np.ndarray, mean: float, cv2: float) -> np.ndarray:
    """``rho(tau) = integral_tau^inf P(T > u) du / E[T]`` for ``T`` gamma of mean ``mean`` and squared
    coefficient of variation ``cv2`` (deterministic below ``1e-3``): the share of the requests in the
    system at 0 still there at ``tau``.

        >>> [round(float(x), 6) for x in residual(np.array([0.0, 2.0]), 2.0, 1.0)]   # exponential: exp(-1)
        [1.0, 0.367879]
        >>> [round(float(x), 6) for x in residual(np.array([0.5, 3.0]), 2.0, 0.0)]   # deterministic
        [0.75, 0.0]
    """
    tau = np.asarray(tau, dtype=np.float64)
    if cv2 < 1e-3:
        return np.clip(1.0 - tau / mean, 0.0, 1.0)
    shape = 1.0 / cv2
    x = tau * shape / mean
    return np.clip(gammaincc(shape + 1.0, x) - (tau / mean) * gammaincc(shape, x), 0.0, 1.0)


def min_cov(m: float, n: int, rho: np.ndarray) -> np.ndarray:
    """``Cov(min(N(0), n), min(N(tau), n))`` for the stationary M/G/inf count of mean ``m`` at each
    ``rho = rho(tau)`` (see the module docstring). ``g(a) = a + S(n - a)`` with ``S(c) = E[min(B, c)]
    = sum_{j < c} P(B > j)``, a cumulative sum of ``B``'s survival function (flat past ``B``'s reach,
    ``m (1 - rho) + 9 sd + 9``); each ``rho``'s sum over ``A`` runs ``9 sd + 9`` either side of its mean
    ``m rho``, up to ``n - 1`` (past it ``g = n``: ``n^2 P(A >= n)``), the rest weighing under
    ``1e-16``. With ``n`` past ``N``'s reach (``m + 12 sd + 12``) ``min(N, n) = N`` and the covariance
    is ``m rho``, exactly (the count ``A``'s variance).

        >>> [round(float(c), 9) for c in min_cov(2.0, 1000, np.array([1.0, 0.25]))]   # n past N: m rho
        [2.0, 0.5]
        >>> bool(abs(min_cov(0.5, 1, np.array([1.0]))[0] - np.exp(-0.5) * (1 - np.exp(-0.5))) < 1e-12)   # Bernoulli
        True
    """
    rho = np.asarray(rho, dtype=np.float64)
    if n - 1 > m + 12.0 * math.sqrt(m) + 12.0:
        return m * rho
    ma, mb = (m * rho)[:, None], (m * (1.0 - rho))[:, None]
    reach = int(min(math.ceil(m + 9.0 * math.sqrt(m) + 9.0), n))        # B past it: no weight
    j = np.arange(reach + 1, dtype=np.float64)[None, :]
    logs = _log_factorials(max(reach, n) + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmf_b = np.where(mb > 0, np.exp(j * np.log(mb) - mb - logs[: reach + 1]), (j == 0) * 1.0)
    surv = np.clip(1.0 - np.cumsum(pmf_b, axis=1), 0.0, 1.0)               # P(B > j)
    s_c = np.concatenate([np.zeros((len(rho), 1)), np.cumsum(surv, axis=1)], axis=1)   # S(0 .. reach + 1)
    spread = 9.0 * np.sqrt(ma) + 9.0
    lo = np.maximum(np.floor(ma - spread), 0.0)
    hi = np.minimum(np.ceil(ma + spread), n - 1.0)
    a = lo + np.arange(int((hi - lo).max()) + 1, dtype=np.float64)[None, :]
    inside = a <= hi
    a = np.minimum(a, hi)
    c = np.minimum(n - a, reach + 1).astype(np.int64)                      # >= 1 here
    g = a + np.take_along_axis(s_c, c, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_a = np.where(ma > 0, np.exp(a * np.log(ma) - ma - logs[a.astype(np.int64)]), (a == 0) * 1.0) * inside
    second = (p_a * g * g).sum(axis=1) + n * n * pdtrc(n - 1.0, ma[:, 0])     # A >= n: g = n
    mean = float(spread_busy(n, m / n)) * n
    return second - mean * mean


def _log_factorials(k: int) -> np.ndarray:
    """``log(j!)`` for ``j`` in ``0 .. k - 1`` at least (one table, grown when a larger ``k`` is asked)."""
    if len(_LOG_FACT[0]) < k:
        _LOG_FACT[0] = gammaln(np.arange(max(k, 1024), dtype=np.float64) + 1.0)
    return _LOG_FACT[0]


_LOG_FACT = [np.zeros(0)]


def busy_var(m: float, n: int, window_s: float, mean_t: float, cv2: float) -> float:
    """``Var(integral_0^W min(N(t), n) dt / W)``, ``N`` M/G/inf of mean ``m`` and time in the system
    ``T`` gamma (mean ``mean_t``, ``cv2``): ``(2 / W^2) integral_0^W (W - tau) C(tau) dtau`` by 16-point
    Gauss-Legendre over the span where ``C`` is not negligible.

        >>> round(busy_var(2.0, 10**6, 300.0, 10.0, 0.0) * 300**2 / 2, 6)  # linear f, T = 10 s: m (5 W - 50 / 3)
        2966.666667
    """
    if m <= 0 or window_s <= 0:
        return 0.0
    span = mean_t * (1.0 + 40.0 * cv2) if cv2 >= 1e-3 else mean_t
    top = min(window_s, span)
    tau = 0.5 * top * (_NODES + 1.0)
    c = min_cov(m, n, residual(tau, mean_t, cv2))
    integral = 0.5 * top * float(np.dot(_WEIGHTS, (window_s - tau) * c))
    return max(2.0 * integral / (window_s * window_s), 0.0)


def busy_reading_sd(curve, per_rps: float, n: float, window_s: float, router: str | None = None) -> float:
    """The standard deviation of a ``utilization`` reading over ``window_s`` of ``n`` replicas each
    offered ``per_rps`` (see the module docstring): behind a router in :data:`sim.fluid.busy.SPREADING`
    ``min(N, n)`` over the pool, else ``n`` independent replicas (the variance of one over ``n``);
    between two counts, both, weighed as :func:`sim.fluid.busy.busy_on` weighs the share. 0 where the
    curve's busy share is the work done (no overlap: :func:`sim.fluid.busy.behind`), at no load and
    past the curve's saturation (the reading is 1)."""
    if per_rps <= 0 or not curve.meta.get("busy_overlap", True) or per_rps > curve.rates_rps[-1] * (1 + 1e-9):
        return 0.0
    if _SD[0] is not curve or len(_SD[1]) > 4096:   # the values of the last curve read (one pool's steps)
        _SD[:] = [curve, {}]
    key = (float(per_rps), float(n), float(window_s), router)
    if key not in _SD[1]:                           # a step reads one count several times
        _SD[1][key] = _busy_sd(curve, per_rps, n, window_s, router)
    return _SD[1][key]


_SD: list = [None, {}]


def _busy_sd(curve, per_rps: float, n: float, window_s: float, router: str | None) -> float:
    served, loads = curve.meta.get("busy_grid") or _busy_grid(curve)
    load = float(np.interp(per_rps, served, loads))
    if not math.isfinite(load) or load <= 0:
        return 0.0
    mean_t = load / per_rps
    cv2 = e2e_cv2(curve, per_rps)
    router = router or curve.meta.get("fleet_router") or curve.meta.get("group_router")
    k = max(float(n), 1.0)
    if router not in SPREADING:
        return math.sqrt(busy_var(load, 1, window_s, mean_t, cv2) / k)
    lo = math.floor(k)
    frac = k - lo

    def sd(c: int) -> float:
        return math.sqrt(busy_var(c * load, c, window_s, mean_t, cv2)) / c
    return sd(lo) if frac <= 0 else (1.0 - frac) * sd(lo) + frac * sd(lo + 1)
