"""Templates and expressions: Jinja2 in an immutable sandbox, one syntax everywhere.

A *template* is a config string containing `{{` or `{%`. `render_value` walks a
JSON value and renders every template string in it (dict keys are left as
written): a string that is exactly one `{{ ... }}` yields the expression's native
value (number, list, object, bool, null); text around it makes a string. An
*expression* is bare Jinja (`nodes.score.output > 0.8`), used by `condition`,
`switch`, `foreach.items` and `transform.expression`; `evaluate` runs one.

Scope roots: `inputs`, `nodes` (`nodes.<id>.output`, `.status`, `.error`), `vars`,
`secrets` (only inside activities), and `item`/`index` inside a `foreach` body.
On a JSON object, `x.key` prefers the key over a method of the same name, so
`output.items` is the `items` key of an API response.

Evaluation is deterministic and bounded, so it is safe inside workflow code:
no clock, randomness (`random` filter and `lipsum` are gone) or I/O (no loader:
`include`, `import`, `extends` are rejected); a missing key or name is an error
(unless tested with `is defined` or given a `default`). Every render runs under
one work budget (`auterity.graph.budget`): loop iterations, lookups, calls,
filters, operators and the text built all count, and whatever would build too
much is refused before it does. In text, `None` renders as an empty string,
booleans as `true`/`false`, and lists and objects as JSON (`| string`, `~` and
`join` too).

Every failure is an `ExpressionError`; syntax errors carry the character offset
in the source (newlines counted as one character).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import jinja2
import jinja2.environment
import jinja2.exceptions
import jinja2.lexer
import jinja2.meta
import jinja2.nodes
import jinja2.parser

from auterity.graph.budget import (
    MAX_DEPTH,
    MAX_OUTPUT_CHARS,
    MAX_STEPS,
    Budget,
    JsonSize,
    metered,
)
from auterity.graph.engine import ENGINE_MODULES, MAX_RANGE, make_environment, plain
from auterity.graph.errors import ExpressionError

__all__ = [
    "ENGINE_MODULES",
    "MAX_DEPTH",
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE",
    "MAX_SOURCE_CHARS",
    "MAX_STEPS",
    "SCOPE_ROOTS",
    "Budget",
    "ExpressionError",
    "Reference",
    "evaluate",
    "is_template",
    "node_fields",
    "parse_expression",
    "parse_template",
    "parse_tree",
    "reference_position",
    "referenced_names",
    "render_value",
    "vocabulary",
]

MAX_SOURCE_CHARS = 100_000
"""Longest accepted template or expression."""
MAX_TOKENS = 5_000
"""Most tokens (names, operators, literals, text runs) in one template or expression:
parsing costs by the token (about a millisecond per hundred), prose costs next to nothing."""
MAX_NESTING = 64
"""Deepest nesting of a template's syntax (brackets, operators, blocks): what is walked
recursively, here and by Python's own compiler, stays far from the recursion limit."""

SCOPE_ROOTS = frozenset({"inputs", "nodes", "vars", "secrets", "item", "index"})
"""Names a template may start from."""

_ENV = make_environment()


def vocabulary() -> dict[str, list[str]]:
    """What a template may name: scope roots, filters and tests (for a builder's completion)."""
    return {
        "roots": sorted(SCOPE_ROOTS),
        "filters": sorted(_ENV.filters),
        "tests": sorted(_ENV.tests),
        "globals": sorted(_ENV.globals),
    }


class Reference(NamedTuple):
    """A scope name a template reads, with its first attribute: `nodes.fetch.output`
    → `Reference("nodes", "fetch")`; a bare `inputs` → `Reference("inputs", None)`."""

    root: str
    name: str | None


# --- parsing ------------------------------------------------------------------------------


