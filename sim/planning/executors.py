"""Where points run: in this process, in a local process pool, or on a Dask cluster.

Every executor maps a picklable function over a list of argument tuples and yields
``(index, result)`` pairs as they finish, in any order. Each point carries its own seed and
the caller orders the results by index, so the table is the same on every executor.

- ``serial``: one at a time in this process (debugging, tiny sweeps).
- ``local`` (default): :class:`concurrent.futures.ProcessPoolExecutor`, one worker per core.
- ``dask``: a ``distributed.Client`` — to an existing scheduler (``tcp://host:8786``) or, with no
  address, to a :class:`distributed.LocalCluster` started for the run. Install with
  ``pip install fleetsim[cluster]``.

A worker that dies (killed, out of memory) turns into a failed point, never a failed sweep.

    >>> with make_executor("serial") as ex:
    ...     sorted(ex.map_unordered(pow, [(2, 3), (3, 2)]))
    [(0, 8), (1, 9)]
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

EXECUTORS = ("serial", "local", "dask")


class WorkerLost:
    """Result placeholder when a worker process died before returning (message says how)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"WorkerLost({self.message!r})"


def default_workers() -> int:
    """One worker per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    """Runs each call in this process, in order."""

    name = "serial"

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        for i, args in enumerate(tasks):
            yield i, fn(*args)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(SerialExecutor):
    """A process pool with ``workers`` processes (default: one per core)."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            yield from super().map_unordered(fn, tasks)
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)))
        futures = {self._pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        pending = set(futures)
        broken = False
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    try:
                        result = fut.result()
                    except Exception as exc:  # BrokenProcessPool: a worker died
                        broken = True
                        result = WorkerLost(f"{type(exc).__name__}: {exc}")
                    yield futures[fut], result
        finally:
            for fut in pending:
                fut.cancel()
            if broken and self._pool is not None:   # a broken pool cannot be reused
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(SerialExecutor):
    """A ``distributed.Client``: to ``scheduler`` if given, else to a fresh ``LocalCluster``.

    The local cluster has ``workers`` single-threaded worker processes (default 2, kept small:
    it is for trying the Dask path on one machine; a real cluster is started with
    ``dask scheduler`` / ``dask worker``, see docs/planning.md).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 processes: bool = True) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("the dask executor needs dask.distributed: "
                               "pip install 'fleetsim[cluster]'") from exc
        self._cluster = None
        if scheduler:
            self._client = Client(scheduler)
        else:
            self._cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                                         processes=processes, dashboard_address=None)
            self._client = Client(self._cluster)

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed
        if not tasks:
            return
        futures = [self._client.submit(fn, *args, pure=False) for args in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                try:
                    yield index[fut.key], fut.result()
                except Exception as exc:  # worker lost, task killed
                    yield index[fut.key], WorkerLost(f"{type(exc).__name__}: {exc}")
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str = "local", workers: int | None = None,
                  scheduler: str | None = None) -> SerialExecutor:
    """Executor by name: ``serial``, ``local`` or ``dask`` (``scheduler`` implies ``dask``)."""
    if scheduler and name == "local":
        name = "dask"
    if name == "serial":
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler, workers)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)} (got {name!r})")
