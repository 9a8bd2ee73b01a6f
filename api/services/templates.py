"""Parameterized graph templates: the built-in gallery and the tenant's own (versioned),
with `{{ params.x }}` placeholders resolved at instantiation into a graph version.

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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.problems import Conflict, NotFound, Unprocessable
from api.schemas.templates import TemplateCreate, TemplateInstantiate
from api.services import graphs as graph_service
from auterity import audit
from auterity.models.graphs import GraphTemplate
from auterity.security.principal import Principal
from auterity.settings import Settings

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

    @classmethod
    def of(cls, row: GraphTemplate) -> TemplateSpec:
        """A tenant's saved template version."""
        return cls(
            id=row.template_id, name=row.name, description=row.description,
            parameters=row.parameters, graph=row.graph, version=row.version, builtin=False,
        )  # fmt: skip


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


# --- the tenant's templates ---------------------------------------------------------------


def find_template(session: Session, template_id: str, version: int | None = None) -> TemplateSpec:
    """A built-in template, or the tenant's at `version` (the latest if unset); else 404."""
    builtin = gallery().get(template_id)
    if builtin is not None:
        if version not in (None, builtin.version):
            raise NotFound(f"template '{template_id}' has no version {version}")
        return builtin
    query = select(GraphTemplate).where(GraphTemplate.template_id == template_id)
    query = query.where(GraphTemplate.version == version) if version else query
    row = session.scalars(query.order_by(GraphTemplate.version.desc()).limit(1)).first()
    if row is None:
        raise NotFound(f"template '{template_id}' not found")
    return TemplateSpec.of(row)


def list_templates(session: Session, *, tag: str | None) -> list[TemplateSpec]:
    """The built-in gallery, then the latest version of each of the tenant's templates."""
    specs = list(gallery().values())
    latest = (
        select(GraphTemplate.template_id, func.max(GraphTemplate.version).label("version"))
        .group_by(GraphTemplate.template_id)
        .subquery()
    )
    rows = session.scalars(
        select(GraphTemplate).join(
            latest,
            (GraphTemplate.template_id == latest.c.template_id)
            & (GraphTemplate.version == latest.c.version),
        )
    )
    specs += [TemplateSpec.of(row) for row in rows]
    return [spec for spec in specs if tag is None or tag in spec.tags]


def create_template(
    session: Session, principal: Principal, body: TemplateCreate, context: audit.AuditContext
) -> TemplateSpec:
    """Save a template; saving an existing id adds a version."""
    if body.id in gallery():
        raise Conflict(f"template id '{body.id}' is a built-in template")
    check_template(body.parameters, body.graph)
    current = session.scalar(
        select(func.max(GraphTemplate.version)).where(GraphTemplate.template_id == body.id)
    )
    row = GraphTemplate(
        tenant_id=principal.tenant_id, template_id=body.id, version=(current or 0) + 1,
        name=body.name, description=body.description, parameters=body.parameters,
        graph=body.graph, created_by=principal.name,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(
        session, principal, "template.save", request=context,
        targets=[audit.Target("template", body.id, body.name)], details={"version": row.version},
    )  # fmt: skip
    return TemplateSpec.of(row)


def instantiate_template(
    session: Session,
    settings: Settings,
    principal: Principal,
    template_id: str,
    body: TemplateInstantiate,
    context: audit.AuditContext,
) -> graph_service.SavedVersion:
    """The template with validated params, saved as a new graph or a version of `graph_id`."""
    spec = find_template(session, template_id, body.version)
    definition = instantiate(spec, body.params)
    saved = graph_service.save_version(
        session, settings, principal, definition, graph_id=body.graph_id
    )
    audit.record(
        session, principal, "template.instantiate", request=context,
        targets=[
            audit.Target("template", spec.id, spec.name), audit.Target("graph", saved.graph.id),
        ],
        details={"template_version": spec.version, "version_id": saved.version.version_id},
    )  # fmt: skip
    return saved
