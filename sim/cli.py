"""``fleetsim`` command line: thin wrappers over the Python API.

Subcommands live in ``sim.commands.<name>`` modules, each with ``add_arguments(parser)`` and
``main(args) -> int``. Exit status: 0 success, 2 bad input (one line per problem on stderr),
1 anything else. Results go to stdout; logs and progress to stderr.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "run": "simulate a scenario and print its summary",
    "validate": "check a scenario file without running it",
    "sweep": "run a grid of overrides x seeds",
    "plan": "find the cheapest configuration that meets constraints",
    "saturation": "find the highest arrival rate a fleet sustains within the SLO",
    "report": "regenerate figures and report.html from a result folder",
    "calibrate": "fit step-time efficiency factors to measured points",
    "reprice": "recompute a result folder's money under changed economics, without re-simulating",
}


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The parser and the command modules imported. ``only``: import just that command's module
    (the others get a bare subparser, so ``fleetsim reprice`` does not pay for importing the
    planning package); ``None`` imports every command (``fleetsim --help`` lists them all)."""
    from sim import __version__

    parser = argparse.ArgumentParser(prog="fleetsim", description="Simulate an LLM inference serving fleet: "
                                     "latency, utilization, GPU-hours, cost and cash flows.")
    parser.add_argument("--version", action="version", version=f"fleetsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, help_text in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        try:
            mod = importlib.import_module(f"sim.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("sim.commands"):
                continue
            raise
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip().splitlines()[0])
        mod.add_arguments(p)
        modules[name] = mod
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    parser, modules = build_parser(only=words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    from sim.errors import InputError, ScenarioError

    try:
        return int(modules[args.command].main(args) or 0)
    except ScenarioError as exc:
        print(exc.format(), file=sys.stderr)
        return 2
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (OSError, UnicodeDecodeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        # no traceback for a user: say what failed in one line (rerun with FLEETSIM_DEBUG=1 for details)
        import os

        if os.environ.get("FLEETSIM_DEBUG"):
            raise
        where = getattr(exc, "filename", None)
        print(f"fleetsim {args.command}: error: {f'{where}: ' if where else ''}{type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2 if isinstance(exc, (OSError, UnicodeDecodeError)) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
