"""One router per resource, mounted once under `/v1` by `v1`; health stays at the root.

Each router's prefix is its resource's collection (`/users`, `/graphs`, …). Three
resources have a path outside a single collection and spell their paths in full:
auth (`/auth/…` and `/me`), executions (a run starts under its graph,
`/graphs/{graph_id}/executions`) and schema (`/schema/graph`, `/node-kinds`). SSO
(`/sso/…`) and SCIM (`/scim/v2/…`) are protocols with paths of their own.
"""

from __future__ import annotations

from fastapi import APIRouter

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

v1 = APIRouter(prefix="/v1")
# A request is matched against the routes in this order, one regular expression each: the
# busiest paths (starting and reading runs, webhooks, tasks) come first. No two routers'
# paths overlap, so the order changes nothing else.
for resource in (
    executions, hooks, tasks, graphs, auth, tenant, users, invitations, roles, api_keys,
    secrets, audit, schema, templates, triggers, schedules, sso, scim, model_routes, budgets,
    spend, registry,
):  # fmt: skip
    v1.include_router(resource.router)
