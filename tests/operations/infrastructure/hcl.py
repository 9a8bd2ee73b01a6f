"""Terraform files as plain data: python-hcl2's output with its quoting removed."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import hcl2

from tests.operations.tools import REPO

INFRASTRUCTURE = REPO / "infrastructure"


def tf_files() -> list[Path]:
    return sorted(path for path in INFRASTRUCTURE.rglob("*.tf") if ".terraform" not in path.parts)


@functools.cache
def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return _plain(hcl2.load(handle))  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            _unquote(key): _plain(item)
            for key, item in value.items()
            if key not in {"__is_block__", "__comments__", "__inline_comments__"}
        }
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def resources(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, name) -> body of every resource in the file."""
    found = {}
    for block in load(path).get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                found[(kind, name)] = body
    return found


def modules(path: Path) -> dict[str, dict[str, Any]]:
    """name -> body of every module call in the file."""
    return {name: body for block in load(path).get("module", []) for name, body in block.items()}


def variables(path: Path) -> dict[str, dict[str, Any]]:
    """name -> body of every variable in the file."""
    return {name: body for block in load(path).get("variable", []) for name, body in block.items()}


def module_call(environment: str) -> dict[str, Any]:
    (block,) = load(INFRASTRUCTURE / "environments" / environment / "main.tf")["module"]
    call: dict[str, Any] = block["auterity"]
    return call
