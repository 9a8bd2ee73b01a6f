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
(unless tested with `is defined` or given a `default`); `range()` is capped, as
are the size of the rendered value, repetition and padding, and the number of
attribute lookups and calls. In text, `None` renders as an empty string, booleans
as `true`/`false`, and lists and objects as JSON.

Every failure is an `ExpressionError`; syntax errors carry the character offset
in the source (newlines counted as one character).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NamedTuple

import jinja2
import jinja2.debug  # noqa: F401 - Jinja imports it lazily on errors; the workflow sandbox wants it now
import jinja2.environment
import jinja2.exceptions
import jinja2.lexer
import jinja2.meta
import jinja2.nodes
import jinja2.parser
import jinja2.runtime
import jinja2.sandbox
import jinja2.utils

MAX_SOURCE_CHARS = 100_000
"""Longest accepted template or expression."""
MAX_OUTPUT_CHARS = 1_000_000
"""Largest rendered value (characters of text, roughly bytes of JSON)."""
MAX_RANGE = 10_000
"""Most items one `range()` may produce."""
MAX_STEPS = 1_000_000
"""Most attribute lookups, calls, operators and range items in one evaluation."""
MAX_DEPTH = 64
"""Deepest nesting of lists and objects in a value."""

ENGINE_MODULES = tuple(
    sorted(name for name in sys.modules if name.partition(".")[0] in ("jinja2", "markupsafe"))
)
"""Every module of the template engine, loaded up front: Jinja imports some of them while
compiling, so Temporal's workflow sandbox must be given them all as pass-through."""

SCOPE_ROOTS = frozenset({"inputs", "nodes", "vars", "secrets", "item", "index"})
"""Names a template may start from."""


class ExpressionError(Exception):
    """A template or expression that cannot be parsed or evaluated."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (at position {self.position})"


class Reference(NamedTuple):
    """A scope name a template reads, with its first attribute: `nodes.fetch.output`
    → `Reference("nodes", "fetch")`; a bare `inputs` → `Reference("inputs", None)`."""

    root: str
    name: str | None


# --- work budget --------------------------------------------------------------------------


class _Budget:
    __slots__ = ("steps", "output")

    def __init__(self) -> None:
        self.steps = 0
        self.output = 0

    def step(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > MAX_STEPS:
            raise ExpressionError(f"evaluation does too much work (over {MAX_STEPS} steps)")

    def grow(self, size: int) -> None:
        self.output += size
        if self.output > MAX_OUTPUT_CHARS:
            raise ExpressionError(f"the value is too large (over {MAX_OUTPUT_CHARS} characters)")


_budget: ContextVar[_Budget | None] = ContextVar("auterity_expression_budget", default=None)


def _step(count: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.step(count)


@contextlib.contextmanager
def _metered() -> Iterator[_Budget]:
    """One evaluation's budget; nested calls share the outermost one."""
    current = _budget.get()
    if current is not None:
        yield current
        return
    budget = _Budget()
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise ExpressionError(f"{what} would be too large (over {MAX_OUTPUT_CHARS} characters)")


_PRINTF_HUGE = re.compile(r"%[-#0 +]*(?:\*|\d{7,})|%[-#0 +]*\d*\.(?:\*|\d{7,})")
_FORMAT_HUGE = re.compile(r"\{[^{}]*:[^{}]*(?:\{|\d{7,})")


def _check_printf(fmt: object) -> None:
    if isinstance(fmt, str) and _PRINTF_HUGE.search(fmt):
        raise ExpressionError("format widths of a million or more, or '*', are not allowed")


# --- the environment ----------------------------------------------------------------------


class _Undefined(jinja2.StrictUndefined):
    """Fails on any use but `is defined` and `default`."""

    __slots__ = ()


