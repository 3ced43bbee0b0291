"""A budget of CPU seconds for work done in this process: bounded work, not a timing.

``with cpu_budget(20): main(argv)`` lets the block use 20 s of CPU (RLIMIT_CPU, raised from what
the process has used so far) and fails with an :class:`AssertionError` past that. Unlike a
wall-clock limit it does not move when the machine is busy with other processes, and unlike an
assertion after the fact it also stops work that would never end: past the limit the kernel
sends SIGXCPU (once a second until the block ends), whose handler raises :class:`OverBudget` in
the running code. The budget is meant to be generous (the honest path takes a second or two);
a test that must show refusal *before* some work starts says so with a monkeypatch instead.
"""
from __future__ import annotations

import resource
import signal
from contextlib import contextmanager
from typing import Iterator


class OverBudget(BaseException):
    """Raised in the running code when the block has used its CPU seconds (a BaseException, so
    that ``except Exception`` on the way up does not swallow it)."""


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far, all threads together."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


@contextmanager
def cpu_budget(seconds: int, what: str = "the block") -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = int(cpu_seconds()) + 1 + seconds          # whole seconds, as RLIMIT_CPU counts them
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)                      # never loosen a limit set from outside
    fired: list[int] = []

    def over(signum, frame):
        fired.append(signum)
        raise OverBudget(f"{what} used more than {seconds} s of CPU")

    previous = signal.signal(signal.SIGXCPU, over)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
    try:
        yield
    except OverBudget as exc:
        raise AssertionError(str(exc)) from None
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        signal.signal(signal.SIGXCPU, previous)
    assert not fired, f"{what} used more than {seconds} s of CPU"
