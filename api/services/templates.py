"""Parameterized graph templates: `{{ params.x }}` placeholders resolved at instantiation.

Only `params.<name>` placeholders are replaced; every other `{{ ... }}` is a
run-time expression and stays as written. A string that is exactly one
placeholder takes the parameter's native value (number, list, object).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from api.problems import Unprocessable

GALLERY = Path(__file__).resolve().parent.parent / "gallery"
_PLACEHOLDER = re.compile(r"\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class TemplateSpec:
    id: str
    name: str
    description: str
    parameters: dict[str, Any]
    graph: dict[str, Any]
    version: int = 1
    tags: list[str] = field(default_factory=list)
    builtin: bool = True


def substitute(value: Any, params: dict[str, Any]) -> Any:
    """Replace `{{ params.x }}` placeholders throughout a JSON value."""
    if isinstance(value, dict):
        return {key: substitute(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, params) for item in value]
    if not isinstance(value, str) or "params." not in value:
        return value
    whole = _PLACEHOLDER.fullmatch(value.strip())
    if whole:
        return params[whole.group(1)]
    return _PLACEHOLDER.sub(lambda match: _text(params[match.group(1)]), value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def placeholders(value: Any) -> set[str]:
    """Every parameter name a template refers to."""
    if isinstance(value, dict):
        return set().union(*(placeholders(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(item) for item in value)) if value else set()
    return set(_PLACEHOLDER.findall(value)) if isinstance(value, str) else set()


def check_template(parameters: dict[str, Any], graph: dict[str, Any]) -> None:
    """A template must declare every parameter it uses, with a valid JSON Schema."""
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as exc:
        raise Unprocessable(
            f"parameters is not a valid JSON Schema: {exc.message}",
            errors=[{"loc": ["body", "parameters", *exc.path], "msg": exc.message}],
        ) from None
    declared = set(parameters.get("properties", {}))
    undeclared = sorted(placeholders(graph) - declared)
    if undeclared:
        raise Unprocessable(
            f"graph uses undeclared parameters: {', '.join(undeclared)}",
            errors=[
                {"loc": ["body", "graph"], "msg": f"params.{name} is not declared"}
                for name in undeclared
            ],
        )


def resolve_params(parameters: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, then the whole set validated against the parameter schema."""
    resolved = {
        name: spec["default"]
        for name, spec in parameters.get("properties", {}).items()
        if isinstance(spec, dict) and "default" in spec
    }
    resolved.update(params)
    errors = [
        {"loc": ["body", "params", *error.absolute_path], "msg": error.message}
        for error in jsonschema.Draft202012Validator(parameters).iter_errors(resolved)
    ]
    if errors:
        raise Unprocessable(f"params are invalid: {errors[0]['msg']}", errors=errors)
    return resolved


def instantiate(template: TemplateSpec, params: dict[str, Any]) -> dict[str, Any]:
    return substitute(template.graph, resolve_params(template.parameters, params))


@cache
def gallery() -> dict[str, TemplateSpec]:
    """The built-in templates shipped in api/gallery/*.json, loaded once."""
    specs = {}
    for path in sorted(GALLERY.glob("*.json")):
        raw = json.loads(path.read_text())
        spec = TemplateSpec(
            id=raw["id"], name=raw["name"], description=raw["description"],
            parameters=raw["parameters"], graph=raw["graph"], tags=raw.get("tags", []),
        )  # fmt: skip
        check_template(spec.parameters, spec.graph)
        specs[spec.id] = spec
    return specs
