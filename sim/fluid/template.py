"""The scenario a pool's capacity curve is measured on, and what of it the curve's cache key reads.

:func:`pool_template` derives it from the scenario (as a dict, without rate, duration or seed): one
replica of the pool, or a group of :func:`group_size` replicas behind the scenario's router, serving the
classes in their long-run shares, and, where the workload's arrivals are burstier than Poisson, the
arrivals its grid runs are measured under (:mod:`sim.fluid.replay`). :mod:`sim.fluid.capacity` measures it
and caches the curve under a hash of it (:func:`sim.fluid.capacity.curve_key`), in which every file the
template names is read as its content, not its path (:func:`keyed`): two scenarios whose trace files
differ in content but not in name measure two curves, and a replay written to another cache folder, or a
trace named by another path to the same bytes, keeps its key (and with it the summary's
``pools.<name>.capacity_curve``).
"""
from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path

import numpy as np

from sim.fluid.pinned import curve_mix
from sim.paths import resolve_path
from sim.scenario.types import MAX_NAME


def _class_shares(scenario, base_dir: Path) -> list[float] | None:
    """Shares of each class in the long-run demand (own-arrival classes by their mean rate);
    ``base_dir`` resolves trace paths, as for the scenario's own run."""
    from sim.fluid.demand import expected_arrivals

    wl = scenario.workload
    if not wl.classes:
        return None
    horizon = float(scenario.duration)
    edges = np.linspace(0.0, horizon, max(2, min(int(horizon // 3600) + 1, 24 * 28 + 1)))
    tot = expected_arrivals(wl, edges, start=scenario.start, base_dir=base_dir, seed=scenario.seed).sum(axis=0)
    s = tot.sum()
    return (tot / s).tolist() if s > 0 else [1.0 / len(tot)] * len(tot)


GROUP_MAX = 4
"""Most replicas a curve measures together behind a state-aware router (see :func:`group_size`)."""

GROUP_ROUTER = {"round_robin": "round_robin", "least_outstanding": "least_outstanding",
                "central_queue": "central_queue", "weighted": "least_outstanding"}
"""The router a curve's group of replicas runs behind, by the scenario's router (``weighted``
picks a pool, then the least outstanding replica in it); ``random`` needs no group."""


def group_size(scenario, pool_index: int) -> int:
    """Replicas a pool's curve is measured with: one under ``random`` routing (each replica sees
    Poisson arrivals, exactly what one replica under Poisson arrivals sees); otherwise up to
    ``GROUP_MAX`` of the pool's replicas behind the scenario's router, whose smoothing (round
    robin's regular spacing, least outstanding's and a central queue's joining the shortest
    queue) the curve then includes."""
    if scenario.fleet.router.policy not in GROUP_ROUTER:
        return 1
    return max(1, min(int(scenario.fleet.pools[pool_index].replicas), GROUP_MAX))


_NONE_DRAWN = {"dist": "fixed", "value": 1}
"""The lengths of a class a pool's curve keeps only for its index (no share: never drawn)."""


def pool_template(scenario, pool_index: int, base_dir: Path = Path("."), arrival: dict | None = None) -> dict:
    """The scenario (as a dict, without rate/duration) that measures a pool: one replica, or a
    group of :func:`group_size` replicas behind the scenario's router, serving the classes in their
    long-run shares (under ``fleet.router.classes``, the pool's part of each: :func:`sim.fluid.pinned.curve_mix`;
    those pinned to other pools left out); ``arrival``: what its grid runs' arrivals are where the workload's
    are burstier than Poisson (:func:`sim.fluid.replay.curve_arrivals`; ``None``, Poisson's, leaves the
    template as it was)."""
    sc = scenario.model_dump(mode="json")
    pool = copy.deepcopy(sc["fleet"]["pools"][pool_index])
    group = group_size(scenario, pool_index)
    pool.update(replicas=group, scale=1.0, autoscale=None, failures=None)
    if pool.get("model") is None:
        pool["model"] = sc["model"]
    if pool.get("perf") is None:
        pool["perf"] = sc["perf"]
    wl = sc["workload"]
    shares = _class_shares(scenario, base_dir)
    classes = []
    pins = sc["fleet"]["router"].get("classes") or {}
    for i, c in enumerate(wl.get("classes") or []):
        c = dict(c)
        c.pop("arrival", None)
        c["share"] = shares[i]
        classes.append(c)
    mix = curve_mix(scenario, shares)[:, pool_index] if pins and classes else None
    if mix is not None and mix.sum() > 0:    # its part of each class (sim.fluid.pinned); classes it never
        for c, part in zip(classes, mix):    # gets keep their index, no share, placeholder lengths
            c["share"] = float(part)
            if part <= 0:
                c.update(share=0.0, prompt_tokens=_NONE_DRAWN, output_tokens=_NONE_DRAWN)
    if classes:
        tot = sum(c["share"] for c in classes)
        for c in classes:
            c["share"] = c["share"] / tot
        classes[-1]["share"] = 1.0 - sum(c["share"] for c in classes[:-1])
    own = wl.get("arrival") or {}
    prompt, output = wl.get("prompt_tokens"), wl.get("output_tokens")
    if own.get("process") == "trace":   # lengths from the trace file itself
        prompt = prompt or {"dist": "trace", "path": own["path"], "format": own.get("format", "fleetsim")}
        output = output or {"dist": "trace", "path": own["path"], "format": own.get("format", "fleetsim")}
    workload = {"prompt_tokens": prompt, "output_tokens": output}
    if arrival is not None:     # a workload clumped beyond Poisson (sim.fluid.replay): its grid runs' arrivals
        workload["arrival"] = dict(arrival)
    if classes:
        workload["classes"] = classes
    return {"name": f"capacity-{pool['name']}"[:MAX_NAME], "model": pool["model"], "workload": workload,
            "fleet": {"router": GROUP_ROUTER.get(sc["fleet"]["router"]["policy"], "round_robin") if group > 1
                      else "round_robin", "pools": [pool], "frontend_s": sc["fleet"]["frontend_s"]},
            "perf": pool["perf"], "slo": sc["slo"],
            "engine": "fast", "fidelity": "request", "start": sc["start"],
            "metrics": {"interval": 10.0, "records": "all"}}


def _named_files(node) -> list[dict]:
    """Every mapping in ``node`` (a template, nested) that names a file: a trace replay's
    ``{process: trace, path}`` or a trace's lengths ``{dist: trace, path}``."""
    if isinstance(node, list):
        return [f for x in node for f in _named_files(x)]
    if not isinstance(node, dict):
        return []
    own = [node] if "path" in node and "trace" in (node.get("process"), node.get("dist")) else []
    return own + [f for v in node.values() for f in _named_files(v)]


@functools.lru_cache(maxsize=64)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    """The SHA-256 of the file at ``path`` (as it is at ``mtime_ns`` and ``size``: an edited file is read again)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: str, base_dir: Path) -> str | None:
    """The SHA-256 of the file a template names at ``path`` (relative to the scenario's folder ``base_dir``),
    or ``None`` where it cannot be read (the measuring run then says so)."""
    p = resolve_path(path, base_dir)
    try:
        st = p.stat()
        return _digest(str(p), st.st_mtime_ns, st.st_size)
    except OSError:
        return None


def keyed(template: dict, base_dir: Path = Path(".")) -> dict:
    """``template`` as its curve's cache key reads it: every file it names (:func:`_named_files`) by its
    content's digest instead of its path, where it can be read.

        >>> t = {"workload": {"prompt_tokens": {"dist": "trace", "path": "nosuch.csv", "format": "azure"}}}
        >>> keyed(t) == t                       # a file that cannot be read keeps its path
        True
    """
    out = copy.deepcopy(template)
    for named in _named_files(out):
        digest = file_digest(named["path"], base_dir)
        if digest is not None:
            named["path"] = {"sha256": digest}
    return out


__all__ = ["GROUP_MAX", "GROUP_ROUTER", "file_digest", "group_size", "keyed", "pool_template"]
