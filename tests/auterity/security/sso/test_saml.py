"""The SAML service provider without HTTP: its metadata, and what it reads from where."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from auterity.security.sso.config import SamlConnection
from auterity.security.sso.flow import SsoRefused
from auterity.security.sso.saml import ServiceProvider
from tests.saml_idp import Person, SamlIdP, key_pair

pytestmark = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="needs xmlsec1")


@pytest.fixture
def pair(tmp_path: Path) -> tuple[ServiceProvider, SamlIdP]:
    idp = SamlIdP("https://idp.example", tmp_path)
    key_file, _, certificate = key_pair(tmp_path, "sp")
    connection = SamlConnection(
        idp_entity_id=idp.entity_id, idp_sso_url=idp.sso_url, idp_slo_url=idp.slo_url,
        idp_certificates=[idp.certificate],
    )  # fmt: skip
    sp = ServiceProvider("https://auterity.example/v1/sso/saml/acme", connection, certificate,
                         key_file.read_text())  # fmt: skip
    idp.trust(sp.metadata())
    return sp, idp


def _request(sp: ServiceProvider) -> tuple[dict[str, str], str]:
    url, request_id = sp.login_redirect("/")
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}, request_id


def test_the_metadata_says_what_the_idp_must_do(pair: tuple[ServiceProvider, SamlIdP]) -> None:
    sp, _ = pair
    document = etree.fromstring(sp.metadata().encode())
    md = {"md": "urn:oasis:names:tc:SAML:2.0:metadata"}
    assert document.get("entityID") == "https://auterity.example/v1/sso/saml/acme/metadata"
    descriptor = document.find("md:SPSSODescriptor", md)
    assert descriptor is not None
    assert descriptor.get("AuthnRequestsSigned") == "true"
    assert descriptor.get("WantAssertionsSigned") == "true"
    acs = descriptor.find("md:AssertionConsumerService", md)
    assert acs is not None and acs.get("Location").endswith("/acme/acs")  # type: ignore[union-attr]
    assert "PRIVATE" not in sp.metadata()


def test_in_response_to_is_read_from_the_signed_assertion(
    pair: tuple[ServiceProvider, SamlIdP],
) -> None:
    """Stripping the unsigned Response@InResponseTo cannot pass an answer off as
    IdP-initiated: the signed SubjectConfirmationData still names the request."""
    sp, idp = pair
    query, request_id = _request(sp)
    answer = idp.respond(saml_request=query["SAMLRequest"], relay_state="/", signed=query,
                         person=Person("ada@corp.example", ["engineering"]))  # fmt: skip
    document = etree.fromstring(answer.xml)
    del document.attrib["InResponseTo"]
    verified = sp.verify(answer.with_xml(etree.tostring(document)).saml_response)
    assert verified.in_response_to == request_id
    assert verified.assertion.email == "ada@corp.example"
    assert verified.assertion.groups == ("engineering",)


def test_a_doctype_is_refused_before_anything_is_parsed(
    pair: tuple[ServiceProvider, SamlIdP],
) -> None:
    sp, idp = pair
    query, _ = _request(sp)
    answer = idp.respond(saml_request=query["SAMLRequest"], relay_state="/", signed=query,
                         person=Person("ada@corp.example"))  # fmt: skip
    body = answer.xml.split(b"?>", 1)[-1]
    evil = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]>' + body
    with pytest.raises(SsoRefused) as refused:
        sp.verify(answer.with_xml(evil).saml_response)
    assert refused.value.reason == "invalid_xml"