class _PositionedTokens:
    """Lexes a source and remembers where each token starts, for error positions."""

    def __init__(self, source: str, state: str | None) -> None:
        self.source = source
        self.state = state
        self.end = 0
        self.lexing_failed_at: int | None = None
        self._start = 0
        self._starts: list[tuple[jinja2.lexer.Token, int]] = []

    def open(self) -> jinja2.lexer.TokenStream:
        return jinja2.lexer.TokenStream(self._tokens(), None, None)

    def _raw(self) -> Iterator[tuple[int, str, str]]:
        try:
            for lineno, kind, value in _ENV.lexer.tokeniter(self.source, None, None, self.state):
                found = self.source.find(value, self.end) if value else -1
                self._start = found if found >= 0 else self.end
                self.end = self._start + len(value)
                yield lineno, kind, value
        except jinja2.exceptions.TemplateSyntaxError:
            self.lexing_failed_at = self.end
            raise

    def _tokens(self) -> Iterator[jinja2.lexer.Token]:
        for token in _ENV.lexer.wrap(self._raw(), None, None):
            self._starts.append((token, self._start))
            if len(self._starts) > MAX_TOKENS:
                raise jinja2.exceptions.TemplateSyntaxError(
                    f"more than {MAX_TOKENS:,} tokens: split it, or move data into inputs",
                    token.lineno,
                )
            yield token

    def error_position(self, stream: jinja2.lexer.TokenStream | None) -> int:
        """Where lexing stopped, else where the parser's current token starts."""
        if self.lexing_failed_at is not None or stream is None:
            return self.lexing_failed_at if self.lexing_failed_at is not None else self.end
        token = stream.current
        if token.type == jinja2.lexer.TOKEN_EOF:
            return len(self.source)
        for seen, start in reversed(self._starts):
            if seen is token:
                return start
        return self.end


_UNSUPPORTED_TAGS: dict[type[jinja2.nodes.Node], str] = {
    jinja2.nodes.Extends: "extends",
    jinja2.nodes.Include: "include",
    jinja2.nodes.Import: "import",
    jinja2.nodes.FromImport: "from",
}


def _search(source: str, pattern: str) -> int | None:
    match = re.search(pattern, source)
    return match.start() if match else None


def _check_names(source: str, tree: jinja2.nodes.Node) -> None:
    """Rejects tags that load templates, and filters or tests that do not exist."""
    for node_type, tag in _UNSUPPORTED_TAGS.items():
        if tree.find(node_type) is not None:
            raise ExpressionError(
                f"'{tag}' is not available: templates cannot load other templates",
                _search(source, rf"\{{%-?\s*{tag}\b"),
            )
    for node in [tree, *tree.find_all((jinja2.nodes.Filter, jinja2.nodes.Test))]:
        if isinstance(node, jinja2.nodes.Filter) and node.name not in _ENV.filters:
            raise ExpressionError(
                f"unknown filter {node.name!r}", _search(source, rf"\|\s*{node.name}\b")
            )
        if isinstance(node, jinja2.nodes.Test) and node.name not in _ENV.tests:
            raise ExpressionError(
                f"unknown test {node.name!r}", _search(source, rf"\bis\s+(?:not\s+)?{node.name}\b")
            )


