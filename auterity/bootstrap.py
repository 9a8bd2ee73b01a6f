"""First rows: the `dev` tenant and its owner for `auterity dev`, tenants and users for the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from auterity import audit
from auterity.db import transaction
from auterity.models.identity import MembershipRole
from auterity.models.tenancy import Tenant, User
from auterity.secrets import bind_keyring, keyring
from auterity.security.accounts import (
    AccountError,
    add_member,
    create_tenant,
    create_user,
    custom_roles,
    membership_of,
    normalize_email,
    tenant_by_slug,
    user_by_email,
)
from auterity.security.passwords import generate_password, hash_password, verify_password, weakness
from auterity.security.permissions import BUILTIN_ROLES, OWNER
from auterity.security.principal import Actor
from auterity.security.scoping import set_tenant
from auterity.settings import Settings

DEV_TENANT = "dev"


@dataclass(frozen=True)
class CreatedUser:
    user: User
    tenant: Tenant
    roles: list[str]
    password: str | None  # set only when generated here


def bootstrap_dev(sessions: sessionmaker[Session], settings: Settings) -> tuple[str, str | None]:
    """Make sure tenant `dev` exists with an owner; (email, password generated now or None).

    The owner's email is AUTERITY_BOOTSTRAP_ADMIN_EMAIL. Their password is
    AUTERITY_BOOTSTRAP_ADMIN_PASSWORD when set (and is reset to it if it changed);
    otherwise one is generated the first time and returned so it can be printed.
    Running it again changes nothing.
    """
    email = normalize_email(settings.bootstrap_admin_email)
    wanted = (
        settings.bootstrap_admin_password.get_secret_value()
        if settings.bootstrap_admin_password
        else None
    )
    generated: str | None = None
    actor = Actor.system("auterity dev")
    with transaction(sessions) as session:
        bind_keyring(session, keyring(settings))
        tenant = tenant_by_slug(session, DEV_TENANT)
        if tenant is None:
            tenant = create_tenant(session, DEV_TENANT, "Development")
            set_tenant(session, tenant.id)
            audit.record(session, actor, "tenants.created", targets=[_target(tenant)])
        set_tenant(session, tenant.id)
        user = user_by_email(session, email)
        if user is None:
            password = wanted or (generated := generate_password())
            user = create_user(session, email, "Admin", password)
            audit.record(session, actor, "users.created", targets=[_user_target(user)])
        elif wanted and not verify_password(wanted, user.password_hash):
            user.password_hash = hash_password(wanted)
            audit.record(session, actor, "users.password_reset", targets=[_user_target(user)])
        membership = membership_of(session, user.id)
        if membership is None:
            add_member(session, tenant.id, user, [OWNER])
            audit.record(
                session,
                actor,
                "users.added",
                targets=[_user_target(user)],
                details={"roles": [OWNER]},
            )
        elif OWNER not in membership.roles or not membership.is_active:
            membership.is_active = True
            if OWNER not in membership.roles:
                membership.role_links.append(MembershipRole(tenant_id=tenant.id, role=OWNER))
            audit.record(
                session,
                actor,
                "users.updated",
                targets=[_user_target(user)],
                details={"roles": [OWNER]},
            )
    return email, generated


def create_tenant_with_audit(
    sessions: sessionmaker[Session],
    settings: Settings,
    slug: str,
    name: str = "",
    domains: Iterable[str] = (),
) -> Tenant:
    """`auterity tenant create`: a new tenant, audited as the first entry of its trail."""
    with transaction(sessions) as session:
        tenant = create_tenant(session, slug, name, domains)
        set_tenant(session, tenant.id)
        bind_keyring(session, keyring(settings))
        audit.record(
            session,
            Actor.system("auterity tenant create"),
            "tenants.created",
            targets=[_target(tenant)],
            details={"verified_domains": list(tenant.verified_domains)},
        )
        return tenant


def create_member(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    tenant_slug: str,
    email: str,
    name: str = "",
    roles: Iterable[str] = (OWNER,),
    password: str | None = None,
) -> CreatedUser:
    """`auterity user create`: an account (new or existing) made a member of a tenant.

    A new account gets `password`, or a generated one that is returned once. An
    existing account keeps its password; asking to set one is an error.
    """
    role_names = sorted(set(roles))
    with transaction(sessions) as session:
        tenant = tenant_by_slug(session, tenant_slug)
        if tenant is None:
            raise AccountError(f"tenant {tenant_slug!r} does not exist")
        set_tenant(session, tenant.id)
        bind_keyring(session, keyring(settings))
        unknown = [
            role
            for role in role_names
            if role not in BUILTIN_ROLES and role not in custom_roles(session)
        ]
        if unknown:
            raise AccountError(f"unknown role(s): {', '.join(unknown)}")
        actor = Actor.system("auterity user create")
        user = user_by_email(session, email)
        generated: str | None = None
        if user is None:
            if password is not None and (problem := weakness(password)):
                raise AccountError(f"password {problem}")
            user = create_user(session, email, name, password or (generated := generate_password()))
            audit.record(session, actor, "users.created", targets=[_user_target(user)])
        elif password is not None:
            raise AccountError(f"{user.email} exists and keeps its password")
        if membership_of(session, user.id) is not None:
            raise AccountError(f"{user.email} is already a member of {tenant_slug}")
        add_member(session, tenant.id, user, role_names)
        audit.record(
            session,
            actor,
            "users.added",
            targets=[_user_target(user)],
            details={"roles": role_names},
        )
        return CreatedUser(user=user, tenant=tenant, roles=role_names, password=generated)


def _target(tenant: Tenant) -> audit.Target:
    return audit.Target("tenant", tenant.id, tenant.slug)


def _user_target(user: User) -> audit.Target:
    return audit.Target("user", user.id, user.email)
