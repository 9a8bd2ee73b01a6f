"""A real SAML 2.0 identity provider for the tests, built on pysaml2's `saml2.server.Server`.

It parses the AuthnRequests our service provider sends, and signs real responses
(with Debian's xmlsec1, as pysaml2 does) for the person a test puts in front of it.
Tests steer it the way an attacker or a misconfigured IdP would: `tamper` edits the
response before it is signed (times, audience, destination...), and `forge_*`
helpers edit a signed response after the fact (signature wrapping and the like).
Served over HTTP on loopback by `serve_idp`, so the browser walk is the real one.
"""

from __future__ import annotations

import base64
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from auterity.security.sso.config import certificate_body
from tests.support import free_port, serve

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
SHA1 = (SIG_RSA_SHA1, DIGEST_SHA1)
SHA256 = (SIG_RSA_SHA256, DIGEST_SHA256)
Tamper = Callable[[etree._Element], None]


def key_pair(directory: Path, name: str) -> tuple[Path, Path, str]:
    """(key file, cert file, cert PEM) of a new self-signed RSA key pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_file.write_text(pem)
    return key_file, cert_file, pem


@dataclass
class Person:
    email: str
    groups: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class Answer:
    """What the IdP posts back to the SP (the auto-submitting form's fields)."""

    acs_url: str
    saml_response: str  # base64
    relay_state: str | None
    request_id: str | None

    @property
    def xml(self) -> bytes:
        return base64.b64decode(self.saml_response)

    def with_xml(self, xml: bytes) -> Answer:
        return Answer(
            self.acs_url, base64.b64encode(xml).decode(), self.relay_state, self.request_id
        )


class SamlIdP:
    def __init__(self, base_url: str, directory: Path) -> None:
        self.base_url = base_url
        self.entity_id = f"{base_url}/idp"
        self.sso_url = f"{base_url}/sso"
        self.slo_url = f"{base_url}/slo"
        self.key_file, self.cert_file, self.certificate = key_pair(directory, "idp")
        self.directory = directory
        self.sp_metadata: list[str] = []
        self.person: Person | None = None
        self.options: dict[str, Any] = {}
        self.logout_requests: list[str] = []
        self.verified_requests = 0  # AuthnRequests whose redirect signature checked out
        self.server = self._server()

    def _config(self) -> dict[str, Any]:
        return {
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)],
                    },
                    "policy": {"default": {"lifetime": {"minutes": 5},
                                           "attribute_restrictions": None}},
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    # like Keycloak's "Client signature required": unsigned requests refused
                    "want_authn_requests_signed": True,
                },
            },
            "key_file": str(self.key_file),
            "cert_file": str(self.cert_file),
            "metadata": {"inline": list(self.sp_metadata)},
        }  # fmt: skip

    def _server(self) -> Server:
        config = IdPConfig()
        config.load(self._config())
        return Server(config=config)

    def trust(self, sp_metadata: str) -> None:
        """Register a service provider from its metadata, as an IdP admin does."""
        if sp_metadata not in self.sp_metadata:
            self.sp_metadata.append(sp_metadata)
        self.server = self._server()

    def metadata_xml(self) -> str:
        config = IdPConfig()
        config.load(self._config())
        return str(entity_descriptor(config))

    def parse_request(self, saml_request: str, signed: dict[str, str] | None = None) -> Any:
        """The AuthnRequest; with `signed` (the redirect's RelayState, SigAlg and Signature)
        its signature is checked against the SP's metadata first."""
        signed = signed or {}
        return self.server.parse_authn_request(
            saml_request, BINDING_HTTP_REDIRECT, relay_state=signed.get("RelayState"),
            sigalg=signed.get("SigAlg"), signature=signed.get("Signature"),
        ).message  # fmt: skip

    def respond(
        self,
        *,
        saml_request: str | None,
        relay_state: str | None,
        signed: dict[str, str] | None = None,
        person: Person | None = None,
        sp_entity_id: str | None = None,
        acs_url: str | None = None,
        algorithms: tuple[str, str] = SHA256,
        sign: bool = True,
        tamper: Tamper | None = None,
    ) -> Answer:
        """A response to `saml_request` (None: IdP-initiated), signed unless `sign` is False."""
        person = person or self.person
        assert person is not None, "put a person in front of the IdP first"
        request = self.parse_request(saml_request, signed) if saml_request else None
        sp = sp_entity_id or (request.issuer.text if request else None)
        assert sp is not None
        destination = acs_url or (
            request.assertion_consumer_service_url
            if request and request.assertion_consumer_service_url
            else self.server.config.metadata.assertion_consumer_service(sp, BINDING_HTTP_POST)[0]["location"]
        )  # fmt: skip
        identity: dict[str, list[str]] = {"groups": list(person.groups)}
        if person.name:
            identity["displayName"] = [person.name]
        unsigned = self.server.create_authn_response(
            identity=identity,
            in_response_to=request.id if request else None,
            destination=destination,
            sp_entity_id=sp,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=person.email),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
                   "authn_auth": self.entity_id},
            sign_response=False,
            sign_assertion=False,
        )  # fmt: skip
        document = etree.fromstring(str(unsigned).encode())
        if tamper is not None:
            tamper(document)
        xml = etree.tostring(document)
        if sign:
            xml = self.sign_assertion(xml, algorithms)
        return Answer(
            destination,
            base64.b64encode(xml).decode(),
            relay_state,
            request.id if request else None,
        )

    def sign_assertion(self, xml: bytes, algorithms: tuple[str, str] = SHA256) -> bytes:
        """Sign the (first) assertion of a response with the IdP's key, in place."""
        document = etree.fromstring(xml)
        assertion = document.find("saml:Assertion", NS)
        assert assertion is not None
        assertion_id = assertion.get("ID")
        template = pre_signature_part(
            ident=assertion_id, public_key=certificate_body(self.certificate), sign_alg=algorithms[0],
            digest_alg=algorithms[1],
        )  # fmt: skip
        signature = etree.fromstring(template.to_string())
        issuer = assertion.find("saml:Issuer", NS)
        assert issuer is not None
        issuer.addnext(signature)
        signed = self.server.sec.sign_statement(
            etree.tostring(document).decode(), ASSERTION, node_id=assertion_id
        )
        return signed.encode() if isinstance(signed, str) else bytes(signed)


