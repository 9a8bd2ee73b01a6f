"""The work budget of one template render: steps, sizes, and a deadline outside workflows.

A *step* is one loop iteration, attribute or item lookup, call, filter, test,
operator or comparison, plus one for every `CHARS_PER_STEP` characters a step
builds, copies, compares or prints and one for every item of a list it copies or
walks. A render that takes more than its budget's steps (`MAX_STEPS`) fails with
an `ExpressionError` naming the budget. The count is deterministic, so workflow
code can use it; outside workflow code (activities, the API) a budget may also
carry a wall-clock deadline (`Budget(seconds=...)`), the only place a clock is
read.

What a step cannot measure is checked before it is built: `text_size` counts
what a value would take as text, every repeated reference counted again, and
`check_size` refuses what would exceed `MAX_OUTPUT_CHARS`.

`Budget(compat=True)` counts only what runs started before the budget counted
(lookups, calls, four operators, `range`): `charge` is free for it, `step` is not.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from auterity.graph.errors import ExpressionError

MAX_OUTPUT_CHARS = 1_000_000
"""Largest rendered value (characters of text, roughly bytes of JSON), and largest text any
one operation may build."""
MAX_STORED_ITEMS_CHARS = 16_000_000
"""Largest list a foreach's items may give outside the workflow (`node.pure`, when the scope
holds stored values): the list goes to the blob store, never into a run's history, so it
may be as large as the stored values it is taken from (an http body is at most 10 MiB by
default). Each operation inside still builds at most `MAX_OUTPUT_CHARS`; the bound keeps
what one evaluation may hold in a worker's memory near what one http call may."""
MAX_STEPS = 1_000_000
"""The work budget of one render, in steps (see the module docstring)."""
CHARS_PER_STEP = 256
"""Characters built, copied or compared per step."""
LOOKUP_STEPS = 5
"""A lookup the sandbox checks (anything but a key of a JSON object), and a call."""
FILTER_STEPS = 3
"""A filter."""
NESTED_CALL_STEPS = 10
"""A macro call, or a recursive loop's `loop(...)`."""
MAX_DEPTH = 64
"""Deepest nesting of lists and objects in a value."""
MAX_CALL_DEPTH = 64
"""Deepest nesting of macro calls (and recursive loops)."""
MAX_INT_BITS = 100_000
"""Largest integer an operator may produce."""
DEADLINE_SECONDS = 5.0
"""The default wall-clock limit of a render outside workflow code."""


class Budget:
    """The work one render may do: `steps` (deterministic) and, outside workflow code, a
    wall-clock deadline `seconds` from now. A node's fields share one budget."""

    __slots__ = (
        "limit", "seconds", "compat", "max_chars", "steps", "depth", "_deadline", "_next_check",
    )  # fmt: skip

    CLOCK_EVERY = 2048
    """Steps between two looks at the clock."""

    def __init__(
        self,
        *,
        steps: int = MAX_STEPS,
        seconds: float | None = None,
        compat: bool = False,
        max_chars: int = MAX_OUTPUT_CHARS,
    ) -> None:
        self.limit = steps
        self.seconds = seconds
        self.compat = compat
        self.max_chars = max_chars  # of the value a render gives (`JsonSize`)
        self.steps = 0
        self.depth = 0
        self._deadline = time.monotonic() + seconds if seconds is not None else None
        self._next_check = self.CLOCK_EVERY

    def step(self, count: int = 1) -> None:
        """Counts work that every budget counts, compat included."""
        self.steps += count
        if self.steps > self.limit:
            raise ExpressionError(
                f"the template does too much work: over its budget of {self.limit:,} steps "
                f"(each loop iteration, lookup, call, filter or operator is a step, and so "
                f"is every {CHARS_PER_STEP} characters built)"
            )
        if self._deadline is not None and self.steps >= self._next_check:
            self._next_check = self.steps + self.CLOCK_EVERY
            self.check_clock()

    def charge(self, count: int = 1) -> None:
        """Counts work that compat budgets (runs started before the budget) did not."""
        if not self.compat and count > 0:
            self.step(count)

    def charge_chars(self, chars: int) -> None:
        self.charge(chars // CHARS_PER_STEP)

    def check_clock(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise ExpressionError(
                f"the template ran past its deadline of {self.seconds:g} s "
                f"(after {self.steps:,} steps of its {self.limit:,}-step budget)"
            )


_current: ContextVar[Budget | None] = ContextVar("auterity_template_budget", default=None)


def current_budget() -> Budget | None:
    return _current.get()


@contextlib.contextmanager
def metered(budget: Budget | None = None) -> Iterator[Budget]:
    """Runs the block under `budget` (a fresh one if None); inside an outer metered block
    with no budget given, the outer one is shared."""
    outer = _current.get()
    if budget is None and outer is not None:
        yield outer
        return
    budget = budget or Budget()
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def step(count: int = 1) -> None:
    budget = _current.get()
    if budget is not None:
        budget.step(count)


def charge(count: int = 1) -> None:
    budget = _current.get()
    if budget is not None:
        budget.charge(count)


def in_compat() -> bool:
    budget = _current.get()
    return budget is not None and budget.compat


def charge_size(value: Any, *, deep: bool = False) -> None:
    """Charges what building, copying or reading `value` costs: its characters, or a step per
    item (of every nested list and object too when `deep`, for comparing or searching it)."""
    budget = _current.get()
    if budget is None or budget.compat:
        return
    if isinstance(value, str):
        budget.charge_chars(len(value))
    elif isinstance(value, list | tuple | Mapping):
        if deep:
            budget.charge_chars(text_size(value))
        else:
            budget.charge(len(value))


def check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise ExpressionError(f"{what} would be too large (over {MAX_OUTPUT_CHARS:,} characters)")


def text_size(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """About how many characters `value` takes as text, counting a list's items one by one
    (so repeated references count every time). Stops counting past `limit`; the walk is
    charged to the budget."""
    budget = _current.get()
    total = 0
    walked = 0
    pending: list[Any] = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            walked += len(item)
            for key, entry in item.items():
                pending.append(key)
                pending.append(entry)
        elif isinstance(item, list | tuple):
            total += 2 + 2 * len(item)
            walked += len(item)
            pending.extend(item)
        else:
            total += 16
    if budget is not None:
        budget.charge(walked)
    return total


def check_text(value: Any, what: str) -> None:
    """Refuses to turn `value` into text when the text would be too large."""
    if not isinstance(value, str):
        check_size(text_size(value), what)


class JsonSize:
    """Counts the size of a value being converted to JSON, against `limit`."""

    __slots__ = ("total", "limit")

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self.total = 0
        self.limit = limit

    def grow(self, size: int) -> None:
        self.total += size
        if self.total > self.limit:
            raise ExpressionError(f"the value is too large (over {self.limit:,} characters)")
