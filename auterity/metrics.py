"""The platform's own Prometheus metrics in the API process (`monitoring/METRICS.md` is
the contract: names, labels and their bounded values).

The worker's metrics (runs, node durations) go through the Temporal runtime's meter
instead, in `workflows.graph_workflow`, and are served on
`AUTERITY_WORKER_METRICS_PORT` beside the SDK's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal, get_args

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from auterity.db import transaction
from auterity.gateway.ledger import current_window
from auterity.gateway.routes import NANOS_PER_USD
from auterity.models import HumanTask, Tenant
from auterity.models.gateway import Budget
from auterity.security.scoping import set_tenant

log = logging.getLogger("auterity.metrics")

LoginMethod = Literal["password", "saml", "oidc"]
LoginReason = Literal[
    "bad_credentials", "unknown_user", "disabled", "sso_required", "sso_error", "rate_limited"
]
TokenKind = Literal["access", "refresh", "api_key", "resume_link", "webhook_signature"]
TokenReason = Literal["expired", "invalid", "revoked", "reused"]
SsoProtocol = Literal["saml", "oidc", "scim"]
SsoReason = Literal["invalid_response", "signature", "state", "idp_error", "metadata", "config"]

LOGIN_FAILURES = Counter("auterity_login_failures_total", "Refused sign-ins", ["method", "reason"])
TOKENS_REFUSED = Counter(
    "auterity_tokens_refused_total", "Refused credentials on a request", ["kind", "reason"]
)
SSO_FAILURES = Counter(
    "auterity_sso_failures_total", "Failed single sign-on exchanges", ["protocol", "reason"]
)
AUDIT_VERIFICATION_FAILURES = Counter(
    "auterity_audit_verification_failures_total",
    "Audit-chain verifications that found a broken chain",
    ["tenant"],
)


# Every bounded combination starts at 0, so `rate()` and `increase()` see the first event.
for _method in get_args(LoginMethod):
    for _reason in get_args(LoginReason):
        LOGIN_FAILURES.labels(_method, _reason)
for _kind in get_args(TokenKind):
    for _token_reason in get_args(TokenReason):
        TOKENS_REFUSED.labels(_kind, _token_reason)
for _protocol in get_args(SsoProtocol):
    for _sso_reason in get_args(SsoReason):
        SSO_FAILURES.labels(_protocol, _sso_reason)


def login_failed(method: LoginMethod, reason: LoginReason) -> None:
    LOGIN_FAILURES.labels(method, reason).inc()


def token_refused(kind: TokenKind, reason: TokenReason) -> None:
    TOKENS_REFUSED.labels(kind, reason).inc()


def sso_failed(protocol: SsoProtocol, reason: SsoReason) -> None:
    SSO_FAILURES.labels(protocol, reason).inc()


_SSO_REASONS: dict[str, SsoReason] = {
    "invalid_signature": "signature", "unsigned": "signature", "alg_not_allowed": "signature",
    "unknown_key": "signature",
    "state_mismatch": "state", "nonce_mismatch": "state", "missing_pkce_verifier": "state",
    "code_expired": "state", "code_other_browser": "state", "code_reused": "state",
    "unknown_code": "state", "replayed_assertion": "state", "missing_in_response_to": "state",
    "wrong_in_response_to": "state",
    "idp_error": "idp_error", "token_exchange_failed": "idp_error",
    "discovery_failed": "metadata", "jwks_failed": "metadata",
}  # fmt: skip
"""Refusal words of `auterity.security.sso` by label; every other word is a response that
did not hold (`invalid_response`)."""


def sso_refused(method: str, refusal: str, *, sign_in: bool = True) -> None:
    """A refused SSO exchange; a refused sign-in also counts as a login failure (`sso_error`)."""
    protocol: Literal["saml", "oidc"] = "oidc" if method == "oidc" else "saml"
    sso_failed(protocol, _SSO_REASONS.get(refusal, "invalid_response"))
    if sign_in:
        login_failed(protocol, "sso_error")


def audit_verification_failed(tenant: str) -> None:
    AUDIT_VERIFICATION_FAILURES.labels(tenant).inc()


def token_refusal(message: str, *, reused: bool = False) -> tuple[TokenKind, TokenReason]:
    """The kind and reason of a refused bearer credential, from its refusal's audit reason."""
    lowered = message.lower()
    kind: TokenKind = (
        "refresh" if "refresh" in lowered else "api_key" if "api key" in lowered else "access"
    )
    reason: TokenReason = (
        "reused"
        if reused
        else "expired"
        if "expired" in lowered
        else "revoked"
        if "revoked" in lowered
        else "invalid"
    )
    return kind, reason


