"""Where a secret may appear: as a credential, whole, in the fields that send one.

A secret is not a template variable. It may be written only as
`{{ secrets.<name> }}` (or `{{ secrets['<name>'] }}`), on its own in a template's
top level, with plain text beside it (`Bearer {{ secrets.token }}`) but no filter,
expression, condition, loop, macro or `{% set %}` around it: anything that could
transform it could also carry it, altered past redaction, into a node's output.
And only in the config fields a node kind sends as credentials
(`NodeKind.credential_fields`: an http node's url, headers, query, body and
auth; an llm node's api_key). Validation refuses anything else when a graph is
saved, and activities refuse it again before they fetch a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jinja2.nodes

from auterity.graph.expressions import parse_tree

ROOT = "secrets"

FORM_MESSAGE = (
    "write a secret as {{ secrets.<name> }}, with no filter, expression or block "
    "around it (text beside it is fine)"
)

_WHOLE = re.compile(
    r"\{\{-?\s*secrets\s*(?:\.\s*(?P<attr>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\[\s*(?P<quote>['\"])(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P=quote)\s*\])\s*-?\}\}"
)
_ANY = re.compile(r"(?<![\w.])secrets\b")


@dataclass(frozen=True)
class Misuse:
    """A secret written where or how it may not be: what is wrong and where."""

    message: str
    position: int | None


def _secret_name(node: jinja2.nodes.Node) -> str | None:
    """The name in `secrets.<name>` or `secrets['<name>']`, else None."""
    if isinstance(node, jinja2.nodes.Getattr):
        target, name = node.node, node.attr
    elif isinstance(node, jinja2.nodes.Getitem) and isinstance(node.arg, jinja2.nodes.Const):
        target, name = node.node, node.arg.value
    else:
        return None
    if isinstance(target, jinja2.nodes.Name) and target.name == ROOT and isinstance(name, str):
        return name
    return None


def _first_loose_use(text: str) -> int | None:
    """Where the first `secrets` outside a plain `{{ secrets.<name> }}` appears."""
    plain = [match.span() for match in _WHOLE.finditer(text)]
    for match in _ANY.finditer(text):
        if not any(start <= match.start() < end for start, end in plain):
            return match.start()
    return None


def misuses(text: str, *, expression: bool, credential_field: bool, allowed: str) -> list[Misuse]:
    """How a template (or bare expression) misuses secrets; empty when it does not.
    `credential_field` says whether its field sends credentials; `allowed` names the
    fields that do, for the message. Raises `ExpressionError` on a syntax error."""
    tree = parse_tree(text, expression=expression)
    uses = [
        node
        for node in tree.find_all(jinja2.nodes.Name)
        if node.name == ROOT and node.ctx == "load"
    ]
    if not uses:
        return []
    first = _ANY.search(text)
    if not credential_field:
        message = f"secrets are credentials: they may appear only in {allowed}"
        return [Misuse(message, first.start() if first else None)]
    plain: set[int] = set()
    if not expression:
        for output in tree.body:
            if isinstance(output, jinja2.nodes.Output):
                for child in output.nodes:
                    if _secret_name(child) is not None:
                        plain.add(id(child.node))  # type: ignore[attr-defined]
    if all(id(use) in plain for use in uses):
        return []
    loose = _first_loose_use(text)
    return [Misuse(FORM_MESSAGE, loose if loose is not None else first.start() if first else None)]


def whole_reference(text: str) -> str | None:
    """The secret's name when `text` is exactly one `{{ secrets.<name> }}`, else None."""
    match = _WHOLE.fullmatch(text.strip())
    if match is None:
        return None
    return match.group("attr") or match.group("key")
