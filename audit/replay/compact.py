"""Compact forms of what the fold keeps per event, so its memory grows with grants, not events.

- :class:`Positions` packs an event's log position — ``(occurred_at, topic, partition, offset,
  event_id, event_type)`` — into one int that compares exactly as that tuple does (one int of
  ~72 B where the tuple, its datetime and its ints took ~200 B);
- :class:`SeenIds` is the dedup set of event ids at 16 bytes an id (a ``set`` of ints costs
  ~80 B an id, and it is the one structure of the fold that grows with every event);
- :func:`micros` / :func:`instant`: an aware datetime as µs since 0001-01-01 UTC and back. Both
  are exact (datetimes have µs resolution) and keep the order of instants.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def micros(at: datetime) -> int:
    """µs since 0001-01-01 UTC: never negative, in the order of the instants."""
    return (at - _EPOCH) // _US


def instant(us: int) -> datetime:
    """The UTC datetime of :func:`micros`; equal to (and formatting like) the UTC original."""
    return _EPOCH + timedelta(microseconds=us)


# Field widths, least significant first. The event type goes last: after dedup an event id is
# unique, so the event type never decides an order, it only has to come back out.
TYPE_BITS = 8
ID_BITS = 128
OFFSET_BITS = 64
PARTITION_BITS = 32
TOPIC_BITS = 64
_ID_SHIFT = TYPE_BITS
_OFFSET_SHIFT = _ID_SHIFT + ID_BITS
_PARTITION_SHIFT = _OFFSET_SHIFT + OFFSET_BITS
_TOPIC_SHIFT = _PARTITION_SHIFT + PARTITION_BITS
AT_SHIFT = _TOPIC_SHIFT + TOPIC_BITS
_ID_MASK = (1 << ID_BITS) - 1
_OFFSET_END = (1 << OFFSET_BITS) - 1  # offsets are biased by one: -1 (unknown) packs as 0
_TOPIC_TOP = 1 << TOPIC_BITS


def at_us(ref: int) -> int:
    """The ``occurred_at`` of a packed position, as :func:`micros`."""
    return ref >> AT_SHIFT


def event_id_of(ref: int) -> int:
    """The event id (``UUID.int``) of a packed position."""
    return (ref >> _ID_SHIFT) & _ID_MASK


class Positions:
    """Packs log positions into ints ordered exactly like the position tuples.

    ``occurred_at`` is taken as µs, partition and offset biased by one (``-1`` means unknown).
    Topics are ordered by name: each topic gets a rank when first seen, midway between the ranks
    of its neighbours in name order, so ranks always sort like the names; a log of up to 64
    topics fits in any order (the auditors read about a dozen), more only if not nested too deep
    (else the fold refuses, loudly). The event type's code
    is its index among the sorted ``event_types`` this codec was made for."""

    def __init__(self, event_types: Iterable[str]) -> None:
        self._types = tuple(sorted(set(event_types)))
        if len(self._types) > 1 << TYPE_BITS:
            raise ValueError(f"more than {1 << TYPE_BITS} event types")
        self._type_code = {t: i for i, t in enumerate(self._types)}
        self._topic_rank: dict[str, int] = {}
        self._names: list[str] = []  # seen topics in name order, their ranks alongside
        self._ranks: list[int] = []
        self._topic_of: dict[int, str] = {}
        self._heads: dict[tuple[str, int], int] = {}

    def pack(self, at: datetime, topic: str, partition: int, offset: int, event_id: int,
             event_type: str) -> int:
        head = self._heads.get((topic, partition))
        if head is None:
            head = self._head(topic, partition)
        if offset < -1 or offset >= _OFFSET_END or event_id < 0 or event_id >> ID_BITS:
            raise ValueError(f"log position out of range: offset {offset}, event id {event_id}")
        return ((at - _EPOCH) // _US << AT_SHIFT | head | (offset + 1) << _OFFSET_SHIFT
                | event_id << _ID_SHIFT | self._type_code[event_type])

    def unpack(self, ref: int) -> tuple[datetime, str, int, int, int, str]:
        """The position tuple packed into ``ref``."""
        return (instant(ref >> AT_SHIFT),
                self._topic_of[(ref >> _TOPIC_SHIFT) & (_TOPIC_TOP - 1)],
                ((ref >> _PARTITION_SHIFT) & ((1 << PARTITION_BITS) - 1)) - 1,
                ((ref >> _OFFSET_SHIFT) & ((1 << OFFSET_BITS) - 1)) - 1,
                (ref >> _ID_SHIFT) & _ID_MASK,
                self._types[ref & ((1 << TYPE_BITS) - 1)])

    def _head(self, topic: str, partition: int) -> int:
        """The topic's rank and the partition, in place: the same for every event of a
        partition, so :meth:`pack` finds it in a dict."""
        if not -1 <= partition < (1 << PARTITION_BITS) - 1:
            raise ValueError(f"log position out of range: partition {partition}")
        rank = self._topic_rank.get(topic)
        if rank is None:
            rank = self._new_topic(topic)
        head = self._heads[(topic, partition)] = (
            rank << PARTITION_BITS | partition + 1) << _PARTITION_SHIFT
        return head

    def _new_topic(self, topic: str) -> int:
        i = bisect_left(self._names, topic)
        below = self._ranks[i - 1] if i > 0 else -1
        above = self._ranks[i] if i < len(self._ranks) else _TOPIC_TOP
        rank = (below + above) // 2  # each topic at most halves a gap: any 64 topics fit
        if rank == below:
            raise OverflowError(f"no rank left for topic {topic!r} between its neighbours")
        self._names.insert(i, topic)
        self._ranks.insert(i, rank)
        self._topic_rank[topic] = rank
        self._topic_of[rank] = topic
        return rank


class SeenIds:
    """An exact set of 128-bit ids, 16 bytes an id: the ids in ``bytearray`` buckets chosen by
    the hash of their bytes, looked up with an aligned ``find``. Buckets double (re-spread) when
    they average more than :attr:`LOAD` ids, so a lookup scans a few hundred bytes at most.
    The bytes' hash is Python's keyed one: no choice of ids piles them into one bucket."""

    LOAD = 32

    __slots__ = ("_buckets", "_mask", "_count")

    def __init__(self) -> None:
        self._buckets = [bytearray() for _ in range(64)]
        self._mask = 63
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, key: int) -> bool:
        """Add an id; False when it was already there."""
        b, bucket, found = self._lookup(key)
        if found:
            return False
        bucket += b
        self._count += 1
        if self._count > self.LOAD * len(self._buckets):
            self._grow()
        return True

    def __contains__(self, key: int) -> bool:
        return self._lookup(key)[2]

    def _lookup(self, key: int) -> tuple[bytes, bytearray, bool]:
        b = key.to_bytes(16, "big")
        bucket = self._buckets[hash(b) & self._mask]
        i = bucket.find(b)
        while i >= 0:
            if not i & 15:
                return b, bucket, True
            i = bucket.find(b, i + 1)  # a match straddling two ids is not one
        return b, bucket, False

    def _grow(self) -> None:
        # Eightfold, so that re-spreading costs about 1/7 of an id's lookup per id in all.
        size = 8 * len(self._buckets)
        buckets = [bytearray() for _ in range(size)]
        mask = size - 1
        for old in self._buckets:
            ids = bytes(old)
            for j in range(0, len(ids), 16):
                b = ids[j:j + 16]
                buckets[hash(b) & mask] += b
        self._buckets, self._mask = buckets, mask
