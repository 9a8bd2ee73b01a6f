"""SAML 2.0 sign-in against a real pysaml2 IdP on loopback: the happy paths, and every attack
on the list rejected with a page and audited in the tenant's trail with its reason."""

from __future__ import annotations

import base64
import copy
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID

from tests.api.sso.support import (
    SsoTenant,
    assert_refused,
    configure_saml,
    exchange,
    fixture_browser,  # noqa: F401 - fixture
    fixture_saml_idp,  # noqa: F401 - fixture
    fixture_shared_tenant,  # noqa: F401 - fixture
    fixture_sso_tenant,  # noqa: F401 - fixture
    post_answer,
    refusals,
    saml_sign_in,
    start_saml,
)
from tests.saml_idp import NS, SHA1, Person, SamlIdP

SAML_TIME = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture(scope="module")
async def saml_tenant(api_url: str, shared_tenant: SsoTenant, saml_idp: SamlIdP) -> SsoTenant:
    """One tenant with SAML configured, for the tests that only need a refusal audited."""
    async with httpx.AsyncClient(base_url=api_url) as api:
        await configure_saml(api, shared_tenant, saml_idp)
    return shared_tenant


def _at(offset: timedelta) -> str:
    return (datetime.now(UTC) + offset).strftime(SAML_TIME)


def _set_times(*, not_before: timedelta | None = None, not_on_or_after: timedelta | None = None):  # type: ignore[no-untyped-def]
    def tamper(document: etree._Element) -> None:
        for node in document.iterfind(".//saml:Conditions", NS):
            if not_before is not None:
                node.set("NotBefore", _at(not_before))
            if not_on_or_after is not None:
                node.set("NotOnOrAfter", _at(not_on_or_after))
        for node in document.iterfind(".//saml:SubjectConfirmationData", NS):
            if not_on_or_after is not None:
                node.set("NotOnOrAfter", _at(not_on_or_after))

    return tamper


