"""A scenario's raw values (the mapping read from a file, or given from Python) made fit to be overridden
and validated: each place its own copy (:func:`unshared`: YAML's aliases are one object in two places),
numpy's scalars as Python's (:func:`plain_values`), a dotted path looked up (:func:`value_at`), a one-line
override's YAML problem without its line (:func:`one_line`), the comment YAML drops from a value
(:func:`dropped_comment`) and the value quoted for YAML inside the shell's quotes (:func:`quote_hint`).

    >>> shared = {"n": 1}
    >>> data = unshared({"a": shared, "b": shared})
    >>> data["a"] is data["b"], value_at(data, ["a", "n"])
    (False, 1)
"""
from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Sequence
from typing import Any

import yaml


def one_line(message: str, text: str) -> str:
    """``message`` about ``text`` without the line numbers of a one-line value (``line 1: ...``)."""
    if "\n" in text.strip():
        return message
    message = re.sub(r"^line \d+(, column (\d+))?: ", lambda m: f"column {m.group(2)}: " if m.group(2) else "",
                     message)
    return re.sub(r" \(first given on line \d+\)", "", message)


def unshared(data: Any, _above: frozenset[int] = frozenset()) -> Any:
    """A copy of ``data`` in which no two places hold one list or mapping: YAML's aliases (``output_tokens:
    *len``) are one object in two places, which ``copy.deepcopy`` keeps shared, so an override of one place
    changed the other too. A list or mapping that holds itself is left to ``copy.deepcopy`` (and the schema)."""
    if not isinstance(data, (dict, list)):
        return copy.deepcopy(data)
    if id(data) in _above:
        return copy.deepcopy(data)
    above = _above | {id(data)}
    if isinstance(data, dict):
        return {k: unshared(v, above) for k, v in data.items()}
    return [unshared(v, above) for v in data]


def value_at(data: Any, path: Sequence[str]) -> Any:
    """The value at a dotted ``path`` of mapping keys and list indices in ``data`` (``None`` if none)."""
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def plain_values(data: Any) -> Any:
    """A mapping from Python with numpy's scalars (``np.bool_``, ``np.int64``, ``np.float32``) as the
    Python values they hold, in place: ``drain=np.bool_(True)`` was refused as "must be true or false (got
    True)". A numpy array stays one (the schema names it as the list it is not); a list or mapping that
    holds itself is walked once (the schema refuses it)."""
    seen: set[int] = set()
    stack = [data]
    while stack:
        node = stack.pop()
        if id(node) in seen or not isinstance(node, (dict, list)):
            continue
        seen.add(id(node))
        for k, v in (node.items() if isinstance(node, dict) else enumerate(node)):
            if type(v).__module__ == "numpy" and getattr(v, "ndim", None) == 0 and hasattr(v, "item"):
                node[k] = v.item()
            else:
                stack.append(v)
    return data


def quote_hint(key: str, text: str) -> str:
    """How to give ``text`` as the words: quoted for YAML inside the shell's quotes, which the shell takes off
    (``name="run #2"`` typed reaches fleetsim as ``name=run #2``).

        >>> print(quote_hint("name", "run #2"))
        to mean the words, quote them for YAML inside the shell's quotes (--set 'name="run #2"')
    """
    quoted = shlex.quote(f"{key}={json.dumps(text.strip(), ensure_ascii=False)}")
    return f"to mean the words, quote them for YAML inside the shell's quotes (--set {quoted})"


def dropped_comment(text: str) -> str:
    """The comment YAML drops after a one-line ``text`` it read (``#2`` of ``run #2``, ``#c`` of ``a#b #c``):
    whatever follows the value's own end, told by where YAML's parser ends the node. A value of several
    lines (a file's block pasted) is YAML text, where a comment is meant as one: none.

        >>> dropped_comment("run #2"), dropped_comment("a#b #c"), dropped_comment('"run #2"'), dropped_comment("x#y")
        ('#2', '#c', '', '')
    """
    if "#" not in text or "\n" in text.strip():     # several lines are YAML text, where a comment is one
        return ""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    rest = text[node.end_mark.index:].strip() if node is not None else ""
    return rest if rest.startswith("#") else ""

