"""``fleetsim`` command line: thin wrappers over the Python API.

Subcommands live in ``sim.commands.<name>`` modules, each with ``add_arguments(parser)`` and
``main(args) -> int``. Exit status: 0 success, 2 bad input (one line per problem on stderr),
1 anything else. Results go to stdout; logs and progress to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import warnings
from collections.abc import Iterator
from typing import NoReturn

from sim.errors import printable
from sim.override_hints import check_overrides, override_hint, split_hint

COMMANDS = {
    "run": "simulate a scenario and print its summary",
    "validate": "check a scenario file without running it",
    "sweep": "run a grid of overrides x seeds",
    "plan": "find the cheapest configuration that meets constraints",
    "saturation": "find the highest arrival rate (or closed-loop client count) a fleet sustains within the SLO",
    "report": "regenerate figures and report.html from a result folder",
    "calibrate": "fit step-time efficiency factors to measured points",
    "reprice": "recompute a result folder's money under changed economics, without re-simulating",
    "compare": "compare run results side by side: what differs and what moved",
}

#: the end of ``fleetsim --help``: a first session, a command per common question (README.md,
#: "Common questions", has their answers on the shipped scenarios): (command line, what it answers)
EXAMPLES = (
    ("fleetsim run scenarios/baseline.yaml --out results/baseline",
     "simulate, print the summary, write a result folder"),
    ("fleetsim report results/baseline", "one page to open in a browser: results/baseline/report.html"),
    ("fleetsim plan scenarios/baseline.yaml --set workload.arrival.rate=50 "
     "--vary fleet.pools.0.replicas=1..16 --constraint 'latency.ttft.p99<=2'",
     "the fewest GPUs that hold a p99 TTFT of 2 s at 50 req/s"),
    ("fleetsim saturation scenarios/baseline.yaml", "the highest arrival rate the fleet sustains within its SLO"),
    ("fleetsim reprice results/baseline --set economics.gpu_hour_usd=1.8",
     "the same run's money at another price, without simulating again"),
)


def _examples() -> str:
    lines = ["a first session (the scenarios are in the checkout's scenarios/ folder; COMMAND --help for each):"]
    for command, what in EXAMPLES:
        head, _, rest = command.partition(" --vary ")      # the plan's line is too long for one
        lines += [f"  {head}" + (" \\" if rest else "")] + ([f"      --vary {rest}"] if rest else [])
        lines.append(f"      {what}")
    return "\n".join([*lines, "", 'README.md, "Common questions", and docs/ say more.'])


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    """The parser and the command modules imported. ``only``: import just that command's module
    (the others get a bare subparser, so ``fleetsim reprice`` does not pay for importing the
    planning package; ``""``: none, for ``fleetsim --help``, whose list of commands is
    :data:`COMMANDS`); ``None`` imports every command (each with its options)."""
    from sim import __version__

    parser = Parser(prog="fleetsim", description="Simulate an LLM inference serving fleet: "
                    "latency, utilization, GPU-hours, cost and cash flows.",
                    epilog=_examples(), formatter_class=ExamplesHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fleetsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    modules = {}
    for name, help_text in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, formatter_class=PlainHelpFormatter)
            continue
        try:
            mod = importlib.import_module(f"sim.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("sim.commands"):
                continue
            raise
        summary = " ".join((mod.__doc__ or help_text).strip().split("\n\n")[0].split())
        p = sub.add_parser(name, help=help_text, description=summary, formatter_class=PlainHelpFormatter)
        mod.add_arguments(p)
        modules[name] = mod
    parser.commands = sub.choices      # each command's parser, for an error about its own options
    return parser, modules


_REST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_REST_LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")


def plain(text: str) -> str:
    """Help text as plain text: reST roles and literals (``:func:`x```, double and single
    backticks) lose their markup, keeping the words.

    >>> plain("prints ``--json``; see :func:`sim.run` and `fleetsim report`")
    'prints --json; see sim.run and fleetsim report'
    """
    text = _REST_ROLE.sub(r"\1", text)
    return _REST_LITERAL.sub(lambda m: m.group(1) or m.group(2), text)


def usage_error(prog: str, message: str, width: int | None = None) -> str:
    """argparse's error ``message`` for ``prog``: one line naming where the options are listed, or, given
    a ``width`` (a terminal's), lines of at most ``width`` characters broken between words (a longer word,
    a path, stays whole on its own line) and the pointer to ``--help`` on a line of its own.

        >>> print(usage_error("fleetsim run", "argument --figures: invalid choice: 'svgz' (choose from 'svg', 'png')"))
        fleetsim run: error: argument --figures: invalid choice: 'svgz' (choose from 'svg', 'png'); fleetsim run --help lists the options
        >>> print(usage_error("fleetsim run", "argument --figures: invalid choice: 'svgz' (choose from 'svg', 'png')", 40))
        fleetsim run: error: argument --figures:
          invalid choice: 'svgz' (choose from
          'svg', 'png')
          (fleetsim run --help lists the options)
    """
    import textwrap

    text = printable(f"{prog}: error: {message}")
    if width is None:
        return f"{text}; {prog} --help lists the options"
    lines = textwrap.wrap(text, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
    return "\n".join([*lines, f"  ({prog} --help lists the options)"])


def _terminal_width() -> int | None:
    """The columns of the terminal stderr writes to, less one (a line that fills the last column makes some
    terminals add an empty one); ``None`` when stderr is no terminal (a file, a pipe: one line per problem)."""
    import shutil

    try:
        if not sys.stderr.isatty():
            return None
    except (AttributeError, ValueError):      # a replaced or closed stream
        return None
    return max(shutil.get_terminal_size().columns - 1, 40)


class Parser(argparse.ArgumentParser):
    """A wrong option or argument is one line, exit status 2, as every other input error:
    ``fleetsim run: error: argument --figures: invalid choice: 'svgz' (choose from 'svg', 'png',
    'none'); fleetsim run --help lists the options``, without the usage block argparse prints first;
    on a terminal, lines broken between words to its width (:func:`usage_error`; argparse's messages
    reach 250 characters, which an 80-column terminal broke inside words)."""

    #: the words of the command line (:func:`main` sets them), for the hint of an override written wrong
    argv: list[str] = []

    def error(self, message: str) -> NoReturn:
        hint = override_hint(self.argv, self)
        if not hint and message.startswith("unrecognized arguments: "):     # --set duration=1h 30m
            hint = split_hint(self.argv, message.removeprefix("unrecognized arguments: ").split())
        message += self._what_is_missing(message) + ("" if hint in message else hint)
        self.exit(2, usage_error(self.prog, message, _terminal_width()) + "\n")

    def _what_is_missing(self, message: str) -> str:
        """For argparse's ``the following arguments are required: --vary``, what each one is: its help's
        example (``e.g. --vary fleet.pools.0.replicas=1..64``), else its help (``scenario: scenario file
        (YAML or TOML)``); nothing for any other message."""
        prefix = "the following arguments are required: "
        if not message.startswith(prefix):
            return ""
        missing = [name.strip() for name in message[len(prefix):].split(",")]
        said = []
        for action in self._actions:
            name = argparse._get_action_name(action)
            if name not in missing or not action.help or action.help == argparse.SUPPRESS:
                continue
            example = re.search(r"\be\.g\. (\S+?)[),;]?(?:\s|$)", action.help)
            if example and action.option_strings:
                said.append(f"e.g. {action.option_strings[0]} {example.group(1)}")
            else:
                said.append(f"{name}: {action.help}")
        return f" ({'; '.join(said)})" if said else ""


class PlainHelpFormatter(argparse.HelpFormatter):
    """``--help`` reads as plain text: descriptions and option help written in the docstrings'
    reST lose their markup (:func:`plain`); an option's help is broken between words, not at
    a hyphen (``h100-sxm``, ``comma-separated`` stay whole)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width,
                             break_on_hyphens=False)

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain(text))

    def _expand_help(self, action: argparse.Action) -> str:
        return plain(super()._expand_help(action))


