"""Signed tokens: verification for every service, and a dev issuer for the embedded stack.

Tokens are JWTs signed with EdDSA (Ed25519) or RS256. Claims used:
``iss``, ``aud``, ``exp`` (checked), ``sub`` (pseudonymous person id), ``roles`` (list:
``applicant``, ``caseworker``, ``assessor``, ``approver``, ``finance``, ``auditor``) and, for an
employee of an organisation, ``cvr``. Production configures the identity broker's public keys
(MitID Erhverv via a broker) through ``GRANTS_AUTH_PUBLIC_KEY_FILE`` or ``GRANTS_AUTH_JWKS_FILE``.
Token lifetimes are real-world: they are checked against the real clock even in simulation mode.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from servicekit.settings import ServiceSettings

ALGORITHMS = ["EdDSA", "RS256"]


class AuthError(Exception):
    """401 (who are you?) or 403 (not allowed), with a stable code."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.http_status = status
        self.code = code
        self.message = message or code


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    cvr: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    def require_role(self, *roles: str) -> None:
        if not self.roles.intersection(roles):
            raise AuthError(403, "role_not_allowed", f"needs one of the roles {sorted(roles)}")


@dataclass(frozen=True)
class VerificationKey:
    """One public key of the issuer: its ``kid`` (None: a bare PEM key, tried for any kid) and
    the algorithm its type verifies (Ed25519 → EdDSA, RSA → RS256)."""

    key: Any
    algorithm: str
    kid: str | None = None


def _algorithm_of(key: Any) -> str | None:
    if isinstance(key, Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, RSAPublicKey):
        return "RS256"
    return None


def keys_from_jwks(text: str) -> list[VerificationKey]:
    """The usable keys of a JWKS (PyJWT's ``PyJWKSet``), each with its ``kid``."""
    out = []
    for jwk in jwt.PyJWKSet.from_json(text).keys:
        algorithm = _algorithm_of(jwk.key)
        if algorithm is not None:
            out.append(VerificationKey(jwk.key, algorithm, jwk.key_id))
    return out


class TokenVerifier:
    """Verifies a token with the issuer's key its header names (``kid``; without one, every key
    of the token's algorithm is tried), EdDSA and RS256 side by side, so a key set can rotate
    from one key type to the other. Every failure is an :class:`AuthError` 401 with a code;
    nothing a caller sends can make verification raise anything else."""

    def __init__(self, *, issuer: str, audience: str, keys: list[Any], leeway_s: int = 30) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = [k if isinstance(k, VerificationKey) else VerificationKey(k, _algorithm_of(k)
                                                                               or "EdDSA")
                     for k in keys]
        self.leeway_s = leeway_s

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        keys: list[Any] = []
        if settings.auth_public_key_file:
            keys.append(serialization.load_pem_public_key(settings.auth_public_key_file.read_bytes()))
        if settings.auth_jwks_file:
            keys += keys_from_jwks(settings.auth_jwks_file.read_text())
        return cls(issuer=settings.auth_issuer, audience=settings.auth_audience, keys=keys,
                   leeway_s=settings.auth_leeway_s)

    def _candidates(self, token: str) -> list[VerificationKey]:
        try:
            header = jwt.get_unverified_header(token)
        except Exception as exc:  # anything unreadable is an invalid token
            raise AuthError(401, "token_invalid", "the token is not a JWT") from exc
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise AuthError(401, "token_invalid", "the token's algorithm is not EdDSA or RS256")
        same_kind = [k for k in self.keys if k.algorithm == algorithm]
        if isinstance(kid, str) and any(k.kid == kid for k in same_kind):
            return [k for k in same_kind if k.kid == kid]
        return [k for k in same_kind if k.kid is None] or (same_kind if kid is None else [])

    def verify(self, token: str | None) -> Principal:
        if not token:
            raise AuthError(401, "token_missing", "a signed token is required")
        if not self.keys:
            raise AuthError(401, "token_unverifiable", "no issuer keys configured")
        candidates = self._candidates(token)
        if not candidates:
            raise AuthError(401, "token_invalid", "no issuer key for this token")
        claims: dict[str, Any] | None = None
        for candidate in candidates:
            try:
                claims = jwt.decode(
                    token, key=candidate.key, algorithms=[candidate.algorithm],
                    audience=self.audience, issuer=self.issuer, leeway=self.leeway_s,
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
                break
            except jwt.ExpiredSignatureError as exc:
                raise AuthError(401, "token_expired", "the token has expired") from exc
            except jwt.InvalidIssuerError as exc:
                raise AuthError(401, "token_wrong_issuer", "unknown token issuer") from exc
            except jwt.InvalidAudienceError as exc:
                raise AuthError(401, "token_wrong_audience", "token not meant for us") from exc
            except jwt.InvalidSignatureError:
                continue
            except Exception as exc:  # malformed claims, bad key material, ...
                raise AuthError(401, "token_invalid", "invalid token") from exc
        if claims is None:
            raise AuthError(401, "token_invalid", "bad token signature")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise AuthError(401, "token_invalid", "roles claim must be a list of strings")
        cvr = claims.get("cvr")
        return Principal(subject=str(claims["sub"]), roles=frozenset(roles),
                         cvr=str(cvr) if cvr is not None else None, claims=claims)


class DevTokenIssuer:
    """Issues Ed25519-signed tokens for the embedded stack, the scenario runner and tests.

    Never used in production: there, tokens come from the identity broker.
    """

    def __init__(self, key_dir: Path, *, issuer: str = "grants-dev-issuer",
                 audience: str = "grants-platform") -> None:
        self.key_dir = key_dir
        self.issuer = issuer
        self.audience = audience
        self._key = self._load_or_create()

    @property
    def public_key_file(self) -> Path:
        return self.key_dir / "dev-issuer.pub.pem"

    def _load_or_create(self) -> Ed25519PrivateKey:
        private = self.key_dir / "dev-issuer.pem"
        if private.exists():
            key = serialization.load_pem_private_key(private.read_bytes(), password=None)
            assert isinstance(key, Ed25519PrivateKey)
            return key
        self.key_dir.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        private.chmod(0o600)
        self.public_key_file.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return key

    def issue(self, subject: str, roles: list[str], *, cvr: str | None = None,
              ttl_s: int = 3600, **extra: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "sub": subject,
                                  "roles": roles, "iat": now, "exp": now + ttl_s, **extra}
        if cvr is not None:
            claims["cvr"] = cvr
        return jwt.encode(claims, self._key, algorithm="EdDSA")

    def jwks(self) -> str:
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self._key.public_key()))
        return json.dumps({"keys": [jwk]})