async def test_sp_initiated_sign_in_ends_like_a_password_login(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, sso_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    config = await configure_saml(api, sso_tenant, saml_idp)
    sp = config["saml"]["service_provider"]
    assert sp["acs_url"].endswith(f"/v1/sso/saml/{sso_tenant.owner.tenant_slug}/acs")
    assert "BEGIN CERTIFICATE" in sp["certificate"] and "PRIVATE" not in str(config)
    slug, email = sso_tenant.owner.tenant_slug, sso_tenant.email()
    verified = saml_idp.verified_requests
    landed = await saml_sign_in(browser, slug, saml_idp,
                                Person(email, ["engineering"]), return_to="/graphs?tab=mine")  # fmt: skip
    assert landed.headers["location"].startswith("/graphs?tab=mine&sso_code=ash_")
    assert saml_idp.verified_requests == verified + 1  # our AuthnRequest's signature held
    tokens = await exchange(browser, landed)
    assert tokens["tenant"] == slug and tokens["refresh_token"].startswith("art_")
    me = await api.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["name"] == email and me.json()["roles"] == ["editor"]
    refreshed = await api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    logins = (await api.get("/v1/audit", params={"action": "auth.login", "outcome": "success"},
                            headers=sso_tenant.owner.headers)).json()["items"]  # fmt: skip
    mine = [e for e in logins if e["actor"]["name"] == email] if "actor" in logins[0] else [
        e for e in logins if e.get("actor_name") == email]  # fmt: skip
    assert mine and mine[0]["details"]["method"] == "saml" and "session_id" in mine[0]["details"]
    # the code is spent, and useless from another browser anyway
    again = await browser.post(
        "/v1/sso/exchange", json={"code": landed.headers["location"].split("sso_code=")[1]}
    )
    assert again.status_code == 401
    assert (await refusals(api, sso_tenant.owner))[0]["reason"] == "code_reused"


async def test_the_code_only_works_in_the_browser_that_signed_in(
    api: httpx.AsyncClient, api_url: str, browser: httpx.AsyncClient, saml_tenant: SsoTenant,
    saml_idp: SamlIdP,
) -> None:  # fmt: skip
    landed = await saml_sign_in(browser, saml_tenant.owner.tenant_slug, saml_idp,
                                Person(saml_tenant.email(), ["engineering"]))  # fmt: skip
    code = landed.headers["location"].split("sso_code=")[1]
    async with httpx.AsyncClient(base_url=api_url) as other:
        stolen = await other.post("/v1/sso/exchange", json={"code": code})
    assert stolen.status_code == 401
    assert (await refusals(api, saml_tenant.owner))[0]["reason"] == "code_other_browser"
    assert (await browser.post("/v1/sso/exchange", json={"code": code})).status_code == 200


async def test_roles_follow_the_idp_groups_at_every_sign_in(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    slug, email = saml_tenant.owner.tenant_slug, saml_tenant.email()
    first = await exchange(browser, await saml_sign_in(browser, slug, saml_idp,
                                                       Person(email, ["engineering", "admins"])))  # fmt: skip
    me = await api.get("/v1/me", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert me.json()["roles"] == ["admin", "editor"]
    second = await exchange(browser, await saml_sign_in(browser, slug, saml_idp,
                                                        Person(email, ["engineering"])))  # fmt: skip
    me = await api.get("/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.json()["roles"] == ["editor"]  # removed at the IdP, removed here


async def test_a_person_whose_groups_grant_nothing_gets_a_clear_page(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    refused = await saml_sign_in(browser, saml_tenant.owner.tenant_slug, saml_idp,
                                 Person(saml_tenant.email(), ["marketing"]))  # fmt: skip
    await assert_refused(api, saml_tenant.owner, refused, "no_role_granted", 403)
    assert "none of your groups gives you a role" in refused.text


async def _answer(browser: httpx.AsyncClient, tenant: SsoTenant, idp: SamlIdP, **options):  # type: ignore[no-untyped-def]
    query = await start_saml(browser, tenant.owner.tenant_slug)
    person = options.pop("person", None) or Person(tenant.email(), ["engineering"])
    return idp.respond(saml_request=query["SAMLRequest"], relay_state=query.get("RelayState"),
                       signed=query, person=person, **options)  # fmt: skip


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"sign": False}, "unsigned"),
        ({"algorithms": SHA1}, "deprecated_algorithm"),
        ({"tamper": _set_times(not_on_or_after=timedelta(minutes=-10))}, "expired"),
        ({"tamper": _set_times(not_before=timedelta(minutes=10))}, "not_yet_valid"),
    ],
    ids=["unsigned", "sha1", "expired", "not-yet-valid"],
)
async def test_a_response_the_idp_got_wrong_is_refused_and_audited(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP,
    options: dict[str, object], reason: str,
) -> None:  # fmt: skip
    answer = await _answer(browser, saml_tenant, saml_idp, **options)
    await assert_refused(api, saml_tenant.owner, await post_answer(browser, answer), reason)


async def test_a_response_signed_by_another_key_is_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Same issuer, same shape, signed by a key the tenant never configured."""
    impostor = SamlIdP(saml_idp.base_url, tmp_path)
    for metadata in saml_idp.sp_metadata:
        impostor.trust(metadata)
    answer = await _answer(browser, saml_tenant, impostor)
    await assert_refused(api, saml_tenant.owner, await post_answer(browser, answer),
                         "invalid_signature")  # fmt: skip


async def test_a_small_clock_skew_is_allowed(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    answer = await _answer(browser, saml_tenant, saml_idp,
                           tamper=_set_times(not_before=timedelta(seconds=60)))  # fmt: skip
    await exchange(browser, await post_answer(browser, answer))


def _audience(value: str):  # type: ignore[no-untyped-def]
    def tamper(document: etree._Element) -> None:
        for node in document.iterfind(".//saml:Audience", NS):
            node.text = value

    return tamper


def _destination(value: str):  # type: ignore[no-untyped-def]
    def tamper(document: etree._Element) -> None:
        document.set("Destination", value)
        for node in document.iterfind(".//saml:SubjectConfirmationData", NS):
            node.set("Recipient", value)

    return tamper


async def test_wrong_audience_and_wrong_destination_are_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    other_sp = "https://other-sp.example/saml/metadata"
    answer = await _answer(browser, saml_tenant, saml_idp, tamper=_audience(other_sp))
    await assert_refused(
        api, saml_tenant.owner, await post_answer(browser, answer), "wrong_audience"
    )
    answer = await _answer(browser, saml_tenant, saml_idp,
                           tamper=_destination("https://other-sp.example/saml/acs"))  # fmt: skip
    await assert_refused(
        api, saml_tenant.owner, await post_answer(browser, answer), "wrong_destination"
    )


async def test_in_response_to_must_name_a_request_this_sp_is_waiting_for(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    person = Person(saml_tenant.email(), ["engineering"])

    def other_request(document: etree._Element) -> None:
        document.set("InResponseTo", "_never-sent-by-this-sp")
        for node in document.iterfind(".//saml:SubjectConfirmationData", NS):
            node.set("InResponseTo", "_never-sent-by-this-sp")

    answer = await _answer(browser, saml_tenant, saml_idp, person=person, tamper=other_request)
    await assert_refused(
        api, saml_tenant.owner, await post_answer(browser, answer), "wrong_in_response_to"
    )
    # no InResponseTo at all: IdP-initiated, which the tenant has not turned on
    unsolicited = saml_idp.respond(saml_request=None, relay_state="/", person=person,
                                   sp_entity_id=_sp_entity(saml_tenant, api))  # fmt: skip
    await assert_refused(api, saml_tenant.owner, await post_answer(browser, unsolicited),
                         "missing_in_response_to")  # fmt: skip


def _sp_entity(tenant: SsoTenant, api: httpx.AsyncClient) -> str:
    return f"{api.base_url}/v1/sso/saml/{tenant.owner.tenant_slug}/metadata".replace("//v1", "/v1")


async def test_idp_initiated_sign_in_works_once_the_tenant_turns_it_on(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, sso_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    await configure_saml(api, sso_tenant, saml_idp, allow_idp_initiated=True)
    person = Person(sso_tenant.email(), ["engineering"])
    answer = saml_idp.respond(saml_request=None, relay_state="/graphs", person=person,
                              sp_entity_id=_sp_entity(sso_tenant, api))  # fmt: skip
    landed = await post_answer(browser, answer)
    assert landed.headers["location"].startswith("/graphs?sso_code=")
    await exchange(browser, landed)
    offsite = saml_idp.respond(saml_request=None, relay_state="https://evil.example/phish",
                               person=person, sp_entity_id=_sp_entity(sso_tenant, api))  # fmt: skip
    await assert_refused(api, sso_tenant.owner, await post_answer(browser, offsite),
                         "relay_state_offsite", 400)  # fmt: skip


async def test_a_replayed_assertion_is_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    answer = await _answer(browser, saml_tenant, saml_idp)
    await exchange(browser, await post_answer(browser, answer))
    await assert_refused(
        api, saml_tenant.owner, await post_answer(browser, answer), "replayed_assertion"
    )


async def test_relay_state_pointing_off_site_is_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    slug = saml_tenant.owner.tenant_slug
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        page = await browser.get(f"/v1/sso/saml/{slug}/login", params={"return_to": target})
        assert page.status_code == 400 and "Reason: relay_state_offsite" in page.text, target
    answer = await _answer(browser, saml_tenant, saml_idp)
    answer.relay_state = "https://evil.example/steal"
    await assert_refused(api, saml_tenant.owner, await post_answer(browser, answer),
                         "relay_state_offsite", 400)  # fmt: skip


# --- signature wrapping, comments, forged digests -------------------------------------------


def _forged_copy(assertion: etree._Element, email: str) -> etree._Element:
    forged = copy.deepcopy(assertion)
    for signature in forged.findall("ds:Signature", NS):
        forged.remove(signature)
    name_id = forged.find(".//saml:NameID", NS)
    assert name_id is not None
    name_id.text = email
    return forged


def _wrap_two_assertions(xml: bytes, victim: str) -> bytes:
    """A forged, unsigned assertion in front of the genuine signed one."""
    document = etree.fromstring(xml)
    signed = document.find("saml:Assertion", NS)
    assert signed is not None
    forged = _forged_copy(signed, victim)
    forged.set("ID", "_forged")
    signed.addprevious(forged)
    return etree.tostring(document)


def _wrap_signed_inside_forged(xml: bytes, victim: str) -> bytes:
    """XSW: the forged assertion takes the signed one's place and ID; the signed original
    hides inside it, where a careless verifier still finds the referenced ID."""
    document = etree.fromstring(xml)
    signed = document.find("saml:Assertion", NS)
    assert signed is not None
    forged = _forged_copy(signed, victim)
    signature = signed.find("ds:Signature", NS)
    assert signature is not None
    forged.find("saml:Issuer", NS).addnext(copy.deepcopy(signature))  # type: ignore[union-attr]
    signature_copy = forged.find("ds:Signature", NS)
    assert signature_copy is not None
    obj = etree.SubElement(signature_copy, f"{{{NS['ds']}}}Object")
    obj.append(signed)
    document.append(forged)
    return etree.tostring(document)


def _wrap_signed_in_extensions(xml: bytes, victim: str) -> bytes:
    """XSW: the signed assertion moved into samlp:Extensions, a forged one with its ID in
    its place carrying a copy of the signature."""
    document = etree.fromstring(xml)
    signed = document.find("saml:Assertion", NS)
    assert signed is not None
    forged = _forged_copy(signed, victim)
    signature = signed.find("ds:Signature", NS)
    forged.find("saml:Issuer", NS).addnext(copy.deepcopy(signature))  # type: ignore[union-attr,arg-type]
    extensions = etree.Element(f"{{{NS['samlp']}}}Extensions")
    document.find("saml:Issuer", NS).addnext(extensions)  # type: ignore[union-attr]
    signed.getparent().remove(signed)  # type: ignore[union-attr]
    extensions.append(signed)
    document.append(forged)
    return etree.tostring(document)


def _exc_c14n_digest(element: etree._Element) -> str:
    """What a verifier computes for an enveloped, exclusively canonicalized reference."""
    clone = copy.deepcopy(element)
    for signature in clone.findall("ds:Signature", NS):
        clone.remove(signature)
    canonical = etree.tostring(clone, method="c14n", exclusive=True, with_comments=False)
    return base64.b64encode(hashlib.sha256(canonical).digest()).decode()


def _forged_digest_elsewhere(xml: bytes, victim: str) -> bytes:
    """CVE-2024-45409: the assertion is altered, and a DigestValue matching the altered one
    is planted before the genuine SignedInfo, where `//ds:DigestValue` would find it."""
    document = etree.fromstring(xml)
    assertion = document.find("saml:Assertion", NS)
    assert assertion is not None
    assertion.find(".//saml:NameID", NS).text = victim  # type: ignore[union-attr]
    planted = etree.Element(f"{{{NS['ds']}}}DigestValue")
    planted.text = _exc_c14n_digest(assertion)
    extensions = etree.Element(f"{{{NS['samlp']}}}Extensions")
    extensions.append(planted)
    document.find("saml:Issuer", NS).addnext(extensions)  # type: ignore[union-attr]
    return etree.tostring(document)


def _forged_digest_in_signature(xml: bytes, victim: str) -> bytes:
    """CVE-2024-45409, second form: the planted DigestValue sits inside the Signature, in a
    ds:Object (schema-valid), where a verifier reading "the" DigestValue loosely may find it."""
    document = etree.fromstring(xml)
    assertion = document.find("saml:Assertion", NS)
    assert assertion is not None
    assertion.find(".//saml:NameID", NS).text = victim  # type: ignore[union-attr]
    signature = assertion.find("ds:Signature", NS)
    assert signature is not None
    planted = etree.Element(f"{{{NS['ds']}}}DigestValue")
    planted.text = _exc_c14n_digest(assertion)
    obj = etree.Element(f"{{{NS['ds']}}}Object")
    obj.append(planted)
    signature.append(obj)
    return etree.tostring(document)


def _reference_valid_digest(xml: bytes, victim: str) -> bytes:
    """The reference made valid for the altered assertion (SignedInfo's DigestValue
    rewritten): only the signature over SignedInfo can catch it."""
    document = etree.fromstring(xml)
    assertion = document.find("saml:Assertion", NS)
    assert assertion is not None
    assertion.find(".//saml:NameID", NS).text = victim  # type: ignore[union-attr]
    digest = assertion.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue", NS)
    assert digest is not None
    digest.text = _exc_c14n_digest(assertion)
    return etree.tostring(document)


def _comment_in_name_id(xml: bytes, victim: str) -> bytes:
    """CVE-2017-11427: the IdP signed `victim.attacker.test`; a comment splits the NameID
    (the signature still verifies: exclusive c14n drops comments)."""
    document = etree.fromstring(xml)
    name_id = document.find(".//saml:NameID", NS)
    assert name_id is not None and name_id.text is not None
    head = victim
    tail = name_id.text[len(victim) :]
    name_id.text = head
    comment = etree.Comment("")
    comment.tail = tail
    name_id.append(comment)
    return etree.tostring(document)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (_wrap_two_assertions, "signature_wrapping"),
        (_wrap_signed_inside_forged, "signature_wrapping"),
        (_wrap_signed_in_extensions, "signature_wrapping"),
        (_forged_digest_elsewhere, "invalid_signature"),
        (_forged_digest_in_signature, "invalid_signature"),
        (_reference_valid_digest, "invalid_signature"),
    ],
    ids=["two-assertions", "signed-inside-forged", "signed-in-extensions",
         "cve-2024-45409-planted-digest", "cve-2024-45409-digest-in-signature",
         "reference-valid-forged-digest"],
)  # fmt: skip
async def test_signature_wrapping_and_forged_digests_are_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP,
    forge, reason: str,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    victim = saml_tenant.owner.email
    genuine = await _answer(browser, saml_tenant, saml_idp)
    forged = genuine.with_xml(forge(genuine.xml, victim))
    await assert_refused(api, saml_tenant.owner, await post_answer(browser, forged), reason)


async def test_a_comment_inside_the_name_id_is_refused(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    victim = saml_tenant.owner.email
    attacker = Person(f"{victim}.attacker.test", ["engineering"])
    genuine = await _answer(browser, saml_tenant, saml_idp, person=attacker)
    forged = genuine.with_xml(_comment_in_name_id(genuine.xml, victim))
    await assert_refused(api, saml_tenant.owner, await post_answer(browser, forged), "xml_comment")


# --- single logout --------------------------------------------------------------------------


async def test_idp_initiated_single_logout_ends_the_sessions(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    slug, email = saml_tenant.owner.tenant_slug, saml_tenant.email()
    tokens = await exchange(browser, await saml_sign_in(browser, slug, saml_idp,
                                                        Person(email, ["engineering"])))  # fmt: skip
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await api.get("/v1/me", headers=headers)).status_code == 200
    slo = f"{api.base_url}/v1/sso/saml/{slug}/slo".replace("//v1", "/v1")
    request_id, request = saml_idp.server.create_logout_request(
        slo, _sp_entity(saml_tenant, api), name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email),
        sign=False,
    )  # fmt: skip
    bound = saml_idp.server.apply_binding(BINDING_HTTP_REDIRECT, str(request), slo, "/", sign=True,
                                          sigalg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")  # fmt: skip
    location = dict(bound["headers"])["Location"]
    answered = await browser.get(location)
    assert answered.status_code == 302, answered.text
    assert answered.headers["location"].startswith(saml_idp.slo_url + "?SAMLResponse=")
    assert (await api.get("/v1/me", headers=headers)).status_code == 401
    # the same request unsigned is refused and audited
    unsigned = saml_idp.server.apply_binding(
        BINDING_HTTP_REDIRECT, str(request), slo, "/", sign=False
    )
    refused = await browser.get(dict(unsigned["headers"])["Location"])
    assert refused.status_code == 401 and "Reason: unsigned" in refused.text
    assert (await refusals(api, saml_tenant.owner, "auth.logout"))[0]["reason"] == "unsigned"
    _ = request_id


async def test_sp_initiated_single_logout_ends_sessions_and_sends_the_browser_to_the_idp(
    api: httpx.AsyncClient, browser: httpx.AsyncClient, saml_tenant: SsoTenant, saml_idp: SamlIdP
) -> None:
    slug, email = saml_tenant.owner.tenant_slug, saml_tenant.email()
    tokens = await exchange(browser, await saml_sign_in(browser, slug, saml_idp,
                                                        Person(email, ["engineering"])))  # fmt: skip
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    logout = await api.post("/v1/sso/saml/logout", headers=headers)
    assert logout.status_code == 200, logout.text
    redirect = logout.json()["redirect"]
    assert redirect.startswith(saml_idp.slo_url + "?SAMLRequest=") and "&Signature=" in redirect
    query = parse_qs(urlsplit(redirect).query)
    request = saml_idp.server.parse_logout_request(
        query["SAMLRequest"][0], BINDING_HTTP_REDIRECT, relay_state=query["RelayState"][0],
        sigalg=query["SigAlg"][0], signature=query["Signature"][0],
    )  # the IdP checks our signature on it  # fmt: skip
    assert request.message.name_id.text == email
    assert (await api.get("/v1/me", headers=headers)).status_code == 401
    refreshed = await api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
