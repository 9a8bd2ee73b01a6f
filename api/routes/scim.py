"""SCIM 2.0 (RFC 7644) for the tenant's IdP: Users, Groups and the discovery documents.

Authenticated by the tenant's SCIM token (`POST /v1/sso/scim-token`), answered in
`application/scim+json`, errors in SCIM's own error shape.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import bearer_credential
from api.deps import StateDep, public_base
from api.services import scim as service
from auterity.security.sso import scim, scim_schemas

router = APIRouter(prefix="/scim/v2", tags=["scim"])
SCIM_JSON = "application/scim+json"


def _json(body: Any, status: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"Location": location} if location else None
    return JSONResponse(body, status_code=status, media_type=SCIM_JSON, headers=headers)


def _error(exc: scim.ScimError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, media_type=SCIM_JSON, headers=headers)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        raise scim.ScimError(400, "the body is not JSON", "invalidSyntax") from None


def _page(request: Request) -> tuple[str | None, int, int]:
    query = request.query_params
    try:
        start = int(query.get("startIndex", "1"))
        count = int(query.get("count", str(scim.MAX_PAGE)))
    except ValueError:
        raise scim.ScimError(400, "startIndex and count must be integers", "invalidValue") from None
    return query.get("filter"), start, count


async def _call(request: Request, state: StateDep, work: service.Work[Any], *, write: bool,
                status: int = 200, projection: tuple[str | None, str | None] | None = None,
                ) -> Response:  # fmt: skip
    base = f"{public_base(request)}/v1/scim/v2"
    try:
        result = await run_in_threadpool(
            service.run, state, bearer_credential(request), base, work, write=write, request=request
        )
    except scim.ScimError as exc:
        return _error(exc)
    if result is None:
        return Response(status_code=204)
    attributes, excluded = projection or (
        request.query_params.get("attributes"),
        request.query_params.get("excludedAttributes"),
    )
    if "Resources" in result:
        result = scim.project_list(result, attributes, excluded)
    elif "id" in result and result.get("meta", {}).get("resourceType") in {"User", "Group"}:
        result = scim.project(result, attributes, excluded)
    location = result.get("meta", {}).get("location") if status == 201 else None
    return _json(result, status, location)


SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


async def _search(request: Request, state: StateDep, kinds: tuple[str, ...]) -> Response:
    """POST .search (RFC 7644 §3.4.3): the query of a GET, in the body."""
    try:
        body = await _body(request)
        if not isinstance(body, dict) or SEARCH not in (body.get("schemas") or []):
            raise scim.ScimError(400, f"a search body has schemas [{SEARCH}]", "invalidSyntax")
        filter_ = body.get("filter")
        start, count = int(body.get("startIndex", 1)), int(body.get("count", scim.MAX_PAGE))
        attributes, excluded = body.get("attributes"), body.get("excludedAttributes")
    except (ValueError, TypeError):
        return _error(scim.ScimError(400, "startIndex and count must be integers", "invalidValue"))
    except scim.ScimError as exc:
        return _error(exc)
    joined = (",".join(attributes) if isinstance(attributes, list) else attributes,
              ",".join(excluded) if isinstance(excluded, list) else excluded)  # fmt: skip

    def work(session: Any, caller: scim.Caller, _config: Any, _now: Any) -> dict[str, Any]:
        listings = [
            (scim.list_user_resources if kind == "User" else scim.list_group_resources)(
                session, caller, filter_, 1, scim.MAX_PAGE
            )
            for kind in kinds
        ]
        everything = [r for listing in listings for r in listing["Resources"]]
        page = everything[max(start, 1) - 1 : max(start, 1) - 1 + max(count, 0)]
        return scim.list_response(page, len(everything), max(start, 1))

    return await _call(request, state, work, write=False, projection=joined)


@router.post("/.search")
async def search_everything(request: Request, state: StateDep) -> Response:
    """Search Users and Groups at once."""
    return await _search(request, state, ("User", "Group"))


@router.post("/Users/.search")
async def search_scim_users(request: Request, state: StateDep) -> Response:
    """Search Users with a body instead of query parameters."""
    return await _search(request, state, ("User",))


@router.post("/Groups/.search")
async def search_scim_groups(request: Request, state: StateDep) -> Response:
    """Search Groups with a body instead of query parameters."""
    return await _search(request, state, ("Group",))


def _discovery(request: Request, state: StateDep) -> str:
    return f"{public_base(request)}/v1/scim/v2"


@router.get("/ServiceProviderConfig")
async def read_service_provider_config(request: Request, state: StateDep) -> Response:
    """What this SCIM service supports."""
    base = _discovery(request, state)
    return await _call(request, state, lambda *_: scim_schemas.service_provider_config(
        base, f"{public_base(request)}/docs"), write=False)  # fmt: skip


@router.get("/ResourceTypes")
async def list_resource_types(request: Request, state: StateDep) -> Response:
    """User and Group."""
    types = scim_schemas.resource_types(_discovery(request, state))
    return await _call(
        request, state, lambda *_: scim.list_response(types, len(types), 1), write=False
    )


@router.get("/ResourceTypes/{name}")
async def read_resource_type(name: str, request: Request, state: StateDep) -> Response:
    """One resource type."""
    found = [t for t in scim_schemas.resource_types(_discovery(request, state)) if t["id"] == name]
    return await _call(request, state, lambda *_: _one(found, f"ResourceType {name}"), write=False)


@router.get("/Schemas")
async def list_schemas(request: Request, state: StateDep) -> Response:
    """The attributes of User, Group and the enterprise extension."""
    found = scim_schemas.schemas(_discovery(request, state))
    return await _call(
        request, state, lambda *_: scim.list_response(found, len(found), 1), write=False
    )


@router.get("/Schemas/{schema_id}")
async def read_schema(schema_id: str, request: Request, state: StateDep) -> Response:
    """One schema."""
    found = [s for s in scim_schemas.schemas(_discovery(request, state)) if s["id"] == schema_id]
    return await _call(request, state, lambda *_: _one(found, f"Schema {schema_id}"), write=False)


def _one(found: list[dict[str, Any]], what: str) -> dict[str, Any]:
    if not found:
        raise scim.ScimError(404, f"{what} not found")
    return found[0]


def _resource_routes(
    kind: str, one: str, create: Any, read: Any, listing: Any, replace: Any, patch: Any,
    delete: Any, about: dict[str, str],
) -> None:  # fmt: skip
    """The six operations of a SCIM resource type at /<kind> and /<kind>/{id}."""

    async def list_resources(request: Request, state: StateDep) -> Response:
        try:
            filter_, start, count = _page(request)
        except scim.ScimError as exc:
            return _error(exc)
        return await _call(request, state, lambda s, c, _cfg, _now: listing(
            s, c, filter_, start, count), write=False)  # fmt: skip

    async def create_resource(request: Request, state: StateDep) -> Response:
        try:
            body = await _body(request)
        except scim.ScimError as exc:
            return _error(exc)
        return await _call(request, state, lambda s, c, cfg, now: create(s, c, cfg, body, now),
                           write=True, status=201)  # fmt: skip

    async def read_resource(resource_id: str, request: Request, state: StateDep) -> Response:
        return await _call(request, state, lambda s, c, _cfg, _now: read(s, c, resource_id),
                           write=False)  # fmt: skip

    def changing(change: Any) -> Any:
        async def change_resource(resource_id: str, request: Request, state: StateDep) -> Response:
            try:
                body = await _body(request)
            except scim.ScimError as exc:
                return _error(exc)
            return await _call(request, state, lambda s, c, cfg, now: change(
                s, c, cfg, resource_id, body, now), write=True)  # fmt: skip

        return change_resource

    async def delete_resource(resource_id: str, request: Request, state: StateDep) -> Response:
        return await _call(request, state, lambda s, c, cfg, now: delete(
            s, c, cfg, resource_id, now), write=True)  # fmt: skip

    for path, method, endpoint, verb in (
        (f"/{kind}", "GET", list_resources, "list"),
        (f"/{kind}", "POST", create_resource, "create"),
        (f"/{kind}/{{resource_id}}", "GET", read_resource, "read"),
        (f"/{kind}/{{resource_id}}", "PUT", changing(replace), "replace"),
        (f"/{kind}/{{resource_id}}", "PATCH", changing(patch), "patch"),
        (f"/{kind}/{{resource_id}}", "DELETE", delete_resource, "delete"),
    ):
        router.add_api_route(path, endpoint, methods=[method], description=about[verb],
                             name=f"{verb}_scim_{one}", response_class=Response)  # fmt: skip


_resource_routes(
    "Users", "user", scim.create_user_resource, scim.read_user_resource,
    scim.list_user_resources, scim.replace_user_resource, scim.patch_user_resource,
    scim.delete_user_resource,
    {
        "list": 'Users, filtered by `userName eq "..."`, `externalId eq` or `emails.value eq`.',
        "create": "Provision a person: a new account, or an existing one joining the tenant.",
        "read": "One user.",
        "replace": "Replace a user; `active: false` ends their sessions at once.",
        "patch": "Change a user with PatchOp operations (Okta and Entra deactivate this way).",
        "delete": "Remove a person from the tenant (the account itself stays).",
    },
)  # fmt: skip
_resource_routes(
    "Groups", "group", scim.create_group_resource, scim.read_group_resource,
    scim.list_group_resources, scim.replace_group_resource, scim.patch_group_resource,
    scim.delete_group_resource,
    {
        "list": 'Groups, filtered by `displayName eq "..."`, `externalId eq` or `members.value eq`.',
        "create": "Push a group; its members get the roles its name is mapped to.",
        "read": "One group with its members.",
        "replace": "Replace a group (name and members); roles follow.",
        "patch": "Add or remove members, or rename; roles follow.",
        "delete": "Delete a group; its members lose the roles it granted.",
    },
)  # fmt: skip


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                  include_in_schema=False)  # fmt: skip
async def unknown_scim_endpoint(path: str) -> Response:
    """Anything else under /v1/scim/v2: 405 on the read-only discovery documents, else 404,
    in SCIM's error shape."""
    if path.split("/", 1)[0] in {"ServiceProviderConfig", "ResourceTypes", "Schemas"}:
        return _error(scim.ScimError(405, f"/{path[:100]} is read-only"))
    return _error(scim.ScimError(404, f"no SCIM endpoint /{path[:100]}"))
