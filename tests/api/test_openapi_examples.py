"""The OpenAPI document is complete with examples: every JSON request body carries at least
one realistic example, and every example is a body the API accepts (it validates against
the documented schema and against the pydantic model the route parses it with)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import types
import typing
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

import api.routes
from api.main import create_app
from auterity.settings import load_settings

METHODS = {"get", "post", "put", "patch", "delete"}
REF_PREFIX = "#/components/schemas/"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    home: Path = tmp_path_factory.mktemp("openapi-examples")
    return create_app(load_settings(home=home))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def json_bodies(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, media type object) of every operation with a JSON request body."""
    return [
        (method.upper(), path, operation["requestBody"]["content"]["application/json"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def component_name(schema: dict[str, Any]) -> str | None:
    """The component a body schema names: `{"$ref"}`, or one arm of `anyOf` (optional bodies)."""
    refs = [schema.get("$ref")] + [arm.get("$ref") for arm in schema.get("anyOf", [])]
    named = [ref.removeprefix(REF_PREFIX) for ref in refs if ref]
    assert len(named) <= 1, schema
    return named[0] if named else None


def media_examples(media: dict[str, Any]) -> list[Any]:
    found = [media["example"]] if "example" in media else []
    found += [entry["value"] for entry in media.get("examples", {}).values() if "value" in entry]
    return found + list(media.get("schema", {}).get("examples", []))


def validate(schema: dict[str, Any], instance: Any, document: dict[str, Any]) -> None:
    """Check `instance` against `schema`, its `$ref`s resolved in the document's components."""
    rooted = {**schema, "components": document["components"]}
    jsonschema.Draft202012Validator(rooted).validate(instance)


def body_models() -> dict[str, type[BaseModel]]:
    """The pydantic model of each route's request body, by its schema component name."""
    models: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(api.routes.__path__):
        router = getattr(importlib.import_module(f"api.routes.{info.name}"), "router", None)
        for route in getattr(router, "routes", []):
            if not isinstance(route, APIRoute):
                continue
            for param in route.dependant.body_params:
                annotation = param.field_info.annotation
                arms = (
                    typing.get_args(annotation)
                    if typing.get_origin(annotation) in (typing.Union, types.UnionType)
                    else (annotation,)
                )
                for arm in arms:
                    if isinstance(arm, type) and issubclass(arm, BaseModel):
                        assert models.setdefault(arm.__name__, arm) is arm, arm.__name__
    return models


def test_every_json_body_has_an_example(document: dict[str, Any]) -> None:
    bodies = json_bodies(document)
    assert len(bodies) > 20
    missing = []
    for method, path, media in bodies:
        name = component_name(media.get("schema", {}))
        if name is None:
            found = media_examples(media)
        else:
            found = document["components"]["schemas"][name].get("examples", [])
        if not found:
            missing.append((method, path, name))
    assert not missing, f"request bodies without an example: {missing}"


def test_the_webhook_body_is_documented_with_an_example(document: dict[str, Any]) -> None:
    media = document["paths"]["/v1/hooks/{trigger_id}"]["post"]["requestBody"]["content"]
    examples = media_examples(media["application/json"])
    assert examples and all(isinstance(example, dict) and example for example in examples)


def test_every_body_example_matches_its_schema(document: dict[str, Any]) -> None:
    checked = 0
    for method, path, media in json_bodies(document):
        name = component_name(media.get("schema", {}))
        schema = {"$ref": REF_PREFIX + name} if name else media.get("schema", {})
        examples = media_examples(media)
        if name:
            examples += document["components"]["schemas"][name].get("examples", [])
        for example in examples:
            try:
                validate(schema, example, document)
            except jsonschema.ValidationError as exc:
                pytest.fail(f"{method} {path}: example {example!r} is invalid: {exc.message}")
            checked += 1
    assert checked > 20


def test_every_component_example_matches_its_schema(document: dict[str, Any]) -> None:
    """Response models' examples, and examples on single properties, are checked too."""
    invalid = []
    for name, component in document["components"]["schemas"].items():
        located = [(name, component)] + [
            (f"{name}.{prop}", schema) for prop, schema in component.get("properties", {}).items()
        ]
        for where, schema in located:
            for example in schema.get("examples", []):
                try:
                    validate(schema, example, document)
                except jsonschema.ValidationError as exc:
                    invalid.append(f"{where}: example {example!r} is invalid: {exc.message}")
    assert not invalid, "\n".join(invalid)


def test_every_body_example_is_accepted_by_its_model(document: dict[str, Any]) -> None:
    """The models also check what JSON Schema cannot say (cron lines, time zones, backfill
    windows in the past, secret names), so each example goes through the model too."""
    models = body_models()
    refused = []
    for method, path, media in json_bodies(document):
        name = component_name(media.get("schema", {}))
        if name is None:
            continue
        model = models.get(name)
        assert model is not None, f"{method} {path}: no pydantic model for {name}"
        for example in document["components"]["schemas"][name].get("examples", []):
            try:
                model.model_validate_json(json.dumps(example))
            except ValidationError as exc:
                refused.append(f"{method} {path}: {example!r}: {exc}")
    assert not refused, "\n".join(refused)
