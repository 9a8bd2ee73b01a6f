"""SCIM 2.0 (RFC 7643/7644) Users and Groups over the tenant's members and role mapping.

A SCIM User is a member of the tenant (its `id` is the user id); `active: false`
deactivates the membership and ends the person's sessions at once; DELETE removes
the membership. A SCIM Group's members get the roles the tenant maps the group's
`displayName` to (`provisioning.roles_for`), recomputed whenever a group, its members
or a user changes. Every change is audited with the SCIM token as the actor.

Requests are plain JSON objects; what this module understands of them is what
`/Schemas` publishes (see `schemas`). Attributes it stores but does not interpret
(name parts, displayName, emails, enterprise extension) round-trip unchanged.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auterity import audit
from auterity.models.identity import Membership
from auterity.models.sso import (
    ScimGroup,
    ScimGroupMember,
    ScimToken,
    ScimUser,
    SsoConfig,
    SsoIdentity,
)
from auterity.models.tenancy import Tenant, User
from auterity.security import tokens
from auterity.security.accounts import (
    EMAIL,
    active_owner_count,
    add_member,
    create_user,
    email_domain,
    membership_of,
    memberships_of_user,
    normalize_email,
    tenant_by_id,
    user_by_email,
)
from auterity.security.authentication import revoke_user_sessions
from auterity.security.permissions import OWNER
from auterity.security.principal import Actor
from auterity.security.scoping import set_lookup, set_tenant, unscoped
from auterity.security.sso.provisioning import apply_roles, roles_for

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TOKEN_PREFIX = "scim_"
MAX_PAGE = 200
PLACEHOLDER_DOMAIN = "scim.invalid"
# Stored as sent and returned unchanged (canonical spelling by lower-case name).
USER_ATTRIBUTES = {
    name.lower(): name for name in ("name", "displayName", "emails", "active", ENTERPRISE)
}
_FILTER = re.compile(r'^\s*([A-Za-z][\w.]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_VALUE_PATH = re.compile(r'^(\w+)\[\s*(\w+)\s+eq\s+"([^"]*)"\s*\](?:\.(\w+))?$', re.IGNORECASE)


class ScimError(Exception):
    """A SCIM error response: `status`, `scim_type` (RFC 7644 §3.12) and what went wrong."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


@dataclass(frozen=True)
class Caller:
    """An authenticated SCIM client: the tenant it provisions and the token it used."""

    tenant: Tenant
    token_id: str
    base_url: str  # .../v1/scim/v2

    @property
    def actor(self) -> Actor:
        return Actor(type="system", id=self.token_id, name="scim")


def new_token() -> str:
    return TOKEN_PREFIX + tokens.new_refresh_token().removeprefix(tokens.REFRESH_PREFIX)


def authenticate(session: Session, credential: str | None, base_url: str, now: datetime) -> Caller:
    """The caller behind a SCIM bearer token; scopes `session` to its tenant; ScimError 401."""
    if not credential or not credential.startswith(TOKEN_PREFIX):
        raise ScimError(401, "send 'Authorization: Bearer <SCIM token>'")
    token_hash = tokens.digest(credential)
    set_lookup(session, credential=token_hash)
    row = session.scalars(
        unscoped(select(ScimToken).where(ScimToken.token_hash == token_hash))
    ).one_or_none()
    tenant = tenant_by_id(session, row.tenant_id) if row is not None else None
    if row is None or tenant is None:
        raise ScimError(401, "the SCIM token is invalid or revoked")
    set_tenant(session, tenant.id)  # known now: a revoked token's use is audited in its tenant
    if row.revoked_at is not None:
        raise ScimError(401, "the SCIM token is invalid or revoked")
    row.last_used_at = now
    return Caller(tenant=tenant, token_id=row.id, base_url=base_url)


# --- rendering ------------------------------------------------------------------------------