class _Namespace(jinja2.utils.Namespace):
    """`namespace()`, charging each assignment by the size of the value."""

    def __setitem__(self, name: str, value: Any) -> None:
        size = len(value) if isinstance(value, str | list | dict | tuple) else 1
        _check_size(size, "the value")
        _step(1 + size // 100)
        super().__setitem__(name, value)


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise ExpressionError(f"range() may produce at most {MAX_RANGE} items")
    _step(len(numbers))
    return numbers


def _keys_hint(mapping: Mapping[Any, Any], key: object) -> str:
    keys = [repr(k) for k in list(mapping)[:10]]
    more = ", ..." if len(mapping) > 10 else ""
    available = f"its keys are {', '.join(keys)}{more}" if keys else "it is empty"
    return f"the object has no key {key!r} ({available})"


def _binop(operator: str, left: Any, right: Any) -> None:
    """Refuses operations whose result would be huge before computing them."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(count, int):
                _check_size(len(seq) * max(count, 0), "the repeated value")
    elif operator == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and abs(left).bit_length() * right > 100_000
        ):
            raise ExpressionError("the power is too large")
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _check_size(len(left) + len(right), "the concatenation")
    elif operator == "%":
        _check_printf(left)


def _str_method(obj: Any, args: tuple[Any, ...]) -> None:
    """Checks padding and replacement on `str` methods called from a template."""
    target = getattr(obj, "__wrapped__", obj)
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str) or not args:
        return
    name = getattr(target, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill") and isinstance(args[0], int):
        _check_size(args[0], f"{name}()")
    elif name == "expandtabs" and isinstance(args[0], int):
        _check_size(len(owner) + owner.count("\t") * args[0], "expandtabs()")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], args[1]
        if isinstance(new, str):
            hits = len(owner) + 1 if old == "" else owner.count(old)
            _check_size(len(owner) + hits * max(len(new) - len(old), 0), "replace()")


class _Environment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        _step()
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                value = super().getattr(obj, attribute)
                if isinstance(value, jinja2.Undefined):
                    return self.undefined(obj=obj, name=attribute, hint=_keys_hint(obj, attribute))
                return value
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _step()
        value = super().getitem(obj, argument)
        if isinstance(value, jinja2.Undefined) and isinstance(obj, Mapping):
            return self.undefined(obj=obj, name=argument, hint=_keys_hint(obj, argument))
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _step()
        _str_method(__obj, args)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _step()
        _binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _FORMAT_HUGE.search(value.__self__):
            raise ExpressionError("format widths of a million or more are not allowed")
        return wrapped


def _bounded_filters(filters: dict[str, Callable[..., Any]]) -> None:
    center, indent, fmt, batch, slice_, tojson, replace = (
        filters[name]
        for name in ("center", "indent", "format", "batch", "slice", "tojson", "replace")
    )

    def do_center(value: Any, width: int = 80) -> str:
        _check_size(width, "center")
        return center(value, width)

    def do_indent(
        value: Any, width: int | str = 4, first: bool = False, blank: bool = False
    ) -> str:
        if isinstance(width, int):
            _check_size(width * (str(value).count("\n") + 1), "indent")
        return indent(value, width, first, blank)

    def do_format(value: Any, *args: Any, **kwargs: Any) -> str:
        _check_printf(value)
        return fmt(value, *args, **kwargs)

    def do_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        _check_size(linecount, "batch")
        return batch(value, linecount, fill_with)

    def do_slice(value: Any, slices: int, fill_with: Any = None) -> Any:
        _check_size(slices, "slice")
        return slice_(value, slices, fill_with)

    @functools.wraps(tojson)
    def do_tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        if isinstance(indent, int):
            _check_size(indent * 1000, "tojson indent")
        return tojson(eval_ctx, value, indent)

    @functools.wraps(replace)
    def do_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None) -> Any:
        _str_method(str(value).replace, (str(old), str(new)))
        return replace(eval_ctx, value, old, new, count)

    filters.update(
        center=do_center,
        indent=do_indent,
        format=do_format,
        batch=do_batch,
        slice=do_slice,
        tojson=do_tojson,
        replace=do_replace,
    )
    del filters["random"]


def _text(value: Any) -> Any:
    """How a `{{ }}` inside text prints: JSON for lists and objects."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return value
    return json.dumps(_plain(value, _Budget()), ensure_ascii=False)


def _make_environment() -> _Environment:
    env = _Environment(undefined=_Undefined, finalize=_text, autoescape=False)
    env.globals.pop("lipsum")
    env.globals.update(range=_range, namespace=_Namespace)
    _bounded_filters(env.filters)
    return env


_ENV = _make_environment()


def vocabulary() -> dict[str, list[str]]:
    """What a template may name: scope roots, filters and tests (for a builder's completion)."""
    return {
        "roots": sorted(SCOPE_ROOTS),
        "filters": sorted(_ENV.filters),
        "tests": sorted(_ENV.tests),
        "globals": sorted(_ENV.globals),
    }


# --- values -------------------------------------------------------------------------------


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, int | float):
        return str(key)
    raise ExpressionError(f"an object key must be text, not {type(key).__name__}")


