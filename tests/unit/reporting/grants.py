"""Grant files for the reporting tests, built only through ``evolve`` from real events."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from contracts import assessment as a
from contracts import finance as f
from contracts import payments as p
from contracts.base import Applicant, BudgetLine, ProjectPeriod
from services.reporting.domain.grant_file import GrantFile, evolve
from tests.unit.reporting.builders import at, envelope, uid

APP = uid("app", "grant-file")
CVR = "29189846"
DECIDED = at("2025-06-01T10:00:00+02:00")
PERIOD = ProjectPeriod(start=date(2025, 7, 1), end=date(2025, 12, 31))
POSTS = {"project staff": 20_000_000, "materials and meetings": 5_000_000}


def awarded(amount: int = 150_000_000, *,
            deadlines: list[a.ReportingDeadline] | None = None) -> GrantFile:
    event = a.GrantAwarded(
        application_id=APP, pool_id="example-2025", pool_version=1, programme="example-2025",
        region_code="1082", sub_pool_amount_oere=100_000_000, municipality_code="751",
        applicant=Applicant(cvr=CVR, municipality_code="751", name="Aarhus Kommune"),
        amount_oere=amount, applied_oere=amount, score=18.0, rank=1, project_period=PERIOD,
        acceptance_deadline=at("2025-07-01T10:00:00+02:00"), payment_frequency="quarterly",
        reporting_deadlines=deadlines if deadlines is not None else [
            a.ReportingDeadline(kind="status", due=date(2025, 10, 31)),
            a.ReportingDeadline(kind="final", due=date(2026, 3, 31))],
        budget_lines=[BudgetLine(post="project staff", category="salary", amount_oere=amount)],
        approved_by="approver-x", decided_at=DECIDED)
    return evolve(GrantFile.new(APP), envelope(event, DECIDED))


def with_budget(state: GrantFile, months: dict[str, dict[str, int]] | None = None,
                version: int = 1) -> GrantFile:
    months = months if months is not None else {m: dict(POSTS) for m in (
        "2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12")}
    total = sum(sum(m.values()) for m in months.values())
    event = p.RevisedBudgetApproved(application_id=APP, budget_version=version, months=months,
                                    total_oere=total, award_oere=150_000_000,
                                    approval="automatic")
    return evolve(state, envelope(event, at("2025-06-10T10:00:00+02:00"), n=version))


def instruct(state: GrantFile, n: int, amount: int, when: datetime | None = None) -> tuple[
        GrantFile, UUID]:
    instruction_id = uid("instruction", "grant-file", n)
    event = p.PaymentInstructed(
        instruction_id=instruction_id, application_id=APP, cvr=CVR, amount_oere=amount,
        due_date=date(2025, 7, 1), period_start="2025-07", period_end="2025-09", budget_version=1)
    when = when or at("2025-07-15T09:00:00+02:00")
    return evolve(state, envelope(event, when, n=n)), instruction_id


def execute(state: GrantFile, instruction_id: UUID, amount: int, n: int = 0) -> GrantFile:
    when = at("2025-07-16T09:00:00+02:00")
    event = f.PaymentExecuted(instruction_id=instruction_id, amount_oere=amount, executed_at=when)
    return evolve(state, envelope(event, when, n=n))


def paid(state: GrantFile, *amounts: int, start: int = 0) -> GrantFile:
    """Instruct and execute one instruction per amount."""
    for k, amount in enumerate(amounts, start=start):
        state, instruction_id = instruct(state, k, amount)
        state = execute(state, instruction_id, amount, n=k)
    return state
