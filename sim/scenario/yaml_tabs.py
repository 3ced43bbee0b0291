"""Where PyYAML refuses a tab that libyaml reads, and the other text the two parsers read differently
(:data:`ODD_FOR_PYYAML`), so that a long file means what a short one does.

YAML 1.1 lets a tab separate tokens (``a: 1<TAB># note``, ``key:<TAB>value``, ``[1,<TAB>2]``) but never
indent. PyYAML's scanner refuses every tab outside a quoted or block scalar and a comment; libyaml
reads the separating ones. Scenario text over ``FAST_BYTES`` is parsed by libyaml
(:mod:`sim.scenario.safe_yaml`), shorter text by PyYAML: without this check ``b:<TAB>2`` ran in a
long file and was refused ("a tab where YAML expects spaces") in a short one.

:func:`first_refused_tab` finds, from the scalars libyaml read, the first tab PyYAML would stop at:
one outside every quoted (``'``, ``"``) and block (``|``, ``>``) scalar (or on a block scalar's first
line, ``|<TAB>``) and not in a comment.

    >>> first_refused_tab("a: 1\\t# note\\n", [(3, 4, "")])
    4
    >>> first_refused_tab("a: 'x\\ty'  # a\\tb\\n", [(3, 8, "'")]) is None
    True
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

import yaml

#: the styles of scalars whose text may hold a tab in PyYAML (quoted and block scalars)
TAB_STYLES = frozenset(("'", '"', "|", ">"))


#: characters where libyaml reads text that PyYAML refuses or reads otherwise (found by comparing the two
#: on the same text): a ``?`` in a flow list's plain value (``[1?]``), a tag (``! x`` is null to PyYAML,
#: ``''`` to libyaml; ``!1,`` ends at the comma for one of them), a byte-order mark after the start, a
#: ``#`` right after a block scalar's ``|``/``>``; such text (over ``FAST_BYTES``) is read by PyYAML's
#: own loader, within the same limits
ODD_FOR_PYYAML = re.compile(r"[?!]|(?<=[\s\S])\ufeff|[|>][-+0-9]*#")


def refuse_tab(text: str, scalars: list[tuple[int, int, str]]) -> None:
    """PyYAML's error at the first tab it refuses and libyaml read (the same text over and under
    ``FAST_BYTES`` means the same)."""
    at = first_refused_tab(text, scalars)
    if at is not None:
        line_start = text.rfind("\n", 0, at) + 1
        mark = yaml.error.Mark("<unicode string>", at, text.count("\n", 0, at), at - line_start, None, None)
        raise yaml.scanner.ScannerError("while scanning for the next token", None,
                                        "found character '\\t' that cannot start any token", mark)


def first_refused_tab(text: str, scalars: Sequence[tuple[int, int, str]]) -> int | None:
    """The index in ``text`` of the first tab PyYAML refuses, or ``None``.

    ``scalars`` are the ``(start, end, style)`` character spans of the scalars libyaml read, in order
    (``style`` as PyYAML's events give it: ``""`` plain, ``'``/``"`` quoted, ``|``/``>`` block). Linear
    in the text: each line's bounds and comment are found once, however many tabs it holds."""
    at = text.find("\t")
    starts = [s for s, _, _ in scalars]
    line_start = line_end = -1
    comment: int | None = None              # where the line's comment starts (-1: none; None: not looked for)
    while at >= 0:
        if at >= line_end:
            line_start = text.rfind("\n", 0, at) + 1
            line_start = text.rfind("\r", line_start, at) + 1 or line_start
            found = _BREAK.search(text, at)
            line_end, comment = (found.start() if found else len(text)), None
        i = bisect_right(starts, at) - 1
        inside = i >= 0 and scalars[i][0] <= at < scalars[i][1]
        text_of_scalar = inside and scalars[i][2] in TAB_STYLES
        header = text_of_scalar and scalars[i][2] in "|>" and scalars[i][0] >= line_start
        if not text_of_scalar or header:    # in a plain scalar, between tokens, on a block scalar's `|` line
            if comment is None:
                comment = _comment_start(text, line_start, line_end, starts, scalars)
            if not (0 <= comment < at):
                return at
        at = text.find("\t", at + 1)
    return None


_BREAK = re.compile(r"[\r\n]")


def _comment_start(text: str, line_start: int, line_end: int, starts: list[int],
                   scalars: Sequence[tuple[int, int, str]]) -> int:
    """Where the comment of the line ``text[line_start:line_end]`` starts, or -1: the first ``#`` outside
    every scalar (a block scalar's ``|`` line is outside), at the line's start or after a space or tab."""
    hash_at = text.find("#", line_start, line_end)
    while hash_at >= 0:
        i = bisect_right(starts, hash_at) - 1
        inside = (i >= 0 and scalars[i][0] <= hash_at < scalars[i][1]
                  and not (scalars[i][2] in ("|", ">") and scalars[i][0] >= line_start))
        if not inside and (hash_at == line_start or text[hash_at - 1] in " \t"):
            return hash_at
        hash_at = text.find("#", hash_at + 1, line_end)
    return -1
