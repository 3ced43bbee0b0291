"""Reading YAML text that may be hostile: a scenario's (or any input file's) values within limits.

A scenario file is small, flat-ish text written by a person. Anything far from that is refused
with a message naming the line, before it can cost time or memory:

* at most :data:`MAX_VALUES` **values** (keys included): a scenario holds hundreds, and PyYAML took
  38 s over a 10 MB list; refused at the line passing it. Text over :data:`FAST_BYTES` is read by
  libyaml (where PyYAML has it), the limits checked on its events first (:func:`_check_events`); text
  libyaml refuses or reads otherwise than PyYAML (:mod:`sim.scenario.yaml_tabs`) by PyYAML's loader;
* **aliases** (``*name``) may stand for at most :data:`MAX_ALIAS_NODES` nodes in total, counted
  as expanded (a "billion laughs" file of a few hundred bytes would otherwise stand for 10⁹
  values once a validator or an error message walks it);
* **nesting** deeper than :data:`MAX_DEPTH` lists/mappings (YAML, TOML and JSON alike) is refused
  before a recursive parser can overflow the stack;
* **duplicate keys** in one mapping are an error naming both lines (YAML's "last one wins" would
  silently run the second value), a merge key ``<<`` given twice too (use ``<<: [*a, *b]``), and
  mappings merged by one ``<<`` that give the same key different values (which wins differs between YAML
  readers);
* a ``null`` or ``true``/``false`` key (``null:``, ``on:``, ``yes:`` in YAML 1.1) is refused: every
  scenario key is text;
* an impossible date such as ``2025-02-30`` stays text, so the schema names the field holding it;
* a **tag** that builds anything but a plain value (``!!binary``, ``!!set``, ``!!omap``, a local
  ``!tag``) is refused (:class:`TagError`): ``name: !!binary aGk=`` was read as the bytes of "hi" and
  taken as the name.

The file itself (only regular files, its size, its encoding) and TOML are read by
:mod:`sim.scenario.safe_text`; its names are importable from here too, as they were before the two
were one module.

    >>> load_yaml("a: 1\\nb: [1, 2]\\n")
    {'a': 1, 'b': [1, 2]}
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.scenario.safe_text import (MAX_BYTES, MAX_DEPTH, MAX_TOML_BYTES, TextLimitError,  # noqa: F401 - also
                                    check_nesting, load_toml, not_utf8, read_input_text,  # importable from here
                                    read_text, wide_encoding)
from sim.scenario.yaml_tabs import ODD_FOR_PYYAML, refuse_tab

#: most nodes that all aliases of one document may stand for, counted as expanded
MAX_ALIAS_NODES = 10_000
#: most values in one document, keys included, each alias counted as the values it stands for (a
#: week of per-minute piecewise rates is 20,160; longer data belongs in a trace or a length file)
MAX_VALUES = 200_000
#: YAML text longer than this is read by libyaml's C parser when PyYAML has it (shorter text by PyYAML's
#: own, whose error messages the loader words)
FAST_BYTES = 256 * 2**10


class TagError(TextLimitError):
    """A YAML tag that builds something other than a plain value (``!!binary``, ``!!set``, ``!foo``)."""

    def __init__(self, line: int, tag: str) -> None:
        self.line, self.tag = line, tag
        super().__init__(f"line {line}: {tag_problem(tag)}")


#: the tags of plain values: what a scenario, a calibration or any input file of fleetsim holds
#: (``value`` is YAML 1.1's ``=``, which the safe loader refuses on its own)
PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in
                       ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge", "value"))


def tag_problem(tag: str) -> str:
    """What is wrong with a YAML tag outside :data:`PLAIN_TAGS`, in words.

        >>> tag_problem("tag:yaml.org,2002:binary")
        'the tag !!binary builds bytes, not a plain value; write text, a number, true/false, a list or a mapping, without the tag'
    """
    builds = {"binary": "bytes", "set": "a set", "omap": "an ordered mapping", "pairs": "a list of pairs"}
    short = tag.replace("tag:yaml.org,2002:", "!!", 1)
    what = builds.get(tag.rpartition(":")[2]) if short.startswith("!!") else None
    return (f"the tag {short} builds {what or 'an object fleetsim does not read'}, not a plain value; "
            "write text, a number, true/false, a list or a mapping, without the tag")


# ------------------------------------------------------------------------------ YAML
class _StrictKeys:
    """Constructor rules of both loaders: text keys given once, impossible dates kept as text."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        if isinstance(node, MappingNode):
            # the keys written in this mapping; keys merged in with `<<: *defaults` may be
            # overridden by them, as YAML intends, so they are not duplicates. `<<` itself is a key
            # given once: a second one merged silently over the first (`<<: [*a, *b]` merges both)
            merge_line = 0
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                    line = key_node.start_mark.line + 1
                    if merge_line:
                        raise TextLimitError(f"line {line}: duplicate merge key '<<' (first given on line "
                                             f"{merge_line}); merge several mappings with one, <<: [*a, *b]")
                    merge_line = line
                    _merged_once(node, value_node)
                    continue
                if not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=False)
                line = key_node.start_mark.line + 1
                if key is None or isinstance(key, bool):
                    raise TextLimitError(f"line {line}: key {key_node.value or 'null'!r} reads as "
                                         f"{'null' if key is None else str(key).lower()}, not a name; "
                                         f"quote it if it is meant as text")
                if key in seen:
                    raise TextLimitError(f"line {line}: duplicate key {key!r} (first given on line {seen[key]}); "
                                         f"give each key once")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: ScalarNode, values: Any = None) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):   # 2025-02-30: leave it as text for the schema to name
            return self.construct_scalar(node)