class _ReadPerTenant(Collector):
    """Gauges read from the database at each scrape, tenant by tenant, so PostgreSQL's
    row-level security holds for the app login too; a scrape answers (with no samples) when
    the database does not."""

    what = ""

    def __init__(self) -> None:
        self.sessions: sessionmaker[Session] | None = None

    def families(self) -> tuple[GaugeMetricFamily, ...]:
        raise NotImplementedError

    def read(
        self, session: Session, tenant_id: str, slug: str, families: tuple[GaugeMetricFamily, ...]
    ) -> None:
        raise NotImplementedError

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = self.families()
        if self.sessions is not None:
            try:
                with transaction(self.sessions) as session:
                    tenants = session.execute(
                        select(Tenant.id, Tenant.slug).order_by(Tenant.slug)
                    ).all()
                    for tenant_id, slug in tenants:
                        set_tenant(session, tenant_id)
                        self.read(session, tenant_id, slug, families)
            except Exception:  # a scrape must answer even when the database does not
                log.warning("could not read %s", self.what, exc_info=True)
        yield from families


class PendingHumanTasks(_ReadPerTenant):
    """`auterity_human_tasks_pending{tenant}`."""

    what = "pending human tasks"

    def families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "auterity_human_tasks_pending",
                "Human tasks open in the inbox (not completed, expired or cancelled)",
                labels=["tenant"],
            ),
        )

    def read(
        self, session: Session, tenant_id: str, slug: str, families: tuple[GaugeMetricFamily, ...]
    ) -> None:
        pending = session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.tenant_id == tenant_id, HumanTask.status == "pending")
        )
        families[0].add_metric([slug], int(pending or 0))


class BudgetGauges(_ReadPerTenant):
    """`auterity_budget_spend_usd{tenant,budget}` (settled plus reserved in the budget's
    current day or month) and `auterity_budget_limit_usd{tenant,budget}`: what the
    budget-burn alerts compare."""

    what = "budgets"

    def families(self) -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "auterity_budget_spend_usd",
                "Spend in the budget's current period, settled plus reserved",
                labels=["tenant", "budget"],
            ),
            GaugeMetricFamily(
                "auterity_budget_limit_usd",
                "The budget's limit for its current period",
                labels=["tenant", "budget"],
            ),
        )

    def read(
        self, session: Session, tenant_id: str, slug: str, families: tuple[GaugeMetricFamily, ...]
    ) -> None:
        spend, limit = families
        now = datetime.now(UTC)
        for budget in session.scalars(select(Budget).where(Budget.tenant_id == tenant_id)):
            window = current_window(session, budget, now)
            used = (window.spent_nanos + window.reserved_nanos) if window else 0
            spend.add_metric([slug, budget.name], used / NANOS_PER_USD)
            limit.add_metric([slug, budget.name], budget.limit_nanos / NANOS_PER_USD)


PENDING_HUMAN_TASKS = PendingHumanTasks()
REGISTRY.register(PENDING_HUMAN_TASKS)
BUDGETS = BudgetGauges()
REGISTRY.register(BUDGETS)


def serve_gauges_from(sessions: sessionmaker[Session]) -> None:
    """The database the gauges read at each scrape (the API's, set when the app is built)."""
    PENDING_HUMAN_TASKS.sessions = sessions
    BUDGETS.sessions = sessions
