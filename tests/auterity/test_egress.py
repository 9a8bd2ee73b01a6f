"""The egress policy and the one client that connects to what it checked, on real sockets."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from auterity.egress import ALLOW_SETTING, EgressClient, EgressPolicy, EgressRefused, refusal
from tests.support import LOOPBACK_EGRESS, serve

DEFAULT = EgressPolicy()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("192.0.2.7", "documentation"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fd00:ec2::254", "unique-local"),
        ("fc00::1", "unique-local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback (IPv4-mapped 127.0.0.1)"),
        ("::ffff:169.254.169.254", "link-local (cloud metadata) (IPv4-mapped"),
        ("::ffff:10.0.0.1", "private (IPv4-mapped"),
        ("::127.0.0.1", "loopback (IPv4-compatible"),
        ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata) (NAT64 169.254.169.254)"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2002:7f00:1::", "loopback (6to4 127.0.0.1)"),
        ("2002:a9fe:a9fe::1", "link-local (cloud metadata) (6to4"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "documentation (Teredo 192.0.2.45)"),
        ("2001:db8::1", "documentation"),
    ],
)
def test_internal_addresses_and_their_ipv6_forms_are_refused(address: str, reason: str) -> None:
    found = refusal(ipaddress.ip_address(address))
    assert found is not None and found.startswith(reason)
    with pytest.raises(EgressRefused) as caught:
        DEFAULT.check("target.example", address)
    assert ALLOW_SETTING in str(caught.value) and "target.example" in str(caught.value)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
    DEFAULT.check("public.example", address)


def test_the_allow_list_opens_networks_and_host_names() -> None:
    policy = EgressPolicy.parse(["10.0.0.0/8", " wiki.corp ", "*.intra.example", "::1"])
    policy.check("anything", "10.9.8.7")
    policy.check("anything", "::ffff:10.9.8.7")
    policy.check("anything", "::1")
    policy.check("wiki.corp", "192.168.1.1")
    policy.check("API.Intra.Example.", "172.16.0.1")
    with pytest.raises(EgressRefused):
        policy.check("intra.example.evil", "172.16.0.1")
    with pytest.raises(EgressRefused):
        policy.check("anything", "127.0.0.1")


def test_a_tenant_s_list_adds_to_the_platform_s() -> None:
    platform = EgressPolicy.parse(["10.0.0.0/8"])
    combined = platform.merged(EgressPolicy.parse(["wiki.corp"]))
    combined.check("wiki.corp", "192.168.1.1")
    combined.check("other", "10.0.0.1")
    with pytest.raises(EgressRefused):
        platform.check("wiki.corp", "192.168.1.1")


@pytest.mark.parametrize("entry", ["not a host", "http://x", "10.0.0.0/33", "a..b"])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="neither an address"):
        EgressPolicy.parse([entry])


# --- the client, on real sockets ------------------------------------------------------------


@pytest.fixture(scope="module")
def hits() -> list[dict[str, str]]:
    return []


@pytest.fixture(scope="module")
def internal(hits: list[dict[str, str]]) -> Iterator[str]:
    """A service on loopback, standing for anything internal."""
    app = FastAPI()

    @app.get("/{path:path}")
    async def seen(path: str, request: Request) -> dict[str, str]:
        hits.append({"path": path, "host": request.headers["host"]})
        return {"path": path}

    with serve(app) as url:
        yield url


class Resolver:
    """A DNS that answers from a script and counts the questions."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return list(self.answers[min(self.asked, len(self.answers)) - 1])


async def test_loopback_is_refused_by_default_before_anything_is_sent(
    internal: str, hits: list[dict[str, str]]
) -> None:
    before = len(hits)
    async with EgressClient(DEFAULT) as client:
        for url in (f"{internal}/openapi.json", internal.replace("127.0.0.1", "localhost")):
            with pytest.raises(EgressRefused) as caught:
                await client.get(url)
            assert "loopback address" in str(caught.value)
            assert ALLOW_SETTING in str(caught.value)
    assert len(hits) == before


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]", "[0:0:0:0:0:ffff:7f00:1]",
     "0.0.0.0", "[::]", "[::1]", "localhost"],
)  # fmt: skip
async def test_every_spelling_of_this_machine_is_refused(internal: str, host: str) -> None:
    """Numeric, short and IPv6 spellings resolve to what they are: the check is on the
    resolved address, not the text."""
    port = httpx.URL(internal).port
    async with EgressClient(DEFAULT) as client:
        with pytest.raises(EgressRefused, match="(loopback|unspecified)"):
            await client.get(f"http://{host}:{port}/")


async def test_the_allow_list_opens_loopback(internal: str) -> None:
    async with EgressClient(LOOPBACK_EGRESS) as client:
        assert (await client.get(f"{internal}/ok")).json() == {"path": "ok"}


async def test_the_connection_goes_to_the_address_that_was_checked(
    internal: str, hits: list[dict[str, str]]
) -> None:
    """DNS rebinding: the first answer passes the check; a second one would lead inside."""
    port = httpx.URL(internal).port
    resolver = Resolver(["127.0.0.1"], ["10.0.0.1"])
    policy = EgressPolicy.parse(["127.0.0.1/32"])
    async with EgressClient(policy, resolver=resolver) as client:
        response = await client.get(f"http://rebind.test:{port}/rebound")
    assert response.json() == {"path": "rebound"}
    assert hits[-1] == {"path": "rebound", "host": f"rebind.test:{port}"}
    assert resolver.asked == 1


async def test_every_resolved_address_is_checked(internal: str) -> None:
    port = httpx.URL(internal).port
    resolver = Resolver(["127.0.0.1", "169.254.169.254"])
    async with EgressClient(EgressPolicy.parse(["127.0.0.1/32"]), resolver=resolver) as client:
        with pytest.raises(EgressRefused, match=r"mixed.test \(169.254.169.254\).*link-local"):
            await client.get(f"http://mixed.test:{port}/")


async def test_redirects_are_answers_not_new_requests() -> None:
    app = FastAPI()

    @app.get("/go")
    async def go() -> RedirectResponse:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    with serve(app) as url:
        async with EgressClient(LOOPBACK_EGRESS) as client:
            response = await client.get(f"{url}/go")
    assert response.status_code == 302
    assert response.headers["location"] == "http://169.254.169.254/latest/meta-data/"


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_tls_keeps_the_name_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    """The certificate names `secure.test` only: verification would fail against the IP."""
    cert_file, key_file = _certificate(tmp_path, "secure.test")
    app = FastAPI()

    @app.get("/")
    async def root(request: Request) -> dict[str, str]:
        return {"host": request.headers["host"]}

    with serve(app, tls=(cert_file, key_file)) as url:
        port = httpx.URL(url).port
        trust = ssl.create_default_context(cafile=str(cert_file))
        policy = EgressPolicy.parse(["127.0.0.1/32"])
        async with EgressClient(policy, verify=trust, resolver=Resolver(["127.0.0.1"])) as client:
            response = await client.get(f"https://secure.test:{port}/")
        assert response.json() == {"host": f"secure.test:{port}"}
        async with EgressClient(policy, verify=trust) as client:
            with pytest.raises(httpx.ConnectError, match="certificate|hostname|match"):
                await client.get(url)
