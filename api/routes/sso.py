"""Single sign-on: the tenant's configuration, discovery, and the SAML and OIDC browser flows.

The protocol endpoints are public and authenticated by the protocol (signatures,
state bound to the browser); the configuration needs `sso:manage`. A sign-in ends
with a redirect to a path on this site carrying a one-time `sso_code`, which the
builder trades for the token pair at `POST /v1/sso/exchange`.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import CurrentPrincipal, SsoManager
from api.deps import PublicBaseDep, SessionDep, StateDep
from api.problems import Unauthorized
from api.schemas.auth import TokenPair
from api.schemas.sso import (
    DiscoverBody,
    DiscoverRead,
    ExchangeBody,
    SamlLogoutRead,
    ScimTokenCreated,
    SsoConfigRead,
    SsoConfigUpdate,
)
from api.services import sso as service
from auterity.audit import AuditContext
from auterity.security.sso import flow
from auterity.security.sso.flow import SsoRefused
from auterity.settings import Settings

router = APIRouter(prefix="/sso", tags=["sso"])
ReturnTo = Annotated[str | None, Query(max_length=flow.MAX_RETURN_TO,
                                       description="a path on this site to land on")]  # fmt: skip


# --- configuration --------------------------------------------------------------------------


@router.get("/config")
def read_sso_config(
    principal: SsoManager, session: SessionDep, base: PublicBaseDep
) -> SsoConfigRead:
    """The tenant's SSO configuration and what to enter at the IdP (secrets never shown)."""
    return service.read_config(session, principal, base)


@router.put("/config")
async def put_sso_config(
    body: SsoConfigUpdate, principal: SsoManager, session: SessionDep, request: Request,
    state: StateDep, base: PublicBaseDep,
) -> SsoConfigRead:  # fmt: skip
    """Replace the tenant's SSO configuration; a SAML metadata URL is fetched now."""
    saml = await service.resolve_saml(body.saml, state.settings) if body.saml is not None else None
    return await run_in_threadpool(
        service.put_config, session, principal, body, saml, base, AuditContext.of(request)
    )


@router.delete("/config", status_code=204)
def delete_sso_config(principal: SsoManager, session: SessionDep, request: Request) -> Response:
    """Turn SSO off for the tenant (linked identities stay, for when it is turned back on)."""
    service.delete_config(session, principal, AuditContext.of(request))
    return Response(status_code=204)


@router.post("/scim-token", status_code=201)
def create_scim_token(
    principal: SsoManager, session: SessionDep, request: Request, base: PublicBaseDep
) -> ScimTokenCreated:
    """A new SCIM bearer token, shown once; earlier tokens stop working."""
    token = service.create_scim_token(session, principal, AuditContext.of(request))
    return ScimTokenCreated(token=token, base_url=service.scim_base(base))


@router.delete("/scim-token", status_code=204)
def revoke_scim_token(principal: SsoManager, session: SessionDep, request: Request) -> Response:
    """Revoke the tenant's SCIM token."""
    service.revoke_scim_tokens(session, principal, AuditContext.of(request))
    return Response(status_code=204)


# --- discovery and the hand-off -------------------------------------------------------------


@router.post("/discover")
def discover_sso(body: DiscoverBody, state: StateDep, base: PublicBaseDep) -> DiscoverRead:
    """Where an email signs in: the SSO of tenants that verified its domain (no account look-up)."""
    return service.discover(state, body.email, base)


@router.post("/exchange", responses={401: {}})
def exchange_sso_code(
    body: ExchangeBody, request: Request, response: Response, state: StateDep
) -> TokenPair:
    """Trade the one-time `sso_code` of a finished sign-in for the token pair (same browser only)."""
    browser = _known_browser(request, state.settings)
    try:
        tokens = service.exchange(state, body.code, browser, AuditContext.of(request))
    except SsoRefused:
        raise Unauthorized(
            "the sign-in code is invalid, expired, used or from another browser"
        ) from None
    response.headers["Cache-Control"] = "no-store"
    return tokens


# --- the browser flows ----------------------------------------------------------------------


def _known_browser(request: Request, settings: Settings) -> str | None:
    return flow.browser_of(settings, request.cookies.get(flow.BROWSER_COOKIE), datetime.now(UTC))


def _browser(request: Request, settings: Settings) -> tuple[str, str | None]:
    """(browser id, a new cookie to set or None) for this browser."""
    known = _known_browser(request, settings)
    if known is not None:
        return known, None
    cookie, browser = flow.new_browser_cookie(settings, datetime.now(UTC))
    return browser, cookie


