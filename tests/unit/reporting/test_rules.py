"""R21 audit level, R22 repayment threshold, deadlines and the project period — at their edges."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.base import ProjectPeriod
from contracts.money import format_dkk
from services.reporting.domain.rules import (
    REPAYMENT_THRESHOLD_OERE, audit_level, end_of_day, month_in_period, repayment_for,
)


@pytest.mark.parametrize(("award_oere", "level"), [
    (0, "reviewer"),
    (10_000_000, "reviewer"),                                   # 100,000.00 DKK
    (10_000_001, "auditor_statement"),                          # 100,000.01 DKK
    (50_000_000, "auditor_statement"),                          # 500,000.00 DKK
    (50_000_001, "auditor_statement_and_performance_audit"),    # 500,000.01 DKK
    (150_000_000, "auditor_statement_and_performance_audit"),
])
def test_audit_level_by_award_size(award_oere: int, level: str) -> None:
    assert audit_level(award_oere) == level


@pytest.mark.parametrize(("paid", "spent", "outcome"), [
    (150_000_000, 149_000_000, ("claim", 1_000_000)),           # the scenario's example
    (100_000, 50_000, ("claim", 50_000)),                       # exactly 500.00 DKK is claimed
    (100_000, 50_001, ("waive", 49_999)),                       # 499.99 DKK is waived
    (100_000, 99_999, ("waive", 1)),
    (100_000, 100_000, None),                                   # nothing unspent
    (100_000, 120_000, None),                                   # overspent: nothing to claim
    (0, 0, None),
])
def test_repayment_threshold(paid: int, spent: int, outcome: tuple[str, int] | None) -> None:
    assert REPAYMENT_THRESHOLD_OERE == 50_000
    assert repayment_for(paid, spent) == outcome


def test_a_report_is_due_until_local_midnight_after_its_due_date() -> None:
    # Summer (CEST, UTC+2): due 2026-03-31 ends 2026-03-31T22:00Z.
    assert end_of_day(date(2026, 3, 31)).astimezone(UTC) == datetime(2026, 3, 31, 22, tzinfo=UTC)
    # Winter (CET, UTC+1).
    assert end_of_day(date(2026, 1, 15)).astimezone(UTC) == datetime(2026, 1, 15, 23, tzinfo=UTC)
    # The DST switch night (2026-03-29: 02:00 → 03:00): the day has 23 hours, ends 22:00Z.
    assert end_of_day(date(2026, 3, 29)).astimezone(UTC) == datetime(2026, 3, 29, 22, tzinfo=UTC)
    # Autumn switch (2026-10-25): 25 hours, ends 23:00Z.
    assert end_of_day(date(2026, 10, 25)).astimezone(UTC) == datetime(2026, 10, 25, 23, tzinfo=UTC)


def test_months_within_the_project_period_include_first_and_last() -> None:
    period = ProjectPeriod(start=date(2025, 7, 1), end=date(2025, 12, 31))
    assert month_in_period("2025-07", period)
    assert month_in_period("2025-12", period)
    assert not month_in_period("2025-06", period)
    assert not month_in_period("2026-01", period)
    mid = ProjectPeriod(start=date(2025, 7, 15), end=date(2026, 1, 10))
    assert month_in_period("2025-07", mid) and month_in_period("2026-01", mid)


def test_format_dkk() -> None:
    assert format_dkk(150_000_001) == "1,500,000.01 DKK"
    assert format_dkk(-5) == "-0.05 DKK"
