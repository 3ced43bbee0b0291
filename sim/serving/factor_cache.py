"""Where a pool's scheduler factor (:mod:`sim.serving.saturated`) is kept between measurements: the
key of a measurement (:func:`measurement_key`), the process's cache and the disk cache.

Measurements are cached in the process and on disk, keyed by the lengths and classes of the
requests, the pool's configuration and the files its ``perf:`` block reads (so a sweep over arrival
rates measures once); a capacity-scaled engine is measured unscaled
(:func:`~sim.serving.saturated.scheduler_factor`), so a ``--capacity-band`` run measures once for its
three runs. The disk cache (beside the fluid tier's
curves: ``$FLEETSIM_CACHE``, default ``~/.cache/fleetsim``; one small JSON file per factor, written
atomically) also keys on :data:`FACTOR_VERSION` and a hash of the simulator's own source and
catalogs (:func:`~sim.io.code_fingerprint`), so a factor measured by another version is never
read; the float is stored as its shortest round-trip text, so a warm run's summary has the same
bytes as a cold one's. An unreadable, corrupt or foreign file is ignored and the factor measured
again; a cache folder that cannot be written only costs the next process the measurement.
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sim.atomic import atomic_write_text
from sim.io import cache_dir, code_fingerprint
from sim.paths import resolve_path
from sim.serving.pool import PoolRuntime
from sim.workload import classes
from sim.workload.generator import RequestChunk

FACTOR_VERSION = 3
"""The measurement's format: bump it whenever what a factor means or how it is measured changes (a
change in the simulator's files already changes the disk cache's key, :func:`~sim.io.code_fingerprint`)."""

_CACHE: dict[str, float] = {}
"""The factors this process measured or read, by :func:`measurement_key`."""


def cached_factor(key: str, measure: Callable[[], float]) -> float:
    """The factor of the measurement keyed ``key``: this process's, else the disk cache's
    (:func:`_read_factor`), else ``measure()``'s, written to the disk cache (a folder that cannot be
    written only costs the next process the measurement)."""
    if key not in _CACHE:
        path, disk_key = _disk_entry(key)
        factor = _read_factor(path, disk_key)
        if factor is None:
            factor = measure()
            try:
                atomic_write_text(path, json.dumps({"version": FACTOR_VERSION, "key": disk_key, "factor": factor}))
            except OSError:     # a read-only or full cache folder: the next process measures again
                pass
        _CACHE[key] = factor
    return _CACHE[key]


def _perf_files(perf, base_dir: Path) -> list[bytes]:
    """The contents of the files a ``perf:`` block reads (a calibration, a step-time table; relative
    paths resolve against the scenario's folder): the same block in two folders, or a file edited
    between two runs of one process, is another engine."""
    out = []
    for cfg in (perf, getattr(perf, "roofline", None)):
        for name in ("calibration", "path"):
            path = getattr(cfg, name, None)
            if isinstance(path, str):
                try:
                    out.append(resolve_path(path, base_dir).read_bytes())
                except OSError:         # the run's own build reports an unreadable file
                    out.append(path.encode())
    return out


def measurement_key(scenario, pool: PoolRuntime, reqs: RequestChunk, base_dir: Path = Path(".")) -> str:
    """What a measurement depends on: the requests' lengths and classes, the pool's configuration
    (its name and size aside), model, GPU, KV blocks, engine and the contents of the files its
    ``perf:`` block reads (not a capacity scale: :func:`~sim.serving.saturated.scheduler_factor`
    measures without it)."""
    h = hashlib.sha256()
    for a in (reqs.prompt_tokens, reqs.output_tokens, reqs.class_idx):
        h.update(np.ascontiguousarray(a).tobytes())
    perf = pool.cfg.perf or scenario.perf
    for data in _perf_files(perf, base_dir):
        h.update(hashlib.sha256(data).digest())
    h.update(repr((pool.cfg.model_copy(update={"replicas": 1, "autoscale": None, "failures": None,
                                               "name": ""}).model_dump_json(exclude={"max_waiting"}),
                   perf.model_dump_json() if hasattr(perf, "model_dump_json") else repr(perf),
                   repr(pool.model), repr(pool.gpu), pool.kv_blocks, scenario.engine,
                   [(c.priority, c.shared_prefix_tokens) for c in classes(scenario.workload)])).encode())
    return h.hexdigest()


def _disk_entry(key: str) -> tuple[Path, str]:
    """The cache file of the measurement keyed ``key`` (:func:`measurement_key`) and the key it must hold:
    ``key`` with :data:`FACTOR_VERSION` and the simulator's code fingerprint."""
    disk_key = hashlib.sha256(f"{FACTOR_VERSION}:{code_fingerprint()}:{key}".encode()).hexdigest()
    return cache_dir() / f"scheduler-factor-{disk_key[:24]}.json", disk_key


def _read_factor(path: Path, disk_key: str) -> float | None:
    """The factor cached in ``path`` if it is this measurement's (its version and whole key match)
    and a finite positive number; otherwise None (missing, unreadable, corrupt or foreign)."""
    try:
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or entry.get("version") != FACTOR_VERSION or entry.get("key") != disk_key:
        return None
    factor = entry.get("factor")
    if type(factor) is not float or not math.isfinite(factor) or factor <= 0:
        return None
    return factor
