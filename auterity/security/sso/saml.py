"""The SAML 2.0 service provider of a tenant, on python3-saml in strict mode.

Accepted is a Response on the HTTP-POST binding whose one Assertion is signed
(RSA-SHA256 or stronger: SHA-1 and the other deprecated algorithms are refused)
by a certificate the tenant configured, for this SP (audience), sent to this ACS
(Destination, Recipient), within its validity window (clock skew: python3-saml's
ALLOWED_CLOCK_DRIFT, see `CLOCK_SKEW_SECONDS`), answering an AuthnRequest this SP
sent and has not seen answered (`InResponseTo`; IdP-initiated responses only when the
tenant allows them), whose assertion id was never accepted before. Responses with XML
comments or processing instructions are refused outright (CVE-2017-11427 and friends:
a comment can split a NameID so that a reader sees less than was signed).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from auterity.security.sso.config import SamlConnection, certificate_body
from auterity.security.sso.flow import SsoRefused
from auterity.security.sso.provisioning import Assertion

# python3-saml's allowance on Conditions (NotBefore/NotOnOrAfter); a process-wide constant
# of the library, set here where the SAML service provider is defined.
CLOCK_SKEW_SECONDS = 180
Saml.ALLOWED_CLOCK_DRIFT = CLOCK_SKEW_SECONDS
MAX_RESPONSE_BYTES = 256 * 1024

V = OneLogin_Saml2_ValidationError
_REASONS: dict[int, str] = {
    V.NO_SIGNATURE_FOUND: "unsigned",
    V.NO_SIGNED_ASSERTION: "unsigned",
    V.NO_SIGNED_MESSAGE: "unsigned",
    V.INVALID_SIGNATURE: "invalid_signature",
    V.WRONG_NUMBER_OF_ASSERTIONS: "signature_wrapping",
    V.WRONG_SIGNED_ELEMENT: "signature_wrapping",
    V.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "signature_wrapping",
    V.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "signature_wrapping",
    V.INVALID_SIGNED_ELEMENT: "signature_wrapping",
    V.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "signature_wrapping",
    V.UNEXPECTED_SIGNED_ELEMENTS: "signature_wrapping",
    V.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "signature_wrapping",
    V.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "signature_wrapping",
    V.WRONG_NUMBER_OF_SIGNATURES: "signature_wrapping",
    V.DEPRECATED_SIGNATURE_METHOD: "deprecated_algorithm",
    V.DEPRECATED_DIGEST_METHOD: "deprecated_algorithm",
    V.WRONG_AUDIENCE: "wrong_audience",
    V.WRONG_DESTINATION: "wrong_destination",
    V.EMPTY_DESTINATION: "wrong_destination",
    V.ASSERTION_EXPIRED: "expired",
    V.RESPONSE_EXPIRED: "expired",
    V.SESSION_EXPIRED: "expired",
    V.ASSERTION_TOO_EARLY: "not_yet_valid",
    V.WRONG_INRESPONSETO: "wrong_in_response_to",
    V.WRONG_ISSUER: "wrong_issuer",
    V.ISSUER_MULTIPLE_IN_RESPONSE: "wrong_issuer",
    V.ISSUER_NOT_FOUND_IN_ASSERTION: "wrong_issuer",
    V.WRONG_SUBJECTCONFIRMATION: "subject_confirmation",
    V.STATUS_CODE_IS_NOT_SUCCESS: "idp_error",
    V.INVALID_XML_FORMAT: "invalid_xml",
    V.NO_NAMEID: "no_name_id",
    V.EMPTY_NAMEID: "no_name_id",
}


@dataclass(frozen=True)
class ServiceProvider:
    """A tenant's SP: its URLs (from the platform's public URL) and the IdP it trusts."""

    base_url: str  # e.g. https://auterity.example.com/v1/sso/saml/acme
    connection: SamlConnection
    certificate: str  # PEM
    private_key: str  # PEM

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/metadata"

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/acs"

    @property
    def slo_url(self) -> str:
        return f"{self.base_url}/slo"

    def settings(self) -> OneLogin_Saml2_Settings:
        conn = self.connection
        idp: dict[str, Any] = {
            "entityId": conn.idp_entity_id,
            "singleSignOnService": {"url": conn.idp_sso_url, "binding": Saml.BINDING_HTTP_REDIRECT},
            "x509certMulti": {
                "signing": [certificate_body(pem) for pem in conn.idp_certificates],
                "encryption": [],
            },
        }
        if conn.idp_slo_url:
            idp["singleLogoutService"] = {
                "url": conn.idp_slo_url,
                "binding": Saml.BINDING_HTTP_REDIRECT,
            }
        data = {
            "strict": True,
            "debug": False,
            "sp": {
                "entityId": self.entity_id,
                "assertionConsumerService": {
                    "url": self.acs_url,
                    "binding": Saml.BINDING_HTTP_POST,
                },
                "singleLogoutService": {"url": self.slo_url, "binding": Saml.BINDING_HTTP_REDIRECT},
                "NameIDFormat": conn.name_id_format,
                "x509cert": certificate_body(self.certificate),
                "privateKey": self.private_key,
            },
            "idp": idp,
            "security": {
                "authnRequestsSigned": conn.sign_requests,
                "logoutRequestSigned": True,
                "logoutResponseSigned": True,
                "signMetadata": False,
                "wantMessagesSigned": conn.want_response_signed,
                "wantAssertionsSigned": True,
                "wantAssertionsEncrypted": False,
                "wantNameId": True,
                "wantNameIdEncrypted": False,
                "wantAttributeStatement": False,
                "requestedAuthnContext": False,
                "allowRepeatAttributeName": True,
                "rejectDeprecatedAlgorithm": True,
                "signatureAlgorithm": Saml.RSA_SHA256,
                "digestAlgorithm": Saml.SHA256,
            },
        }
        return OneLogin_Saml2_Settings(data, sp_validation_only=False)

    def metadata(self) -> str:
        """The SP's metadata XML (entity id, ACS on HTTP-POST, SLO, signing certificate)."""
        settings = self.settings()
        xml = settings.get_sp_metadata()
        errors = settings.validate_metadata(xml)
        if errors:
            raise RuntimeError(f"SP metadata is invalid: {errors}")
        return xml.decode() if isinstance(xml, bytes) else str(xml)

    def _request_data(self, url: str, **data: Any) -> dict[str, Any]:
        parts = urlsplit(url)
        return {
            "https": "on" if parts.scheme == "https" else "off",
            "http_host": parts.netloc,
            "script_name": parts.path,
            "get_data": data.get("get_data", {}),
            "post_data": data.get("post_data", {}),
        }

    def login_redirect(self, relay_state: str) -> tuple[str, str]:
        """(the IdP URL to redirect the browser to, the AuthnRequest ID to remember)."""
        auth = OneLogin_Saml2_Auth(self._request_data(self.acs_url), self.settings())
        url = auth.login(return_to=relay_state)
        request_id = auth.get_last_request_id()
        return url, request_id

    def logout_redirect(self, name_id: str, session_index: str | None, relay_state: str) -> str:
        """The IdP's SLO URL with a signed LogoutRequest for `name_id`."""
        auth = OneLogin_Saml2_Auth(self._request_data(self.slo_url), self.settings())
        try:
            return str(
                auth.logout(
                    return_to=relay_state,
                    name_id=name_id,
                    session_index=session_index,
                    name_id_format=self.connection.name_id_format,
                )
            )
        except OneLogin_Saml2_Error as exc:
            raise SsoRefused("slo_unsupported", str(exc), status=409) from None

    def verify(self, saml_response: str) -> VerifiedResponse:
        """Check a posted SAMLResponse completely but for InResponseTo and replay, which
        need the database (`saml_login` in the API does both); SsoRefused with a reason."""
        document = _parse_checked(saml_response)
        request_data = self._request_data(self.acs_url, post_data={"SAMLResponse": saml_response})
        try:
            response = OneLogin_Saml2_Response(self.settings(), saml_response)
            response.is_valid(request_data, raise_exceptions=True)
            name_id = response.get_nameid()
            attributes = response.get_attributes()
        except OneLogin_Saml2_ValidationError as exc:
            raise SsoRefused(_REASONS.get(exc.code, "invalid_response"), str(exc)) from None
        except (OneLogin_Saml2_Error, etree.LxmlError, ValueError, binascii.Error) as exc:
            raise SsoRefused("invalid_response", str(exc)[:300]) from None
        assertion_id = response.get_assertion_id()
        if not assertion_id:
            raise SsoRefused("invalid_response", "the assertion has no ID")
        in_response_to = _signed_in_response_to(response) or response.get_in_response_to()
        until = not_on_or_after(response.get_assertion_not_on_or_after()) or _conditions_end(
            document
        )
        conn = self.connection
        email = _first(attributes, conn.email_attribute) if conn.email_attribute else None
        if email is None and (
            response.get_nameid_format() == Saml.NAMEID_EMAIL_ADDRESS or "@" in name_id
        ):
            email = name_id
        groups = tuple(attributes.get(conn.groups_attribute, [])) if conn.groups_attribute else ()
        return VerifiedResponse(
            assertion=Assertion(
                protocol="saml",
                issuer=conn.idp_entity_id,
                subject=name_id,
                email=email,
                name=_first(attributes, conn.name_attribute) or "",
                groups=tuple(str(group) for group in groups),
                session_index=response.get_session_index(),
                extra={"name_id_format": response.get_nameid_format()},
            ),
            assertion_id=assertion_id,
            in_response_to=in_response_to,
            not_on_or_after=until,
        )

    def verify_logout_request(self, query: dict[str, str], raw_query: str) -> tuple[str, str]:
        """(NameID, request ID) of a signed LogoutRequest from the IdP (HTTP-Redirect)."""
        request_data = self._request_data(self.slo_url, get_data=query)
        request_data["query_string"] = raw_query
        settings = self.settings()
        try:
            request = OneLogin_Saml2_Logout_Request(settings, query["SAMLRequest"])
            if "Signature" not in query:
                raise SsoRefused("unsigned", "the LogoutRequest is not signed")
            request.is_valid(request_data, raise_exceptions=True)
            xml = request.get_xml()
            name_id = OneLogin_Saml2_Logout_Request.get_nameid(xml)
            request_id = OneLogin_Saml2_Logout_Request.get_id(xml)
        except OneLogin_Saml2_ValidationError as exc:
            raise SsoRefused(_REASONS.get(exc.code, "invalid_logout_request"), str(exc)) from None
        except (OneLogin_Saml2_Error, etree.LxmlError, ValueError, KeyError) as exc:
            raise SsoRefused("invalid_logout_request", str(exc)[:300]) from None
        return str(name_id), str(request_id)

    def logout_response_redirect(self, in_response_to: str, relay_state: str | None) -> str:
        """The IdP's SLO URL with our signed LogoutResponse."""
        from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response

        settings = self.settings()
        response = OneLogin_Saml2_Logout_Response(settings)
        response.build(in_response_to)
        parameters: dict[str, str] = {"SAMLResponse": response.get_response()}
        if relay_state:
            parameters["RelayState"] = relay_state
        auth = OneLogin_Saml2_Auth(self._request_data(self.slo_url), settings)
        auth.add_response_signature(parameters, Saml.RSA_SHA256)
        url = self.connection.idp_slo_url or ""
        return str(auth.redirect_to(url, parameters))