class ExamplesHelpFormatter(PlainHelpFormatter):
    """``fleetsim --help``: the description and the examples after the options keep their lines
    (argparse would run the example commands together into one paragraph); a line of prose (not
    indented) wider than the terminal is broken to it, an indented example command is kept whole."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        from sim.planning.table import fill

        return "".join(fill(indent + line, width + len(indent), indent="") + "\n"
                       if len(line) > width and not line.startswith(" ") else indent + line + "\n"
                       for line in text.splitlines())


def main(argv: list[str] | None = None) -> int:
    if argv is None:        # the program itself (fleetsim, python -m sim), not a caller handing it arguments
        _line_buffered(sys.stdout)
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    with _starting() as interrupted:
        # no command named (``fleetsim --help``, ``--version``, a misspelt command): the list of commands
        # needs none of their modules, so none is imported ("")
        parser, modules = build_parser(only=words[0] if words and words[0] in COMMANDS else "")
    if interrupted:
        print("interrupted", file=sys.stderr)
        return 130
    words = list(sys.argv[1:] if argv is None else argv)
    for p in (parser, *parser.commands.values()):      # an error of any of them hints at an override written wrong
        p.argv = words
    args, extra = parser.parse_known_args(argv)
    if extra:       # said by the command's parser, which names its own --help
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    check_overrides(parser.commands[args.command], args, words)
    source = str(getattr(args, "scenario", "") or getattr(args, "folder", "") or "")   # reprice, report: the folder
    with _allowing_large(getattr(args, "allow_large", False)), warnings.catch_warnings():
        warnings.showwarning = _show_warning(source)
        return _guarded(modules[args.command], args, source)


def _line_buffered(stream) -> None:
    """Results go to stdout, notes and progress to stderr, which Python writes at once; into a pipe or a file
    stdout was written in blocks at the end, so ``fleetsim plan ... 2>&1 | tee log`` read the notes under a
    plan's table, and the line naming the folder written, before the answer and the table. Each line of
    stdout is now written when ended; a stream that cannot be reconfigured is left as it is."""
    try:
        stream.reconfigure(line_buffering=True)
    except (AttributeError, ValueError, OSError):
        pass


def _stdout_gone() -> None:
    """After a write to a stdout whose reader has gone: what is left in its buffer goes to the null device,
    so Python's flush at exit neither fails (exit status 120) nor prints ``Exception ignored ...
    BrokenPipeError``. With stdout written line by line a ``| head -1`` meets this whenever the command
    prints a second line after head has left. A stdout that is no file is left as it is."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    finally:
        os.close(devnull)


