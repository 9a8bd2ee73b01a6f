"""SSO: the tenant's configuration, and every step of a browser's sign-in.

Each sign-in step runs in its own transaction; a refusal rolls it back, is audited
in the tenant's trail (`auth.login`, outcome failure, with the reason) in a
transaction of its own, and is raised again for the route to answer with a page.
A successful sign-in leaves a one-time code bound to the browser; trading it
(`exchange`) starts the session exactly as a password login does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.auth import ensure_grantable
from api.problems import NotFound, Unprocessable
from api.schemas.auth import TokenPair
from api.schemas.sso import (
    DiscoverRead,
    OidcConfigRead,
    SamlConfigIn,
    SamlConfigRead,
    ScimRead,
    ServiceProviderRead,
    SignInOptionRead,
    SsoConfigRead,
    SsoConfigUpdate,
)
from api.state import AppState
from auterity import audit, metrics
from auterity.db import transaction
from auterity.models.sso import ScimToken, SsoConfig, SsoIdentity, SsoRequest
from auterity.models.tenancy import Tenant, User
from auterity.secrets import bind_keyring, keyring
from auterity.security.accounts import tenant_by_id, tenant_by_slug
from auterity.security.authentication import (
    AuthenticationFailed,
    revoke_user_sessions,
    start_session,
    user_principal,
)
from auterity.security.principal import Actor, Principal
from auterity.security.scoping import current_tenant, set_tenant
from auterity.security.sso import config, egress, flow, oidc, saml, scim
from auterity.security.sso.config import OidcConnection, RoleMapping, SamlConnection, SsoConfigError
from auterity.security.sso.discovery import sign_in_options
from auterity.security.sso.flow import SsoRefused
from auterity.security.sso.provisioning import Assertion, provision
from auterity.settings import Settings


@dataclass(frozen=True)
class Completed:
    """A sign-in the IdP vouched for: where the browser goes, with its one-time code."""

    location: str


# --- configuration --------------------------------------------------------------------------


def saml_base(base: str, slug: str) -> str:
    return f"{base}/v1/sso/saml/{slug}"


def oidc_redirect_uri(base: str, slug: str) -> str:
    return f"{base}/v1/sso/oidc/{slug}/callback"


def scim_base(base: str) -> str:
    return f"{base}/v1/scim/v2"


def _tenant_of(session: Session, principal: Principal) -> Tenant:
    tenant = tenant_by_id(session, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


def read_config(session: Session, principal: Principal, base: str) -> SsoConfigRead:
    """The caller's tenant's SSO configuration, as an admin reads it."""
    return _describe(session, _tenant_of(session, principal), config.load(session), base)


def _describe(session: Session, tenant: Tenant, row: SsoConfig | None, base: str) -> SsoConfigRead:
    token_set = (
        session.scalars(select(ScimToken.id).where(ScimToken.revoked_at.is_(None))).first()
        is not None
    )
    saml_conn, oidc_conn = config.saml_of(row), config.oidc_of(row)
    saml_read = None
    if saml_conn is not None and row is not None and row.sp_certificate:
        sp_base = saml_base(base, tenant.slug)
        saml_read = SamlConfigRead(
            **saml_conn.model_dump(),
            service_provider=ServiceProviderRead(
                entity_id=f"{sp_base}/metadata", acs_url=f"{sp_base}/acs",
                slo_url=f"{sp_base}/slo", metadata_url=f"{sp_base}/metadata",
                login_url=f"{sp_base}/login", certificate=row.sp_certificate,
            ),
        )  # fmt: skip
    oidc_read = None
    if oidc_conn is not None and row is not None:
        oidc_read = OidcConfigRead(
            **oidc_conn.model_dump(),
            client_secret_set=row.oidc_secret_ciphertext is not None,
            redirect_uri=oidc_redirect_uri(base, tenant.slug),
            login_url=f"{base}/v1/sso/oidc/{tenant.slug}/login",
        )
    return SsoConfigRead(
        saml=saml_read,
        oidc=oidc_read,
        role_mappings=config.mappings_of(row) if row is not None else [],
        default_roles=list(row.default_roles) if row is not None else [],
        jit_provisioning=row.jit_provisioning if row is not None else True,
        require_sso=row.require_sso if row is not None else False,
        scim=ScimRead(base_url=scim_base(base), token_set=token_set),
        updated_at=row.updated_at if row is not None else None,
    )


async def resolve_saml(body: SamlConfigIn, settings: Settings) -> SamlConnection:
    """The SAML connection a request describes; the metadata URL is fetched now (egress)."""
    fields: dict[str, Any] = body.model_dump(
        exclude={"metadata_xml", "metadata_url", "idp_entity_id", "idp_sso_url", "idp_slo_url",
                 "idp_certificates"}
    )  # fmt: skip
    try:
        if body.metadata_url is not None:
            try:
                fetched = await egress.get(
                    body.metadata_url, settings, accept="application/samlmetadata+xml"
                )
            except egress.EgressRefused as exc:
                raise SsoConfigError("saml.metadata_url", str(exc)) from None
            if fetched.status != 200:
                raise SsoConfigError("saml.metadata_url", f"answered HTTP {fetched.status}")
            idp = config.parse_idp_metadata(fetched.body.decode("utf-8", "replace"))
            fields["metadata_url"] = body.metadata_url
        elif body.metadata_xml is not None:
            idp = config.parse_idp_metadata(body.metadata_xml)
        else:
            idp = {"idp_entity_id": body.idp_entity_id, "idp_sso_url": body.idp_sso_url,
                   "idp_slo_url": body.idp_slo_url, "idp_certificates": body.idp_certificates}  # fmt: skip
        connection = SamlConnection.model_validate({**fields, **idp})
        for field in ("idp_sso_url", "idp_slo_url"):
            url = getattr(connection, field)
            if url is not None:
                await _check_browser_url(url, settings, f"saml.{field}")
        return connection
    except SsoConfigError as exc:
        field = exc.field if exc.field.startswith("saml.") else f"saml.{exc.field}"
        raise _unprocessable(field, exc.message) from None
    except ValueError as exc:
        raise _validation(exc, "saml") from None


async def _check_browser_url(url: str, settings: Settings, field: str) -> None:
    """URLs the browser (not the server) visits: https unless an allowed internal host."""
    if not url.startswith("https://"):
        try:
            await egress.check_url(url, settings)
        except egress.EgressRefused as exc:
            raise SsoConfigError(field, str(exc)) from None


def put_config(
    session: Session,
    principal: Principal,
    body: SsoConfigUpdate,
    saml_connection: SamlConnection | None,
    base: str,
    context: audit.AuditContext,
) -> SsoConfigRead:
    """Replace the tenant's SSO configuration; secrets not sent are kept."""
    tenant = _tenant_of(session, principal)
    mapped = sorted(
        {role for item in body.role_mappings for role in item.roles} | set(body.default_roles)
    )
    ensure_grantable(session, principal, mapped, field="role_mappings")
    oidc_connection: OidcConnection | None = None
    if body.oidc is not None:
        try:
            oidc_connection = OidcConnection.model_validate(
                body.oidc.model_dump(exclude={"client_secret"})
            )
        except ValueError as exc:
            raise _validation(exc, "oidc") from None
    if body.require_sso and saml_connection is None and oidc_connection is None:
        raise _unprocessable("require_sso", "needs a SAML or OIDC connection")
    row, created = config.get_or_create(session, tenant.id)
    if oidc_connection is not None:
        assert body.oidc is not None
        same_client = (
            row.oidc is not None and row.oidc.get("client_id") == oidc_connection.client_id
        )
        if body.oidc.client_secret is not None:
            config.seal_client_secret(session, row, body.oidc.client_secret)
        elif not same_client:
            row.oidc_secret_key_id = row.oidc_secret_ciphertext = None
    else:
        row.oidc_secret_key_id = row.oidc_secret_ciphertext = None
    row.saml = saml_connection.model_dump() if saml_connection is not None else None
    row.oidc = oidc_connection.model_dump() if oidc_connection is not None else None
    if saml_connection is not None:
        config.ensure_sp_key_pair(session, row, f"auterity-{tenant.slug}")
    row.role_mappings = [RoleMapping(group=item.group, roles=item.roles).model_dump()
                         for item in body.role_mappings]  # fmt: skip
    row.default_roles = sorted(set(body.default_roles))
    row.jit_provisioning = body.jit_provisioning
    row.require_sso = body.require_sso
    config.touch(row)
    session.flush()
    audit.record(
        session, principal, "sso.config.updated" if not created else "sso.config.created",
        targets=[audit.Target("tenant", tenant.id, tenant.slug)],
        details={
            "saml": saml_connection.idp_entity_id if saml_connection else None,
            "oidc": oidc_connection.issuer if oidc_connection else None,
            "oidc_client_secret": "replaced" if body.oidc and body.oidc.client_secret else "kept",
            "role_mappings": len(row.role_mappings), "default_roles": row.default_roles,
            "jit_provisioning": row.jit_provisioning, "require_sso": row.require_sso,
        },
        request=context,
    )  # fmt: skip
    return _describe(session, tenant, row, base)


