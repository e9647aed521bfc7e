"""Rules that run by themselves (issue 16 item 7), on the real broker and PostgreSQL: payments and
reporting run in-process as in production — system clock, their schedulers ticking every 0.2 s —
and nobody calls ``/ops/sweep``, ``/ops/scheduler/tick`` or ``/payment-runs``.

- an award whose acceptance deadline has passed lapses (payments' ``acceptance_lapse``);
- a status report past its due date is overdue (reporting's ``overdue_reports``) and payments
  holds the grantee;
- the grantee sends the late report; once accepted, the hold it caused is released by itself
  (no two-person release), and the grant is no longer held;
- an accepted project more than 6 months into its period with no start gets a caseworker task
  (``project_start_check``), which a caseworker dismisses.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.assessment import GrantAwarded, ReportingDeadline
from contracts.base import Applicant, BudgetLine, ProjectPeriod
from servicekit.identity import DevTokenIssuer
from servicekit.scheduler import instant
from services.payments.domain import START_WINDOW_MONTHS
from services.payments.domain.due import day_starts
from services.payments.domain.months import add_months
from services.reporting.domain.rules import end_of_day
from services.payments.app import build as build_payments
from services.reporting.app import build as build_reporting
from tests.infra.services import (
    Feed, Tokens, envelope_bytes, eventually, outbox_events, random_cvr, running_service,
)

pytestmark = pytest.mark.integration
WAIT = 30.0


def awarded(app: uuid.UUID, cvr: str, *, acceptance_deadline: datetime,
            status_due: date, started_days_ago: int = 60) -> GrantAwarded:
    today = datetime.now(UTC).date()
    return GrantAwarded(
        application_id=app, pool_id="it-scheduled", pool_version=1, programme="it-scheduled",
        region_code="1082", sub_pool_amount_oere=100_000_000, municipality_code="751",
        applicant=Applicant(cvr=cvr, municipality_code="751", name=f"Kommune {cvr}"),
        amount_oere=10_000_000, applied_oere=10_000_000, score=20.0, rank=1,
        project_period=ProjectPeriod(start=today - timedelta(days=started_days_ago),
                                     end=today + timedelta(days=300)),
        acceptance_deadline=acceptance_deadline, payment_frequency="quarterly",
        reporting_deadlines=[ReportingDeadline(kind="status", due=status_due),
                             ReportingDeadline(kind="final", due=today + timedelta(days=400))],
        budget_lines=[BudgetLine(post="project staff", category="salary",
                                 amount_oere=10_000_000)],
        approved_by="approver-x", decided_at=datetime.now(UTC) - timedelta(days=40))


async def grant(payments: httpx.AsyncClient, app: uuid.UUID, headers: dict[str, str]
                ) -> dict[str, Any] | None:
    answer = await payments.get(f"/grants/{app}", headers=headers)
    return answer.json() if answer.status_code == 200 else None


async def test_lapse_and_hold_run_by_the_schedulers_and_a_late_report_releases_its_hold(
    private_kafka: str, two_databases: tuple[str, str], tmp_path: Path,
) -> None:
    issuer = DevTokenIssuer(tmp_path)
    token = Tokens(issuer)
    caseworker = token("case-1", "caseworker")
    payments_db, reporting_db = two_databases
    now = datetime.now(UTC)
    unaccepted, late, idle = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cvr_a, cvr_b, cvr_c = random_cvr(), random_cvr(), random_cvr()
    grantee_b = token(f"portal-user-{cvr_b}", "applicant", cvr=cvr_b)
    producer = AIOKafkaProducer(bootstrap_servers=private_kafka, acks="all")
    await producer.start()
    try:
        async with running_service(build_payments, private_kafka, payments_db, issuer,
                                   name="payments", scheduler_interval_s=0.2) as (pr, payments), \
                running_service(build_reporting, private_kafka, reporting_db, issuer,
                                name="reporting", scheduler_interval_s=0.2) as (rr, reporting):
            assert pr.scheduler.runs_on_its_own and rr.scheduler.runs_on_its_own
            feed = Feed(producer)
            # as assessment publishes them: one award never accepted (deadline an hour ago),
            # one accepted in time whose status report was due two days ago
            # and one whose period began 250 days ago (no budget: no start shown)
            for app, cvr, deadline, due, began in (
                    (unaccepted, cvr_a, now - timedelta(hours=1), now.date() + timedelta(days=90),
                     60),
                    (late, cvr_b, now + timedelta(days=30), now.date() - timedelta(days=2), 60),
                    (idle, cvr_c, now + timedelta(days=30), now.date() + timedelta(days=90),
                     250)):
                event = awarded(app, cvr, acceptance_deadline=deadline, status_due=due,
                                started_days_ago=began)
                await feed.produce(topics.ASSESSMENT_DECISIONS.name, app,
                                   envelope_bytes(event, str(app), actor_id="svc-assessment"))

            async def opened() -> bool:
                return all([await grant(payments, app, caseworker) is not None
                            for app in (late, idle)])
            await eventually(opened, timeout=WAIT)
            for app, cvr in ((late, cvr_b), (idle, cvr_c)):
                accepted = await payments.post(f"/grants/{app}/acceptance", json={}, headers=token(
                    f"portal-user-{cvr}", "applicant", cvr=cvr))
                assert accepted.status_code == 200, accepted.text

            # -- nobody sweeps: the award lapses, the overdue report holds the grantee --------
            async def lapsed() -> bool:
                view = await grant(payments, unaccepted, caseworker)
                return view is not None and view["status"] == "lapsed"
            await eventually(lapsed, timeout=WAIT)
            view = await grant(payments, unaccepted, caseworker)
            assert view is not None and view["lapse"]["reason"] == "acceptance_deadline_passed"

            async def held() -> bool:
                view = await grant(payments, late, caseworker)
                return view is not None and view["held"]
            await eventually(held, timeout=WAIT)
            view = await grant(payments, late, caseworker)
            assert view is not None and [h["reason"] for h in view["holds"]] == ["report_overdue"]
            assert (await payments.get("/health")).json()["scheduler"]["rules"] == [
                "acceptance_lapse", "payment_run", "project_start_check"]
            assert (await reporting.get("/health")).json()["scheduler"]["ticks"] >= 1

            # -- the late report, accepted, releases its hold by itself -----------------------
            report = await reporting.post(f"/grants/{late}/reports", headers=grantee_b,
                                          json={"kind": "status", "text": "late, sorry"})
            assert report.status_code == 201, report.text
            assert report.json()["status"] == "accepted"

            async def released() -> bool:
                view = await grant(payments, late, caseworker)
                return view is not None and not view["held"]
            await eventually(released, timeout=WAIT)
            (release,) = [e["payload"] for e in await outbox_events(pr, "PaymentsReleased")]
            assert (release["requested_by"], release["approved_by"]) == ("automatic", "automatic")
            assert release["resolved_by_report"] == report.json()["report_id"]
            # no second notice for the same deadline, however often the schedulers tick
            ticks = rr.scheduler.ticks
            await eventually(lambda: rr.scheduler.ticks >= ticks + 3, timeout=WAIT)
            view = await grant(payments, late, caseworker)
            assert view is not None and not view["held"]

            # -- the 6-month no-start check: a task for a caseworker, not a lapse -------------
            async def tasks() -> list[dict[str, Any]]:
                answer = await payments.get("/tasks", headers=caseworker)
                assert answer.status_code == 200, answer.text
                return answer.json()["tasks"]  # type: ignore[no-any-return]

            async def task_opened() -> bool:
                return any(t["application_id"] == str(idle) for t in await tasks())
            await eventually(task_opened, timeout=WAIT)
            (task,) = await tasks()  # only the idle project: the others started < 6 months ago
            assert (task["kind"], task["status"]) == ("project_start_check", "open")
            view = await grant(payments, idle, caseworker)
            assert view is not None and view["status"] == "accepted"  # a person decides
            assert (await payments.post(f"/tasks/{task['task_id']}/dismissal", json={},
                                        headers=grantee_b)).status_code == 403
            dismissed = await payments.post(f"/tasks/{task['task_id']}/dismissal", json={},
                                            headers=caseworker)
            assert dismissed.status_code == 200, dismissed.text
            assert (dismissed.json()["outcome"], dismissed.json()["closed_by"]) == (
                "dismissed", "case-1")
            assert await tasks() == []
            ticks = pr.scheduler.ticks
            await eventually(lambda: pr.scheduler.ticks >= ticks + 3, timeout=WAIT)
            assert await tasks() == []  # one task per grant, ever
            events = [e["event_type"] for e in await outbox_events(pr)
                      if e["event_type"].startswith("CaseworkerTask")]
            assert events == ["CaseworkerTaskOpened", "CaseworkerTaskClosed"]

            # -- when the rules are next due, read from the stored state ----------------------
            # Nothing left to lapse; no budget by month, so no due date to pay; the late
            # grant's start check is due the Copenhagen day after its window (the idle one has
            # had its task).
            window_end = add_months(now.date() - timedelta(days=60), START_WINDOW_MONTHS)
            answer = (await payments.get("/ops/scheduler/next-due", headers=caseworker)).json()
            assert answer["rules"] == {
                "acceptance_lapse": None, "payment_run": None,
                "project_start_check": instant(day_starts(window_end + timedelta(days=1)))}
            assert not answer["always"]
            # The idle grant's status report is the next deadline to pass (the late one's was
            # met, the lapsed grant has none): overdue from the end of its Copenhagen day.
            answer = (await reporting.get("/ops/scheduler/next-due", headers=caseworker)).json()
            assert answer["rules"] == {
                "overdue_reports": instant(end_of_day(now.date() + timedelta(days=90)))}
    finally:
        await producer.stop()
