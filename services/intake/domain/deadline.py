"""The deadline decision (R5): the server's receive time against the pool's deadline instant.

The client's ``client_sent_at`` never reaches this module: nothing here takes it as input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from contracts.assessment import PoolPublished

# Receipts show local time in the agency's zone whatever the pool's zone (the Receipt contract).
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def require_aware(value: datetime, name: str) -> datetime:
    """Naive datetimes are a programming error here: every instant must carry its offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value


def deadline_of(pool: PoolPublished) -> datetime | None:
    """The pool's deadline instant, from its definition (local time in the pool's zone, DST-aware).

    The definition is the source of truth; ``PoolPublished.deadline`` is a convenience copy.
    Returned in UTC: an aware datetime still in its zone compares *unequal* to every other-zone
    datetime when it falls in the repeated autumn hour (PEP 495), which would make a stored
    deadline differ from itself after a round trip.
    """
    instant = pool.definition.deadline_instant()
    return None if instant is None else instant.astimezone(UTC)


def is_on_time(received_at: datetime, deadline: datetime) -> bool:
    """On time iff received at or before the deadline instant (the deadline itself is on time)."""
    return require_aware(received_at, "received_at") <= require_aware(deadline, "deadline")


def local_iso(instant: datetime) -> str:
    """The instant in Europe/Copenhagen as ISO-8601 with its offset, for receipts."""
    return require_aware(instant, "instant").astimezone(COPENHAGEN).isoformat()
