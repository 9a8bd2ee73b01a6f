"""What the SCIM service publishes about itself: ServiceProviderConfig, ResourceTypes, Schemas.

The schemas list exactly the attributes `scim` reads or stores, so a client (or
scim2-tester) that fills every published attribute gets each one back.
"""

from __future__ import annotations

from typing import Any

from auterity.security.sso.scim import ENTERPRISE, GROUP, USER

SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def _attribute(name: str, kind: str = "string", **options: Any) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": False,
        "description": options.pop("description", name),
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    attribute.update(options)
    if kind != "complex":
        attribute.pop("subAttributes", None)
    return attribute


_EMAIL_SUBS = [
    _attribute("value", description="the address"),
    _attribute("type", canonicalValues=["work", "home", "other"]),
    _attribute("primary", "boolean"),
]
_USER_ATTRIBUTES = [
    _attribute("userName", required=True, uniqueness="server",
               description="unique login name, usually the email"),
    _attribute("name", "complex", subAttributes=[
        _attribute("formatted"), _attribute("familyName"), _attribute("givenName"),
    ]),
    _attribute("displayName"),
    _attribute("emails", "complex", multiValued=True, subAttributes=_EMAIL_SUBS),
    _attribute("active", "boolean", description="false deactivates the membership and ends sessions"),
    _attribute("groups", "complex", multiValued=True, mutability="readOnly", subAttributes=[
        _attribute("value", mutability="readOnly"),
        _attribute("display", mutability="readOnly"),
        _attribute("$ref", "reference", mutability="readOnly", referenceTypes=["Group"]),
    ]),
]  # fmt: skip
_GROUP_ATTRIBUTES = [
    _attribute("displayName", required=True, uniqueness="server",
               description="matched against the tenant's SSO role mapping"),
    _attribute("members", "complex", multiValued=True, subAttributes=[
        _attribute("value", mutability="immutable"),
        _attribute("display", mutability="readOnly"),
        _attribute("type", canonicalValues=["User"], mutability="immutable"),
        _attribute("$ref", "reference", mutability="immutable", referenceTypes=["User"]),
    ]),
]  # fmt: skip
_ENTERPRISE_ATTRIBUTES = [
    _attribute("employeeNumber"),
    _attribute("department"),
    _attribute("organization"),
]


def schemas(base_url: str) -> list[dict[str, Any]]:
    def schema(sid: str, name: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "schemas": [SCHEMA], "id": sid, "name": name, "description": name,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{sid}"},
        }  # fmt: skip

    return [
        schema(USER, "User", _USER_ATTRIBUTES),
        schema(GROUP, "Group", _GROUP_ATTRIBUTES),
        schema(ENTERPRISE, "EnterpriseUser", _ENTERPRISE_ATTRIBUTES),
    ]


def resource_types(base_url: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RESOURCE_TYPE], "id": "User", "name": "User", "endpoint": "/Users",
            "description": "A member of the tenant", "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE], "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "A group whose name the tenant maps to roles", "schema": GROUP,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/ResourceTypes/Group"},
        },
    ]  # fmt: skip


def service_provider_config(base_url: str, docs_url: str) -> dict[str, Any]:
    return {
        "schemas": [SPC],
        "documentationUri": docs_url,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The tenant's SCIM token (POST /v1/sso/scim-token)",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/ServiceProviderConfig",
        },
    }
