"""Test builders for the payments domain: awards, actors, and a small driver that applies the
events each command returns, the way the adapter will."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from contracts.assessment import GrantAwarded, ReportingDeadline
from contracts.base import Actor, Applicant, BudgetLine, ProjectPeriod
from contracts.payments import HoldReleaseRequested, PaymentsReleased
from contracts.refusal import Refusal
from services.payments.domain import (
    GrantAccount,
    HoldBook,
    accept_award,
    apply,
    evolve_holds,
    open_account,
    release_hold,
    request_release,
)

APP_ID = UUID("6f1c1a52-3c5e-4c8e-9b7a-0d6c1d9e4a11")
CVR = "29189846"
OTHER_CVR = "27998194"
APPROVER = "approver-x"
DEADLINE = datetime(2022, 12, 1, 22, 59, 59, tzinfo=UTC)

GRANTEE = Actor(id="grantee-1", role="applicant")
CASEWORKER = Actor(id="caseworker-1", role="caseworker")

STAFF = "project staff"
MATERIALS = "materials and meetings"


def lines(staff: int = 120_000_000, materials: int = 30_000_000) -> list[BudgetLine]:
    return [
        BudgetLine(post=STAFF, category="salary", rate_oere=50_000, quantity=staff // 50_000,
                   amount_oere=staff),
        BudgetLine(post=MATERIALS, category="other", amount_oere=materials),
    ]


def award(
    *,
    amount: int = 150_000_000,
    start: date = date(2023, 1, 1),
    end: date = date(2026, 12, 31),
    delayed_start_allowed: bool = True,
    deadline: datetime = DEADLINE,
    frequency: str = "quarterly",
    budget_lines: list[BudgetLine] | None = None,
    application_id: UUID = APP_ID,
    cvr: str = CVR,
    approved_by: str = APPROVER,
) -> GrantAwarded:
    budget_lines = budget_lines if budget_lines is not None else lines()
    return GrantAwarded(
        application_id=application_id, pool_id="familiehus-2022", pool_version=1,
        programme="familiehuse", region_code="1082", sub_pool_amount_oere=2_442_915_300,
        municipality_code="751",
        applicant=Applicant(cvr=cvr, municipality_code="751", name="Aarhus Kommune"),
        amount_oere=amount, applied_oere=amount, score=9.0, rank=1,
        project_period=ProjectPeriod(start=start, end=end,
                                     delayed_start_allowed=delayed_start_allowed),
        acceptance_deadline=deadline, payment_frequency=frequency,
        reporting_deadlines=[ReportingDeadline(kind="final", due=date(2027, 3, 31))],
        budget_lines=budget_lines, approved_by=approved_by,
        decided_at=datetime(2022, 10, 1, 9, 0, tzinfo=UTC),
    )


def opened(**kwargs: Any) -> GrantAccount:
    grant = award(**kwargs)
    state = apply(None, [grant, *open_account(None, grant)])
    assert state is not None
    return state


class Driver:
    """Keeps one grant's state and every event it produced, applying each command's events."""

    def __init__(self, state: GrantAccount, input_event: GrantAwarded | None = None) -> None:
        self.state = state
        self.log: list[Any] = [input_event] if input_event is not None else []

    @classmethod
    def for_award(cls, **kwargs: Any) -> Driver:
        grant = award(**kwargs)
        events = open_account(None, grant)
        driver = cls(apply(None, [grant]), grant)  # type: ignore[arg-type]
        driver.record(events)
        return driver

    @classmethod
    def accepted(cls, **kwargs: Any) -> Driver:
        """``for_award``, then accepted by the grantee (CVR ``CVR``) at the deadline."""
        driver = cls.for_award(**kwargs)
        driver(accept_award, GRANTEE, CVR, DEADLINE)
        return driver

    def record(self, events: list[Any]) -> list[Any]:
        self.state = apply(self.state, events)  # type: ignore[assignment]
        self.log.extend(events)
        return events

    def __call__(self, command: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return self.record(command(self.state, *args, **kwargs))


def refusal(excinfo: pytest.ExceptionInfo[Refusal]) -> tuple[str, str]:
    """The code and kind of a refusal caught by ``pytest.raises``."""
    return excinfo.value.code, excinfo.value.kind


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def even_months(first: str, count: int, per_month: dict[str, int]) -> dict[str, dict[str, int]]:
    """``count`` consecutive months from ``first``, each with the same posts."""
    year, month = int(first[:4]), int(first[5:])
    months = {}
    for _ in range(count):
        months[f"{year:04d}-{month:02d}"] = dict(per_month)
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return months


ONE_SECOND = timedelta(seconds=1)


def released_by_two(book: HoldBook, hold_id: UUID, requester: str, approver: str,
                    grant_approvers: list[str], now: datetime
                    ) -> tuple[HoldBook, HoldReleaseRequested, PaymentsReleased]:
    """A hold released the way people do it (R19): ``requester`` asks, ``approver`` approves.
    Returns the book with the request folded in (not yet the release) and both events."""
    (asked,) = request_release(book, hold_id, requester, grant_approvers, now)
    book = evolve_holds(book, asked)
    (release,) = release_hold(book, hold_id, approver, grant_approvers, now)
    return book, asked, release