def _meta(
    caller: Caller, kind: str, rid: str, created: datetime, updated: datetime, version: int
) -> dict[str, Any]:
    return {
        "resourceType": kind,
        "created": _iso(created),
        "lastModified": _iso(updated),
        "location": f"{caller.base_url}/{kind}s/{rid}",
        "version": f'W/"{version}"',
    }


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z") + (
        "" if moment.tzinfo else "Z"
    )


def user_resource(session: Session, caller: Caller, scim: ScimUser) -> dict[str, Any]:
    user = session.scalars(select(User).where(User.id == scim.user_id)).one()
    membership = membership_of(session, user.id)
    groups = session.execute(
        select(ScimGroup.id, ScimGroup.display_name)
        .join(ScimGroupMember, ScimGroupMember.group_id == ScimGroup.id)
        .where(ScimGroupMember.user_id == user.id)
        .order_by(ScimGroup.display_name)
    ).all()
    resource: dict[str, Any] = {"schemas": [USER], "id": user.id, "userName": scim.user_name}
    if ENTERPRISE in scim.attributes:
        resource["schemas"].append(ENTERPRISE)
    if scim.external_id is not None:
        resource["externalId"] = scim.external_id
    resource.update(scim.attributes)
    if "emails" not in resource and not user.email.endswith("@" + PLACEHOLDER_DOMAIN):
        resource["emails"] = [{"value": user.email, "type": "work", "primary": True}]
    if "active" in resource:  # what the IdP set, as it stands now (an admin may have changed it)
        resource["active"] = bool(
            user.is_active and membership is not None and membership.is_active
        )
    if groups:
        resource["groups"] = [
            {"value": gid, "display": name, "$ref": f"{caller.base_url}/Groups/{gid}"}
            for gid, name in groups
        ]
    resource["meta"] = _meta(
        caller, "User", user.id, scim.created_at, scim.updated_at, scim.version
    )
    return resource


def group_resource(session: Session, caller: Caller, group: ScimGroup) -> dict[str, Any]:
    members = session.execute(
        select(ScimUser.user_id, ScimUser.user_name)
        .join(ScimGroupMember, ScimGroupMember.user_id == ScimUser.user_id)
        .where(ScimGroupMember.group_id == group.id)
        .order_by(ScimUser.user_name)
    ).all()
    resource: dict[str, Any] = {
        "schemas": [GROUP],
        "id": group.id,
        "displayName": group.display_name,
    }
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    resource.update(group.attributes)
    resource["members"] = [
        {"value": uid, "type": "User", "$ref": f"{caller.base_url}/Users/{uid}"}
        for uid, _name in members
    ]
    resource["meta"] = _meta(
        caller, "Group", group.id, group.created_at, group.updated_at, group.version
    )
    return resource


