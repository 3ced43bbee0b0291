"""Where points run: in this process, in a local process pool, or on a Dask cluster.

Every executor maps a picklable function over a list of argument tuples, starting them in the order
given (a batch comes longest expected first: :mod:`sim.planning.order`), and yields
``(index, result)`` pairs as they finish, in any order. Each point carries its own seed and
the caller orders the results by index, so the table is the same on every executor.

- ``serial``: one at a time in this process (debugging, tiny sweeps).
- ``local`` (default): :class:`concurrent.futures.ProcessPoolExecutor`, one worker per core.
- ``dask``: a ``distributed.Client`` — to an existing scheduler (``tcp://host:8786``) or, with no
  address, to a :class:`distributed.LocalCluster` started for the run. Install with
  ``pip install fleetsim[cluster]``. A scheduler that does not answer within
  :data:`CONNECT_TIMEOUT_S` is a :class:`sim.errors.InputError` naming the address, why, and how to
  start one.

A worker that dies (killed, out of memory) turns into a failed point, never a failed sweep. A
sweep that dies takes its ``local`` workers (:func:`die_with_parent`) and its ``LocalCluster``
with it; a ``--scheduler`` cluster drops the sweep's queued points, but a point already running
on one of its workers runs to its end there (Dask cannot stop a running task).

    >>> with make_executor("serial") as ex:
    ...     sorted(ex.map_unordered(pow, [(2, 3), (3, 2)]))
    [(0, 8), (1, 9)]
"""
from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from sim.errors import clipped

EXECUTORS = ("serial", "local", "dask")

CONNECT_TIMEOUT_S = 10.0
"""How long the ``dask`` executor tries to reach a ``--scheduler`` before giving up (Dask's own
default, ``distributed.comm.timeouts.connect``, is 30 s)."""

START_SCHEDULER = ("start a scheduler on that machine with 'dask scheduler --port 8786' and workers with "
                   "'dask worker tcp://SCHEDULER_HOST:8786 --nthreads 1' (docs/planning.md), or leave out "
                   "--scheduler to run on this machine")
"""How to get a scheduler, as the ``--scheduler`` error messages say it."""


WORKERS_ON_A_CLUSTER = ("--workers: not used with --scheduler: a Dask cluster runs its points on the workers it "
                       "has, one point per worker thread; give it more or fewer with 'dask worker "
                       "tcp://SCHEDULER_HOST:8786 --nworkers N --nthreads 1' on its machines (docs/planning.md), "
                       "or leave out --scheduler to start N worker processes on this machine")
"""Why ``--workers`` is refused with ``--scheduler`` (it was silently ignored)."""


class WorkerLost:
    """Result placeholder when a worker process died before returning (message says how)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"WorkerLost({self.message!r})"


#: how often a worker checks that the process that started it is still there
WATCHDOG_INTERVAL_S = 0.5


def die_with_parent(parent_pid: int, interval_s: float = WATCHDOG_INTERVAL_S) -> None:
    """Worker initializer: end this process when ``parent_pid`` is gone.

    A pool worker in the middle of a long point would otherwise run on after its sweep was killed
    (``SIGKILL`` gives the parent no chance to stop it), an orphan holding its memory until the
    point finished. A daemon thread polls the parent id (a process whose parent died is adopted
    by another, so ``getppid`` changes) and exits at once.
    """
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="fleetsim-parent-watchdog", daemon=True).start()


def default_workers() -> int:
    """One worker per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def whole_count(value: Any, name: str, wanted: str) -> int:
    """``value``, a count a Python caller gave as the argument ``name``, as a whole number >= 1 (a whole
    float, ``2.0``, is its integer): a :class:`TypeError` ``"{name}: {wanted} (got ..., of type ...)"``
    for anything else (``True``, ``"2"``, ``None``, ``1.5``), a :class:`ValueError` below 1. The check
    of :func:`worker_count` and :func:`sim.planning.points.seed_count`.

        >>> whole_count(2.0, "seeds", "give a whole number")
        2
        >>> whole_count(0, "seeds", "give a whole number")
        Traceback (most recent call last):
        ...
        ValueError: seeds: must be >= 1 (got 0)
    """
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise TypeError(f"{name}: {wanted} (got {clipped(repr(value), 60)}, of type {type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name}: must be >= 1 (got {int(value)})")
    return int(value)


