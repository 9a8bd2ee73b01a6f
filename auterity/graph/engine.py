"""The template engine: Jinja2's immutable sandbox, metered by `auterity.graph.budget`.

`Environment` and its code generator route every loop iteration, lookup, call,
filter, test, operator, comparison, slice, `~` and text buffer (`{% set %}`
blocks, macros) through the render's budget; what would build too much
(repetition, padding, `replace`, `join`, any conversion to text, `batch` and
`slice` fill values) is refused before it runs; macro calls and recursive loops
nest at most `MAX_CALL_DEPTH` deep. Compile-time constant folding is off, so
saving a template runs none of it.

In text, lists and objects print as JSON, `None` as nothing and booleans as
`true`/`false`: in output, through `| string`, `~`, `join` and `%`-formatting
alike. Compat budgets (runs started before the budget) keep Python's `str` in
those four.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
import jinja2.compiler
import jinja2.debug  # noqa: F401 - Jinja imports it lazily on errors; the workflow sandbox wants it now
import jinja2.nodes
import jinja2.runtime
import jinja2.sandbox
import jinja2.utils

from auterity.graph.budget import (
    CHARS_PER_STEP,
    FILTER_STEPS,
    LOOKUP_STEPS,
    MAX_CALL_DEPTH,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_OUTPUT_CHARS,
    NESTED_CALL_STEPS,
    Budget,
    JsonSize,
    charge,
    charge_size,
    check_size,
    check_text,
    current_budget,
    in_compat,
    step,
    text_size,
)
from auterity.graph.errors import ExpressionError

MAX_RANGE = 10_000
"""Most items one `range()` may produce."""

ENGINE_MODULES = tuple(
    sorted(name for name in sys.modules if name.partition(".")[0] in ("jinja2", "markupsafe"))
)
"""Every module of the template engine, loaded up front: Jinja imports some of them while
compiling, so Temporal's workflow sandbox must be given them all as pass-through."""


_PRINTF_HUGE = re.compile(r"%[-#0 +]*(?:\*|\d{7,})|%[-#0 +]*\d*\.(?:\*|\d{7,})")
_FORMAT_HUGE = re.compile(r"\{[^{}]*:[^{}]*(?:\{|\d{7,})")


def _check_printf(fmt: object, args: Any) -> None:
    if not isinstance(fmt, str):
        return
    if _PRINTF_HUGE.search(fmt):
        raise ExpressionError("format widths of a million or more, or '*', are not allowed")
    check_size(len(fmt) + text_size(args), "the formatted text")


# --- values as text -----------------------------------------------------------------------


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, int | float):
        return str(key)
    raise ExpressionError(f"an object key must be text, not {type(key).__name__}")


