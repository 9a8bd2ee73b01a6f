"""What a PromQL expression reads: its metric selectors and the labels it groups by.

Enough of PromQL for the contract check, not a parser: strings, ranges and
subqueries are skipped, an identifier followed by `(` is a function or an
aggregation, the identifiers in `by (...)` / `without (...)` / `on (...)` /
`ignoring (...)` / `group_left (...)` / `group_right (...)` are labels, and every
other identifier is a metric name, with the label matchers of its `{...}`.
Grafana's `$variables` are dropped. Tested in test_promql.py.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}

TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<matcher>\{(?:[^}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})
  | (?P<range>\[[^\]]*\])
  | (?P<variable>\$\{[^}]*\}|\$\w+)
  | (?P<number>[0-9][0-9A-Za-z_.]*)
  | (?P<identifier>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
MATCHER = re.compile(
    r"""([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)"""
)


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def accepts(self, value: str) -> bool:
        """Whether a series whose label has `value` passes (regexes are anchored, as in PromQL)."""
        if self.op in {"=", "!="}:
            return (value == self.value) == (self.op == "=")
        return (re.fullmatch(self.value, value) is not None) == (self.op == "=~")


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str]
    matchers: tuple[Matcher, ...] = field(default=(), compare=False)

    def accepts(self, label: str, value: str) -> bool:
        """Whether the series this selects may have `label="value"`."""
        return all(matcher.accepts(value) for matcher in self.matchers if matcher.label == label)


@dataclass
class Query:
    selectors: list[Selector] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)

    @property
    def metrics(self) -> set[str]:
        return {selector.metric for selector in self.selectors}


def parse(expr: str) -> Query:
    tokens = [
        (match.lastgroup, match.group())
        for match in TOKEN.finditer(expr)
        if match.lastgroup not in {"space", "variable"}
    ]
    query = Query()
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else (None, "")
        if kind == "identifier" and text in LABEL_LISTS and following[0] == "open":
            close = _closing(tokens, index + 1)
            query.grouping.update(t for k, t in tokens[index + 2 : close] if k == "identifier")
            index = close + 1
            continue
        aggregation = following[0] == "identifier" and following[1] in {"by", "without"}
        if (
            kind == "identifier"
            and text not in KEYWORDS
            and following[0] != "open"
            and not aggregation
        ):
            matchers: tuple[Matcher, ...] = ()
            if following[0] == "matcher":
                matchers = tuple(
                    Matcher(label, op, _unquote(value))
                    for label, op, value in MATCHER.findall(following[1])
                )
                index += 1
            labels = frozenset(matcher.label for matcher in matchers)
            query.selectors.append(Selector(text, labels, matchers))
        index += 1
    return query


def _unquote(string: str) -> str:
    """A PromQL string's value: backquotes are raw, quotes take Go's escapes (Python's here)."""
    if string.startswith("`"):
        return string[1:-1]
    value = ast.literal_eval(string)
    assert isinstance(value, str)
    return value


def _closing(tokens: list[tuple[str | None, str]], open_index: int) -> int:
    depth = 0
    for index in range(open_index, len(tokens)):
        if tokens[index][0] == "open":
            depth += 1
        elif tokens[index][0] == "close":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError("unbalanced parentheses")


LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?P<query>.*?)\s*,\s*(?P<label>\w+)\s*\)\s*$", re.S
)


def parse_variable(query: str) -> tuple[Query, str | None]:
    """A Grafana variable query: `label_values(<selector>, <label>)` or plain PromQL."""
    match = LABEL_VALUES.match(query)
    if match is None:
        return parse(query), None
    return parse(match["query"]), match["label"]