def _keys_of(node: Node) -> dict[str, tuple[int, Node]]:
    """The text keys a mapping node gives, its merged ones included, each with the line it is on and its
    value's node."""
    keys: dict[str, tuple[int, Node]] = {}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                for sub in value_node.value if isinstance(value_node, SequenceNode) else [value_node]:
                    for key, seen in _keys_of(sub).items():
                        keys.setdefault(key, seen)
            else:
                keys[key_node.value] = (key_node.start_mark.line + 1, value_node)
    return keys


def _same(a: Node, b: Node) -> bool:
    """Two nodes that read as one value (one tag, one text; lists and mappings item by item, in order)."""
    if a is b:
        return True
    if type(a) is not type(b) or a.tag != b.tag:
        return False
    if isinstance(a, ScalarNode):
        return a.value == b.value
    if len(a.value) != len(b.value):
        return False
    if isinstance(a, MappingNode):
        return all(_same(k, l) and _same(v, w) for (k, v), (l, w) in zip(a.value, b.value))
    return all(_same(x, y) for x, y in zip(a.value, b.value))


def _merged_once(node: MappingNode, merged: Node) -> None:
    """Refuse ``<<: [*a, *b]`` where ``a`` and ``b`` both give a key the mapping does not give itself, with
    different values: which of the two wins is not settled between YAML readers (YAML 1.1's merge type: the
    first; PyYAML 6.0.4: the last for a key of two or more characters, the first for a one-character key,
    yaml/pyyaml#953), so the same file would run different values. One value given by both is no question."""
    if not isinstance(merged, SequenceNode):
        return
    own = {k.value for k, _ in node.value if isinstance(k, ScalarNode) and k.tag != "tag:yaml.org,2002:merge"}
    seen: dict[str, tuple[int, Node]] = {}
    for sub in merged.value:
        for key, (line, value) in _keys_of(sub).items():
            if key in seen and key not in own and not _same(seen[key][1], value):
                raise TextLimitError(f"line {merged.start_mark.line + 1}: the mappings merged by '<<' both give "
                                     f"{key!r} (lines {seen[key][0]} and {line}); which one wins differs between "
                                     f"YAML readers: give {key!r} in this mapping itself, or in one of them only")
            seen.setdefault(key, (line, value))


