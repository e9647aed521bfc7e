"""servicekit's pure parts: the simulated clock and the audit hash chain."""

from __future__ import annotations

from datetime import UTC, datetime

from servicekit import audit_chain
from servicekit.clock import SimulatedClock, SystemClock


def test_simulated_clock_takes_the_message_time_and_keeps_the_latest() -> None:
    clock = SimulatedClock()
    with clock.at("2025-05-15T12:00:00+02:00"):
        assert clock.now() == datetime(2025, 5, 15, 10, 0, tzinfo=UTC)
    with clock.at("2025-05-01T00:00:00+00:00"):
        assert clock.now() == datetime(2025, 5, 1, tzinfo=UTC)
    assert clock.now() == datetime(2025, 5, 15, 10, 0, tzinfo=UTC)
    with clock.at("not a time"), clock.at(None):
        assert clock.now() == datetime(2025, 5, 15, 10, 0, tzinfo=UTC)


def test_system_clock_ignores_claimed_times() -> None:
    clock = SystemClock()
    with clock.at("2000-01-01T00:00:00+00:00"):
        assert clock.now().year >= 2026


def _chain(n: int) -> list[audit_chain.ChainEntry]:
    entries, prev = [], audit_chain.GENESIS
    for i in range(1, n + 1):
        entry = {"event": {"event_id": str(i), "amount": i * 100}}
        digest = audit_chain.entry_hash(prev, entry)
        entries.append(audit_chain.ChainEntry(i, str(i), entry, prev, digest))
        prev = digest
    return entries


def test_intact_chain_verifies() -> None:
    assert audit_chain.verify(_chain(5)) is None


def test_edited_deleted_and_reordered_entries_are_named() -> None:
    edited = _chain(5)
    edited[2] = audit_chain.ChainEntry(3, "3", {"event": {"event_id": "3", "amount": 1}},
                                       edited[2].prev_hash, edited[2].entry_hash)
    assert audit_chain.verify(edited).seq == 3
    deleted = _chain(5)
    del deleted[1]
    assert audit_chain.verify(deleted).seq == 3
    swapped = _chain(5)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    assert audit_chain.verify(swapped).seq == 3