def delete_config(session: Session, principal: Principal, context: audit.AuditContext) -> None:
    """Turn SSO off for the caller's tenant."""
    tenant = _tenant_of(session, principal)
    row = config.load(session)
    if row is None:
        raise NotFound("this tenant has no SSO configuration")
    session.delete(row)
    session.flush()
    audit.record(session, principal, "sso.config.deleted",
                 targets=[audit.Target("tenant", tenant.id, tenant.slug)], request=context)  # fmt: skip


def create_scim_token(session: Session, principal: Principal, context: audit.AuditContext) -> str:
    """A new SCIM token (shown once); the previous ones stop working."""
    tenant = _tenant_of(session, principal)
    now = datetime.now(UTC)
    revoked = session.execute(
        update(ScimToken)
        .where(ScimToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    token = scim.new_token()
    row = ScimToken(
        tenant_id=tenant.id, token_hash=flow.digest(token), created_by=principal.user_id
    )
    session.add(row)
    session.flush()
    audit.record(session, principal, "sso.scim_token.created",
                 targets=[audit.Target("scim_token", row.id)],
                 details={"previous_revoked": revoked}, request=context)  # fmt: skip
    return token


def revoke_scim_tokens(session: Session, principal: Principal, context: audit.AuditContext) -> None:
    revoked = session.execute(
        update(ScimToken)
        .where(ScimToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if not revoked:
        raise NotFound("this tenant has no SCIM token")
    audit.record(session, principal, "sso.scim_token.revoked",
                 details={"revoked": revoked}, request=context)  # fmt: skip


def _unprocessable(field: str, message: str) -> Unprocessable:
    loc = ["body", *field.split(".")]
    return Unprocessable(f"{field}: {message}", errors=[{"loc": loc, "msg": message}])


def _validation(exc: ValueError, prefix: str) -> Unprocessable:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        found = errors()
        first = found[0] if found else {"loc": (), "msg": str(exc)}
        where = ".".join([prefix, *(str(part) for part in first["loc"])])
        return _unprocessable(where, str(first["msg"]).removeprefix("Value error, "))
    return _unprocessable(prefix, str(exc))


# --- the browser's way in -------------------------------------------------------------------


def _tenant_with(
    session: Session, slug: str, settings: Settings, protocol: str
) -> tuple[Tenant, SsoConfig]:
    tenant = tenant_by_slug(session, slug)
    set_tenant(session, tenant.id if tenant else "")
    bind_keyring(session, keyring(settings))
    row = config.load(session) if tenant is not None else None
    if tenant is None or row is None or not getattr(row, protocol):
        raise NotFound(f"tenant {slug!r} has no {protocol.upper()} sign-in")
    return tenant, row


def _service_provider(
    session: Session, row: SsoConfig, base: str, slug: str
) -> saml.ServiceProvider:
    connection = config.saml_of(row)
    assert connection is not None and row.sp_certificate is not None
    return saml.ServiceProvider(saml_base(base, slug), connection, row.sp_certificate,
                                config.sp_private_key(session, row))  # fmt: skip


def saml_metadata(state: AppState, slug: str, base: str) -> str:
    with transaction(state.sessions) as session:
        _, row = _tenant_with(session, slug, state.settings, "saml")
        return _service_provider(session, row, base, slug).metadata()


def saml_login(state: AppState, slug: str, return_to: str, base: str, browser: str) -> str:
    """The IdP URL (a signed AuthnRequest) for a new SP-initiated sign-in; its ID is kept."""
    now = datetime.now(UTC)
    with transaction(state.sessions) as session:
        _, row = _tenant_with(session, slug, state.settings, "saml")
        url, request_id = _service_provider(session, row, base, slug).login_redirect(return_to)
        flow.save_request(
            session, request_id, "saml", return_to=return_to, browser=browser, now=now
        )
        return url


def saml_acs(
    state: AppState, slug: str, form: dict[str, str], base: str, browser: str, request: Any
) -> Completed:
    """Check a posted SAMLResponse, provision the person, and hand the browser a code."""
    now = datetime.now(UTC)
    tenant_id: str | None = None
    try:
        with transaction(state.sessions) as session:
            tenant, row = _tenant_with(session, slug, state.settings, "saml")
            tenant_id = tenant.id
            connection = config.saml_of(row)
            assert connection is not None
            if "SAMLResponse" not in form:
                raise SsoRefused("invalid_response", "no SAMLResponse was posted", status=400)
            posted_relay = flow.safe_return_to(form.get("RelayState"))
            verified = _service_provider(session, row, base, slug).verify(form["SAMLResponse"])
            flow.remember_assertion(session, tenant.id, verified.assertion_id,
                                    verified.not_on_or_after, now)  # fmt: skip
            if verified.in_response_to is None:
                if not connection.allow_idp_initiated:
                    raise SsoRefused(
                        "missing_in_response_to",
                        "unsolicited response (no InResponseTo) and IdP-initiated sign-in is off",
                    )
                return_to = posted_relay
            else:
                pending = flow.claim_request(session, verified.in_response_to, "saml", now,
                                             reason="wrong_in_response_to")  # fmt: skip
                return_to = pending.return_to
            return _complete(session, tenant, row, verified.assertion, browser, return_to, now)
    except SsoRefused as refused:
        metrics.sso_refused("saml", refused.reason)
        if tenant_id is not None:
            flow.audit_refusal(state.sessions, state.settings, tenant_id, refused, method="saml",
                               request=request)  # fmt: skip
        raise


def _complete(
    session: Session, tenant: Tenant, row: SsoConfig, assertion: Assertion, browser: str,
    return_to: str, now: datetime,
) -> Completed:  # fmt: skip
    user, changes = provision(session, tenant, row, assertion, now)
    details: dict[str, Any] = {"idp": assertion.issuer, "subject": assertion.subject[:200]}
    if assertion.session_index:
        details["session_index"] = assertion.session_index[:200]
    details.update({key: True for key in ("account_created", "identity_linked") if key in changes})
    code = flow.create_handoff(session, user_id=user.id, method=assertion.protocol,
                               browser=browser, details=details, now=now)  # fmt: skip
    separator = "&" if "?" in return_to else "?"
    return Completed(location=f"{return_to}{separator}sso_code={code}")


async def oidc_login(state: AppState, slug: str, return_to: str, base: str, browser: str) -> str:
    """The provider's authorization URL for a new sign-in; state, nonce and verifier are kept."""

    def connection() -> OidcConnection:
        with transaction(state.sessions) as session:
            _, row = _tenant_with(session, slug, state.settings, "oidc")
            found = config.oidc_of(row)
            assert found is not None
            return found

    conn = await run_in_threadpool(connection)
    document = await oidc.discover(conn, state.settings)
    started = oidc.start(conn, document, oidc_redirect_uri(base, slug))

    def save() -> None:
        with transaction(state.sessions) as session:
            _tenant_with(session, slug, state.settings, "oidc")
            flow.save_request(session, flow.digest(started.state), "oidc", return_to=return_to,
                              browser=browser, now=datetime.now(UTC), nonce=started.nonce,
                              verifier=started.verifier)  # fmt: skip

    await run_in_threadpool(save)
    return started.url


async def oidc_callback(
    state: AppState, slug: str, query: dict[str, str], base: str, browser: str | None, request: Any
) -> Completed:
    """Check the provider's answer and the ID token, provision, and hand the browser a code."""
    settings = state.settings
    tenant_id: str | None = None

    def spend_state() -> tuple[str, OidcConnection, str | None, str, str, str]:
        nonlocal tenant_id
        with transaction(state.sessions) as session:
            tenant, row = _tenant_with(session, slug, settings, "oidc")
            tenant_id = tenant.id
            if "error" in query:
                raise SsoRefused("idp_error", f"the provider answered {query['error'][:100]!r}")
            if not query.get("state") or not query.get("code"):
                raise SsoRefused(
                    "state_mismatch", "the callback has no state or no code", status=400
                )
            state_hash = flow.digest(query["state"])
            pending = session.scalars(
                select(SsoRequest).where(SsoRequest.id == state_hash)
            ).one_or_none()
            if pending is None or browser is None or pending.browser_hash != flow.digest(browser):
                raise SsoRefused("state_mismatch",
                                 "the state is not one this browser started")  # fmt: skip
            pending = flow.claim_request(session, state_hash, "oidc", datetime.now(UTC),
                                         reason="state_mismatch")  # fmt: skip
            connection = config.oidc_of(row)
            assert connection is not None and pending.nonce is not None
            verifier = flow.request_verifier(session, pending)
            if verifier is None:
                raise SsoRefused("missing_pkce_verifier", "the sign-in kept no PKCE verifier")
            return (tenant.id, connection, config.client_secret(session, row), pending.nonce,
                    verifier, pending.return_to)  # fmt: skip

    try:
        # The state is spent (committed) before the code is used: a second callback fails.
        _, conn, secret, nonce, verifier, return_to = await run_in_threadpool(spend_state)
        document = await oidc.discover(conn, settings)
        id_token = await oidc.exchange_code(conn, secret, document, code=query["code"],
                                            verifier=verifier,
                                            redirect_uri=oidc_redirect_uri(base, slug),
                                            settings=settings)  # fmt: skip
        assertion = await oidc.verify_id_token(id_token, conn, document, nonce=nonce,
                                               settings=settings, now=datetime.now(UTC))  # fmt: skip
        bound = browser or ""

        def finish() -> Completed:
            with transaction(state.sessions) as session:
                tenant, row = _tenant_with(session, slug, settings, "oidc")
                return _complete(
                    session, tenant, row, assertion, bound, return_to, datetime.now(UTC)
                )

        return await run_in_threadpool(finish)
    except SsoRefused as refused:
        metrics.sso_refused("oidc", refused.reason)
        if tenant_id is not None:
            await run_in_threadpool(
                flow.audit_refusal, state.sessions, settings, tenant_id, refused,
                method="oidc", request=request,
            )  # fmt: skip
        raise


def exchange(state: AppState, code: str, browser: str | None, request: Any) -> TokenPair:
    """Trade a hand-off code (from the browser that signed in) for the token pair."""
    now = datetime.now(UTC)
    tenant_id: str | None = None
    method = "sso"
    try:
        with transaction(state.sessions) as session:
            bind_keyring(session, keyring(state.settings))
            try:
                handoff = flow.redeem_handoff(session, code, browser, now)
            finally:
                tenant_id = current_tenant(session)
            method = handoff.method
            tenant = tenant_by_id(session, handoff.tenant_id)
            user = session.scalars(select(User).where(User.id == handoff.user_id)).one_or_none()
            assert tenant is not None
            if user is None:
                raise SsoRefused("account_deactivated", "the account is gone")
            try:
                user_principal(session, tenant, user.id, None)  # still an active member?
            except AuthenticationFailed as exc:
                raise SsoRefused("membership_deactivated", exc.reason) from None
            issued = start_session(session, state.settings, tenant, user, now)
            audit.record(
                session,
                Actor(type="user", id=user.id, name=user.email),
                "auth.login",
                targets=[audit.Target("user", user.id, user.email)],
                details={"method": method, "session_id": issued.session_id, **handoff.details},
                request=request,
            )
            return TokenPair(access_token=issued.access_token,
                             refresh_token=issued.refresh_token, tenant=tenant.slug)  # fmt: skip
    except SsoRefused as refused:
        metrics.sso_refused(method, refused.reason)
        if tenant_id:
            flow.audit_refusal(state.sessions, state.settings, tenant_id, refused, method=method,
                               request=request)  # fmt: skip
        raise


def discover(state: AppState, email: str, base: str) -> DiscoverRead:
    with transaction(state.sessions) as session:
        options = sign_in_options(session, email)
    return DiscoverRead(
        sso=bool(options),
        options=[
            SignInOptionRead(
                tenant=o.tenant,
                tenant_name=o.tenant_name,
                protocol=o.protocol,
                login_url=f"{base}{o.login_path}",
            )
            for o in options
        ],  # fmt: skip
    )


# --- single logout --------------------------------------------------------------------------


def saml_logout(
    session: Session, settings: Settings, principal: Principal, base: str,
    context: audit.AuditContext,
) -> str | None:  # fmt: skip
    """End the caller's sessions here and, when the IdP supports it, give the browser the
    IdP's logout URL (a signed LogoutRequest) to end the IdP session too. Runs in the
    request's session, which the caller's credential has scoped to its tenant."""
    if principal.user_id is None:
        raise NotFound("API keys have no SSO session")
    now = datetime.now(UTC)
    tenant, row = _tenant_with(session, principal.tenant_slug, settings, "saml")
    ended = revoke_user_sessions(session, principal.user_id, "logout", now)
    connection = config.saml_of(row)
    assert connection is not None
    identity = session.scalars(
        select(SsoIdentity).where(SsoIdentity.user_id == principal.user_id,
                                  SsoIdentity.issuer == connection.idp_entity_id)
    ).first()  # fmt: skip
    redirect = None
    if identity is not None and connection.idp_slo_url:
        sp = _service_provider(session, row, base, tenant.slug)
        redirect = sp.logout_redirect(identity.subject, None, "/")
    audit.record(session, principal, "auth.logout",
                 details={"method": "saml", "sessions_ended": ended, "idp_logout": bool(redirect)},
                 request=context)  # fmt: skip
    return redirect


def saml_slo(state: AppState, slug: str, query: dict[str, str], raw_query: str, base: str,
             request: Any) -> str:  # fmt: skip
    """The IdP's front-channel logout: a signed LogoutRequest ends the person's sessions
    here and is answered with a signed LogoutResponse; a LogoutResponse ends at "/"."""
    now = datetime.now(UTC)
    tenant_id: str | None = None
    try:
        with transaction(state.sessions) as session:
            tenant, row = _tenant_with(session, slug, state.settings, "saml")
            tenant_id = tenant.id
            sp = _service_provider(session, row, base, slug)
            if "SAMLResponse" in query:
                return "/"
            if "SAMLRequest" not in query:
                raise SsoRefused("invalid_logout_request", "no SAMLRequest", status=400)
            name_id, request_id = sp.verify_logout_request(query, raw_query)
            identity = session.scalars(
                select(SsoIdentity).where(SsoIdentity.issuer == sp.connection.idp_entity_id,
                                          SsoIdentity.subject == name_id)
            ).one_or_none()  # fmt: skip
            ended = (
                revoke_user_sessions(session, identity.user_id, "idp_logout", now)
                if identity
                else 0
            )
            audit.record(
                session, Actor.system("saml idp"), "auth.logout",
                targets=[audit.Target("user", identity.user_id)] if identity else [],
                details={"method": "saml", "initiated_by": "idp", "sessions_ended": ended},
                request=request,
            )  # fmt: skip
            return sp.logout_response_redirect(request_id, query.get("RelayState"))
    except SsoRefused as refused:
        metrics.sso_refused("saml", refused.reason, sign_in=False)
        if tenant_id is not None:
            flow.audit_refusal(state.sessions, state.settings, tenant_id, refused, method="saml",
                               request=request, action="auth.logout")  # fmt: skip
        raise
