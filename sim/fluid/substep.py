"""Overloads shorter than a step: the backlog the fluid tier's steps average away.

The fluid tier serves each step's expected arrivals at the step's mean rate, so a burst above
capacity that fits inside one step builds no backlog when the step's mean is within capacity (one
server at 1.5 times capacity for 30 minutes inside an hour whose mean is its capacity: a 900-request
backlog at request level, none in hourly steps; ``docs/scaling.md``). This module serves each pool's
admitted demand again on ``SUB`` sub-steps per step, as a plain fluid queue at the step's serving
capacity (the reflected net input ``Q = X - min(0, min X)``, ``X`` the cumulative arrivals less
capacity), and says how long a wait the steps hid.

    >>> steps = np.array([3600.0])
    >>> sub = np.array([[225.0, 675.0, 675.0, 675.0, 675.0, 225.0, 225.0, 225.0]])  # 450 s each
    >>> round(hidden_wait(sub, np.array([1.0]), steps), 1)      # 1.5/s for 1,800 s against 1/s
    900.0
    >>> round(hidden_wait(sub.sum(axis=1, keepdims=True), np.array([1.0]), steps), 1)   # the step's mean
    0.0
"""
from __future__ import annotations

import numpy as np

from sim.fluid.backlog import longest_wait

SUB = 12
"""Sub-steps per step (five minutes of an hourly step)."""


def sub_edges(edges: np.ndarray, sub: int = SUB) -> np.ndarray:
    """``sub`` equal sub-steps of every step between ``edges``."""
    edges = np.asarray(edges, dtype=np.float64)
    inner = edges[:-1, None] + np.diff(edges)[:, None] * (np.arange(sub) / sub)[None, :]
    return np.append(inner.ravel(), edges[-1])


def hidden_wait(admitted_sub: np.ndarray, capacity_rps: np.ndarray, dt_s: np.ndarray) -> float:
    """The longest wait (s) of the fluid queue run on sub-steps: ``admitted_sub`` is ``(steps, sub)``
    requests, served at ``capacity_rps`` per step (requests/s) over steps of ``dt_s``."""
    admitted_sub = np.asarray(admitted_sub, dtype=np.float64)
    n, sub = admitted_sub.shape
    rate = np.repeat(np.asarray(capacity_rps, dtype=np.float64), sub)
    net = admitted_sub.ravel() - rate * np.repeat(np.asarray(dt_s, dtype=np.float64) / sub, sub)
    x = np.cumsum(net)
    q = x - np.minimum(np.minimum.accumulate(x), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(rate > 0, q / rate, np.where(q > 1e-9, np.inf, 0.0))
    return float(wait.max()) if len(wait) else 0.0


def hidden_message(pool: str, step_s: float, wait_sub_s: float, wait_step_s: float, ttft_s: float) -> str | None:
    """The warning for a pool whose sub-steps wait ``wait_sub_s`` where its steps waited
    ``wait_step_s`` at most, or ``None`` when the steps hide nothing that matters: a wait within the
    TTFT objective, within a tenth of a step, or within twice what the steps show."""
    from sim.humanize import duration

    if not wait_sub_s > max(ttft_s, 0.1 * step_s, 2.0 * wait_step_s):
        return None
    seen = f"they show {duration(wait_step_s)}" if wait_step_s > 0 else "they show none"
    return (f"fluid.step: the arrival rate varies within the {duration(step_s)} steps: served at "
            f"{duration(step_s / SUB)} resolution, pool {pool} falls behind and requests wait up to "
            f"{duration(wait_sub_s)}, which the steps average away ({seen}); set a shorter fluid.step "
            f"(at most the shortest overload that matters) or check the busiest hours at fidelity: request")


def warn_hidden(sc, edges: np.ndarray, dt_s: np.ndarray, total: np.ndarray, base_dir, pools: list) -> None:
    """A :class:`~sim.errors.ScenarioWarning` for each pool whose steps hide a backlog
    (:func:`hidden_message`). ``pools`` holds ``(name, offered per step, reject share, serving
    replicas per step, max_rps, backlog at each step's end)``; each pool's sub-steps split its step's
    offer as the fleet's demand falls within the step. Trace replays are not checked (counting a trace
    again on sub-steps would read it twice)."""
    import warnings

    from sim.errors import ScenarioWarning
    from sim.fluid.demand import expected_arrivals

    w = sc.workload
    processes = [w.arrival] + [c.arrival for c in (w.classes or [])]
    if any(p is not None and p.process == "trace" for p in processes) or len(dt_s) == 0:
        return
    fine = expected_arrivals(w, sub_edges(edges), start=sc.start, base_dir=base_dir, seed=sc.seed, sub=5)
    fine = fine.sum(axis=1).reshape(len(dt_s), SUB)
    spread = np.divide(fine, total[:, None], out=np.full_like(fine, 1.0 / SUB), where=total[:, None] > 0)
    step_s = float(dt_s[0])
    for name, offered, reject, serving, max_rps, b_end in pools:
        cap = np.asarray(serving, dtype=np.float64) * max_rps
        message = hidden_message(name, step_s, hidden_wait(spread * (offered * (1.0 - reject))[:, None], cap, dt_s),
                                 longest_wait(b_end, cap), sc.slo.ttft_s)
        if message:
            warnings.warn(message, ScenarioWarning, stacklevel=3)