@dataclass(frozen=True)
class VerifiedResponse:
    assertion: Assertion
    assertion_id: str
    in_response_to: str | None
    not_on_or_after: datetime


def _parse_checked(saml_response: str) -> etree._Element:
    """The decoded response, refused if oversized, not XML, or carrying comments, processing
    instructions or a DTD."""
    if len(saml_response) > MAX_RESPONSE_BYTES:
        raise SsoRefused("invalid_response", "the SAMLResponse is too large")
    try:
        raw = base64.b64decode(saml_response, validate=False)
    except (binascii.Error, ValueError):
        raise SsoRefused("invalid_response", "the SAMLResponse is not base64") from None
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, remove_comments=False, remove_pis=False
    )
    try:
        document = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SsoRefused("invalid_xml", f"the SAMLResponse is not XML: {exc}") from None
    tree = document.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise SsoRefused("invalid_xml", "the SAMLResponse carries a DTD")
    if document.xpath("//comment()") or document.xpath("//processing-instruction()"):
        raise SsoRefused(
            "xml_comment",
            "the SAMLResponse carries an XML comment or processing instruction",
        )
    return document


def _signed_in_response_to(response: OneLogin_Saml2_Response) -> str | None:
    """InResponseTo of the (signed) assertion's bearer SubjectConfirmationData."""
    nodes = response._query_assertion(  # noqa: SLF001 - the signed assertion's own query
        "/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
    )
    for node in nodes:
        value = node.get("InResponseTo")
        if value:
            return str(value)
    return None


def _conditions_end(document: etree._Element) -> datetime:
    found = document.xpath("//saml:Conditions/@NotOnOrAfter", namespaces={"saml": Saml.NS_SAML})
    if found:
        return datetime.fromtimestamp(OneLogin_Saml2_Utils.parse_SAML_to_time(found[0]), UTC)
    return datetime.now(UTC) + timedelta(hours=1)


def _first(attributes: dict[str, list[Any]], name: str | None) -> str | None:
    if not name:
        return None
    values = attributes.get(name) or []
    return str(values[0]) if values else None


def not_on_or_after(value: int | datetime | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(value, UTC)