def plain(value: Any, size: JsonSize, depth: int = 0) -> Any:
    """The JSON value of an evaluation result; fails on undefined and non-JSON values.
    Charges a step per item and per `CHARS_PER_STEP` characters."""
    if depth > MAX_DEPTH:
        raise ExpressionError(f"the value is nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is str:
        size.grow(len(value))
        if len(value) >= CHARS_PER_STEP:
            charge_size(value)
        return value
    if kind is int or kind is bool or value is None:
        size.grow(8)
        return value
    if kind is dict:
        size.grow(2)
        charge(1 + len(value))
        return {
            k if type(k) is str else _key(k): plain(v, size, depth + 1) for k, v in value.items()
        }
    if kind is list:
        size.grow(2)
        charge(1 + len(value))
        return [plain(item, size, depth + 1) for item in value]
    if isinstance(value, jinja2.Undefined):
        raise ExpressionError(value._undefined_message)
    if value is None or isinstance(value, bool | int):
        size.grow(8)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"{value} is not a JSON number")
        size.grow(8)
        return value
    if isinstance(value, str):
        size.grow(len(value))
        charge_size(value)
        return str(value)
    if isinstance(value, Mapping):
        size.grow(2)
        charge(1 + len(value))
        return {_key(k): plain(v, size, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | range | Iterator):
        size.grow(2)
        items = [plain(item, size, depth + 1) for item in value]
        charge(1 + len(items))
        return items
    raise ExpressionError(f"the result is a {type(value).__name__}, which is not a JSON value")


def to_text(value: Any) -> str:
    """How a value reads in text: itself for text and numbers, nothing for None, `true` and
    `false`, and JSON for lists and objects."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = json.dumps(plain(value, JsonSize()), ensure_ascii=False)
    charge_size(text)
    return text


def _finalize(value: Any) -> Any:
    """How a `{{ }}` inside text prints (numbers stay numbers for Jinja to print)."""
    charge()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return to_text(value)


def _text_of(value: Any) -> str:
    """`to_text`, or Python's `str` for compat budgets; the caller checked the size."""
    return str(value) if in_compat() else to_text(value)


def _as_text(value: Any) -> str:
    check_text(value, "the text")
    return _text_of(value)


def _json_args(fmt: str, args: Any) -> Any:
    """`%`-format arguments with lists and objects as JSON (not for compat budgets)."""
    if in_compat():
        return args
    if isinstance(args, tuple):
        return tuple(to_text(a) if isinstance(a, list | Mapping) else a for a in args)
    if isinstance(args, list) or (isinstance(args, Mapping) and "%(" not in fmt):
        return to_text(args)
    return args


# --- the environment ----------------------------------------------------------------------


class _Undefined(jinja2.StrictUndefined):
    """Fails on any use but `is defined` and `default`."""

    __slots__ = ()


class _Namespace(jinja2.utils.Namespace):
    """`namespace()`, charging each assignment by the size of the value."""

    def __setitem__(self, name: str, value: Any) -> None:
        size = len(value) if isinstance(value, str | list | dict | tuple) else 1
        check_size(size, "the value")
        step(1 + size // 100)
        super().__setitem__(name, value)


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise ExpressionError(f"range() may produce at most {MAX_RANGE} items")
    step(len(numbers))
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
                times = max(count, 0)
                check_size(len(seq) * times, "the repeated value")
                if times and not isinstance(seq, str):
                    check_size(
                        text_size(seq, MAX_OUTPUT_CHARS // times) * times, "the repeated value"
                    )
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > MAX_INT_BITS
        ):
            raise ExpressionError("the number is too large")
    elif operator == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and abs(left).bit_length() * right > MAX_INT_BITS
        ):
            raise ExpressionError("the power is too large")
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            check_size(len(left) + len(right), "the concatenation")
            if not isinstance(left, str):
                check_size(text_size(left) + text_size(right), "the concatenation")
    elif operator == "%":
        _check_printf(left, right)


def _receiver(obj: Any) -> Any:
    """The object a bound method called from a template belongs to."""
    return getattr(getattr(obj, "__wrapped__", obj), "__self__", None)


def _str_method(obj: Any, args: tuple[Any, ...]) -> None:
    """Checks what `str` methods called from a template would build."""
    target = getattr(obj, "__wrapped__", obj)
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(target, "__name__", "")
    if name in ("format", "format_map"):
        check_size(len(owner) + text_size(args), f"{name}()")
        return
    if not args:
        return
    if name in ("center", "ljust", "rjust", "zfill") and isinstance(args[0], int):
        check_size(args[0], f"{name}()")
    elif name == "expandtabs" and isinstance(args[0], int):
        check_size(len(owner) + owner.count("\t") * args[0], "expandtabs()")
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], args[1]
        if isinstance(new, str):
            hits = len(owner) + 1 if old == "" else owner.count(old)
            check_size(len(owner) + hits * max(len(new) - len(old), 0), "replace()")
    elif name == "join" and isinstance(args[0], list | tuple):
        check_size(text_size(args[0]) + len(owner) * len(args[0]), "join()")


def _metered_items(items: Iterable[Any], budget: Budget) -> Iterator[Any]:
    for item in items:
        budget.charge(1)
        yield item


def _compare(left: Any, op: str, right: Any) -> bool:
    charge(1)
    if op in ("in", "notin"):
        charge_size(right, deep=True)
        found = operator.contains(right, left)
        return found if op == "in" else not found
    if isinstance(left, str | list | tuple | Mapping):
        charge_size(left, deep=True)
        charge_size(right, deep=True)
    return bool(_COMPARISONS[op](left, right))