class _LimitedLoader(_StrictKeys, yaml.SafeLoader):
    """PyYAML's safe loader with an alias budget, a depth limit and strict keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}
        self._values = 0
        self._open: list[str | None] = []       # the anchors of the lists/mappings being composed

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        node = self._compose_limited(parent, index)
        if node.tag not in PLAIN_TAGS:      # !!binary read as bytes that a name took as text, !!set, !foo
            raise TagError(node.start_mark.line + 1, node.tag)
        return node

    def _compose_limited(self, parent: Node | None, index: Any) -> Node:
        self._values += 1
        if self._values > MAX_VALUES:
            raise TextLimitError(too_many_values(self.peek_event().start_mark.line + 1))
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:
                raise TextLimitError(self_holding(event.start_mark.line + 1, event.anchor))
            node = super().compose_node(parent, index)
            size = _expanded_size(node, self._sizes)
            self._alias_nodes += size
            self._values += size - 1
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise TextLimitError(too_many_aliased(event.start_mark.line + 1, event.anchor))
            return node
        if self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise TextLimitError(too_deep(mark.line + 1))
            self._open.append(self.peek_event().anchor)
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
                self._open.pop()
        return super().compose_node(parent, index)

_LimitedLoader.add_constructor("tag:yaml.org,2002:timestamp", _LimitedLoader.construct_yaml_timestamp)

try:
    from yaml.cyaml import CParser, CSafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml: every text is read by _LimitedLoader
    CParser = CSafeLoader = None
else:
    class _CLimitedLoader(_StrictKeys, CSafeLoader):
        """libyaml's parser and composer with the constructor of :class:`_LimitedLoader` (the limits are
        checked on the events first, :func:`_check_events`)."""

    _CLimitedLoader.add_constructor("tag:yaml.org,2002:timestamp", _CLimitedLoader.construct_yaml_timestamp)


def _without_sexagesimal(loader: type[yaml.SafeLoader]) -> None:
    """Read ``1:30`` as text, not as YAML 1.1's base-60 number 90 (YAML 1.2 dropped base 60).

    A value such as ``replicas: 1:4`` or ``--grid fleet.pools.0.replicas=1:4`` (a range written the
    Python way) would otherwise run with 64 replicas, silently; as text, the schema names the field
    and what it allows. A leading zero is not YAML 1.1's octal either: ``replicas: 010`` read as 8; as
    text it is YAML 1.2's 10 where the schema wants a number (and stays ``"010"`` where it wants a
    name). Other YAML 1.1 numbers (``0x10``, ``0b11``, ``1_000``, ``.inf``) read as before.
    """
    int_tag, float_tag = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
    loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag not in (int_tag, float_tag)]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    loader.add_implicit_resolver(int_tag, re.compile(r"""^(?:[-+]?0b[0-1_]+
                                                        |[-+]?(?:0|[1-9][0-9_]*)
                                                        |[-+]?0x[0-9a-fA-F_]+)$""", re.X), list("-+0123456789"))
    loader.add_implicit_resolver(float_tag, re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                                                          |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                                                          |[-+]?\.(?:inf|Inf|INF)
                                                          |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))


_without_sexagesimal(_LimitedLoader)
if CSafeLoader is not None:
    _without_sexagesimal(_CLimitedLoader)


def too_many_values(line: int) -> str:
    return (f"line {line}: more than {MAX_VALUES:,} values (lists, mappings, keys and values together; a "
            f"scenario holds hundreds): replay long data from a file (an arrival trace, a length file) instead")


def too_many_aliased(line: int, anchor: str) -> str:
    return (f"line {line}: aliases (*{anchor}) expand to more than {MAX_ALIAS_NODES:,} values; write the "
            f"values out or use fewer aliases")


def too_deep(line: int) -> str:
    return f"line {line}: nested deeper than {MAX_DEPTH} lists/mappings"


def self_holding(line: int, anchor: str) -> str:
    return (f"line {line}: the alias *{anchor} stands for a list or mapping that holds it (a value that "
            f"contains itself, without end); write the values out")


class _Open:
    """A list or mapping being read by :func:`_check_events`: its anchor, the values before it, and
    where in it the reader is (a mapping's last key, a list's index)."""

    __slots__ = ("anchor", "before", "mapping", "key_next", "at")

    def __init__(self, anchor: str | None, before: int, mapping: bool) -> None:
        self.anchor, self.before, self.mapping = anchor, before, mapping
        self.key_next, self.at = True, (None if mapping else -1)

    def child(self, event: yaml.Event) -> None:
        """Move past the next child: a mapping's key (its text) or value, a list's item."""
        if not self.mapping:
            self.at += 1
        elif self.key_next:
            self.at = event.value if isinstance(event, yaml.ScalarEvent) else "?"
        self.key_next = not self.key_next if self.mapping else True


def _check_events(text: str) -> None:
    """The limits of :class:`_LimitedLoader` checked on libyaml's events, before anything is built:
    values (naming the field they are in), nesting, the alias budget (each alias counted as the
    values of its anchor), tags. Stops at the first one passed, so a file far over
    :data:`MAX_VALUES` is refused after reading only that many. An alias to a list or mapping it is
    inside (a value that holds itself) is refused, and a tab PyYAML refuses (:mod:`sim.scenario.yaml_tabs`)."""
    parser = CParser(text)
    scalars: list[tuple[int, int, str]] | None = [] if "\t" in text else None
    values = aliases = 0
    sizes: dict[str, int] = {}
    anchors: set[str] = set()
    open_: list[_Open] = []
    try:
        while True:
            event = parser.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                if scalars is not None:
                    refuse_tab(text, scalars)
                return
            line = event.start_mark.line + 1
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                done = open_.pop()
                if done.anchor is not None:
                    sizes[done.anchor] = values - done.before
                continue
            if not isinstance(event, (yaml.AliasEvent, yaml.ScalarEvent, yaml.SequenceStartEvent,
                                      yaml.MappingStartEvent)):
                continue
            if open_:
                open_[-1].child(event)
            if isinstance(event, yaml.AliasEvent):
                if any(o.anchor == event.anchor for o in open_):
                    raise TextLimitError(self_holding(line, event.anchor))
                if event.anchor not in sizes:      # (as PyYAML's composer says it; libyaml's leaves out the name)
                    raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                                      event.start_mark)
                size = sizes[event.anchor]
                aliases += size
                values += size
                if aliases > MAX_ALIAS_NODES:
                    raise TextLimitError(too_many_aliased(line, event.anchor))
            else:
                if event.anchor is not None:      # (libyaml's composer says it without the name; PyYAML's with)
                    if event.anchor in anchors:
                        raise yaml.composer.ComposerError(None, None, "found duplicate anchor", event.start_mark)
                    anchors.add(event.anchor)
                if event.tag is not None and event.tag != "!" and event.tag not in PLAIN_TAGS:
                    raise TagError(line, event.tag)
                if isinstance(event, yaml.ScalarEvent):
                    if scalars is not None:
                        scalars.append((event.start_mark.index, event.end_mark.index, event.style or ""))
                    if event.anchor is not None:
                        sizes[event.anchor] = 1
                else:
                    if len(open_) >= MAX_DEPTH:
                        raise TextLimitError(too_deep(line))
                    open_.append(_Open(event.anchor, values, isinstance(event, yaml.MappingStartEvent)))
                values += 1
            if values > MAX_VALUES:
                field = ".".join(str(o.at) for o in open_[:-1])      # the list or mapping holding the value
                raise TextLimitError(too_many_values(line), field)
    finally:
        parser.dispose()


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """Number of nodes ``node`` stands for once every alias inside it is expanded (memoised)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if isinstance(node, SequenceNode):
        n = 1 + sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, MappingNode):
        n = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    else:
        n = 1
    sizes[key] = n
    return n


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` within the limits of this module (:class:`TextLimitError` beyond them); text
    over :data:`FAST_BYTES` by libyaml when libyaml and PyYAML read it alike (the same value, the same
    error: text libyaml refuses, or with a tab PyYAML refuses, is read by PyYAML's own loader)."""
    fast = CSafeLoader is not None and len(text) > FAST_BYTES
    if fast:
        try:
            _check_events(text)
        except (yaml.MarkedYAMLError, TagError):
            # text libyaml refuses is read by PyYAML's own loader (within the same limits), so that it is
            # refused where and in the words a short file is (or read, as PyYAML reads some text libyaml
            # refuses: a tab in a block scalar's first line, a "\ud800" escape); a few seconds at most. A tag
            # too: the two end a tag at different characters (`!1,` in a flow list)
            fast = False
        else:
            fast = ODD_FOR_PYYAML.search(text) is None
    loader = (_CLimitedLoader if fast else _LimitedLoader)(text)
    try:
        return loader.get_single_data()
    except ConstructorError as exc:
        if "found duplicate" in str(exc):  # pragma: no cover - PyYAML does not raise it today
            raise TextLimitError(str(exc)) from None
        raise
    finally:
        loader.dispose()


def yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """A YAML syntax error as a person reads it: where (line and column, from 1), what, and where
    the construct it broke began; a tab where indentation goes says that YAML indents with spaces.

        >>> try:
        ...     yaml.safe_load("a: 1\\n\\tb: 2\\n")
        ... except yaml.MarkedYAMLError as exc:
        ...     print(yaml_problem(exc))
        line 2, column 1: a tab where YAML expects spaces (YAML indents with spaces only)
    """
    def at(mark) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"
    problem = exc.problem or "cannot parse"
    context = exc.context
    if "'\\t'" in problem:
        problem, context = "a tab where YAML expects spaces (YAML indents with spaces only)", None
    elif "expected <block end>" in problem:
        problem += ": the indentation does not line up with the lines above"
    text = f"{at(exc.problem_mark)}: {problem}" if exc.problem_mark is not None else problem
    if context and exc.context_mark is not None and exc.context_mark.line != getattr(exc.problem_mark, "line", -1):
        text += f" ({context} at {at(exc.context_mark)})"
    elif context:
        text += f" ({context})"
    return text
