"""What the sandbox would refuse at run time, found when a graph is saved.

`findings` walks a template's parsed tree for the ways out of the sandbox an
editor might try, so that they are a validation issue (node, field, position)
and never a run's failure: attributes starting with `_` (`__class__`,
`_private`) and Python's internals (`mro`, `func_globals`, `gi_frame`, ...),
calls of methods that would modify a value (`append`, `update`, ...), format
strings that read attributes or items (`'{0.__class__}'.format(x)`), format
strings that are not written in the template, and `attr`-style filters given
such names.

A JSON key that looks like one of those is still readable with brackets:
`output['_id']`, `output['mro']`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass

import jinja2.nodes
import jinja2.sandbox

from auterity.graph.expressions import parse_tree

INTERNAL_NAMES = frozenset(
    {
        "mro",
        "func_globals",
        "func_code",
        "func_closure",
        "func_defaults",
        "func_dict",
        "im_class",
        "im_func",
        "im_self",
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "cr_frame",
        "cr_code",
        "cr_await",
        "ag_code",
        "ag_frame",
        "ag_await",
        "tb_frame",
        "tb_next",
        "f_back",
        "f_builtins",
        "f_code",
        "f_globals",
        "f_locals",
    }  # fmt: skip
)
"""Names of Python's internals."""
FORMAT_METHODS = frozenset({"format", "format_map"})

MUTATING_METHODS = frozenset().union(*(names for _, names in jinja2.sandbox._mutable_spec))
"""Methods that modify a list, dict or set: values are read-only."""

ATTRIBUTE_ARGUMENTS = {
    "attr": (0, None),
    "map": (None, "attribute"),
    "selectattr": (0, None),
    "rejectattr": (0, None),
    "groupby": (0, "attribute"),
    "sort": (None, "attribute"),
    "unique": (None, "attribute"),
    "min": (None, "attribute"),
    "max": (None, "attribute"),
    "sum": (None, "attribute"),
    "join": (None, "attribute"),
}
"""Filters that read an attribute path given by name: (positional index, keyword)."""


@dataclass(frozen=True)
class Finding:
    """One construct the sandbox would refuse: what and where."""

    message: str
    position: int | None


def _unsafe_name(name: str) -> bool:
    return name.startswith("_") or name in INTERNAL_NAMES


def _search(text: str, pattern: str) -> int | None:
    match = re.search(pattern, text)
    return match.start() if match else None


def _format_fields(text: str) -> Iterator[str]:
    """The field names of a `str.format` string (`0.__class__` in `{0.__class__}`)."""
    try:
        for _, field, spec, _ in string.Formatter().parse(text):
            if field is not None:
                yield field
            if spec:
                yield from _format_fields(spec)
    except ValueError:
        return


def _attribute_argument(node: jinja2.nodes.Filter) -> jinja2.nodes.Expr | None:
    index, keyword = ATTRIBUTE_ARGUMENTS[node.name]
    if index is not None and len(node.args) > index:
        return node.args[index]
    for pair in node.kwargs:
        if pair.key == keyword:
            return pair.value
    return None


def _attribute_path(text: str, node: jinja2.nodes.Filter) -> Finding | None:
    argument = _attribute_argument(node)
    if argument is None:
        return None
    where = _search(text, rf"\|\s*{node.name}\b")
    if not isinstance(argument, jinja2.nodes.Const):
        if node.name == "attr":
            return Finding("attr() takes a name written in the template", where)
        return None
    parts = str(argument.value).split(".")
    if node.name == "attr" and argument.value in FORMAT_METHODS:
        return Finding("attr() may not reach a format method: write '...'.format(...)", where)
    bad = next((part for part in parts if _unsafe_name(part)), None)
    if bad is None:
        return None
    return Finding(f"{node.name}() may not read {bad!r}: it is not a value's key", where)


def findings(text: str, *, expression: bool = False) -> list[Finding]:
    """Every construct in a template (or bare expression) the sandbox would refuse.
    Raises `ExpressionError` on a syntax error."""
    tree = parse_tree(text, expression=expression)
    found: list[Finding] = []
    for node in tree.find_all(jinja2.nodes.Getattr):
        if _unsafe_name(node.attr):
            found.append(
                Finding(
                    f"'.{node.attr}' is not readable: names starting with '_' and Python's "
                    f"internals are off limits (a JSON key reads as ['{node.attr}'])",
                    _search(text, rf"\.\s*{re.escape(node.attr)}\b"),
                )
            )
    for item in tree.find_all(jinja2.nodes.Getitem):
        key = item.arg.value if isinstance(item.arg, jinja2.nodes.Const) else None
        if isinstance(key, str) and key.startswith("__"):
            found.append(
                Finding(
                    f"[{key!r}] is not readable: Python's internals are off limits",
                    _search(text, rf"\[\s*['\"]{re.escape(key)}"),
                )
            )
    for call in tree.find_all(jinja2.nodes.Call):
        method = call.node
        if not isinstance(method, jinja2.nodes.Getattr):
            continue
        where = _search(text, rf"\.\s*{re.escape(method.attr)}\s*\(")
        if method.attr in MUTATING_METHODS:
            found.append(
                Finding(f".{method.attr}() would modify a value: values are read-only", where)
            )
        elif method.attr in FORMAT_METHODS:
            owner = method.node
            if not isinstance(owner, jinja2.nodes.Const) or not isinstance(owner.value, str):
                found.append(
                    Finding(
                        f".{method.attr}() takes a format string written in the template", where
                    )
                )
            elif any(re.search(r"[.\[]", field) for field in _format_fields(owner.value)):
                found.append(
                    Finding(
                        "a format string may not read attributes or items ({0.name}, {0[key]}): "
                        "pass the values themselves",
                        where,
                    )
                )
    for applied in tree.find_all(jinja2.nodes.Filter):
        if applied.name in ATTRIBUTE_ARGUMENTS:
            finding = _attribute_path(text, applied)
            if finding is not None:
                found.append(finding)
    return found