def list_response(resources: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


# --- users ----------------------------------------------------------------------------------


def _scim_user(session: Session, user_id: str) -> ScimUser:
    row = session.scalars(select(ScimUser).where(ScimUser.user_id == user_id)).one_or_none()
    if row is None:
        raise ScimError(404, f"User {user_id} not found")
    return row


def _string(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ScimError(400, f"{name} is required", "invalidValue")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ScimError(400, f"{name} must be a non-empty string", "invalidValue")
    return value.strip()


def _check_schemas(body: Any, schema: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or schema not in schemas):
        raise ScimError(400, f"schemas must include {schema}", "invalidSyntax")
    return body


def _email_of(body: dict[str, Any], user_name: str) -> str:
    emails = body.get("emails")
    chosen: str | None = None
    if emails is not None:
        if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
            raise ScimError(400, "emails must be a list of objects", "invalidValue")
        ranked = sorted(emails, key=lambda e: (not e.get("primary"), e.get("type") != "work"))
        chosen = next((e["value"] for e in ranked if isinstance(e.get("value"), str)), None)
    for candidate in (chosen, user_name):
        if candidate and EMAIL.match(normalize_email(candidate)):
            return normalize_email(candidate)
    # No address at all: a unique placeholder under .invalid (RFC 2606), never deliverable;
    # the person's first SSO sign-in finds the account by userName instead.
    local = re.sub(r"[^a-z0-9._-]+", "-", user_name.lower()).strip("-.")[:40] or "user"
    return f"{local}.{uuid.uuid4().hex[:12]}@{PLACEHOLDER_DOMAIN}"


def _display_name(body: dict[str, Any]) -> str:
    name = body.get("name") if isinstance(body.get("name"), dict) else {}
    assert isinstance(name, dict)
    parts = [name.get("givenName"), name.get("familyName")]
    for value in (
        body.get("displayName"),
        name.get("formatted"),
        " ".join(p for p in parts if isinstance(p, str)),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return ""


def _user_attributes(body: dict[str, Any]) -> dict[str, Any]:
    return {USER_ATTRIBUTES[key.lower()]: value for key, value in body.items()
            if key.lower() in USER_ATTRIBUTES}  # fmt: skip


def create_user_resource(
    session: Session, caller: Caller, config: SsoConfig | None, body: Any, now: datetime
) -> dict[str, Any]:
    body = _check_schemas(body, USER)
    user_name = _string(body, "userName", required=True)
    assert user_name is not None
    external_id = _string(body, "externalId")
    _unique_user(session, user_name, external_id, None)
    email = _email_of(body, user_name)
    user = user_by_email(session, email)
    if user is None:
        user = create_user(session, email, _display_name(body))
        created = True
    else:
        if session.scalars(select(ScimUser).where(ScimUser.user_id == user.id)).first():
            raise ScimError(409, f"a User with email {email} exists", "uniqueness")
        member = membership_of(session, user.id) is not None
        if not member and email_domain(email) not in caller.tenant.verified_domains:
            raise ScimError(
                409, f"an account with email {email} exists; verify its domain to adopt it",
                "uniqueness",
            )  # fmt: skip
        created = False
    scim = ScimUser(
        tenant_id=caller.tenant.id,
        user_id=user.id,
        user_name=user_name,
        external_id=external_id,
        attributes=_user_attributes(body),
        created_at=now,
        updated_at=now,
    )
    session.add(scim)
    membership = membership_of(session, user.id)
    active = body.get("active", True) is not False
    if not isinstance(body.get("active", True), bool):
        raise ScimError(400, "active must be true or false", "invalidValue")
    if membership is None:
        roles = roles_for(session, config, []) if config is not None else []
        membership = add_member(session, caller.tenant.id, user, roles)
    else:
        resync_roles(session, config, [user.id])
    membership.is_active = active
    session.flush()
    audit.record(
        session, caller.actor, "scim.users.created",
        targets=[audit.Target("user", user.id, user.email)],
        details={"account_created": created, "active": active, "roles": membership.roles},
    )  # fmt: skip
    return user_resource(session, caller, scim)


def read_user_resource(session: Session, caller: Caller, user_id: str) -> dict[str, Any]:
    return user_resource(session, caller, _scim_user(session, user_id))


def replace_user_resource(
    session: Session,
    caller: Caller,
    config: SsoConfig | None,
    user_id: str,
    body: Any,
    now: datetime,
) -> dict[str, Any]:
    scim = _scim_user(session, user_id)
    body = _check_schemas(body, USER)
    user_name = _string(body, "userName", required=True)
    assert user_name is not None
    external_id = _string(body, "externalId")
    _unique_user(session, user_name, external_id, user_id)
    user = session.scalars(select(User).where(User.id == user_id)).one()
    membership = membership_of(session, user_id)
    if membership is None:
        raise ScimError(404, f"User {user_id} not found")
    changes: dict[str, Any] = {}
    email = _email_of(body, user_name)
    if email.endswith("@" + PLACEHOLDER_DOMAIN) and user.email.endswith("@" + PLACEHOLDER_DOMAIN):
        email = user.email  # still no address: keep the placeholder it has
    if email != user.email:
        other = user_by_email(session, email)
        if other is not None:
            raise ScimError(409, f"another account has email {email}", "uniqueness")
        verified = email_domain(email) in {*caller.tenant.verified_domains, PLACEHOLDER_DOMAIN}
        if not verified and not _only_here(session, caller, user_id):
            raise ScimError(
                400, f"email {email}: the account belongs to other tenants too, so only an "
                "address in this tenant's verified domains can be set through SCIM", "mutability",
            )  # fmt: skip
        changes["email"] = {"from": user.email, "to": email}
        user.email = email
    name = _display_name(body)
    if name and name != user.name:
        user.name = name
    scim.user_name, scim.external_id = user_name, external_id
    scim.attributes = _user_attributes(body)
    active = body.get("active")
    if not isinstance(active, bool | None):
        raise ScimError(400, "active must be true or false", "invalidValue")
    if active is not None and active != membership.is_active:
        if not active:
            _guard_last_owner(session, membership)
        membership.is_active = active
        changes["active"] = active
        if not active:
            changes["sessions_ended"] = revoke_user_sessions(session, user_id, "scim", now)
    scim.updated_at, scim.version = now, scim.version + 1
    session.flush()
    action = "scim.users.deactivated" if changes.get("active") is False else "scim.users.updated"
    audit.record(session, caller.actor, action,
                 targets=[audit.Target("user", user.id, user.email)], details=changes)  # fmt: skip
    return user_resource(session, caller, scim)


def delete_user_resource(
    session: Session, caller: Caller, config: SsoConfig | None, user_id: str, now: datetime
) -> None:
    scim = _scim_user(session, user_id)
    user = session.scalars(select(User).where(User.id == user_id)).one()
    ended = revoke_user_sessions(session, user_id, "scim", now)
    session.execute(delete(ScimGroupMember).where(ScimGroupMember.user_id == user_id))
    session.execute(delete(SsoIdentity).where(SsoIdentity.user_id == user_id))
    membership = membership_of(session, user_id)
    if membership is not None:
        _guard_last_owner(session, membership)
        session.delete(membership)
    session.delete(scim)
    session.flush()
    audit.record(session, caller.actor, "scim.users.deleted",
                 targets=[audit.Target("user", user.id, user.email)],
                 details={"sessions_ended": ended})  # fmt: skip


def _guard_last_owner(session: Session, membership: Membership) -> None:
    if membership.is_active and OWNER in membership.roles and active_owner_count(session) <= 1:
        raise ScimError(
            409, "the tenant's last active owner cannot be deactivated or removed through SCIM",
            "mutability",
        )  # fmt: skip


def _only_here(session: Session, caller: Caller, user_id: str) -> bool:
    """Whether this tenant is the account's only one (then its IdP may change its email)."""
    set_lookup(session, user_id=user_id)
    return all(tenant.id == caller.tenant.id for _, tenant in memberships_of_user(session, user_id))


def _unique(session: Session, column: Any, key: Any, value: str | None, own: str | None,
            label: str) -> None:  # fmt: skip
    """ScimError 409 when another row of the tenant has `value` in `column` (case-insensitive
    for names, exact for external ids)."""
    if value is None:
        return
    matches = func.lower(column) == value.lower() if label != "externalId" else column == value
    other = session.scalars(select(key).where(matches)).first()
    if other is not None and other != own:
        raise ScimError(409, f"{label} {value!r} is taken", "uniqueness")


def _unique_user(
    session: Session, user_name: str, external_id: str | None, own: str | None
) -> None:
    _unique(session, ScimUser.user_name, ScimUser.user_id, user_name, own, "userName")
    _unique(session, ScimUser.external_id, ScimUser.user_id, external_id, own, "externalId")


def _unique_group(session: Session, name: str, external_id: str | None, own: str | None) -> None:
    _unique(session, ScimGroup.display_name, ScimGroup.id, name, own, "displayName")
    _unique(session, ScimGroup.external_id, ScimGroup.id, external_id, own, "externalId")


# --- groups ---------------------------------------------------------------------------------


def _group(session: Session, group_id: str) -> ScimGroup:
    row = session.scalars(select(ScimGroup).where(ScimGroup.id == group_id)).one_or_none()
    if row is None:
        raise ScimError(404, f"Group {group_id} not found")
    return row


def _member_ids(session: Session, body: dict[str, Any]) -> list[str]:
    members = body.get("members") or []
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        raise ScimError(400, "members must be a list of objects", "invalidValue")
    ids = sorted({str(m.get("value")) for m in members})
    known = set(session.scalars(select(ScimUser.user_id).where(ScimUser.user_id.in_(ids))))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ScimError(400, f"members: no User {unknown[0]}", "invalidValue")
    return ids


def create_group_resource(
    session: Session, caller: Caller, config: SsoConfig | None, body: Any, now: datetime
) -> dict[str, Any]:
    body = _check_schemas(body, GROUP)
    name = _string(body, "displayName", required=True)
    assert name is not None
    external_id = _string(body, "externalId")
    _unique_group(session, name, external_id, None)
    members = _member_ids(session, body)
    group = ScimGroup(tenant_id=caller.tenant.id, display_name=name, external_id=external_id,
                      attributes={}, created_at=now, updated_at=now)  # fmt: skip
    session.add(group)
    session.flush()
    _set_members(session, caller, group, members)
    changed = resync_roles(session, config, members)
    audit.record(session, caller.actor, "scim.groups.created",
                 targets=[audit.Target("group", group.id, group.display_name)],
                 details={"members": len(members), "roles_changed": changed})  # fmt: skip
    return group_resource(session, caller, group)


def read_group_resource(session: Session, caller: Caller, group_id: str) -> dict[str, Any]:
    return group_resource(session, caller, _group(session, group_id))


def replace_group_resource(
    session: Session,
    caller: Caller,
    config: SsoConfig | None,
    group_id: str,
    body: Any,
    now: datetime,
) -> dict[str, Any]:
    group = _group(session, group_id)
    body = _check_schemas(body, GROUP)
    name = _string(body, "displayName", required=True)
    assert name is not None
    external_id = _string(body, "externalId")
    _unique_group(session, name, external_id, group_id)
    members = _member_ids(session, body)
    before = set(
        session.scalars(select(ScimGroupMember.user_id).where(ScimGroupMember.group_id == group_id))
    )
    renamed = name != group.display_name
    group.display_name, group.external_id = name, external_id
    group.updated_at, group.version = now, group.version + 1
    session.flush()
    _set_members(session, caller, group, members)
    affected = before | set(members) if renamed else before ^ set(members)
    changed = resync_roles(session, config, sorted(affected))
    audit.record(session, caller.actor, "scim.groups.updated",
                 targets=[audit.Target("group", group.id, group.display_name)],
                 details={"added": sorted(set(members) - before),
                          "removed": sorted(before - set(members)),
                          "renamed": renamed, "roles_changed": changed})  # fmt: skip
    return group_resource(session, caller, group)


def delete_group_resource(
    session: Session, caller: Caller, config: SsoConfig | None, group_id: str, now: datetime
) -> None:
    group = _group(session, group_id)
    members = list(
        session.scalars(select(ScimGroupMember.user_id).where(ScimGroupMember.group_id == group_id))
    )
    session.execute(delete(ScimGroupMember).where(ScimGroupMember.group_id == group_id))
    session.delete(group)
    session.flush()
    changed = resync_roles(session, config, members)
    audit.record(session, caller.actor, "scim.groups.deleted",
                 targets=[audit.Target("group", group.id, group.display_name)],
                 details={"members": len(members), "roles_changed": changed})  # fmt: skip


def _set_members(session: Session, caller: Caller, group: ScimGroup, members: list[str]) -> None:
    session.execute(delete(ScimGroupMember).where(ScimGroupMember.group_id == group.id))
    for user_id in members:
        session.add(ScimGroupMember(tenant_id=caller.tenant.id, group_id=group.id, user_id=user_id))
    session.flush()


def resync_roles(
    session: Session, config: SsoConfig | None, user_ids: Iterable[str]
) -> dict[str, Any]:
    """Recompute the roles of `user_ids` from their SCIM groups and last signed-in groups."""
    if config is None:
        return {}
    from auterity.security.sso.provisioning import scim_groups_of

    changed: dict[str, Any] = {}
    for user_id in user_ids:
        membership = session.scalars(
            select(Membership).where(Membership.user_id == user_id)
        ).one_or_none()
        if membership is None:
            continue
        seen: set[str] = set(scim_groups_of(session, user_id))
        for groups in session.scalars(
            select(SsoIdentity.groups).where(SsoIdentity.user_id == user_id)
        ):
            seen |= set(groups or [])
        change = apply_roles(session, membership, roles_for(session, config, seen))
        if change:
            changed[user_id] = change
    return changed


def _user_filters(value: str) -> dict[str, Any]:
    return {
        "username": func.lower(ScimUser.user_name) == value.lower(),
        "externalid": ScimUser.external_id == value,
        "id": ScimUser.user_id == value,
        "emails.value": ScimUser.user_id.in_(
            select(User.id).where(User.email == normalize_email(value))
        ),
    }


def _group_filters(value: str) -> dict[str, Any]:
    return {
        "displayname": func.lower(ScimGroup.display_name) == value.lower(),
        "externalid": ScimGroup.external_id == value,
        "id": ScimGroup.id == value,
        "members.value": ScimGroup.id.in_(
            select(ScimGroupMember.group_id).where(ScimGroupMember.user_id == value)
        ),
    }


def _filtered(query: Any, filter_: str | None, conditions: Callable[[str], dict[str, Any]]) -> Any:
    """`query` narrowed by a SCIM filter `attribute eq "value"` on a supported attribute."""
    if not filter_:
        return query
    attribute, value = _parse_filter(filter_)
    attribute = {"emails": "emails.value", "members": "members.value"}.get(attribute, attribute)
    condition = conditions(value).get(attribute)
    if condition is None:
        raise ScimError(400, f"filtering on {attribute} is not supported", "invalidFilter")
    return query.where(condition)


@dataclass(frozen=True)
class ResourceType:
    """What differs between Users and Groups where listing and patching them is one code."""

    table: Any
    key: Any
    filters: Callable[[str], dict[str, Any]]
    render: Callable[[Session, Caller, Any], dict[str, Any]]
    read: Callable[[Session, Caller, str], dict[str, Any]]
    replace: Callable[..., dict[str, Any]]
    multi_valued: frozenset[str]


USERS = ResourceType(
    ScimUser, ScimUser.user_id, _user_filters, user_resource, read_user_resource,
    replace_user_resource, frozenset({"emails"}),
)  # fmt: skip
GROUPS = ResourceType(
    ScimGroup, ScimGroup.id, _group_filters, group_resource, read_group_resource,
    replace_group_resource, frozenset({"members"}),
)  # fmt: skip


def list_resources(
    kind: ResourceType,
    session: Session,
    caller: Caller,
    filter_: str | None,
    start: int,
    count: int,
) -> dict[str, Any]:
    """One page of the tenant's users or groups, oldest first, narrowed by `filter_`."""
    query = _filtered(select(kind.table), filter_, kind.filters)
    return _page(session, caller, query.order_by(kind.table.created_at, kind.key),
                 start, count, kind.render)  # fmt: skip


def patch_resource(
    kind: ResourceType,
    session: Session,
    caller: Caller,
    config: SsoConfig | None,
    resource_id: str,
    body: Any,
    now: datetime,
) -> dict[str, Any]:
    """PatchOp operations applied to the resource as read, then stored as a replace."""
    patched = apply_patch(
        kind.read(session, caller, resource_id), body, multi_valued=set(kind.multi_valued)
    )
    return kind.replace(session, caller, config, resource_id, patched, now)


list_user_resources = partial(list_resources, USERS)
list_group_resources = partial(list_resources, GROUPS)
patch_user_resource = partial(patch_resource, USERS)
patch_group_resource = partial(patch_resource, GROUPS)


# --- filters, pages, PATCH ------------------------------------------------------------------


def _parse_filter(text: str) -> tuple[str, str]:
    match = _FILTER.match(text)
    if match is None:
        raise ScimError(400, f"filter {text[:100]!r}: only 'attribute eq \"value\"' is supported",
                        "invalidFilter")  # fmt: skip
    attribute = match.group(1).lower()
    for prefix in (USER.lower() + ":", GROUP.lower() + ":"):
        attribute = attribute.removeprefix(prefix)
    return attribute, match.group(2).replace('\\"', '"')


def _page(
    session: Session, caller: Caller, query: Any, start: int, count: int, render: Any
) -> dict[str, Any]:
    start = max(start, 1)
    count = max(min(count, MAX_PAGE), 0)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.offset(start - 1).limit(count)).all() if count else []
    return list_response([render(session, caller, row) for row in rows], int(total), start)


def apply_patch(resource: dict[str, Any], body: Any, *, multi_valued: set[str]) -> dict[str, Any]:
    """`resource` with the operations of a PatchOp body applied (RFC 7644 §3.5.2)."""
    if not isinstance(body, dict) or PATCH not in (body.get("schemas") or []):
        raise ScimError(400, f"a PATCH body has schemas [{PATCH}]", "invalidSyntax")
    operations = body.get("Operations") or body.get("operations")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    patched = {key: value for key, value in resource.items() if key not in {"meta", "groups"}}
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise ScimError(400, f"Operations[{index}] must be an object", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in {"add", "replace", "remove"}:
            raise ScimError(
                400, f"Operations[{index}].op must be add, replace or remove", "invalidSyntax"
            )
        path = operation.get("path")
        value = operation.get("value")
        if path is None:
            if op == "remove" or not isinstance(value, dict):
                raise ScimError(400, f"Operations[{index}]: a path is required", "noTarget")
            for key, item in value.items():
                _apply(patched, op, key, item, multi_valued)
        elif isinstance(path, str):
            _apply(patched, op, path, value, multi_valued)
        else:
            raise ScimError(400, f"Operations[{index}].path must be a string", "invalidPath")
    return patched


def _canonical(resource: dict[str, Any], name: str) -> str:
    for key in resource:
        if key.lower() == name.lower():
            return key
    return name


def _apply(resource: dict[str, Any], op: str, path: str, value: Any, multi: set[str]) -> None:
    for prefix in (USER + ":", GROUP + ":"):
        path = path.removeprefix(prefix)
    if path.startswith(ENTERPRISE):
        sub = path[len(ENTERPRISE) :].lstrip(":")
        if not sub:
            if op == "remove":
                resource.pop(ENTERPRISE, None)
            else:
                extension = resource.get(ENTERPRISE) if op == "add" else None
                resource[ENTERPRISE] = {**(extension or {}), **(value or {})}
            return
        extension = dict(resource.get(ENTERPRISE) or {})
        if op == "remove":
            extension.pop(sub, None)
        else:
            extension[sub] = value
        resource[ENTERPRISE] = extension
        return
    filtered = _VALUE_PATH.match(path)
    if filtered:
        attribute, field, wanted, sub = filtered.groups()
        key = _canonical(resource, attribute)
        items = resource.get(key) or []
        matches = [i for i in items if isinstance(i, dict) and str(i.get(field)) == wanted]
        if op == "remove":
            resource[key] = [i for i in items if i not in matches] if sub is None else items
            if sub is not None:
                for item in matches:
                    item.pop(sub, None)
            return
        if not matches:
            if op == "add" or sub is not None:
                new = {field: wanted}
                new.update({sub: value} if sub else (value if isinstance(value, dict) else {}))
                resource[key] = [*items, new]
                return
            raise ScimError(400, f"{path}: nothing matches", "noTarget")
        for item in matches:
            if sub:
                item[sub] = value
            elif isinstance(value, dict):
                item.update(value)
        return
    head, _, rest = path.partition(".")
    key = _canonical(resource, head)
    if rest:
        parent = resource.setdefault(key, {})
        if not isinstance(parent, dict):
            raise ScimError(400, f"{path}: {head} is not complex", "invalidPath")
        sub_key = _canonical(parent, rest)
        if op == "remove":
            parent.pop(sub_key, None)
        else:
            parent[sub_key] = value
        return
    if op == "remove":
        if key.lower() in multi and isinstance(value, list):
            drop = {str(v.get("value")) for v in value if isinstance(v, dict)}
            resource[key] = [i for i in resource.get(key) or [] if str(i.get("value")) not in drop]
        else:
            resource.pop(key, None)
        return
    if key.lower() in multi and op == "add":
        items = list(resource.get(key) or [])
        for item in value if isinstance(value, list) else [value]:
            if item not in items:
                items.append(item)
        resource[key] = items
        return
    if key.lower() == "active" and isinstance(value, str):
        value = value.strip().lower() == "true"  # Entra sends "False" as a string
    if isinstance(value, dict) and isinstance(resource.get(key), dict) and op == "add":
        resource[key] = {**resource[key], **value}
        return
    resource[key] = value


def project(
    resource: dict[str, Any], attributes: str | None, excluded: str | None
) -> dict[str, Any]:
    """`resource` narrowed by the `attributes` / `excludedAttributes` parameters (RFC 7644
    §3.4.2.5); `id` and `schemas` are always returned."""
    if not attributes and not excluded:
        return resource
    wanted = [_attribute_path(name) for name in (attributes or "").split(",") if name.strip()]
    dropped = [_attribute_path(name) for name in (excluded or "").split(",") if name.strip()]
    keys = {key.lower(): key for key in resource}
    if wanted:
        kept: dict[str, Any] = {"schemas": resource["schemas"], "id": resource["id"]}
        for top, sub in wanted:
            key = keys.get(top)
            if key is None:
                continue
            if sub is None or not isinstance(resource[key], dict):
                kept[key] = resource[key]
            else:
                inner = {k: v for k, v in resource[key].items() if k.lower() == sub}
                kept[key] = {**kept.get(key, {}), **inner}
        return kept
    narrowed = dict(resource)
    for top, sub in dropped:
        key = keys.get(top)
        if key is None or key in {"id", "schemas"}:
            continue
        if sub is None:
            narrowed.pop(key, None)
        elif isinstance(narrowed[key], dict):
            narrowed[key] = {k: v for k, v in narrowed[key].items() if k.lower() != sub}
    return narrowed


def _attribute_path(name: str) -> tuple[str, str | None]:
    name = name.strip()
    for schema in (USER, GROUP):
        if name.lower().startswith(schema.lower() + ":"):
            name = name[len(schema) + 1 :]
    if name.lower().startswith(ENTERPRISE.lower()):
        sub = name[len(ENTERPRISE) :].lstrip(":")
        return ENTERPRISE.lower(), sub.lower() or None
    top, _, sub = name.partition(".")
    return top.lower(), sub.lower() or None


def project_list(
    listing: dict[str, Any], attributes: str | None, excluded: str | None
) -> dict[str, Any]:
    return {
        **listing,
        "Resources": [project(r, attributes, excluded) for r in listing["Resources"]],
    }
