"""SMART on FHIR access tokens: verify a bearer JWT and read its claims.

The token is a JWS (RFC 7515) signed by the authorization server with a key of its JWKS
(``jwks.py``); the claims are those of RFC 7519 and RFC 9068, plus SMART's launch context
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): ``scope``,
``patient`` and ``fhirUser``. PyJWT does the JWS and claim checks; this module decides what
is allowed: only the configured asymmetric algorithms, checked before a key is chosen, so
neither ``alg: none`` nor an HMAC keyed with a public key can pass.

A verification costs no I/O once the key set is loaded: the key is a cached ``PyJWK``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import exceptions as jwt_errors

from fhircare.security.jwks import KeySet

DEFAULT_ALGORITHMS = ("RS256", "ES256", "RS384", "ES384")
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
"""What may be configured: public-key signatures. ``none`` and the HMACs (``HS*``) never."""
MAX_TOKEN_CHARS = 16 * 1024
VERIFIED_CACHE_SIZE = 4096
"""Verified tokens remembered (the most recently used), so a client's next request with the
same token costs a dictionary lookup and a clock check, not a signature verification."""
"""A longer bearer token is refused unread: no SMART token comes near it."""

EXPIRED = "expired"
NOT_YET_VALID = "not yet valid"
WRONG_ISSUER = "wrong issuer"
WRONG_AUDIENCE = "wrong audience"
BAD_SIGNATURE = "bad signature"
UNSUPPORTED_ALGORITHM = "unsupported algorithm"
UNKNOWN_KEY = "unknown key"
MISSING_EXPIRY = "missing exp"
MALFORMED = "malformed"


class TokenConfigError(ValueError):
    """The token settings are unsafe or incomplete; the message says which field."""


class TokenRejected(Exception):
    """The token is not accepted; ``reason`` is short and safe to send to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenSettings:
    """What a token must satisfy: signed by a key of ``jwks`` (URL or file path) with one of
    ``algorithms``, issued by ``issuer`` for ``audience`` (this server's FHIR base)."""

    jwks: str
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway_seconds: int = 60
    jwks_refresh_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("jwks", "issuer", "audience"):
            if not getattr(self, name):
                raise TokenConfigError(f"token settings: '{name}' is required")
        if not self.algorithms:
            raise TokenConfigError("token settings: 'algorithms' must name at least one")
        refused = [alg for alg in self.algorithms if alg not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise TokenConfigError(
                f"token settings: algorithms {', '.join(refused)} refused; only public-key "
                f"signatures are accepted ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}), "
                "never 'none' or an HMAC (HS256, ...)"
            )
        if self.leeway_seconds < 0 or self.jwks_refresh_seconds < 0:
            raise TokenConfigError("token settings: leeway and refresh seconds must be >= 0")

    def key_set(self, **options: Any) -> KeySet:
        """The key set these settings name (``options`` go to ``KeySet``, e.g. a transport)."""
        return KeySet(self.jwks, refresh_seconds=self.jwks_refresh_seconds, **options)


@dataclass(frozen=True)
class Claims:
    """What a verified token says about its bearer."""

    subject: str | None
    scopes: tuple[str, ...]
    patient: str | None
    """The SMART launch context: the id of the patient in context (a bare id)."""
    fhir_user: str | None
    """The user's resource, e.g. ``Practitioner/123`` (SMART ``fhirUser``)."""
    client_id: str | None
    raw: dict[str, Any]


class TokenVerifier:
    """Verifies bearer tokens against one issuer's key set."""

    def __init__(
        self, settings: TokenSettings, keyset: KeySet, cache_size: int = VERIFIED_CACHE_SIZE
    ) -> None:
        self.settings = settings
        self.keyset = keyset
        self._decoder = jwt.PyJWT(options={"require": ["exp"]})
        self._verified: OrderedDict[str, Claims] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Claims:
        """The claims of ``token``, or ``TokenRejected`` saying why not (``KeySetUnavailable``
        if the issuer's keys cannot be loaded at all: a fault of the server, not the token).

        A token verified before is not verified again until it expires: a client sends the
        same token with every request, and its signature and claims cannot change. Only its
        time window is checked again on each use."""
        known = self._verified.get(token)
        if known is not None:
            self._check_window(known.raw)
            self._verified.move_to_end(token)
            return known
        claims = await self._verify(token)
        self._verified[token] = claims
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return claims

    def _check_window(self, payload: dict[str, Any]) -> None:
        now = time.time()
        leeway = self.settings.leeway_seconds
        if now > float(payload["exp"]) + leeway:
            raise TokenRejected(EXPIRED)
        not_before = payload.get("nbf")
        if isinstance(not_before, int | float) and now < not_before - leeway:
            raise TokenRejected(NOT_YET_VALID)

    async def _verify(self, token: str) -> Claims:
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise TokenRejected(MALFORMED)
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.PyJWTError:
            raise TokenRejected(MALFORMED) from None
        alg, kid = header.get("alg"), header.get("kid")
        # The algorithm is checked before a key is chosen: a key never meets an algorithm
        # the configuration does not allow.
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise TokenRejected(UNSUPPORTED_ALGORITHM)
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected(MALFORMED)
        key = await self.keyset.key_for(kid, alg)
        if key is None:
            raise TokenRejected(UNKNOWN_KEY)
        payload = self._decode(token, key.key, alg)
        return claims_of(payload)

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        try:
            payload: dict[str, Any] = self._decoder.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
            )
        except jwt_errors.PyJWTError as error:
            raise TokenRejected(_reason(error)) from None
        return payload


def _reason(error: jwt_errors.PyJWTError) -> str:
    """The safe reason for PyJWT's error: its own message may quote the token or key."""
    match error:
        case jwt_errors.ExpiredSignatureError():
            return EXPIRED
        case jwt_errors.ImmatureSignatureError():
            return NOT_YET_VALID
        case jwt_errors.InvalidIssuerError():
            return WRONG_ISSUER
        case jwt_errors.InvalidAudienceError():
            return WRONG_AUDIENCE
        case jwt_errors.InvalidSignatureError():
            return BAD_SIGNATURE
        case jwt_errors.InvalidAlgorithmError():
            return UNSUPPORTED_ALGORITHM
        case jwt_errors.MissingRequiredClaimError(claim="exp"):
            return MISSING_EXPIRY
        case jwt_errors.MissingRequiredClaimError(claim="iss"):
            return WRONG_ISSUER
        case jwt_errors.MissingRequiredClaimError(claim="aud"):
            return WRONG_AUDIENCE
        case _:
            return MALFORMED


def claims_of(payload: dict[str, Any]) -> Claims:
    """The claims of a verified payload; a claim of the wrong JSON type makes it malformed."""
    return Claims(
        subject=_text(payload, "sub"),
        scopes=_scopes(payload),
        patient=_text(payload, "patient"),
        fhir_user=_text(payload, "fhirUser"),
        client_id=_text(payload, "client_id") or _text(payload, "azp"),
        raw=payload,
    )


def _text(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenRejected(MALFORMED)
    return value


def _scopes(payload: dict[str, Any]) -> tuple[str, ...]:
    """``scope`` is space-separated (RFC 8693 §4.2); some servers send ``scp``, a list."""
    for name in ("scope", "scp"):
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            return tuple(value.split())
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(value)
        raise TokenRejected(MALFORMED)
    return ()
