"""Where PyYAML refuses a tab that libyaml reads, so that a long file means what a short one does.

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

from bisect import bisect_right
from collections.abc import Sequence

#: the styles of scalars whose text may hold a tab in PyYAML (quoted and block scalars)
TAB_STYLES = frozenset(("'", '"', "|", ">"))


def first_refused_tab(text: str, scalars: Sequence[tuple[int, int, str]]) -> int | None:
    """The index in ``text`` of the first tab PyYAML refuses, or ``None``.

    ``scalars`` are the ``(start, end, style)`` character spans of the scalars libyaml read, in order
    (``style`` as PyYAML's events give it: ``""`` plain, ``'``/``"`` quoted, ``|``/``>`` block)."""
    at = text.find("\t")
    starts = [s for s, _, _ in scalars]
    while at >= 0:
        i = bisect_right(starts, at) - 1
        inside = i >= 0 and scalars[i][0] <= at < scalars[i][1]
        if inside and scalars[i][2] in TAB_STYLES and not _in_header(text, at, scalars[i]):
            pass                                    # in a quoted or block scalar: its text
        elif inside and scalars[i][2] in TAB_STYLES:    # a block scalar's `|-2  # note` line
            if not _in_comment(text, at, [], ()):
                return at
        elif inside or not _in_comment(text, at, starts, scalars):
            return at
        at = text.find("\t", at + 1)
    return None


def _in_header(text: str, at: int, scalar: tuple[int, int, str]) -> bool:
    """Whether ``text[at]`` is on the first line of a block scalar (its ``|``/``>``, indicators and a
    comment), where PyYAML reads only spaces."""
    start, _, style = scalar
    return style in "|>" and not any(c in "\r\n" for c in text[start:at])


def _in_comment(text: str, at: int, starts: list[int], scalars: Sequence[tuple[int, int, str]]) -> bool:
    """Whether ``text[at]`` (outside every scalar) follows a ``#`` that starts a comment on its line: a
    ``#`` outside every scalar, at the line's start or after a space or tab."""
    line_start = max(text.rfind("\n", 0, at), text.rfind("\r", 0, at)) + 1
    hash_at = text.find("#", line_start, at)
    while hash_at >= 0:
        i = bisect_right(starts, hash_at) - 1
        inside = i >= 0 and scalars[i][0] <= hash_at < scalars[i][1]
        if not inside and (hash_at == line_start or text[hash_at - 1] in " \t"):
            return True
        hash_at = text.find("#", hash_at + 1, at)
    return False