_COUNTED_BEFORE = frozenset({"*", "**", "+", "%"})
"""Operators compat budgets count (the others came with the budget)."""

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gteq": operator.ge,
    "lt": operator.lt,
    "lteq": operator.le,
}


class _OutputBuffer(list[str]):
    """The text a `{% set %}` block, macro, call or filter block builds, charged and capped."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def append(self, chunk: str) -> None:
        self.size += len(chunk)
        check_size(self.size, "the text")
        charge_size(chunk)
        super().append(chunk)

    def extend(self, chunks: Iterable[str]) -> None:
        for chunk in chunks:
            self.append(chunk)


class _CodeGenerator(jinja2.compiler.CodeGenerator):
    """Jinja's code generator, routing loops, `~`, comparisons, slices and text buffers
    through the budget."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()

    def visit(self, node: jinja2.nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) in self._loop_iterables:
            self.write("environment.meter_iter(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        return super().visit(node, *args, **kwargs)

    def buffer(self, frame: jinja2.compiler.Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")

    def visit_For(self, node: jinja2.nodes.For, frame: jinja2.compiler.Frame) -> None:
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit_Concat(self, node: jinja2.nodes.Concat, frame: jinja2.compiler.Frame) -> None:
        self.write("environment.concat_text((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("))")

    def visit_Compare(self, node: jinja2.nodes.Compare, frame: jinja2.compiler.Frame) -> None:
        self.write("environment.compare(")
        self.visit(node.expr, frame)
        self.write(", (")
        for operand in node.ops:
            self.write(f"({operand.op!r}, ")
            self.visit(operand.expr, frame)
            self.write("), ")
        self.write("))")

    def visit_Getitem(self, node: jinja2.nodes.Getitem, frame: jinja2.compiler.Frame) -> None:
        if not isinstance(node.arg, jinja2.nodes.Slice):
            super().visit_Getitem(node, frame)
            return
        self.write("environment.slice_of(")
        self.visit(node.node, frame)
        for part in (node.arg.start, node.arg.stop, node.arg.step):
            self.write(", ")
            if part is None:
                self.write("None")
            else:
                self.visit(part, frame)
        self.write(")")


class Environment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The sandbox, metered: see the module docstring."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "-", "//", "/"})
    code_generator_class = _CodeGenerator

    def getattr(self, obj: Any, attribute: str) -> Any:
        step()
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        charge(LOOKUP_STEPS)
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
        step()
        if type(obj) is dict or type(obj) is list:
            try:
                return obj[argument]
            except (TypeError, LookupError):
                pass
        charge(LOOKUP_STEPS)
        value = super().getitem(obj, argument)
        if isinstance(value, jinja2.Undefined) and isinstance(obj, Mapping):
            return self.undefined(obj=obj, name=argument, hint=_keys_hint(obj, argument))
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        step()
        _str_method(__obj, args)
        budget = current_budget()
        if budget is None:
            return super().call(__context, __obj, *args, **kwargs)
        budget.charge(LOOKUP_STEPS)
        receiver = _receiver(__obj)
        if isinstance(receiver, str | list | tuple):
            charge_size(receiver)
        nested = isinstance(__obj, jinja2.runtime.Macro | jinja2.runtime.LoopContext)
        if isinstance(__obj, jinja2.runtime.LoopContext) and args and not budget.compat:
            args = (_metered_items(args[0], budget), *args[1:])
        if nested:
            budget.charge(NESTED_CALL_STEPS)
            budget.depth += 1
            if budget.depth > MAX_CALL_DEPTH:
                raise ExpressionError(f"macro calls nest deeper than {MAX_CALL_DEPTH} levels")
        try:
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            if nested:
                budget.depth -= 1
        charge_size(result)
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator in _COUNTED_BEFORE:
            step()
        else:
            charge()
        _binop(operator, left, right)
        if operator == "%" and isinstance(left, str):
            right = _json_args(left, right)
        result = super().call_binop(context, operator, left, right)
        charge_size(result)
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None and _FORMAT_HUGE.search(value.__self__):
            raise ExpressionError("format widths of a million or more are not allowed")
        return wrapped

    # Called by the code `_CodeGenerator` writes.

    def meter_iter(self, items: Any) -> Any:
        """Every loop's items, one step each."""
        budget = current_budget()
        if budget is None or budget.compat or isinstance(items, jinja2.Undefined):
            return items
        return _metered_items(items, budget)

    def concat_text(self, parts: tuple[Any, ...]) -> str:
        """`a ~ b`."""
        charge()
        check_size(sum(text_size(part) for part in parts), "the concatenation")
        text = "".join(_text_of(part) for part in parts)
        charge_size(text)
        return text

    def compare(self, left: Any, operations: tuple[tuple[str, Any], ...]) -> bool:
        """`a == b`, `a in b`, `a < b < c` (every operand evaluated)."""
        for op, right in operations:
            if not _compare(left, op, right):
                return False
            left = right
        return True

    def slice_of(self, obj: Any, start: Any, stop: Any, stride: Any) -> Any:
        """`x[a:b:c]`."""
        step()
        result = obj[start:stop:stride]
        charge_size(result)
        return result

    def output_buffer(self) -> _OutputBuffer:
        return _OutputBuffer()


# --- filters and tests --------------------------------------------------------------------

_CONSTANT_TIME = frozenset(
    {"abs", "attr", "count", "length", "default", "d", "first", "float", "int", "round",
     "safe", "filesizeformat", "batch", "slice", "map", "select", "reject", "selectattr",
     "rejectattr", "items"}
)  # fmt: skip
"""Filters whose cost does not grow with their input (lazy ones are charged per item)."""
_SORTING = frozenset({"sort", "dictsort", "groupby", "unique", "min", "max"})
"""Filters that compare every item with others: two steps per item."""
_STEPS_PER_CHAR = {"urlize": 4.0, "wordwrap": 1.0, "title": 1.0, "striptags": 0.25,
                   "wordcount": 0.25, "urlencode": 0.125}  # fmt: skip
"""Filters that work through their text in Python, and what each character costs."""
_TO_TEXT = frozenset(
    {"capitalize", "center", "escape", "e", "forceescape", "format", "indent", "lower",
     "upper", "replace", "title", "trim", "truncate", "wordcount", "wordwrap", "striptags",
     "urlize", "string", "pprint", "tojson", "urlencode", "xmlattr"}
)  # fmt: skip
"""Filters that turn their input into text first."""


def _value_position(func: Callable[..., Any]) -> int:
    """Where a filter's input is among its arguments (after any context it is passed)."""
    return 1 if hasattr(func, "jinja_pass_arg") else 0


def _metered_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    at = _value_position(func)
    per_char = _STEPS_PER_CHAR.get(name)

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        if len(args) > at:
            value = args[at]
            if name in _TO_TEXT:
                check_text(value, f"the text of {name}")
            budget = current_budget()
            if budget is not None and not budget.compat:
                budget.charge(FILTER_STEPS)
                if per_char is not None and isinstance(value, str):
                    budget.charge(int(len(value) * per_char))
                elif name in _SORTING and isinstance(value, list | tuple | Mapping):
                    budget.charge(2 * len(value))
                elif name not in _CONSTANT_TIME:
                    charge_size(value)
        result = func(*args, **kwargs)
        charge_size(result)
        return result

    return run


def _metered_test(name: str, func: Any) -> Callable[..., Any]:
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        if budget is not None and not budget.compat:
            budget.charge(1)
            if name == "in" and len(args) > 1:
                charge_size(args[1], deep=True)
        return func(*args, **kwargs)

    return run


def _bounded_filters(filters: dict[str, Callable[..., Any]]) -> None:
    center, indent, fmt, batch, slice_, tojson, replace, join, sum_, urlencode, pprint, wordwrap = (
        filters[name]
        for name in (
            "center", "indent", "format", "batch", "slice", "tojson", "replace", "join",
            "sum", "urlencode", "pprint", "wordwrap",
        )
    )  # fmt: skip

    def do_center(value: Any, width: int = 80) -> str:
        check_size(width, "center")
        return center(value, width)

    def do_indent(
        value: Any, width: int | str = 4, first: bool = False, blank: bool = False
    ) -> str:
        lines = str(value).count("\n") + 1
        size = width * lines if isinstance(width, int) else len(str(width)) * lines
        check_size(len(str(value)) + size, "indent")
        return indent(value, width, first, blank)

    def do_format(value: Any, *args: Any, **kwargs: Any) -> str:
        _check_printf(value, (args, kwargs))
        if args and kwargs or not isinstance(value, str):
            return fmt(value, *args, **kwargs)
        if kwargs:
            return fmt(value, **{k: _json_args(value, (v,))[0] for k, v in kwargs.items()})
        return fmt(value, *_json_args(value, args))

    def do_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        check_size(linecount, "batch")
        if fill_with is not None:
            check_size(text_size(fill_with) * linecount, "batch")
        return batch(value, linecount, fill_with)

    @functools.wraps(slice_)
    def do_slice(eval_ctx: Any, value: Any, slices: int, fill_with: Any = None) -> Any:
        check_size(slices, "slice")
        if fill_with is not None:
            check_size(text_size(fill_with) * slices, "slice")
        return slice_(eval_ctx, value, slices, fill_with)

    @functools.wraps(tojson)
    def do_tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        size = text_size(value)
        if isinstance(indent, int):
            check_size(indent * 1000, "tojson indent")
            size += size * min(max(indent, 0), 1000) // 4
        check_size(size, "tojson")
        charge(size // 2)
        return tojson(eval_ctx, value, indent)

    @functools.wraps(replace)
    def do_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None) -> Any:
        check_text(value, "replace")
        _str_method(str(value).replace, (str(old), str(new)))
        return replace(eval_ctx, value, old, new, count)

    @functools.wraps(join)
    def do_join(eval_ctx: Any, value: Any, d: str = "", attribute: str | int | None = None) -> str:
        items = list(value)
        charge(len(items))
        if attribute is None:
            check_size(text_size(items) + len(str(d)) * len(items), "join")
            items = [_text_of(item) for item in items]
        result: str = join(eval_ctx, items, d, attribute)
        check_size(len(result), "join")
        return result

    @functools.wraps(sum_)
    def do_sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        if isinstance(start, bool) or not isinstance(start, int | float):
            raise ExpressionError("sum adds numbers; use join for text")
        return sum_(environment, iterable, attribute, start)

    def do_urlencode(value: Any) -> str:
        check_text(value, "urlencode")
        return urlencode(value)  # type: ignore[no-any-return]

    def do_pprint(value: Any) -> str:
        size = text_size(value)
        check_size(size * 2, "pprint")
        charge(size)
        return pprint(value)  # type: ignore[no-any-return]

    @functools.wraps(wordwrap)
    def do_wordwrap(environment: Any, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> str:
        text = str(s)
        if isinstance(width, int) and width > 0:
            longest = max((len(word) for word in text.split()), default=0)
            # Long words are cut by copying what is left of them each time: quadratic.
            charge(longest * longest // (2 * width * CHARS_PER_STEP))
        return wordwrap(environment, s, width, *args, **kwargs)  # type: ignore[no-any-return]

    def do_string(value: Any) -> str:
        return _as_text(value)

    filters.update(
        center=do_center,
        indent=do_indent,
        format=do_format,
        batch=do_batch,
        slice=do_slice,
        tojson=do_tojson,
        replace=do_replace,
        join=do_join,
        sum=do_sum,
        urlencode=do_urlencode,
        pprint=do_pprint,
        wordwrap=do_wordwrap,
        string=do_string,
    )
    del filters["random"]
    for name, func in list(filters.items()):
        filters[name] = _metered_filter(name, func)


def make_environment() -> Environment:
    env = Environment(undefined=_Undefined, finalize=_finalize, autoescape=False, optimized=False)
    env.globals.pop("lipsum")
    env.globals.update(range=_range, namespace=_Namespace)
    _bounded_filters(env.filters)
    for name in list(env.tests):
        env.tests[name] = _metered_test(name, env.tests[name])
    return env
