"""What a SMART client discovers: ``.well-known/smart-configuration`` and the
CapabilityStatement's ``rest.security``.

https://hl7.org/fhir/smart-app-launch/conformance.html. fhircare is a resource server, not
an authorization server: the authorize and token endpoints are those of the server that
issues its tokens (``FHIRCARE_AUTHORIZE_URL``, ``FHIRCARE_TOKEN_URL``), published here so
that clients find them from the FHIR base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
CAPABILITIES = (
    "launch-standalone",
    "launch-ehr",
    "client-public",
    "client-confidential-asymmetric",
    "context-standalone-patient",
    "context-ehr-patient",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
)
"""What fhircare honours in a token; the grant flows themselves are the issuer's."""
SCOPES = (
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "offline_access",
    "patient/*.rs",
    "patient/*.cruds",
    "user/*.rs",
    "user/*.cruds",
    "system/*.rs",
    "system/*.cruds",
    "patient/*.read",
    "user/*.read",
    "user/*.write",
    "system/*.*",
)


@dataclass(frozen=True)
class SmartEndpoints:
    """The token issuer and its endpoints, as the settings name them."""

    issuer: str
    jwks: str
    authorize_url: str | None = None
    token_url: str | None = None

    def configuration(self) -> dict[str, Any]:
        """The ``.well-known/smart-configuration`` document."""
        document: dict[str, Any] = {"issuer": self.issuer}
        if self.jwks.startswith(("https://", "http://")):
            document["jwks_uri"] = self.jwks
        if self.authorize_url:
            document["authorization_endpoint"] = self.authorize_url
        if self.token_url:
            document["token_endpoint"] = self.token_url
            document["grant_types_supported"] = ["authorization_code", "client_credentials"]
            document["token_endpoint_auth_methods_supported"] = ["private_key_jwt"]
            document["token_endpoint_auth_signing_alg_values_supported"] = ["RS384", "ES384"]
        document["response_types_supported"] = ["code"]
        document["code_challenge_methods_supported"] = ["S256"]
        document["scopes_supported"] = list(SCOPES)
        document["capabilities"] = list(CAPABILITIES)
        return document

    def rest_security(self) -> dict[str, Any]:
        """``CapabilityStatement.rest.security`` with the SMART ``oauth-uris`` extension."""
        uris = [
            {"url": name, "valueUri": value}
            for name, value in (("authorize", self.authorize_url), ("token", self.token_url))
            if value
        ]
        security: dict[str, Any] = {
            "cors": True,
            "service": [
                {
                    "coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}],
                    "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
                }
            ],
            "description": "Every request but metadata needs a SMART bearer token (JWT) from "
            f"{self.issuer}; its scopes decide what it may read and write.",
        }
        if uris:
            security["extension"] = [{"url": OAUTH_URIS, "extension": uris}]
        return security
