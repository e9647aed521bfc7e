"""A record and its re-published copy in one batch: the first is processed, the second is a
duplicate (the inbox claim returns the id once)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from servicekit.inbox import first_deliveries


@dataclass(frozen=True)
class Delivery:
    dedup_id: uuid.UUID | None
    offset: int


def test_second_copy_in_the_same_batch_is_a_duplicate() -> None:
    a, b, old = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    items = [Delivery(a, 0), Delivery(old, 1), Delivery(a, 2), Delivery(None, 3),
             Delivery(b, 4), Delivery(None, 5), Delivery(b, 6)]
    todo = first_deliveries(items, fresh={a, b})  # ``old`` was claimed by an earlier batch
    assert [d.offset for d in todo] == [0, 3, 4, 5]


def test_nothing_fresh_leaves_only_records_without_ids() -> None:
    items = [Delivery(uuid.uuid4(), 0), Delivery(None, 1)]
    assert first_deliveries(items, fresh=set()) == [items[1]]
