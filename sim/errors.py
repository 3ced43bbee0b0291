"""Errors a user can cause, reported as one line per problem and exit status 2.

Every problem names the file, the field path and what is allowed::

    scenarios/x.yaml: workload.arrival.rate: must be > 0 (got -3)

Settings that are legal but probably unintended are warnings (:class:`InputWarning`,
:class:`ScenarioWarning`), shown the same way, without Python's source line: by the command line,
and by the Python API within :func:`warnings_as_problems`.
"""
from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class ScenarioError(Exception):
    """One or more problems with a scenario (or another input file).

    ``problems`` holds ``(field_path, message)`` pairs; ``source`` is the file they came from.
    """

    def __init__(self, problems: list[tuple[str, str]], source: str = "<scenario>") -> None:
        self.problems = list(dict.fromkeys((str(p), str(m)) for p, m in problems))  # once each, in order
        self.source = source
        # the arguments as given, so that a copy made from them is the same error (SimPy re-raises a
        # process's exception as ``type(e)(*e.args)``; pickling to a worker process does the same)
        super().__init__(self.problems, source)

    def __str__(self) -> str:
        return self.format()

    def format(self) -> str:
        """One line a problem, ``file: field: message``; a message of several lines (a config file's
        own problems, say) is that many lines, each with the file and field in front.

            >>> print(ScenarioError([("model.hf_config", "c.json: a: required\\nc.json: b: required")], "s.yaml"))
            s.yaml: model.hf_config: c.json: a: required
            s.yaml: model.hf_config: c.json: b: required
        """
        source = printable(str(self.source), keep="")     # (a file named with a line break: still one line)
        return "\n".join(f"{source}: {path}: {line}" if path else f"{source}: {line}"
                         for path, msg in self.problems for line in (msg.splitlines() or [""]))


def given(value: object, limit: int = 60) -> str:
    """A value a user gave, for a message: its ``repr``, cut to ``limit`` characters, so that a name or key
    of 100,000 characters does not become a message of 100,000 characters.

    A date or a time (YAML reads ``2025-01-01``, TOML ``07:32:00`` as one) is said as it was written,
    not as Python's ``datetime.date(2025, 1, 1)``.

        >>> given("h900"), given("x" * 100)
        ("'h900'", "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...")
        >>> import datetime; given(datetime.date(2025, 1, 1)), given(datetime.time(7, 32))
        ('2025-01-01 (a date)', '07:32:00 (a time of day)')
    """
    import datetime

    if isinstance(value, datetime.date):        # (a datetime is a date too)
        kind = "a date and time" if isinstance(value, datetime.datetime) else "a date"
        return f"{value.isoformat()} ({kind})"
    if isinstance(value, datetime.time):
        return f"{value.isoformat()} (a time of day)"
    return clipped(repr(value if not isinstance(value, str) else value[:limit + 1]), limit)


def text_list(value: object, name: str, example: str) -> list[str]:
    """``value``, a list (or any iterable) of texts given to a Python function's argument ``name``, as a
    list; ``None`` is none. One text on its own is a :class:`TypeError`, as is an item that is no text:
    iterated, ``overrides="seed=3"`` was the four overrides ``s``, ``e``, ``e``, ``d`` and ``=3``.

        >>> text_list(("seed=3",), "overrides", "seed=3"), text_list(None, "overrides", "seed=3")
        (['seed=3'], [])
        >>> text_list("seed=3", "overrides", "seed=3")
        Traceback (most recent call last):
        ...
        TypeError: overrides: give a list of texts such as ['seed=3'], not one text (got 'seed=3')
    """
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: give a list of texts such as [{example!r}], not one text (got {given(value)})")
    try:
        items = list(value)         # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name}: give a list of texts such as [{example!r}] (got {given(value)}, "
                        f"of type {type(value).__name__})") from None
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name}: each item is a text such as {example!r} (got {given(item)}, "
                            f"of type {type(item).__name__})")
    return items


def json_kind(value: object) -> str:
    """A value's kind as a message says it (``got a list``), in JSON's words: an array is "a list", ``true``
    "a boolean", a string the text itself; another value (a YAML date) as :func:`given` says it.

        >>> json_kind([1]), json_kind("x"), json_kind(None), json_kind(1.5)
        ('a list', "the text 'x'", 'null', 'a number')
    """
    return {list: "a list", str: f"the text {given(value)}", bool: "a boolean", int: "a number",
            float: "a number", dict: "an object", type(None): "null"}.get(type(value)) or given(value)


def clipped(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters (the last three ``...``) when longer."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


_BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}


def printable(text: str, keep: str = "\n", spaces: bool = False) -> str:
    r"""``text`` safe for a terminal: control characters (and bidirectional overrides) written as
    escapes such as ``\x1b``, so a name in a scenario cannot move the cursor, recolour the
    screen or reorder what is shown. Characters in ``keep`` (default: newline) stay; with ``spaces``
    every space too (no-break and thin spaces, which a page or a figure shows as they are).

        >>> printable("pool\x1b[31m"), printable("−3\u00a0%"), printable("−3\u00a0%", spaces=True)
        ('pool\\x1b[31m', '−3\\u00a0%', '−3\xa0%')
    """
    if text.isprintable() and not any(ord(c) in _BIDI for c in text):
        return text
    out = []
    for c in text:
        o = ord(c)
        if c in keep or (spaces and unicodedata.category(c) == "Zs"):
            out.append(c)
        elif o < 0x20 or 0x7F <= o < 0xA0:
            out.append(f"\\x{o:02x}")
        elif o in _BIDI or (not c.isprintable() and c != " "):
            out.append(f"\\u{o:04x}")
        else:
            out.append(c)
    return "".join(out)


