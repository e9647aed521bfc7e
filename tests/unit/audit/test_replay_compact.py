"""The replay's compact state (audit.replay.compact): a packed log position orders exactly like
the position tuple it packs and unpacks back to it; the id set is an exact set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.replay.compact import Positions, SeenIds, at_us, event_id_of, instant, micros

TYPES = ["ApplicationAccepted", "ApplicationReceived", "GrantAwarded", "PaymentInstructed"]

# Few distinct values per field, so that ties on the leading fields are common and every later
# field gets to decide; topics include prefixes of each other and non-ASCII names.
instants = st.one_of(
    st.sampled_from([datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                     datetime(2026, 1, 5, 9, 0, 0, 1, tzinfo=UTC),
                     datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)]),
    st.datetimes(timezones=st.just(UTC)))
topics = st.one_of(st.sampled_from(["", "a", "a.b", "ab", "grants.intake.v1", "Z", "é", "a\x00"]),
                   st.text(max_size=6))
partitions = st.one_of(st.sampled_from([-1, 0, 1]), st.integers(-1, 2**32 - 2))
offsets = st.one_of(st.sampled_from([-1, 0, 1, 255, 256]), st.integers(-1, 2**64 - 2))
ids = st.one_of(st.sampled_from([0, 1, 2**127, 2**128 - 1]), st.integers(0, 2**128 - 1))
positions = st.tuples(instants, topics, partitions, offsets, ids, st.sampled_from(TYPES))


@settings(max_examples=300, deadline=None)
@given(st.lists(positions, min_size=1, max_size=40))
def test_packed_positions_order_exactly_like_their_tuples(refs: list) -> None:  # type: ignore[type-arg]
    codec = Positions(TYPES)
    packed = [codec.pack(*r) for r in refs]  # topics are ranked in this (arbitrary) order
    for i, a in enumerate(refs):
        for j, b in enumerate(refs):
            assert (a < b) == (packed[i] < packed[j]) and (a == b) == (packed[i] == packed[j])
    assert sorted(range(len(refs)), key=refs.__getitem__) == sorted(
        range(len(refs)), key=packed.__getitem__)


@given(positions)
def test_a_packed_position_unpacks_to_its_tuple(ref: tuple) -> None:  # type: ignore[type-arg]
    codec = Positions(TYPES)
    packed = codec.pack(*ref)
    assert codec.unpack(packed) == ref
    assert instant(at_us(packed)) == ref[0] and event_id_of(packed) == ref[4]
    assert instant(at_us(packed)).isoformat() == ref[0].isoformat()  # what messages show


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)),
                                               timezone(-timedelta(hours=11))])),
       st.datetimes(timezones=st.just(UTC)))
def test_micros_keep_the_order_of_instants(a: datetime, b: datetime) -> None:
    assert (micros(a) < micros(b)) == (a < b) and (micros(a) == micros(b)) == (a == b)
    assert instant(micros(a)) == a and micros(a) >= 0


@pytest.mark.parametrize("order", ["ascending", "descending", "nested", "zigzag"])
def test_any_64_topics_rank_in_name_order_whatever_order_they_come_in(order: str) -> None:
    codec = Positions(TYPES)
    names = [f"t{i:03d}" for i in range(64)]
    seq = {"ascending": names, "descending": names[::-1],
           "nested": [names[-1], *names[:-1]],  # then each new one just above the last, below it
           "zigzag": [names[i // 2] if i % 2 else names[-1 - i // 2] for i in range(64)]}[order]
    at = datetime(2026, 1, 5, tzinfo=UTC)
    packed = {n: codec.pack(at, n, 0, 0, 1, TYPES[0]) for n in seq}
    assert sorted(names, key=packed.__getitem__) == names
    assert [codec.unpack(packed[n])[1] for n in names] == names


def test_a_topic_with_no_rank_left_is_refused_not_misordered() -> None:
    codec = Positions(TYPES)
    at = datetime(2026, 1, 5, tzinfo=UTC)
    with pytest.raises(OverflowError, match="no rank left"):
        for i in range(100):  # each new topic below every one before: the 65th has no room
            codec.pack(at, f"t{999 - i:03d}", 0, 0, 1, TYPES[0])


def test_a_position_out_of_range_is_refused() -> None:
    codec = Positions(TYPES)
    at = datetime(2026, 1, 5, tzinfo=UTC)
    for bad in ((-2, 0, 0), (0, -2, 0), (2**32 - 1, 0, 0), (0, 2**64 - 1, 0), (0, 0, 2**128)):
        with pytest.raises(ValueError, match="out of range"):
            codec.pack(at, "t", *bad, TYPES[0])
    with pytest.raises(KeyError):
        codec.pack(at, "t", 0, 0, 1, "NotAType")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**128 - 1)), max_size=400))
def test_seen_ids_is_an_exact_set(keys: list[int]) -> None:
    seen, model = SeenIds(), set()
    for k in keys:
        assert seen.add(k) == (k not in model)
        model.add(k)
        assert k in seen
    assert len(seen) == len(model)
    assert all((k in seen) == (k in model) for k in range(60))


def test_seen_ids_grows_and_stays_exact() -> None:
    seen = SeenIds()
    # ids whose bytes overlap across two slots (…00 01 | 00 …) must not match misaligned
    keys = [(i << 64) | (i + 1) for i in range(20_000)]
    assert all(seen.add(k) for k in keys)
    assert not any(seen.add(k) for k in keys)
    assert len(seen) == 20_000 and (keys[5] >> 8) not in seen and (keys[5] << 8) not in seen
