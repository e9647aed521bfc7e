"""The services' checkpoint keys: Ed25519, published as a JWKS file (RFC 7517 / RFC 8037).

Each key is bound to one service (the JWK member ``grants_service``): a key of payments can
never vouch for intake's tree. Key ids are ``<service>-<first 16 characters of the RFC 7638
thumbprint>``, computed from the key, so the signer and the JWKS always agree.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from contracts.audit import PublicKeyJwk


class KeyFileError(ValueError):
    """A key or key file that cannot be used; the message says why."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, no whitespace."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public(key))}
    return b64url(hashlib.sha256(json.dumps(members, sort_keys=True,
                                            separators=(",", ":")).encode()).digest())


def key_id(key: Ed25519PublicKey, service: str) -> str:
    return f"{service}-{thumbprint(key)[:16]}"


def public_jwk(key: Ed25519PublicKey, service: str) -> PublicKeyJwk:
    return PublicKeyJwk(kty="OKP", crv="Ed25519", x=b64url(raw_public(key)),
                        kid=key_id(key, service), grants_service=service)


def public_key_of(jwk: PublicKeyJwk) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk.x))


def generate_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def load_private_pem(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError("checkpoint signing keys are Ed25519")
    return key


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    service: str
    key: Ed25519PublicKey
    jwk: PublicKeyJwk


class Keyring:
    """Public keys by key id, each bound to its service."""

    def __init__(self, jwks: Iterable[PublicKeyJwk] = ()) -> None:
        self.keys: dict[str, TrustedKey] = {}
        for jwk in jwks:
            self.add(jwk)

    def add(self, jwk: PublicKeyJwk) -> TrustedKey:
        key = public_key_of(jwk)
        if key_id(key, jwk.grants_service) != jwk.kid:
            raise KeyFileError(f"key id {jwk.kid} does not match its key "
                            f"(expected {key_id(key, jwk.grants_service)})")
        trusted = TrustedKey(jwk.kid, jwk.grants_service, key, jwk)
        self.keys[jwk.kid] = trusted
        return trusted

    def get(self, kid: str) -> TrustedKey | None:
        return self.keys.get(kid)

    def for_service(self, service: str) -> list[TrustedKey]:
        return [k for k in self.keys.values() if k.service == service]

    def copy(self) -> Keyring:
        return Keyring(k.jwk for k in self.keys.values())

    @classmethod
    def from_jwks(cls, data: str | bytes | Mapping[str, Any]) -> Keyring:
        """Read a JWKS; entries that are not Ed25519 checkpoint keys (no ``grants_service``)
        are skipped, so the file may also hold other keys. A JWKS with none is refused."""
        try:
            doc = json.loads(data) if isinstance(data, (str, bytes)) else dict(data)
        except json.JSONDecodeError as exc:
            raise KeyFileError(f"the key file is not JSON: {exc}") from None
        entries = doc.get("keys") if isinstance(doc, dict) else None
        if not isinstance(entries, list):
            raise KeyFileError('a JWKS is a JSON object with a "keys" list')
        ring = cls()
        for entry in entries:
            if not (isinstance(entry, dict) and entry.get("grants_service")
                    and entry.get("crv") == "Ed25519"):
                continue
            try:
                ring.add(PublicKeyJwk.model_validate(entry))
            except ValidationError as exc:
                raise KeyFileError(f"key {entry.get('kid')!r}: {exc.errors()[0]['msg']}") from None
        if not ring.keys:
            raise KeyFileError("the JWKS holds no checkpoint key (Ed25519 with grants_service)")
        return ring

    def to_jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk.model_dump(mode="json") for k in
                         sorted(self.keys.values(), key=lambda k: (k.service, k.kid))]}