@contextlib.contextmanager
def _allowing_large(allow: bool) -> Iterator[None]:
    """With ``--allow-large``, ``FLEETSIM_ALLOW_LARGE=1`` for the command (worker processes of sweeps and
    plans see it too), and the variable as it was afterwards: a later ``main([...])`` in the same process
    without the flag is held to the limits again."""
    if not allow:
        yield
        return
    from sim.limits import ENV

    before = os.environ.get(ENV)
    os.environ[ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


@contextlib.contextmanager
def _starting() -> Iterator[list[bool]]:
    """Around building the parser (which imports the command's modules, numpy among them: most of a
    command's first second): a Ctrl-C there is said as ``interrupted`` (exit status 130), as it is once
    the command runs, not as a traceback through the imports, nor as the ``ImportError`` that numpy
    makes of an interrupt inside its own import (exit status 1). The list yielded is true once
    interrupted. A SIGINT that is ignored (a background job) stays ignored."""
    import signal

    interrupted: list[bool] = []

    def on_interrupt(signum, frame) -> None:
        interrupted.append(True)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:      # not the main thread: no handler can be set
        previous = None
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, previous)
        previous = None
    try:
        yield interrupted
    except BaseException:
        if not interrupted:
            raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _guarded(module, args: argparse.Namespace, source: str) -> int:
    """Run a command; every failure becomes one line on stderr and an exit status, never a traceback.

    2: bad input, including what bad input can cause deep inside a run (``RecursionError``,
    ``MemoryError``, ``OverflowError``, ``OSError``), named with the scenario file; 1: anything
    else (a bug: rerun with ``FLEETSIM_DEBUG=1`` for the traceback); 130: interrupted.
    """
    from sim.errors import InputError, ScenarioError, printable
    from sim.paths import too_long

    def say(text: str) -> None:
        print(printable(text), file=sys.stderr)

    try:
        return int(module.main(args) or 0)
    except (ScenarioError, InputError) as exc:    # a scenario's problems: one line each (its format)
        say(str(exc))
        return 2
    except KeyboardInterrupt as exc:
        say("interrupted" + (f": {exc}" if str(exc) else ""))
        return 130
    except BrokenPipeError:     # stdout's reader has gone (``fleetsim plan ... | head -1``)
        _stdout_gone()
        return 0
    except BaseException as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("FLEETSIM_DEBUG") or isinstance(exc, SystemExit):
            raise
        where = getattr(exc, "filename", None) or source
        if isinstance(exc, OSError) and where and (long := too_long(where)) is not None:   # ENAMETOOLONG
            say(f"{where}: {long}")
            return 2
        kind = _KINDS.get(type(exc).__name__) or next(
            (text for cls, text in _CAUSES if isinstance(exc, cls)), None)
        detail = str(exc)[:300]
        if kind is not None:
            say(f"{f'{where}: ' if where else ''}{kind}" + (f" ({type(exc).__name__}: {detail})" if detail else ""))
            return 2
        say(f"fleetsim {args.command}: internal error: {type(exc).__name__}: {detail} "
            f"(rerun with FLEETSIM_DEBUG=1 for the traceback)")
        return 1


_KINDS = {"_ArrayMemoryError": "the scenario needs more memory than this machine has; make it smaller"}
_CAUSES = (
    (RecursionError, "nested too deeply to process"),
    (MemoryError, "the scenario needs more memory than this machine has; make it smaller"),
    (OverflowError, "a number is too large to compute with; use smaller values"),
    (UnicodeDecodeError, "a file is not UTF-8 text"),
    (OSError, "cannot read or write a file"),
)


def _show_warning(source: str):
    """``warnings.showwarning`` printing ``file: field: message`` (no Python source line), every
    warning as one line (:func:`sim.errors.warning_text`)."""
    from sim.errors import warning_text

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(warning_text(message, category, source), file=sys.stderr)

    return show


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
