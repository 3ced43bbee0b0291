"""Text tables for a terminal: columns of cells two spaces apart, a rule under the headings, no line
ending in blanks; in blocks of columns no wider than a given width where the table is wider.

The one renderer of fleetsim's terminal tables. The cash-flow statement and the costs per period
(:func:`sim.economics.statement.format_statement`) set their cells with the defaults: labels in the
first column left-aligned, the amounts right-aligned, headings aligned as their columns. The tables
of sweeps, plans, saturation searches and the run summary (:func:`sim.planning.table.text_table`)
choose each cell's alignment (numbers right, labels and sentences left), set every heading
left-aligned and may break a long heading over several lines (:func:`heading_lines`).

Cells are strings already formatted; nothing here knows a number or a unit. Columns are as wide as
their cells take on a terminal (:func:`shown_width`: a CJK character takes two columns, a combining
accent none), not as their count of characters. It imports nothing of fleetsim.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence


def shown_width(text: str) -> int:
    """How many terminal columns ``text`` takes: two for a wide or full-width character (East Asian
    Width W or F: CJK ideographs, kana, hangul, full-width forms), none for a combining mark or a format
    character (a zero-width joiner), one for any other.

        >>> shown_width("batch"), shown_width("批处理"), shown_width("e\u0301te")
        (5, 6, 3)
    """
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


#: the most terminal columns a name takes in a table's label column (a pool's, a class's: the schema allows
#: 200 characters, which made the per-pool table ~210 columns wide); longer, :func:`shortened` in the middle
NAME_WIDTH = 32


def shortened(text: str, width: int = NAME_WIDTH) -> str:
    """``text`` as it is when it takes at most ``width`` terminal columns, else its beginning and its end
    with an ellipsis between them, at most ``width`` columns in all (the end kept too: names such as ``pool-a`` and
    ``pool-b`` differ there). For the terminal and the page only: files and JSON keep the whole name.

        >>> shortened("prefill-h100"), shortened("p" * 200)
        ('prefill-h100', 'ppppppppppppppppppppp…pppppppppp')
        >>> shortened("pool-" + "x" * 40 + "-a", 12), shown_width(shortened("池" * 50))
        ('pool-xxx…x-a', 31)
    """
    if shown_width(text) <= width:
        return text
    room = max(width - 1, 2)
    head_room = room - room // 3
    head = _fit(text, head_room)
    tail = _fit(text[::-1], room - shown_width(head))[::-1]
    return head + "…" + tail


def distinct_shortened(names: Iterable[str], width: int = NAME_WIDTH) -> dict[str, str]:
    """Each of ``names`` as shown where they are shown together (a table's column, a figure's legend):
    :func:`shortened`, but two names that would show the same (``pool-…-a`` for two names differing only
    in their middle) each keep, between two ellipses, the part where they differ from the other; a name
    that would still show as another does is shown whole. Equal names show equally.

        >>> a, b = "pool-" + "x" * 30 + "-east-" + "y" * 20, "pool-" + "x" * 30 + "-west-" + "y" * 20
        >>> shortened(a) == shortened(b)
        True
        >>> shown = distinct_shortened([a, b, "chat"])
        >>> shown[a], shown[b], shown["chat"]
        ('pool-xxxx…xxx-east-yyyyyy…yyyyyy', 'pool-xxxx…xxx-west-yyyyyy…yyyyyy', 'chat')
    """
    unique = list(dict.fromkeys(names))
    shown = {n: shortened(n, width) for n in unique}
    for pass_ in range(2 + len(unique)):    # (each pass after the second shows one more name whole at least)
        seen: dict[str, list[str]] = {}
        for n in unique:
            seen.setdefault(shown[n], []).append(n)
        clashes = [group for group in seen.values() if len(group) > 1]
        if not clashes:
            break
        for group in clashes:
            for n in group:
                if pass_ == 0 and shown[n] != n:
                    shown[n] = _around_difference(n, [m for m in group if m != n], width)
                elif shown[n] != n:
                    shown[n] = n
    return shown


def _around_difference(name: str, others: Sequence[str], width: int) -> str:
    """``name``'s beginning, the part where it first differs from the closest of ``others`` (a few characters
    before that on), and its end, an ellipsis between parts not next to each other: about ``width`` columns."""
    at = max(next((i for i, (a, b) in enumerate(zip(name, m)) if a != b), min(len(name), len(m))) for m in others)
    room = max(width - 2, 6)
    head, tail = _fit(name, room * 3 // 10), _fit(name[::-1], room // 5)[::-1]
    free = room - shown_width(head) - shown_width(tail)
    start = max(at - min(4, free // 3), 0)       # (the window holds the first differing character)
    window = _fit(name[start:], free)
    kept = sorted([(0, len(head)), (start, start + len(window)), (len(name) - len(tail), len(name))])
    parts: list[list[int]] = []
    for a, b in kept:
        if parts and a <= parts[-1][1]:
            parts[-1][1] = max(parts[-1][1], b)
        else:
            parts.append([a, b])
    return "…".join(name[a:b] for a, b in parts)


def _fit(text: str, width: int) -> str:
    """The longest beginning of ``text`` taking at most ``width`` terminal columns."""
    out, used = [], 0
    for c in text:
        w = shown_width(c)
        if used + w > width:
            break
        out.append(c)
        used += w
    return "".join(out)


def _pad(text: str, width: int, left: bool) -> str:
    """``text`` padded with blanks to take ``width`` terminal columns, on the right when ``left``."""
    blanks = " " * max(width - shown_width(text), 0)
    return text + blanks if left else blanks + text


def _first_column(j: int, cell: str) -> bool:
    return j == 0


def table_lines(table: Sequence[Sequence[str]], width: int | None = None, *, head: int = 1,
                left: Callable[[int, str], bool] = _first_column, heading_left: bool = False,
                lead: int = 1) -> list[str]:
    """Rows of cells, the ``head`` heading lines first, as the lines of a text table: each column as wide
    as its widest cell, two spaces apart, a rule of dashes under the headings, trailing blanks cut.
    ``left(j, cell)`` says whether a cell of column ``j`` is left-aligned (else right-aligned); by default
    the first column's. ``heading_left``: every heading left-aligned (else as ``left`` says). Wider than
    ``width`` (None: no limit), the table is set in blocks of columns (:func:`column_blocks`), each with
    the first ``lead`` columns, a blank line between blocks. A label of those columns (a pool's name)
    longer than :data:`NAME_WIDTH` columns is :func:`shortened`, two such labels kept distinct
    (:func:`distinct_shortened`; files and JSON keep the name whole).

        >>> print("\\n".join(table_lines([["period", "net", "cash"], ["2024-Q1", "$1.00", "$2.00"]], 17)))
        period     net
        -------  -----
        2024-Q1  $1.00
        <BLANKLINE>
        period    cash
        -------  -----
        2024-Q1  $2.00
        >>> print("\\n".join(table_lines([["ttft.", "why not"], ["p99", ""], ["12.5", "too slow"], ["3", "-"]],
        ...                              head=2, left=lambda j, c: j == 1, heading_left=True)))
        ttft.  why not
        p99
        -----  --------
         12.5  too slow
            3  -
    """
    lead = max(1, lead)
    shown = [distinct_shortened(row[j] for row in table[head:]) for j in range(min(lead, len(table[0])))]
    table = [row if k < head else [shown[j][c] if j < len(shown) else c for j, c in enumerate(row)]
             for k, row in enumerate(table)]
    widths = [max(shown_width(row[j]) for row in table) for j in range(len(table[0]))]
    lines: list[str] = []
    for b, block in enumerate(column_blocks(widths, width, lead=lead)):
        lines += [""] if b else []
        for k, row in enumerate(table):
            if k < head and heading_left:
                line = "  ".join(_pad(row[j], widths[j], True) for j in block)
            else:
                line = "  ".join(_pad(row[j], widths[j], left(j, row[j])) for j in block)
            if line.strip() or k >= head or len(block) == len(widths):   # (not a heading line this
                lines.append(line.rstrip())                                  # block's headings do not reach)
            if k == head - 1:
                lines.append("  ".join("-" * widths[j] for j in block).rstrip())
    return lines


def column_blocks(widths: Sequence[int], width: int | None, gap: int = 2, lead: int = 1) -> list[list[int]]:
    """The columns of a table whose columns are ``widths`` wide (``gap`` apart), in blocks no wider than
    ``width`` where it can be: each block the first ``lead`` columns (the labels: a plan's knobs) and as
    many of the next as fit, at least one; all in one block without a width or when they fit.

        >>> column_blocks([7, 8, 8, 8], 30), column_blocks([7, 8, 8, 8], None), column_blocks([7, 30], 20)
        ([[0, 1, 2], [0, 3]], [[0, 1, 2, 3]], [[0, 1]])
        >>> column_blocks([7, 8, 8, 8, 8], 30, lead=2)
        [[0, 1, 2], [0, 1, 3], [0, 1, 4]]
    """
    if width is None or sum(widths) + gap * (len(widths) - 1) <= width:
        return [list(range(len(widths)))]
    lead = max(1, min(lead, len(widths) - 1))
    first = list(range(lead))
    base = sum(widths[:lead]) + gap * (lead - 1)
    blocks, cur, used = [], list(first), base
    for j in range(lead, len(widths)):
        if len(cur) > lead and used + gap + widths[j] > width:
            blocks.append(cur)
            cur, used = list(first), base
        cur.append(j)
        used += gap + widths[j]
    return blocks + [cur]


def heading_lines(heading: str, width: int) -> list[str]:
    """``heading`` on as many lines as it takes to be at most ``width`` wide (or as wide as its widest
    piece), broken after each dot and before each space but one before a per cent sign (``-3 %`` stays
    whole: a plan's ``at -3 %`` column was headed ``at`` / ``-3`` / ``%``).

        >>> heading_lines("latency.ttft.p99 (s)", 5)
        ['latency.', 'ttft.p99', '(s)']
        >>> heading_lines("latency.ttft.p99 (s)", 12), heading_lines("GPUs", 1), heading_lines("at -3 %", 3)
        (['latency.', 'ttft.p99 (s)'], ['GPUs'], ['at', '-3 %'])
    """
    pieces = [p for p in re.split(r"(?<=\.)|(?= (?!%))", heading) if p]
    width = max([width] + [len(p.strip()) for p in pieces])
    lines: list[str] = []
    for piece in pieces:
        if lines and len(lines[-1] + piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece.lstrip())
    return lines or [heading]