class InputError(Exception):
    """A problem with a non-scenario input (trace file, profile table, calibration CSV).

    The message already names the file, line and column where it can.
    """


class WorkloadFileError(ScenarioError, InputError):
    """A problem inside a file the workload names (a bad trace row, a trace that replays nothing),
    found while generating requests: ``problems`` names the field that names the file
    (``workload.arrival.path``) and the message the file, line and column. Raised with ``source``
    ``"workload"``; whoever knows the scenario's file puts it in front (:meth:`of`). Also an
    :class:`InputError`, as such a problem was before it named its field.

        >>> print(WorkloadFileError([("workload.arrival.path", "t.csv: line 3: ...")]).of("s.yaml"))
        s.yaml: workload.arrival.path: t.csv: line 3: ...
    """

    def __init__(self, problems: list[tuple[str, str]], source: str = "workload") -> None:
        super().__init__(problems, source)

    def of(self, source: str) -> "WorkloadFileError":
        """The same problems, said of the scenario file ``source``."""
        return WorkloadFileError(self.problems, source)


@contextmanager
def workload_files_of(source: str) -> Iterator[None]:
    """Within the block, a :class:`WorkloadFileError` is said of the scenario file ``source``."""
    try:
        yield
    except WorkloadFileError as exc:
        raise exc.of(source) from None


def path_argument(text: str) -> str:
    """A command-line argument naming a file or folder, as given; an empty one is refused (argparse
    says so after the argument's name, exit status 2): ``Path("")`` is ``.``, so ``--out ""`` wrote a
    result into the current folder and ``fleetsim report ""`` read it.

        >>> path_argument("results/x")
        'results/x'
    """
    if not text.strip():
        import argparse

        raise argparse.ArgumentTypeError(f"give a file or folder name (got {text!r})")
    return text


def path_value(text: str):
    """:func:`path_argument` as a :class:`~pathlib.Path` (the argparse ``type`` of a path option)."""
    from pathlib import Path

    return Path(path_argument(text))


def output_value(kind: str, stdout: str = ""):
    """The argparse ``type`` of an option naming a ``kind`` (``"file"`` or ``"folder"``) to write: a
    :func:`path_value`, but ``-`` is refused, since fleetsim writes the file or folder itself (``--out -``
    made a file or folder named ``-`` where a person reading ``-`` expects standard output). ``stdout``
    names the option that does print on standard output, when the command has one.

        >>> output_value("folder")("results/x").name
        'x'
        >>> try:
        ...     output_value("file", "--json prints it there")("-")
        ... except Exception as exc:
        ...     print(exc)
        '-' is not standard output here: fleetsim writes the file under the name given; give a file name (./- for a file named '-'; --json prints it there)
    """
    def value(text: str):
        if text.strip() == "-":
            import argparse

            what = "a folder of files" if kind == "folder" else "the file"
            raise argparse.ArgumentTypeError(
                f"'-' is not standard output here: fleetsim writes {what} under the name given; give a {kind} "
                f"name (./- for a {kind} named '-'{'; ' + stdout if stdout else ''})")
        return path_value(text)

    value.__name__ = f"{kind}_value"     # (argparse names the type in some messages)
    return value


class InputWarning(UserWarning):
    """A legal but probably unintended input; the message names the file (and line or field)."""


class ScenarioWarning(InputWarning):
    """A legal but probably unintended scenario setting; the message is ``field.path: what is
    odd``, and the scenario's file is put in front when it is shown (as for a problem)."""


def warning_text(message: Warning | str, category: type[Warning], source: str = "") -> str:
    """A warning as one line for a person: ``file: field: message`` for a :class:`ScenarioWarning`
    of a scenario read from ``source``, the message alone otherwise; terminal-safe.

        >>> warning_text("economics.credits.0.from: after the horizon", ScenarioWarning, "x.yaml")
        'x.yaml: economics.credits.0.from: after the horizon'
    """
    text = str(message)
    if issubclass(category, ScenarioWarning) and source and not text.startswith(source):
        text = f"{source}: {text}"
    return printable(text)


@contextmanager
def warnings_as_problems(source: str = "") -> Iterator[None]:
    """Within the block, fleetsim's warnings (:class:`InputWarning`) print as the command line shows
    them: ``file: field: message``, not Python's ``module.py:89: EconomicsWarning: ...`` and source line.

    Only the printed form changes (``warnings.formatwarning``): filters still decide whether a
    warning is shown, raised or ignored, and ``pytest.warns`` or ``catch_warnings(record=True)``
    still record it; other warnings keep Python's format.
    """
    previous = warnings.formatwarning

    def formatted(message, category, filename, lineno, line=None) -> str:
        if issubclass(category, InputWarning):
            return warning_text(message, category, source) + "\n"
        return previous(message, category, filename, lineno, line)

    warnings.formatwarning = formatted
    try:
        yield
    finally:
        warnings.formatwarning = previous
