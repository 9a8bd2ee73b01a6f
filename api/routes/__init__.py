"""One router per resource, each included in the app under `/v1` by `include_v1`; health
and docs stay at the root.

Each router's prefix is its resource's collection (`/users`, `/graphs`, …). Three
resources have a path outside a single collection and spell their paths in full:
auth (`/auth/…` and `/me`), executions (a run starts under its graph,
`/graphs/{graph_id}/executions`) and schema (`/schema/graph`, `/node-kinds`). SSO
(`/sso/…`) and SCIM (`/scim/v2/…`) are protocols with paths of their own.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import (
    api_keys,
    audit,
    auth,
    budgets,
    executions,
    graphs,
    hooks,
    invitations,
    model_routes,
    registry,
    roles,
    schedules,
    schema,
    scim,
    secrets,
    spend,
    sso,
    tasks,
    templates,
    tenant,
    triggers,
    users,
)

V1 = "/v1"
# A request is matched against the routes in this order, one regular expression each: the
# busiest paths (starting and reading runs, webhooks, tasks) come first. No two routers'
# paths overlap, so the order changes nothing else.
RESOURCES = (
    executions, hooks, tasks, graphs, auth, tenant, users, invitations, roles, api_keys,
    secrets, audit, schema, templates, triggers, schedules, sso, scim, model_routes, budgets,
    spend, registry,
)  # fmt: skip


def include_v1(app: FastAPI) -> None:
    """Every resource's router, each included in `app` itself under `/v1`.

    Not through one `/v1` router holding them all: FastAPI checks, on every request, that
    no router it walks through has changed since it was included, and one router above
    the resources made each request walk all of them, twice, about a fifth of the Python
    calls of a start (`tests/benchmarks/api.py`)."""
    for resource in RESOURCES:
        app.include_router(resource.router, prefix=V1)