def _with_cookie(response: Response, cookie: str | None, base: str) -> Response:
    if cookie is not None:
        response.set_cookie(
            flow.BROWSER_COOKIE, cookie, max_age=int(flow.BROWSER_COOKIE_TTL.total_seconds()),
            path="/v1/sso/", httponly=True, samesite="lax", secure=base.startswith("https://"),
        )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


def refusal_page(refused: SsoRefused) -> HTMLResponse:
    """What the person sees when a sign-in is refused: the reason in words, a way back."""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sign-in refused</title></head>"
        "<body><main><h1>Sign-in refused</h1>"
        f"<p>{html.escape(refused.message)}</p>"
        f"<p><small>Reason: {html.escape(refused.reason)}</small></p>"
        "<p><a href='/'>Back to the sign-in page</a></p></main></body></html>"
    )
    return HTMLResponse(body, status_code=refused.status, headers={"Cache-Control": "no-store"})


@router.get("/saml/{tenant}/metadata", response_class=Response)
def read_saml_metadata(tenant: str, state: StateDep, base: PublicBaseDep) -> Response:
    """The service provider's SAML metadata, for the IdP."""
    xml = service.saml_metadata(state, tenant, base)
    return Response(xml, media_type="application/samlmetadata+xml")


@router.get("/saml/{tenant}/login", response_class=Response)
def start_saml_login(
    tenant: str, request: Request, state: StateDep, base: PublicBaseDep, return_to: ReturnTo = None
) -> Response:
    """Send the browser to the tenant's IdP with a signed AuthnRequest."""
    try:
        path = flow.safe_return_to(return_to)
    except SsoRefused as refused:
        return refusal_page(refused)
    browser, cookie = _browser(request, state.settings)
    url = service.saml_login(state, tenant, path, base, browser)
    return _with_cookie(RedirectResponse(url, status_code=302), cookie, base)


@router.post("/saml/{tenant}/acs", response_class=Response)
async def consume_saml_assertion(
    tenant: str, request: Request, state: StateDep, base: PublicBaseDep
) -> Response:
    """The assertion consumer service (HTTP-POST binding)."""
    try:
        form = {key: str(value) for key, value in (await request.form()).items()}
    except Exception:  # noqa: BLE001 - a body that is not a form
        return refusal_page(SsoRefused("invalid_response", status=400))
    browser, cookie = _browser(request, state.settings)
    try:
        done = await run_in_threadpool(
            service.saml_acs, state, tenant, form, base, browser, AuditContext.of(request)
        )
    except SsoRefused as refused:
        return refusal_page(refused)
    return _with_cookie(RedirectResponse(done.location, status_code=303), cookie, base)


@router.get("/saml/{tenant}/slo", response_class=Response)
def saml_single_logout(
    tenant: str, request: Request, state: StateDep, base: PublicBaseDep
) -> Response:
    """Single logout from the IdP (HTTP-Redirect): a signed LogoutRequest, or its answer."""
    try:
        location = service.saml_slo(state, tenant, dict(request.query_params), request.url.query,
                                    base, AuditContext.of(request))  # fmt: skip
    except SsoRefused as refused:
        return refusal_page(refused)
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


@router.post("/saml/logout")
def start_saml_logout(
    principal: CurrentPrincipal, session: SessionDep, request: Request, state: StateDep,
    base: PublicBaseDep,
) -> SamlLogoutRead:  # fmt: skip
    """End the caller's sessions; `redirect` is the IdP's logout URL for the browser, if any."""
    redirect = service.saml_logout(session, state.settings, principal, base,
                                   AuditContext.of(request))  # fmt: skip
    return SamlLogoutRead(redirect=redirect)


@router.get("/oidc/{tenant}/login", response_class=Response)
async def start_oidc_login(
    tenant: str, request: Request, state: StateDep, base: PublicBaseDep, return_to: ReturnTo = None
) -> Response:
    """Send the browser to the tenant's OpenID provider (code flow, PKCE S256, nonce)."""
    try:
        path = flow.safe_return_to(return_to)
        browser, cookie = _browser(request, state.settings)
        url = await service.oidc_login(state, tenant, path, base, browser)
    except SsoRefused as refused:
        return refusal_page(refused)
    return _with_cookie(RedirectResponse(url, status_code=302), cookie, base)


@router.get("/oidc/{tenant}/callback", response_class=Response)
async def finish_oidc_login(
    tenant: str, request: Request, state: StateDep, base: PublicBaseDep
) -> Response:
    """The provider's redirect back: state, code, then the ID token."""
    browser = _known_browser(request, state.settings)
    try:
        done = await service.oidc_callback(state, tenant, dict(request.query_params), base,
                                           browser, AuditContext.of(request))  # fmt: skip
    except SsoRefused as refused:
        return refusal_page(refused)
    return _with_cookie(RedirectResponse(done.location, status_code=303), None, base)
