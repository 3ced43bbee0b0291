"""Command-line plumbing shared by ``fleetsim sweep | plan | saturation``.

Options common to the three commands, and the mapping of user errors to exit status 2 with
one line per problem on stderr (results go to stdout, progress to stderr).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.errors import InputError, ScenarioError, output_value, path_argument, printable
from sim.planning.constraints import ConstraintError
from sim.planning.executors import EXECUTORS
from sim.planning.knobs import KnobError
from sim.scenario.schedulers import PRESETS


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (got {text!r})") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {v})")
    return v


def add_common_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """SCENARIO, --set, --seeds, --executor, --workers, --scheduler, --out, --quiet."""
    parser.add_argument("scenario", type=path_argument, help="a scenario file (YAML or TOML), e.g. scenarios/baseline.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the base scenario, e.g. duration=30m (repeatable)")
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                        help="replications per configuration (default 1); replication i uses seed (scenario "
                             "seed + i); with N > 1 metrics get 95%% Student-t intervals")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="where runs execute: local process pool (default), serial, or dask")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="worker processes on this machine (default: one per core; dask LocalCluster: 2; at most 4 "
                             "per core; not with --scheduler, whose cluster has its own workers)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler to connect to, e.g. tcp://host:8786 (implies --executor dask); "
                             "a pool's batching scheduler is a scenario field instead: "
                             "--set fleet.pools.0.batching.scheduler=sglang")
    parser.add_argument("--out", type=output_value("folder"), default=None, metavar="DIR",
                        help=f"result folder (default: results/<scenario>-{what}); finished runs are "
                             "kept there and reused when the command is repeated")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--allow-large", action="store_true",
                        help="run a scenario past the work limits (requests, fluid steps, replicas, failure events, "
                             "sweep points; see README 'Limits')")


#: the most worker processes ``--workers`` may start on this machine, per usable core: a point is
#: CPU-bound, so workers past the cores only share them, each holding a run's memory
WORKERS_PER_CORE = 4


def check_workers(args: argparse.Namespace) -> None:
    """Refuse (:class:`InputError`) a ``--workers`` that would start more processes on this machine
    (the ``local`` pool or a Dask ``LocalCluster``) than :data:`WORKERS_PER_CORE` per usable core, and
    with ``--scheduler`` at all (the cluster has the workers it has); ``serial`` starts none. A
    ``--scheduler`` naming a batching preset (``sglang``) is refused with the ``--set`` it meant."""
    from sim.planning.executors import WORKERS_ON_A_CLUSTER, default_workers

    if args.scheduler in PRESETS:           # meant the batching scheduler, not a Dask cluster
        knob = next((f for f, key in (("--vary", "vary"), ("--grid", "grid")) if getattr(args, key, None)), None)
        vary = f", or vary it with {knob} fleet.pools.0.batching.scheduler={','.join(PRESETS)}" if knob else ""
        raise InputError(f"--scheduler {args.scheduler}: --scheduler is the address of a Dask scheduler "
                         f"(tcp://HOST:PORT) to run the points on; {args.scheduler} is a batching scheduler, a "
                         f"scenario field: --set fleet.pools.0.batching.scheduler={args.scheduler}{vary}")
    n = args.workers
    if n is not None and args.scheduler:
        raise InputError(WORKERS_ON_A_CLUSTER)
    if n is None or args.executor == "serial":
        return
    cores = default_workers()
    if n > WORKERS_PER_CORE * cores:
        from sim.humanize import plural

        raise InputError(f"--workers: {n:,} worker processes on this machine's {cores} {plural(cores, 'usable core')} "
                         f"is too many: at most {WORKERS_PER_CORE * cores:,} ({WORKERS_PER_CORE} per core; each "
                         f"runs one point at a time, so past the cores they only share them, each holding a "
                         f"run's memory); leave --workers out for one per core, or run on a Dask cluster "
                         f"(--scheduler tcp://HOST:8786) for more")


def columns_known(args: argparse.Namespace, knob_flag: str) -> bool:
    """Check ``--columns`` against the scenario before any point runs (a key no summary of it can hold
    is refused: ``--columns: unknown metric ...`` on stderr, ``False``); ``knob_flag`` is the flag
    whose paths may rename a pool or class. A bad scenario raises as it would at the first run."""
    from sim.planning.constraints import UnknownMetricError
    from sim.planning.evaluator import check_metric_names
    from sim.planning.planner import COLUMNS, parse_columns
    from sim.planning.source import ScenarioSource

    columns = [c for c in parse_columns(args.columns) if c not in COLUMNS]     # a planner column is no key
    if not columns:
        return True
    varied = [k.split("=", 1)[0].strip() for k in getattr(args, knob_flag.lstrip("-")) or ()]
    try:
        check_metric_names(columns, ScenarioSource.from_any(args.scenario, args.overrides).data, varied,
                           band=args.capacity_band is not None)
    except UnknownMetricError as exc:
        print(f"--columns: {exc}", file=sys.stderr)
        return False
    return True


def default_out(args: argparse.Namespace, what: str) -> Path:
    return args.out if args.out is not None else Path("results") / f"{Path(args.scenario).stem}-{what}"


def guarded(body: Callable[[], int], command: str,
            flags: Sequence[tuple[type[Exception], str | None]] = ()) -> int:
    """Run ``body``; user errors → one line per problem on stderr and exit status 2, worded as the
    other commands word theirs: a scenario's problems name its file and field, an
    :class:`InputError` names its file or flag itself, and a knob or constraint error is put after
    the flag it came from (``flags``: the first ``(error class, flag)`` pair the error is an
    instance of; a ``None`` flag, or none matching, puts ``fleetsim COMMAND:`` in front)."""
    def say(text: str) -> None:     # terminal-safe: a value given may hold an escape
        print(printable(text), file=sys.stderr)

    try:
        return body()
    except (ScenarioError, InputError) as exc:    # a scenario's problems: one line each (its format)
        say(str(exc))
        return 2
    except (KnobError, ConstraintError) as exc:
        flag = next((f for cls, f in flags if isinstance(exc, cls)), None)
        say(f"{flag or f'fleetsim {command}'}: {exc}")
        return 2
    except FileNotFoundError as exc:
        say(f"{exc.filename}: file not found" if exc.filename else f"fleetsim {command}: {exc}")
        return 2


def kept_points(out: Path) -> str:
    """What an interrupted sweep, plan or saturation search leaves behind, for the line after
    'interrupted': the finished points kept in ``out``, from which the same command resumes."""
    from sim.humanize import plural

    points = out / "points"
    n = sum(1 for f in points.glob("*.json")) if points.is_dir() else 0
    if not n:
        return f"no point had finished; nothing kept in {out}"
    return (f"{n:,} finished {plural(n, 'point')} kept in {points}; the same command resumes from "
            f"{'it' if n == 1 else 'them'}")


def reused_note(runs: int, reused: int, out: Path) -> str:
    """``"12 of 14 runs reused from DIR; "`` when a rerun found some of its runs stored, else ``""``."""
    return f"{reused:,} of {runs:,} runs reused from {out}; " if reused else ""
