"""How runs are named in Temporal: workflow ids, triggers and search attributes.

Every workflow id of a tenant starts with its slug and a colon, so an operator can
filter by prefix and the API can refuse another tenant's id before asking Temporal:

| what | workflow id |
|---|---|
| a run | `<tenant>:<graph>:<unique>` — 32 hex digits, or `k` and 32 hex digits of the sha256 of an `Idempotency-Key` |
| a schedule | `<tenant>:sched:<12 hex digits>` |
| a scheduled run | `<tenant>:<graph>:sched-<12 hex digits>` and the time, which Temporal appends |
| a subgraph node's child run | `<parent>:<node>`, or `<parent>:<node>:<index>` inside a foreach |
| a foreach batch | `<parent>:<node>:batch-<n>` |
| a platform run | `_system:<name>` — no tenant slug starts with `_` |

Every graph run carries the search attributes `AuterityTenant`, `AuterityGraph`,
`AuterityGraphVersion` and `AuterityTrigger`, built by `run_attributes`, and the tenant
as its fairness key (`run_priority`): on a server with `matching.enableFairness`, task
queues hand out tasks round-robin across tenants, so one tenant's backlog cannot starve
another's run. Its activities and child runs carry the same key.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from enum import StrEnum

from temporalio.common import (
    Priority,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

TENANT = SearchAttributeKey.for_keyword("AuterityTenant")
GRAPH = SearchAttributeKey.for_keyword("AuterityGraph")
GRAPH_VERSION = SearchAttributeKey.for_keyword("AuterityGraphVersion")
TRIGGER = SearchAttributeKey.for_keyword("AuterityTrigger")
SEARCH_ATTRIBUTES = (TENANT, GRAPH, GRAPH_VERSION, TRIGGER)
"""What `auterity temporal setup` and `auterity dev` register on the namespace."""

FAIRNESS_DYNAMIC_CONFIG = {"matching.enableFairness": "true"}
"""The Temporal server settings fairness keys need (Server 1.32: off by default; it implies
`matching.useNewMatcher`). `auterity dev` and the tests pass them to the dev server."""

SYSTEM_PREFIX = "_system:"
AUDIT_RETENTION_ID = f"{SYSTEM_PREFIX}audit-retention"
"""The audit retention schedule, and the id of each run it starts."""


class Trigger(StrEnum):
    """What started a run (the `AuterityTrigger` search attribute)."""

    API = "api"
    WEBHOOK = "webhook"
    SCHEDULE = "schedule"
    BUILDER = "builder"
    RETRY = "retry"
    SUBGRAPH = "subgraph"
    FOREACH = "foreach"


def tenant_prefix(tenant: str) -> str:
    """What every workflow id of the tenant starts with."""
    return f"{tenant}:"


def in_tenant(workflow_id: str, tenant: str) -> bool:
    return workflow_id.startswith(tenant_prefix(tenant))


def run_id(tenant: str, graph_id: str, idempotency_key: str | None = None) -> str:
    """A run's workflow id; an idempotency key always maps to the same one."""
    if idempotency_key:
        unique = "k" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    else:
        unique = uuid.uuid4().hex
    return f"{tenant}:{graph_id}:{unique}"


_SCHEDULE = "sched"


def new_schedule_id(tenant: str) -> str:
    return f"{tenant}:{_SCHEDULE}:{secrets.token_hex(6)}"


def schedule_in_tenant(schedule_id: str, tenant: str) -> bool:
    return schedule_id.startswith(f"{tenant}:{_SCHEDULE}:")


def scheduled_run_id(tenant: str, graph_id: str, schedule_id: str) -> str:
    """The workflow id a schedule gives its runs (Temporal appends the scheduled time)."""
    return f"{tenant}:{graph_id}:{_SCHEDULE}-{schedule_id.rsplit(':', 1)[-1]}"


def subgraph_run_id(parent: str, node_id: str, index: int | None = None) -> str:
    return f"{parent}:{node_id}" if index is None else f"{parent}:{node_id}:{index}"


def foreach_batch_id(parent: str, node_id: str, number: int) -> str:
    return f"{parent}:{node_id}:batch-{number}"


def run_attributes(
    tenant: str,
    graph_id: str,
    version_id: str | None = None,
    trigger: Trigger | str | None = None,
) -> TypedSearchAttributes:
    """A run's search attributes (a schedule itself carries only tenant and graph)."""
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(TENANT, tenant),
        SearchAttributePair(GRAPH, graph_id),
    ]
    if version_id is not None:
        pairs.append(SearchAttributePair(GRAPH_VERSION, version_id))
    if trigger is not None:
        pairs.append(SearchAttributePair(TRIGGER, str(trigger)))
    return TypedSearchAttributes(pairs)


def run_priority(tenant: str) -> Priority:
    """A run's priority: its tenant is the fairness key (a slug: at most 63 bytes, within
    Temporal's 64)."""
    return Priority(fairness_key=tenant)


def dev_server_arguments() -> list[str]:
    """`temporal server start-dev` arguments that turn on what `FAIRNESS_DYNAMIC_CONFIG` names."""
    arguments: list[str] = []
    for key, value in FAIRNESS_DYNAMIC_CONFIG.items():
        arguments += ["--dynamic-config-value", f"{key}={value}"]
    return arguments