def _plain(value: Any, budget: _Budget, depth: int = 0) -> Any:
    """The JSON value of an evaluation result; fails on undefined and non-JSON values."""
    if depth > MAX_DEPTH:
        raise ExpressionError(f"the value is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, jinja2.Undefined):
        raise ExpressionError(value._undefined_message)
    if value is None or isinstance(value, bool | int):
        budget.grow(8)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"{value} is not a JSON number")
        budget.grow(8)
        return value
    if isinstance(value, str):
        budget.grow(len(value))
        return str(value)
    if isinstance(value, Mapping):
        budget.grow(2)
        return {_key(k): _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | range | Iterator):
        budget.grow(2)
        return [_plain(item, budget, depth + 1) for item in value]
    raise ExpressionError(f"the result is a {type(value).__name__}, which is not a JSON value")


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


def _parse(source: str, *, expression: bool) -> jinja2.nodes.Node:
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
    _check_names(source, tree)
    return tree


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
    except jinja2.exceptions.TemplateSyntaxError as error:
        raise ExpressionError(error.message or "invalid expression") from None
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
    except jinja2.exceptions.TemplateSyntaxError as error:
        raise ExpressionError(error.message or "invalid template") from None


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


def _template_tree(text: str, expression: bool) -> jinja2.nodes.Template:
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
    tree = _template_tree(text, expression)
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
    tree = _template_tree(text, expression)
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


def _render_text(template: jinja2.Template, scope: Mapping[str, Any], budget: _Budget) -> str:
    chunks: list[str] = []
    for chunk in template.generate(dict(scope)):
        budget.grow(len(chunk))
        chunks.append(chunk)
    return "".join(chunks)


def _render_string(text: str, scope: Mapping[str, Any], budget: _Budget) -> Any:
    if not is_template(text):
        budget.grow(len(text))
        return text
    compiled = _compile_template(text)
    if compiled.native is not None:
        return _plain(compiled.native(scope), budget)
    assert compiled.text is not None
    return _render_text(compiled.text, scope, budget)


def _render(value: Any, scope: Mapping[str, Any], budget: _Budget, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"the value is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return _render_string(value, scope, budget)
    if isinstance(value, Mapping):
        return {key: _render(item, scope, budget, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_render(item, scope, budget, depth + 1) for item in value]
    return value


def render_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """Renders every template string inside a JSON value; see the module docstring."""
    with _metered() as budget:
        try:
            return _render(value, scope, budget, 0)
        except Exception as error:  # anything a template does wrong is the template's error
            if _is_sandbox_error(error):
                raise
            raise _evaluation_error(error) from None


def evaluate(expression: str, scope: Mapping[str, Any]) -> Any:
    """The JSON value of a bare expression."""
    with _metered() as budget:
        try:
            return _plain(_compile_expression(expression)(scope), budget)
        except Exception as error:  # anything an expression does wrong is its error
            if _is_sandbox_error(error):
                raise
            raise _evaluation_error(error) from None
