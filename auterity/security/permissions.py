"""Permissions and the built-in roles; custom roles are stored per tenant."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class Permission(StrEnum):
    """What a role (or an API key's scope) grants; the values are stored and sent as is."""

    GRAPHS_READ = "graphs:read"
    GRAPHS_WRITE = "graphs:write"
    EXECUTIONS_READ = "executions:read"
    EXECUTIONS_START = "executions:start"
    EXECUTIONS_CANCEL = "executions:cancel"
    TASKS_COMPLETE = "tasks:complete"
    TEMPLATES_WRITE = "templates:write"
    TRIGGERS_MANAGE = "triggers:manage"
    SECRETS_MANAGE = "secrets:manage"
    BUDGETS_MANAGE = "budgets:manage"
    ROUTES_MANAGE = "routes:manage"
    REGISTRY_MANAGE = "registry:manage"
    SPEND_READ = "spend:read"
    AUDIT_READ = "audit:read"
    USERS_MANAGE = "users:manage"
    SSO_MANAGE = "sso:manage"
    TENANT_MANAGE = "tenant:manage"


PERMISSIONS: tuple[str, ...] = tuple(Permission)
PERMISSION_SET = frozenset(PERMISSIONS)

BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "owner": PERMISSION_SET,
    "admin": PERMISSION_SET,
    "editor": frozenset(
        {
            Permission.GRAPHS_READ,
            Permission.GRAPHS_WRITE,
            Permission.EXECUTIONS_READ,
            Permission.EXECUTIONS_START,
            Permission.EXECUTIONS_CANCEL,
            Permission.TASKS_COMPLETE,
            Permission.TEMPLATES_WRITE,
            Permission.TRIGGERS_MANAGE,
        }
    ),
    "operator": frozenset(
        {
            Permission.GRAPHS_READ,
            Permission.EXECUTIONS_READ,
            Permission.EXECUTIONS_START,
            Permission.EXECUTIONS_CANCEL,
            Permission.TASKS_COMPLETE,
        }
    ),
    "approver": frozenset(
        {Permission.GRAPHS_READ, Permission.EXECUTIONS_READ, Permission.TASKS_COMPLETE}
    ),
    "viewer": frozenset({Permission.GRAPHS_READ, Permission.EXECUTIONS_READ}),
}

BUILTIN_DESCRIPTIONS = {
    "owner": "Everything, including granting and removing the owner role.",
    "admin": "Everything except granting or removing the owner role.",
    "editor": "Builds graphs, templates and triggers; starts, cancels and approves runs.",
    "operator": "Starts, cancels and approves runs of existing graphs.",
    "approver": "Completes human tasks; reads graphs and runs.",
    "viewer": "Reads graphs and runs.",
}
OWNER = "owner"

ROLE_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,62}$")


def unknown_permissions(permissions: Iterable[str]) -> list[str]:
    """The entries of `permissions` that are not permissions, in order."""
    return [permission for permission in permissions if permission not in PERMISSION_SET]