@functools.lru_cache(maxsize=32)
def _parse(source: str, *, expression: bool) -> jinja2.nodes.Node:
    """The parsed tree, shared read-only: validating a template parses it once for every
    check (a long one takes seconds)."""
    if not isinstance(source, str):
        raise ExpressionError(f"expected text, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise ExpressionError(f"longer than {MAX_SOURCE_CHARS} characters")
    source = re.sub(r"\r\n?", "\n", source)
    if expression:
        stripped = source.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            raise ExpressionError(
                "a bare expression takes no {{ }}: write what is inside them",
                source.index("{{"),
            )
    state = "variable" if expression else None
    tokens = _PositionedTokens(source, state)
    stream: jinja2.lexer.TokenStream | None = None
    try:
        stream = tokens.open()
        parser = jinja2.parser.Parser(_ENV, source, state=state)
        parser.stream = stream
        tree: jinja2.nodes.Node
        if expression:
            tree = parser.parse_expression()
            if not stream.eos:
                parser.fail(
                    f"unexpected {jinja2.lexer.describe_token(stream.current)!r} after the "
                    "expression",
                    stream.current.lineno,
                )
        else:
            tree = parser.parse()
    except jinja2.exceptions.TemplateSyntaxError as error:
        message = re.sub(r" at \d+$", "", error.message or "syntax error")
        raise ExpressionError(message, tokens.error_position(stream)) from None
    except RecursionError:
        raise _too_deep(tokens.end) from None
    if _depth(tree) > MAX_NESTING:
        raise _too_deep(None)
    _check_names(source, tree)
    return tree


def _too_deep(position: int | None) -> ExpressionError:
    return ExpressionError(f"nested more than {MAX_NESTING} levels deep", position)


def _depth(tree: jinja2.nodes.Node) -> int:
    """How deep a parsed tree nests, walked without recursion."""
    deepest = 0
    pending = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_NESTING:
            pending.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


@dataclass(frozen=True)
class _Template:
    source: str
    native: jinja2.environment.TemplateExpression | None
    text: jinja2.Template | None


def _as_expression(expr: jinja2.nodes.Expr) -> jinja2.environment.TemplateExpression:
    expr.set_environment(_ENV)
    body = [jinja2.nodes.Assign(jinja2.nodes.Name("result", "store"), expr, lineno=1)]
    try:
        template = _ENV.from_string(jinja2.nodes.Template(body, lineno=1))
    except (jinja2.exceptions.TemplateSyntaxError, SyntaxError, RecursionError) as error:
        raise ExpressionError(_compile_error(error)) from None
    return jinja2.environment.TemplateExpression(template, undefined_to_none=False)


@functools.lru_cache(maxsize=4096)
def _compile_template(source: str) -> _Template:
    tree = _parse(source, expression=False)
    assert isinstance(tree, jinja2.nodes.Template)
    body = tree.body
    if (
        len(body) == 1
        and isinstance(body[0], jinja2.nodes.Output)
        and len(body[0].nodes) == 1
        and not isinstance(body[0].nodes[0], jinja2.nodes.TemplateData)
    ):
        return _Template(source, _as_expression(body[0].nodes[0]), None)
    try:
        return _Template(source, None, _ENV.from_string(tree))
    except (jinja2.exceptions.TemplateSyntaxError, SyntaxError, RecursionError) as error:
        raise ExpressionError(_compile_error(error)) from None


def _compile_error(error: Exception) -> str:
    if isinstance(error, jinja2.exceptions.TemplateSyntaxError):
        return error.message or "invalid template"
    return f"too complex to compile ({type(error).__name__}): nest it less deeply"


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> jinja2.environment.TemplateExpression:
    tree = _parse(source, expression=True)
    assert isinstance(tree, jinja2.nodes.Expr)
    return _as_expression(tree)


def is_template(text: str) -> bool:
    """Whether a config string is rendered: it contains `{{` or `{%`."""
    return "{{" in text or "{%" in text


def parse_template(text: str) -> None:
    """Checks a template's syntax; raises `ExpressionError` with the offset."""
    _compile_template(text)


def parse_expression(text: str) -> None:
    """Checks a bare expression's syntax; raises `ExpressionError` with the offset."""
    _compile_expression(text)


# --- references ---------------------------------------------------------------------------


def parse_tree(text: str, *, expression: bool = False) -> jinja2.nodes.Template:
    """The parsed tree of a template (a bare expression is wrapped as one `{{ }}`)."""
    tree = _parse(text, expression=expression)
    if isinstance(tree, jinja2.nodes.Expr):
        tree = jinja2.nodes.Template([jinja2.nodes.Output([tree], lineno=1)], lineno=1)
        tree.set_environment(_ENV)
    assert isinstance(tree, jinja2.nodes.Template)
    return tree


def _lookup(node: jinja2.nodes.Node) -> tuple[jinja2.nodes.Expr, str | None] | None:
    """For `x.key` or `x['key']`: the looked-up expression and the constant key (None
    when the key is computed); None for any other node."""
    if isinstance(node, jinja2.nodes.Getattr):
        return node.node, node.attr
    if isinstance(node, jinja2.nodes.Getitem):
        key = node.arg.value if isinstance(node.arg, jinja2.nodes.Const) else None
        return node.node, key if isinstance(key, str) else None
    return None


def _lookups(tree: jinja2.nodes.Node) -> Iterator[tuple[jinja2.nodes.Expr, str | None]]:
    """Every lookup in a tree, see `_lookup`."""
    for node in tree.find_all((jinja2.nodes.Getattr, jinja2.nodes.Getitem)):
        found = _lookup(node)
        if found is not None:
            yield found


@functools.lru_cache(maxsize=4096)
def referenced_names(text: str, *, expression: bool = False) -> frozenset[Reference]:
    """The scope names a template (or, with `expression=True`, a bare expression)
    reads from outside itself, each with its first attribute when it is a constant:
    `{{ nodes.a.output }}` and `{{ nodes['a'] }}` both give `Reference("nodes", "a")`.
    Raises `ExpressionError` on a syntax error."""
    if not expression and not is_template(text):
        return frozenset()
    tree = parse_tree(text, expression=expression)
    free = jinja2.meta.find_undeclared_variables(tree)
    references: set[Reference] = set()
    attributed: set[int] = set()
    for target, key in _lookups(tree):
        if isinstance(target, jinja2.nodes.Name) and target.name in free:
            references.add(Reference(target.name, key))
            attributed.add(id(target))
    for node in tree.find_all(jinja2.nodes.Name):
        if node.ctx == "load" and node.name in free and id(node) not in attributed:
            references.add(Reference(node.name, None))
    return frozenset(references)


@functools.lru_cache(maxsize=4096)
def node_fields(text: str, *, expression: bool = False) -> frozenset[tuple[str, str]]:
    """The `(node id, field)` pairs of `nodes.<id>.<field>` lookups with constant keys:
    `{{ nodes.a.output.text }}` gives `("a", "output")`."""
    if not expression and not is_template(text):
        return frozenset()
    tree = parse_tree(text, expression=expression)
    free = jinja2.meta.find_undeclared_variables(tree)
    fields: set[tuple[str, str]] = set()
    if "nodes" not in free:
        return frozenset()
    for target, field in _lookups(tree):
        inner = _lookup(target)
        if field is None or inner is None:
            continue
        root, node_id = inner
        if isinstance(root, jinja2.nodes.Name) and root.name == "nodes" and node_id is not None:
            fields.add((node_id, field))
    return frozenset(fields)


def reference_position(text: str, reference: Reference) -> int | None:
    """Where a reference first appears in its source, if it can be found."""
    root = re.escape(reference.root)
    if reference.name is not None:
        name = re.escape(reference.name)
        found = _search(text, rf"\b{root}\s*(?:\.\s*{name}\b|\[\s*['\"]{name}['\"])")
        if found is not None:
            return found
    return _search(text, rf"(?<![\w.]){root}\b")


# --- evaluation ---------------------------------------------------------------------------


def _is_sandbox_error(error: Exception) -> bool:
    """Errors of the host (say Temporal's workflow sandbox) are bugs, not template errors."""
    return type(error).__module__.startswith("temporalio")


def _evaluation_error(error: Exception) -> ExpressionError:
    if isinstance(error, ExpressionError):
        return error
    if isinstance(error, jinja2.exceptions.UndefinedError):
        return ExpressionError(error.message or "undefined value")
    if isinstance(error, jinja2.exceptions.SecurityError):
        return ExpressionError(f"not allowed: {error}")
    if isinstance(error, RecursionError):
        return ExpressionError("recursion too deep")
    return ExpressionError(f"{type(error).__name__}: {error}")


def _render_text(template: jinja2.Template, scope: Mapping[str, Any], size: JsonSize) -> str:
    chunks: list[str] = []
    for chunk in template.generate(dict(scope)):
        size.grow(len(chunk))
        chunks.append(chunk)
    return "".join(chunks)


def _render_string(text: str, scope: Mapping[str, Any], size: JsonSize) -> Any:
    if not is_template(text):
        size.grow(len(text))
        return text
    compiled = _compile_template(text)
    if compiled.native is not None:
        return plain(compiled.native(scope), size)
    assert compiled.text is not None
    return _render_text(compiled.text, scope, size)


def _render(value: Any, scope: Mapping[str, Any], size: JsonSize, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"the value is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return _render_string(value, scope, size)
    if isinstance(value, Mapping):
        return {key: _render(item, scope, size, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item, scope, size, depth + 1) for item in value]
    return value


def render_value(value: Any, scope: Mapping[str, Any], budget: Budget | None = None) -> Any:
    """Renders every template string inside a JSON value (see the module docstring) under
    `budget` (a fresh one when None; pass one to share it between a node's fields)."""
    with metered(budget) as current:
        try:
            result = _render(value, scope, JsonSize(current.max_chars), 0)
            current.check_clock()
            return result
        except Exception as error:  # anything a template does wrong is the template's error
            if _is_sandbox_error(error):
                raise
            raise _evaluation_error(error) from None


def evaluate(expression: str, scope: Mapping[str, Any], budget: Budget | None = None) -> Any:
    """The JSON value of a bare expression, under `budget` as in `render_value`."""
    with metered(budget) as current:
        try:
            result = plain(_compile_expression(expression)(scope), JsonSize(current.max_chars))
            current.check_clock()
            return result
        except Exception as error:  # anything an expression does wrong is its error
            if _is_sandbox_error(error):
                raise
            raise _evaluation_error(error) from None
