"""The SSO egress check: https and public addresses only, unless the host is allowed."""

from __future__ import annotations

import pytest

from auterity.security.sso import egress
from auterity.settings import load_settings

STRICT = load_settings(env="test")
ON_PREMISES = load_settings(env="test", sso_internal_hosts=["keycloak.corp.internal", "127.0.0.1"])
PRODUCTION_ON_PREMISES = ON_PREMISES.model_copy(update={"env": "production"})


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example/metadata",  # not https
        "ftp://idp.example/metadata",
        "https://127.0.0.1/metadata",
        "https://localhost/metadata",  # resolves to loopback
        "https://10.1.2.3/metadata",
        "https://192.168.0.10/metadata",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata
        "https://[::1]/metadata",
        "https://[fd00::1]/metadata",
        "https://0.0.0.0/metadata",
        "https://user:pass@idp.example/metadata",
        "https:///metadata",
    ],
)
async def test_internal_and_insecure_urls_are_refused(url: str) -> None:
    with pytest.raises(egress.EgressRefused):
        await egress.check_url(url, STRICT)


async def test_a_public_https_address_passes() -> None:
    await egress.check_url("https://93.184.215.14/metadata", STRICT)


async def test_an_on_premises_idp_is_allowed_by_name_and_uses_http_only_outside_production() -> (
    None
):
    await egress.check_url("http://127.0.0.1:8080/realms/acme", ON_PREMISES)
    await egress.check_url("https://keycloak.corp.internal/realms/acme", ON_PREMISES)
    with pytest.raises(egress.EgressRefused, match="https"):
        await egress.check_url("http://127.0.0.1:8080/realms/acme", PRODUCTION_ON_PREMISES)
    with pytest.raises(egress.EgressRefused):
        await egress.check_url("https://10.0.0.9/realms/acme", ON_PREMISES)  # not listed


async def test_redirects_are_not_followed(service: tuple[str, object]) -> None:
    """A listed host's redirect is answered as is, never followed somewhere else."""
    base, _ = service
    fetched = await egress.get(f"{base}/status/302", ON_PREMISES)
    assert fetched.status == 302