def _form(answer: Answer) -> str:
    relay = (
        f'<input type="hidden" name="RelayState" value="{answer.relay_state}"/>'
        if answer.relay_state is not None
        else ""
    )
    return (
        f'<html><body><form method="post" action="{answer.acs_url}">'
        f'<input type="hidden" name="SAMLResponse" value="{answer.saml_response}"/>{relay}'
        "</form></body></html>"
    )


def idp_app(idp: SamlIdP) -> FastAPI:
    app = FastAPI()

    @app.get("/sso")
    async def single_sign_on(request: Request) -> HTMLResponse:
        query = request.query_params
        answer = idp.respond(
            saml_request=query["SAMLRequest"], relay_state=query.get("RelayState"),
            signed={key: query[key] for key in ("RelayState", "SigAlg", "Signature") if key in query},
            **idp.options,
        )  # fmt: skip
        idp.verified_requests += 1
        return HTMLResponse(_form(answer))

    @app.get("/slo")
    async def single_logout(request: Request) -> HTMLResponse:
        idp.logout_requests.append(str(request.url))
        return HTMLResponse("signed out")

    @app.get("/metadata")
    async def metadata() -> HTMLResponse:
        return HTMLResponse(idp.metadata_xml(), media_type="application/samlmetadata+xml")

    return app


@contextmanager
def serve_idp(directory: Path) -> Iterator[SamlIdP]:
    port = free_port()
    idp = SamlIdP(f"http://127.0.0.1:{port}", directory)
    with serve(idp_app(idp), port=port):
        yield idp


def new_id() -> str:
    return "_" + uuid.uuid4().hex