def worker_count(workers: Any) -> int | None:
    """``workers`` of :func:`sim.sweep`, :func:`sim.plan` and :func:`sim.saturation` checked as
    ``--workers`` is (the same words): ``None`` (one per core) or a whole number >= 1; ``0`` was one per
    core and ``-1`` a pool of no slots, unsaid. A whole float (``2.0``) is its integer.

        >>> worker_count(None), worker_count(3), worker_count(2.0)
        (None, 3, 2)
        >>> worker_count(0)
        Traceback (most recent call last):
        ...
        ValueError: workers: must be >= 1 (got 0)
    """
    return None if workers is None else whole_count(workers, "workers", "must be a whole number >= 1")


class SerialExecutor:
    """Runs each call in this process, in order."""

    name = "serial"
    slots = 1
    """How many calls it runs at once (a search runs its likely next probes on the ones it leaves idle;
    a Dask cluster's are not counted: 1)."""
    one_at_a_time = True
    """Whether it runs one call at a time: then the order handed over cannot shorten a batch, and a batch
    keeps its grid order (an interrupted sweep keeps its first points, :mod:`sim.planning.order`)."""

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
        self.slots = self.workers
        self.one_at_a_time = self.workers == 1
        self._pool: ProcessPoolExecutor | None = None
        self._size = 0      # the pool's processes: the first batch's size, grown by a larger batch

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        if not tasks:
            return
        if self.workers == 1 or len(tasks) == 1:
            yield from super().map_unordered(fn, tasks)
            return
        want = min(self.workers, len(tasks))
        if self._pool is not None and self._size < want:
            # made for a smaller batch (a plan's first round runs 2 points, its next 3 with --workers 3):
            # a larger one would wait for its processes, a run at a time each
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=want, initializer=die_with_parent, initargs=(os.getpid(),))
            self._size = want
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
    one_at_a_time = False        # a cluster's workers (however many) start what they are handed in turn

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 processes: bool = True, connect_timeout: float | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("the dask executor needs dask.distributed: "
                               "pip install 'fleetsim[cluster]'") from exc
        self._cluster = None
        if scheduler:
            timeout = CONNECT_TIMEOUT_S if connect_timeout is None else float(connect_timeout)
            _probe_scheduler(scheduler, timeout)
            try:
                self._client = Client(scheduler, timeout=timeout)
            except Exception as exc:
                raise _scheduler_error(scheduler, timeout, exc) from exc
        else:
            self._cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                                         processes=processes, dashboard_address=None)
            self._client = Client(self._cluster)

    def map_unordered(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed
        if not tasks:
            return
        # run in the order handed over (a sweep's longest points first): Dask runs the tasks of one burst of
        # submissions (its fifo_timeout, 60 ms) at equal priority, so the order is said, not left to its queues
        futures = [self._client.submit(fn, *args, pure=False, priority=len(tasks) - i) for i, args in enumerate(tasks)]
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


def _probe_scheduler(address: str, timeout: float) -> None:
    """Raise :class:`~sim.errors.InputError` unless a Dask scheduler at ``address`` completes
    Dask's connection handshake within about ``timeout`` seconds.

    ``distributed.Client`` bounds the TCP connection attempts by its ``timeout`` but not the
    handshake after them, so a peer that accepts and never answers (another service on the port)
    would hang it; the probe bounds both, in a thread of its own (so it also works when the caller
    runs an event loop, as a notebook does).
    """
    import asyncio
    import threading

    from distributed.comm import connect

    failure: list[BaseException] = []

    async def handshake() -> None:
        comm = await connect(address, timeout=timeout)
        comm.abort()

    def attempt() -> None:
        try:
            asyncio.run(asyncio.wait_for(handshake(), timeout + 1.0 + 0.1 * timeout))
        except BaseException as exc:  # noqa: BLE001 - judged by the caller
            failure.append(exc)

    probe = threading.Thread(target=attempt, name="fleetsim-scheduler-probe", daemon=True)
    probe.start()
    probe.join(timeout + 5.0 + 0.1 * timeout)
    if probe.is_alive():  # pragma: no cover - the wait_for above ends it first
        failure.append(TimeoutError())
    if failure:
        raise _scheduler_error(address, timeout, failure[0]) from failure[0]


def _root_reason(exc: BaseException) -> str:
    """The innermost cause of a failed connection, in words ("Connection refused")."""
    import re

    while exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = re.sub(r"^in <[^>]*>: ", "", str(exc))               # distributed's "in <TCPConnector ...>: "
    text = re.sub(r"^\w+(Error|Exception): ", "", text)         # "ConnectionRefusedError: "
    text = re.sub(r"^\[Errno -?\d+\] ", "", text)
    return text or type(exc).__name__


def _tcp_reason(address: str) -> str:
    """Why a plain TCP connection to ``address`` fails, in words (one quick attempt)."""
    import socket

    try:
        from distributed.comm.addressing import parse_address, parse_host_port

        scheme, loc = parse_address(address)
        host, port = parse_host_port(loc)
    except Exception:  # noqa: BLE001 - no better reason to give
        return "no answer"
    if scheme not in ("tcp", "tls"):
        return "no answer"
    try:
        socket.create_connection((host, port), timeout=2.0).close()
    except socket.timeout:
        return "no answer"
    except OSError as exc:
        return exc.strerror or str(exc)
    return "no answer"


def _scheduler_error(address: str, timeout: float, exc: BaseException):
    """The :class:`~sim.errors.InputError` for a ``--scheduler`` that cannot be used."""
    from sim.errors import InputError

    where = f"--scheduler {address}"
    if isinstance(exc, ValueError):                             # malformed address
        return InputError(f"{where}: not a Dask scheduler address ({exc}); expected tcp://HOST:PORT "
                          f"such as tcp://10.0.0.5:8786")
    if isinstance(exc, OSError) and str(exc).startswith("Timed out trying to connect"):
        reason = _root_reason(exc) if exc.__cause__ is not None else ""
        if reason in ("", "TimeoutError", "CancelledError"):   # Dask keeps only its last attempt's error
            reason = _tcp_reason(address)
        return InputError(f"{where}: could not reach a Dask scheduler there within {timeout:g} s ({reason}); "
                          f"check the host and port, or {START_SCHEDULER}")
    if isinstance(exc, ImportError):                            # the scheduler's own refusal (versions)
        return InputError(f"{where}: the Dask scheduler refused this client ({exc})")
    if isinstance(exc, TimeoutError):                           # connected, but no handshake came back
        what = f"something accepted the connection but did not answer as a Dask scheduler within {timeout:g} s"
    elif isinstance(exc, OSError):                              # CommClosedError: the peer hung up
        what = (f"something accepted the connection but closed it ({_root_reason(exc)}) instead of answering "
                f"as a Dask scheduler")
    else:                                                       # a reply that is not Dask's handshake
        what = "something answered, but not with a Dask scheduler's handshake"
    return InputError(f"{where}: {what}; is that the scheduler's port (8786 by default; 8787 is its "
                      f"dashboard)? Otherwise {START_SCHEDULER}")


def make_executor(name: str = "local", workers: int | None = None,
                  scheduler: str | None = None) -> SerialExecutor:
    """Executor by name: ``serial``, ``local`` or ``dask`` (``scheduler`` implies ``dask``).

    ``workers`` is the number of processes started on this machine (``local``, or ``dask`` without
    ``scheduler``: a ``LocalCluster``); with a ``scheduler`` it is refused (:class:`~sim.errors.InputError`):
    the cluster's own workers run the points. ``serial`` runs one point at a time whatever it is.
    A ``workers`` that is no count of workers is refused (:func:`worker_count`)."""
    workers = worker_count(workers)
    if scheduler and workers is not None:
        from sim.errors import InputError

        raise InputError(WORKERS_ON_A_CLUSTER)
    if scheduler and name == "local":
        name = "dask"
    if name == "serial":
        return SerialExecutor()
    if name == "local":
        return LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(scheduler, workers)
    raise ValueError(f"executor must be one of {', '.join(EXECUTORS)} (got {name!r})")


@contextmanager
def executor_for(executor: "str | SerialExecutor", workers: int | None = None,
                 scheduler: str | None = None) -> Iterator[SerialExecutor]:
    """The executor a sweep, plan or saturation search runs on: ``executor`` itself when it is an
    executor (its owner closes it), else one made by :func:`make_executor` and closed afterwards."""
    if isinstance(executor, SerialExecutor):
        yield executor
        return
    ex = make_executor(executor, workers, scheduler)
    try:
        yield ex
    finally:
        ex.close()
