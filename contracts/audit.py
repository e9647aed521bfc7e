"""What the audit topics carry: signed checkpoints of each service's Merkle tree.

Every event a service publishes is a leaf of that service's tree (RFC 6962; ``audit.merkle``),
in the order its outbox relay published them; the record's ``audit-leaf`` header says which
leaf. After each relay batch, and at least every ``GRANTS_AUDIT_CHECKPOINT_INTERVAL_S`` seconds,
the relay publishes a :class:`SignedCheckpoint` on ``grants.<service>.audit.v1`` (through the
same outbox as the events). What the signature covers and how a verifier checks a log:
``audit.checkpoint`` and docs/production.md → "Audit checkpoints and keys".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from contracts.base import Contract, UtcDatetime

CHECKPOINT_FORMAT = "grants-checkpoint/1"
LEAF_HEADER = "audit-leaf"
"""Kafka header on every event a platform service publishes: its leaf index (decimal) in the
service's tree. A hint for placing the event, never evidence: the leaf hash covers topic, key and
value, and the signed roots decide."""

HexHash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lower-case hex")]
ServiceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
KeyId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
# 8 bytes per added leaf, base64: a relay batch of 2,000 events is ~21 KB; bounded well below
# Kafka's default 1 MB message.
AddedPrefixes = Annotated[str, Field(max_length=700_000, pattern=r"^[A-Za-z0-9+/]*={0,2}$")]


class PublicKeyJwk(Contract):
    """An Ed25519 public key as a JWK (RFC 8037), bound to the service whose checkpoints it may
    sign. The same shape as each entry of the audit JWKS file."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{43}$", description="base64url public key")]
    kid: KeyId
    use: Literal["sig"] = "sig"
    alg: Literal["EdDSA"] = "EdDSA"
    grants_service: ServiceName


class Checkpoint(Contract):
    """A signed statement by one service: "my tree has ``tree_size`` leaves with root
    ``root_hash``, and extends the tree of my previous checkpoint".

    - ``sequence`` counts the service's checkpoints from 1 (a gap is a missing checkpoint);
    - ``previous_tree_size``/``previous_root_hash`` repeat the previous checkpoint's (0 and the
      empty tree's root for the first), so the checkpoints form a chain;
    - ``added``: base64 of the first 8 bytes of the leaf hash of each leaf this checkpoint adds
      (``previous_tree_size`` .. ``tree_size - 1``), so a verifier that finds a root mismatch can
      name the exact event; the roots, not these prefixes, are the proof;
    - ``next_key``: a key rotation. The key named here signs this service's checkpoints from the
      next one on; announced under the current key, so a verifier that trusts the old key can
      trust the new one.
    """

    format: Literal["grants-checkpoint/1"]
    service: ServiceName
    sequence: Annotated[int, Field(ge=1)]
    tree_size: Annotated[int, Field(ge=0)]
    root_hash: HexHash
    previous_tree_size: Annotated[int, Field(ge=0)]
    previous_root_hash: HexHash
    issued_at: UtcDatetime
    key_id: KeyId
    added: AddedPrefixes = ""
    next_key: PublicKeyJwk | None = None


class SignedCheckpoint(Contract):
    """The record on ``grants.<service>.audit.v1``: the checkpoint and an Ed25519 signature
    (base64url, no padding) over ``b"grants-checkpoint/1\\n"`` + the canonical JSON of
    ``checkpoint`` as published (keys sorted, no whitespace, UTF-8)."""

    checkpoint: Checkpoint
    signature: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{86}$")]
