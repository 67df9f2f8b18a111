"""Who is calling: the bearer token of a request under ``FHIRCARE_AUTH=smart``.

https://hl7.org/fhir/smart-app-launch/app-launch.html#access-denied-response-handling and
RFC 6750: a request without a usable token is 401 with ``WWW-Authenticate: Bearer`` (plus
``error="invalid_token"`` and a short reason when a token was sent); a token the issuer's
keys cannot be checked against (the JWKS is unreachable) is 503, a fault of the server.
``metadata``, ``openapi.json`` and ``.well-known/smart-configuration`` need no token: SMART
clients discover the server through them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fhircare.fhir import errors
from fhircare.interactions.access import FULL, PATIENT, Access
from fhircare.security.discovery import SmartEndpoints
from fhircare.security.jwks import KeySetUnavailable
from fhircare.security.scopes import ScopeSet
from fhircare.security.tokens import (
    VERIFIED_CACHE_SIZE,
    Claims,
    TokenRejected,
    TokenSettings,
    TokenVerifier,
)
from fhircare.settings import Settings

log = logging.getLogger(__name__)

REALM = "fhircare"
ACCESS_CACHE_SIZE = VERIFIED_CACHE_SIZE
PUBLIC_PATHS = frozenset({("metadata",), (".well-known", "smart-configuration")})


def token_settings(settings: Settings) -> TokenSettings:
    """The token rules of ``smart`` mode; ``TokenConfigError`` names a missing setting."""
    algorithms = tuple(a.strip() for a in settings.token_algorithms.split(",") if a.strip())
    return TokenSettings(
        jwks=settings.jwks or "",
        issuer=settings.token_issuer or "",
        audience=settings.effective_token_audience(),
        algorithms=algorithms,
        leeway_seconds=settings.token_leeway_seconds,
    )


class Authenticator:
    """The ``Access`` of each request: ``FULL`` in ``none`` mode, the token's in ``smart``."""

    def __init__(self, settings: Settings) -> None:
        self.smart = settings.auth == "smart"
        self.verifier: TokenVerifier | None = None
        self._accesses: dict[str, Access] = {}
        self.endpoints: SmartEndpoints | None = None
        if self.smart:
            rules = token_settings(settings)
            self.verifier = TokenVerifier(rules, rules.key_set())
            self.endpoints = SmartEndpoints(
                rules.issuer, rules.jwks, settings.authorize_url, settings.token_url
            )

    def announce(self) -> None:
        """Say at start what protects the API."""
        if self.verifier is None:
            log.warning(
                "FHIRCARE_AUTH=none: every request is allowed without a token "
                "(development only; set FHIRCARE_AUTH=smart to require SMART tokens)"
            )
        else:
            rules = self.verifier.settings
            log.info(
                "FHIRCARE_AUTH=smart: tokens of %s for %s, keys from %s",
                rules.issuer,
                rules.audience,
                rules.jwks,
            )

    async def access_of(self, headers: Mapping[str, str], segments: list[str]) -> Access:
        """The caller's ``Access``; 401 or 503 (``FhirError``) when it has none."""
        if self.verifier is None or tuple(segments) in PUBLIC_PATHS:
            return FULL
        header = headers.get("authorization", "")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise errors.unauthorized(
                "This server needs a SMART bearer token (Authorization: Bearer <token>)",
                f'Bearer realm="{REALM}"',
            )
        token = token.strip()
        try:
            claims = await self.verifier.verify(token)
        except TokenRejected as rejected:
            raise _invalid_token(f"The bearer token is refused: {rejected.reason}") from None
        except KeySetUnavailable:
            log.exception("the token issuer's keys could not be loaded")
            raise errors.FhirError(
                errors.Category.TRANSIENT,
                [errors.Issue("transient", "The token issuer's keys cannot be loaded; retry")],
            ) from None
        known = self._accesses.get(token)
        if known is not None and known.claims is claims:
            return known
        access = self._access(claims)
        self._accesses[token] = access
        if len(self._accesses) > ACCESS_CACHE_SIZE:
            self._accesses.pop(next(iter(self._accesses)))
        return access

    def _access(self, claims: Claims) -> Access:
        """The grant of verified ``claims``; 401 for patient/ scopes without a patient."""
        scopes = ScopeSet.from_claims(claims.scopes)
        if claims.patient is None and any(s.context == "patient" for s in scopes.scopes):
            raise _invalid_token(
                "The bearer token has patient/ scopes but no 'patient' launch context claim"
            )
        patient = claims.patient.removeprefix(f"{PATIENT}/") if claims.patient else None
        return Access(scopes, patient, claims)


def _invalid_token(message: str) -> errors.FhirError:
    description = message.replace('"', "'")
    return errors.unauthorized(
        message,
        f'Bearer realm="{REALM}", error="invalid_token", error_description="{description}"',
    )
