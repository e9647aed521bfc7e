"""The tamper-evident history: each emitted event is an entry in a hash chain.

``entry_hash = sha256(prev_hash || canonical(entry))`` where ``canonical`` is the JSON encoding
with sorted keys, no insignificant whitespace and UTF-8. Editing, deleting or reordering any entry
breaks every later link; :func:`verify` names the first bad entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(entry)).hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    event_id: str
    entry: dict[str, Any]
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: str
    problem: str


def verify(entries: Iterable[ChainEntry]) -> ChainBreak | None:
    """Walk the chain in ``seq`` order; return the first entry that does not link, or None."""
    expected_prev = GENESIS
    expected_seq = 1
    for e in entries:
        if e.seq != expected_seq:
            problem = "missing entry before this one" if e.seq > expected_seq else "out of order"
            return ChainBreak(e.seq, e.event_id, f"{problem} (expected seq {expected_seq})")
        if e.prev_hash != expected_prev:
            return ChainBreak(e.seq, e.event_id, "prev_hash does not match the previous entry")
        if entry_hash(e.prev_hash, e.entry) != e.entry_hash:
            return ChainBreak(e.seq, e.event_id, "entry_hash does not match its content")
        expected_prev = e.entry_hash
        expected_seq += 1
    return None
