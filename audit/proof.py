"""One grant's file, verifiable on its own: its events with inclusion proofs against signed
checkpoints (``grants audit prove`` writes it, ``grants audit verify-proof`` checks it).

The file holds, per service, the signed checkpoint the proofs lead to (the record exactly as
published) and the checkpoints that announced that service's later keys (a rotation chain from
a key the verifier trusts); per event, the record's topic, key and value exactly as published,
its leaf index and the RFC 6962 inclusion path. Verifying needs only the file and the services'
public keys: recompute each leaf hash from the bytes, walk the path to a root, and compare with
the root the service signed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from audit import merkle
from audit.checkpoint import CheckpointError, leaf_hash, parse, signature_valid
from audit.keys import KeyFileError, Keyring
from contracts.topics import emitting_service

PROOF_FORMAT = "grants-grant-proof/1"


def _encode(data: bytes | None) -> dict[str, str]:
    if data is None:
        return {}
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def _decode(field_: Any) -> bytes | None:
    if not field_:
        return None
    if "text" in field_:
        return str(field_["text"]).encode()
    return base64.b64decode(field_["base64"], validate=True)


@dataclass(frozen=True)
class ProvenEvent:
    service: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    leaf_index: int


def build(application_id: str, events: Iterable[ProvenEvent], trees: dict[str, merkle.MerkleTree],
          checkpoints: dict[str, tuple[int, bytes]], announcements: dict[str, list[bytes]],
          jwks: dict[str, Any]) -> dict[str, Any]:
    """``trees``: each service's leaf hashes; ``checkpoints``: service → (tree size, the signed
    checkpoint record's value) the proofs are made against."""
    out_events = []
    for e in events:
        size = checkpoints[e.service][0]
        tree = trees[e.service]
        out_events.append({
            "service": e.service, "topic": e.topic, "partition": e.partition, "offset": e.offset,
            "key": _encode(e.key), "value": _encode(e.value), "leaf_index": e.leaf_index,
            "tree_size": size, "leaf_hash": tree.levels[0][e.leaf_index].hex(),
            "inclusion_proof": [h.hex() for h in tree.inclusion_proof(e.leaf_index, size)],
        })
    return {
        "format": PROOF_FORMAT, "application_id": application_id,
        "checkpoints": {s: {"record": value.decode(),
                            "announcements": [a.decode() for a in announcements.get(s, [])]}
                        for s, (_size, value) in sorted(checkpoints.items())},
        "events": out_events, "keys": jwks,
    }


@dataclass
class ProofVerdict:
    events: int = 0
    verified: int = 0
    problems: list[str] = field(default_factory=list)
    checkpoints: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.verified == self.events > 0


def _checkpoint(service: str, entry: Any, ring: Keyring, verdict: ProofVerdict
                ) -> tuple[int, bytes] | None:
    """The (size, root) of a service's checkpoint once its signature chain verifies."""
    if not isinstance(entry, dict):
        verdict.problems.append(f"{service}: no checkpoint")
        return None
    for raw in [*entry.get("announcements", []), entry.get("record")]:
        try:
            signed, body = parse(str(raw).encode())
        except CheckpointError as exc:
            verdict.problems.append(f"{service}: checkpoint {exc}")
            return None
        cp = signed.checkpoint
        trusted = ring.get(cp.key_id)
        if cp.service != service or trusted is None or trusted.service != service:
            verdict.problems.append(f"{service}: checkpoint #{cp.sequence} is signed by "
                                    f"{cp.key_id!r}, not a known key of {service}")
            return None
        if not signature_valid(body, signed.signature, trusted.key):
            verdict.problems.append(f"{service}: checkpoint #{cp.sequence}: the signature "
                                    f"does not verify (forged or altered)")
            return None
        if cp.next_key is not None and cp.next_key.grants_service == service:
            try:
                ring.add(cp.next_key)
            except KeyFileError as exc:
                verdict.problems.append(f"{service}: {exc}")
                return None
    verdict.checkpoints[service] = {"sequence": cp.sequence, "tree_size": cp.tree_size,
                                    "root_hash": cp.root_hash, "issued_at": str(cp.issued_at),
                                    "key_id": cp.key_id}
    return cp.tree_size, bytes.fromhex(cp.root_hash)


def verify(doc: Any, keyring: Keyring) -> ProofVerdict:
    verdict = ProofVerdict()
    if not isinstance(doc, dict) or doc.get("format") != PROOF_FORMAT:
        verdict.problems.append(f"not a {PROOF_FORMAT} file")
        return verdict
    ring = keyring.copy()
    roots: dict[str, tuple[int, bytes] | None] = {}
    events = doc.get("events")
    if not isinstance(events, list) or not events:
        verdict.problems.append("the file holds no events")
        return verdict
    verdict.events = len(events)
    for number, e in enumerate(events, start=1):
        try:
            topic = str(e["topic"])
            service = emitting_service(topic)
            if service is None or service != e.get("service"):
                raise ValueError(f"topic {topic} is not published by {e.get('service')!r}")
            if service not in roots:
                roots[service] = _checkpoint(service, doc.get("checkpoints", {}).get(service),
                                             ring, verdict)
            signed = roots[service]
            if signed is None:
                raise ValueError(f"no verified checkpoint of {service}")
            size, root = signed
            key, value = _decode(e.get("key")), _decode(e["value"])
            assert value is not None
            index = int(e["leaf_index"])
            proof = [bytes.fromhex(h) for h in e["inclusion_proof"]]
            if int(e.get("tree_size", size)) != size:
                raise ValueError(f"proof is for a tree of {e.get('tree_size')}, the checkpoint "
                                 f"has {size}")
        except (KeyError, TypeError, ValueError, AttributeError, AssertionError,
                binascii.Error) as exc:
            verdict.problems.append(f"event {number}: {exc}")
            continue
        if merkle.verify_inclusion(index, size, leaf_hash(topic, key, value), proof, root):
            verdict.verified += 1
        else:
            verdict.problems.append(
                f"event {number} ({topic}@{e.get('partition')}:{e.get('offset')}, leaf {index})"
                f": not in {service}'s signed tree: its bytes differ from what {service} "
                f"published, or the proof is wrong")
    return verdict
