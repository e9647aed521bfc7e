"""Leaves and signed checkpoints: the exact bytes both sides hash and sign.

- A leaf is one published event: ``leaf_hash = SHA-256(0x00 || leaf_data)`` with
  ``leaf_data = u32(len(topic)) || topic || u32(len(key)) || key || value`` (big-endian
  lengths, UTF-8 topic, the record's key and value bytes exactly as on the log). Binding topic
  and key means an event moved to another topic or partition key is a different leaf.
- A checkpoint's signature is Ed25519 over ``b"grants-checkpoint/1\\n" + canonical(body)``,
  canonical being JSON with sorted keys, no whitespace, UTF-8. The verifier canonicalises the
  body *as parsed from the record*, so it checks what was published, not a re-encoding of a
  model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from audit import merkle
from audit.keys import b64url, b64url_decode, key_id, public_jwk
from contracts.audit import CHECKPOINT_FORMAT, PublicKeyJwk, SignedCheckpoint

SIGNING_PREFIX = CHECKPOINT_FORMAT.encode() + b"\n"
PREFIX_BYTES = 8


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_TOPIC_PREFIX: dict[str, bytes] = {}


def leaf_hash(topic: str, key: bytes | None, value: bytes) -> bytes:
    prefix = _TOPIC_PREFIX.get(topic)
    if prefix is None:
        t = topic.encode()
        prefix = _TOPIC_PREFIX.setdefault(topic, b"\x00" + len(t).to_bytes(4, "big") + t)
    k = key or b""
    return hashlib.sha256(b"".join((prefix, len(k).to_bytes(4, "big"), k, value))).digest()


def encode_prefixes(leaf_hashes: Iterable[bytes]) -> str:
    return base64.b64encode(b"".join(h[:PREFIX_BYTES] for h in leaf_hashes)).decode()


def decode_prefixes(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"added is not base64: {exc}") from None
    if len(raw) % PREFIX_BYTES:
        raise ValueError("added is not a whole number of 8-byte prefixes")
    return raw


class CheckpointSigner:
    """Signs one service's checkpoints (the emitting side holds one; tests and the bench too)."""

    def __init__(self, service: str, key: Ed25519PrivateKey) -> None:
        self.service = service
        self.key = key
        self.key_id = key_id(key.public_key(), service)

    def jwk(self) -> PublicKeyJwk:
        return public_jwk(self.key.public_key(), self.service)

    def sign(self, *, sequence: int, tree_size: int, root: bytes, previous_size: int,
             previous_root: bytes, issued_at: datetime, added: Iterable[bytes] = (),
             next_key: PublicKeyJwk | None = None) -> bytes:
        """The record value of a signed checkpoint (canonical JSON)."""
        body: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT, "service": self.service, "sequence": sequence,
            "tree_size": tree_size, "root_hash": root.hex(),
            "previous_tree_size": previous_size, "previous_root_hash": previous_root.hex(),
            "issued_at": issued_at.isoformat().replace("+00:00", "Z"),
            "key_id": self.key_id, "added": encode_prefixes(added),
            "next_key": next_key.model_dump(mode="json") if next_key is not None else None,
        }
        signature = self.key.sign(SIGNING_PREFIX + canonical(body))
        return canonical({"checkpoint": body, "signature": b64url(signature)})


class CheckpointError(ValueError):
    """A record on an audit topic that is not a well-formed signed checkpoint."""


def parse(value: bytes) -> tuple[SignedCheckpoint, dict[str, Any]]:
    """The checkpoint model and the body exactly as parsed (what the signature covers)."""
    try:
        raw = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"not JSON: {exc}") from None
    try:
        model = SignedCheckpoint.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CheckpointError(f"not a signed checkpoint: {where}: {first['msg']}") from None
    return model, raw["checkpoint"]


def signature_valid(body: dict[str, Any], signature: str, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(b64url_decode(signature), SIGNING_PREFIX + canonical(body))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


EMPTY_ROOT_HEX = merkle.EMPTY_ROOT.hex()
