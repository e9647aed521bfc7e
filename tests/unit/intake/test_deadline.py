"""R5: the server's receive time against the pool's deadline instant, DST-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.intake.domain import deadline_of, is_on_time, local_iso

from tests.unit.intake.factories import DEADLINE, MS, pool_definition, published


def deadline_for(local: str, zone: str = "Europe/Copenhagen") -> datetime:
    deadline = deadline_of(published(pool_definition(deadline_local=local, timezone=zone)))
    assert deadline is not None
    return deadline


def test_summer_deadline_is_utc_plus_two() -> None:
    assert deadline_for("2022-09-28T12:00:00") == DEADLINE


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        # autumn change: 2022-10-30 03:00 CEST → 02:00 CET
        ("2022-10-29T12:00:00", datetime(2022, 10, 29, 10, 0, tzinfo=UTC)),
        ("2022-10-30T12:00:00", datetime(2022, 10, 30, 11, 0, tzinfo=UTC)),
        ("2022-10-31T12:00:00", datetime(2022, 10, 31, 11, 0, tzinfo=UTC)),
        # spring change: 2023-03-26 02:00 CET → 03:00 CEST
        ("2023-03-25T12:00:00", datetime(2023, 3, 25, 11, 0, tzinfo=UTC)),
        ("2023-03-26T12:00:00", datetime(2023, 3, 26, 10, 0, tzinfo=UTC)),
        ("2023-03-26T01:59:59", datetime(2023, 3, 26, 0, 59, 59, tzinfo=UTC)),
        ("2023-03-26T03:00:00", datetime(2023, 3, 26, 1, 0, tzinfo=UTC)),
    ],
)
def test_deadlines_in_dst_change_weeks(local: str, utc: datetime) -> None:
    deadline = deadline_for(local)
    assert deadline == utc
    assert is_on_time(utc, deadline)
    assert is_on_time(utc - MS, deadline)
    assert not is_on_time(utc + MS, deadline)


def unchecked_deadline_for(local: datetime) -> datetime:
    """A deadline the pool contract may refuse (a DST change), for old or hand-made records.

    ``model_copy(update=...)`` skips validation, so this tests the domain's conversion alone.
    """
    definition = pool_definition().model_copy(update={"deadline_local": local})
    deadline = deadline_of(published(pool_definition()).model_copy(update={"definition": definition}))
    assert deadline is not None
    return deadline


def test_ambiguous_autumn_hour_takes_the_first_occurrence() -> None:
    # 02:30 happens twice on 2022-10-30; zoneinfo's default (fold=0) is the earlier, summer one.
    deadline = unchecked_deadline_for(datetime(2022, 10, 30, 2, 30))
    assert deadline == datetime(2022, 10, 30, 0, 30, tzinfo=UTC)


def test_nonexistent_spring_time_resolves_with_the_winter_offset() -> None:
    # 02:30 does not exist on 2023-03-26; fold=0 reads it with the offset before the gap (+01:00).
    deadline = unchecked_deadline_for(datetime(2023, 3, 26, 2, 30))
    assert deadline == datetime(2023, 3, 26, 1, 30, tzinfo=UTC)


def test_deadline_is_returned_in_utc() -> None:
    # In its own zone, an instant in the repeated hour would compare unequal to its UTC twin.
    deadline = unchecked_deadline_for(datetime(2022, 10, 30, 2, 30))
    assert deadline.tzinfo is UTC
    assert deadline_for("2022-09-28T12:00:00").tzinfo is UTC


def test_other_pool_zone_is_respected() -> None:
    assert deadline_for("2022-09-28T12:00:00", "UTC") == datetime(2022, 9, 28, 12, 0, tzinfo=UTC)


def test_one_millisecond_either_side() -> None:
    assert is_on_time(DEADLINE - MS, DEADLINE)
    assert is_on_time(DEADLINE, DEADLINE)
    assert not is_on_time(DEADLINE + MS, DEADLINE)
    assert not is_on_time(DEADLINE + timedelta(microseconds=1), DEADLINE)


def test_the_offset_of_the_receive_time_does_not_matter() -> None:
    in_copenhagen = datetime(2022, 9, 28, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    in_new_york = datetime(2022, 9, 28, 6, 0, 0, 1000, tzinfo=timezone(timedelta(hours=-4)))
    assert is_on_time(in_copenhagen, DEADLINE)
    assert not is_on_time(in_new_york, DEADLINE)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        is_on_time(datetime(2022, 9, 28, 11, 0), DEADLINE)
    with pytest.raises(ValueError):
        local_iso(datetime(2022, 9, 28, 11, 0))


def test_pool_without_deadline() -> None:
    assert deadline_of(published(pool_definition(deadline_local=None))) is None


@pytest.mark.parametrize(
    ("instant", "local"),
    [
        (DEADLINE, "2022-09-28T12:00:00+02:00"),
        (datetime(2022, 12, 1, 11, 0, tzinfo=UTC), "2022-12-01T12:00:00+01:00"),
        (DEADLINE + MS, "2022-09-28T12:00:00.001000+02:00"),
    ],
)
def test_local_iso_is_copenhagen_time(instant: datetime, local: str) -> None:
    assert local_iso(instant) == local
