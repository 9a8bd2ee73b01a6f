"""Permissions and the built-in roles; custom roles are stored per tenant."""

from __future__ import annotations

import re
from collections.abc import Iterable

PERMISSIONS: tuple[str, ...] = (
    "graphs:read",
    "graphs:write",
    "executions:read",
    "executions:start",
    "executions:cancel",
    "tasks:complete",
    "templates:write",
    "triggers:manage",
    "secrets:manage",
    "budgets:manage",
    "audit:read",
    "users:manage",
    "sso:manage",
)
PERMISSION_SET = frozenset(PERMISSIONS)

BUILTIN_ROLES: dict[str, frozenset[str]] = {
    "owner": PERMISSION_SET,
    "admin": PERMISSION_SET,
    "editor": frozenset(
        {
            "graphs:read",
            "graphs:write",
            "executions:read",
            "executions:start",
            "executions:cancel",
            "tasks:complete",
            "templates:write",
            "triggers:manage",
        }
    ),
    "operator": frozenset(
        {
            "graphs:read",
            "executions:read",
            "executions:start",
            "executions:cancel",
            "tasks:complete",
        }
    ),
    "approver": frozenset({"graphs:read", "executions:read", "tasks:complete"}),
    "viewer": frozenset({"graphs:read", "executions:read"}),
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
