"""Micro-benchmark of the auditors' replay fold (not a test; pytest does not collect it).

    .venv/bin/python -m tests.unit.reporting.bench_replay [events]   # default 1,000,000

Synthesises a realistic log (30 % of applications awarded and run to the final report, the rest
rejected; ~13 events per application on average), streamed the way a consumer decodes and drops
messages, and times :meth:`Replay.apply` over it (a generation-only pass is timed first and
subtracted), then :meth:`Replay.result` and the digest. Times are process CPU time, so other
load on the machine does not distort them. Envelopes are built with
``model_construct`` so that generating them does not dominate the run; the fold reads them
exactly as it reads ``contracts.registry.decode`` output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from contracts import assessment as a
from contracts import finance as f
from contracts import intake as i
from contracts import payments as p
from contracts import reporting as r
from contracts.base import Actor, Applicant, BudgetLine, IndicativeBudget, ProjectPeriod
from contracts.registry import spec_for
from audit.replay import Replay, state_digest

T0 = datetime(2025, 5, 1, tzinfo=UTC)
ACTOR = Actor(id="svc-bench", role="system")
PERIOD = ProjectPeriod(start=date(2025, 7, 1), end=date(2026, 12, 31))
LINES = [BudgetLine(post="staff", category="salary", amount_oere=80_000_000),
         BudgetLine(post="other", category="other", amount_oere=20_000_000)]
BUDGET = IndicativeBudget(lines=LINES, total_oere=100_000_000)
MONTHS = {f"2025-{m:02d}": {"staff": 8_000_000, "other": 2_000_000} for m in range(7, 13)} | {
    f"2026-{m:02d}": {"staff": 4_000_000, "other": 1_000_000} for m in range(1, 9)}


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> UUID:
        self.n += 1
        return UUID(int=self.n)


def _env(ids: _Ids, payload: Any, when: datetime) -> tuple[Any, str, int, int]:
    spec = spec_for(payload)
    env = spec.envelope.model_construct(
        event_id=ids(), event_type=spec.event_type, schema_version=1, occurred_at=when,
        correlation_id="bench", causation_id=None, actor=ACTOR, aggregate_id="a", sequence=1,
        payload=payload)
    return env, spec.topic.name, 0, ids.n


def application(ids: _Ids, k: int) -> Iterator[tuple[Any, str, int, int]]:
    app, sub = ids(), ids()
    pool = f"bench-{k // 90}"
    muni = f"{100 + k % 90:03d}"
    applicant = Applicant(cvr=f"{10_000_000 + k:08d}", municipality_code=muni, name="Kommune")
    t = T0 + timedelta(seconds=k)
    yield _env(ids, i.ApplicationReceived.model_construct(
        submission_id=sub, application_id=app, version=1, pool_id=pool, applicant=applicant,
        purpose="x", target_group="y", budget=BUDGET, received_at=t, received_at_local="",
        deadline=t + timedelta(days=30), timeliness="on_time"), t)
    yield _env(ids, i.ApplicationAccepted.model_construct(
        application_id=app, submission_id=sub, version=1, pool_id=pool, basis="on_time",
        exception_id=None), t)
    t2 = t + timedelta(days=40)
    yield _env(ids, a.EligibilityAssessed.model_construct(
        application_id=app, submission_id=sub, pool_id=pool, pool_version=1,
        municipality_code=muni, region_code="1084", applied_oere=100_000_000, eligible=True,
        reasons=[]), t2)
    for n in range(2):
        yield _env(ids, a.ApplicationScored.model_construct(
            application_id=app, assessor=f"as-{n}", scores={"1": 4}, justification="ok",
            recused=False, aggregate_score=18.0), t2)
    t3 = t + timedelta(days=60)
    if k % 10 >= 3:
        yield _env(ids, a.ApplicationRejected.model_construct(
            application_id=app, pool_id=pool, pool_version=1, programme=pool, region_code="1084",
            municipality_code=muni, applied_oere=100_000_000, score=12.0, rank=50,
            reasons=["sub_pool_exhausted"], approved_by="ap", decided_at=t3), t3)
        return
    yield _env(ids, a.GrantAwarded.model_construct(
        application_id=app, pool_id=pool, pool_version=1, programme=pool, region_code="1084",
        sub_pool_amount_oere=10**13, municipality_code=muni, applicant=applicant, currency="DKK",
        amount_oere=100_000_000, applied_oere=100_000_000, score=18.0, rank=1,
        project_period=PERIOD, acceptance_deadline=t3, payment_frequency="quarterly",
        reporting_deadlines=[], budget_lines=LINES, approved_by="ap", decided_at=t3), t3)
    yield _env(ids, p.GrantAccountOpened.model_construct(
        application_id=app, cvr=applicant.cvr, amount_oere=100_000_000, acceptance_deadline=t3), t3)
    t4 = t3 + timedelta(days=1)
    yield _env(ids, p.AwardAccepted.model_construct(application_id=app, accepted_by="g",
                                                    accepted_at=t4), t4)
    yield _env(ids, p.RevisedBudgetSubmitted.model_construct(
        application_id=app, budget_version=1, months=MONTHS, total_oere=100_000_000,
        submitted_by="g"), t4)
    yield _env(ids, p.RevisedBudgetApproved.model_construct(
        application_id=app, budget_version=1, months=MONTHS, total_oere=100_000_000,
        award_oere=100_000_000, approval="automatic", approved_by=None), t4)
    for q in range(6):
        tq = t4 + timedelta(days=30 + 91 * q)
        ins = ids()
        amount = 16_000_000 if q < 5 else 20_000_000
        yield _env(ids, p.PaymentInstructed.model_construct(
            instruction_id=ins, application_id=app, cvr=applicant.cvr, currency="DKK",
            amount_oere=amount, due_date=tq.date(), period_start="2025-07",
            period_end="2025-09", budget_version=1, replaces_instruction_id=None), tq)
        yield _env(ids, f.PaymentExecuted.model_construct(
            instruction_id=ins, amount_oere=amount, executed_at=tq, finance_reference=""), tq)
        yield _env(ids, p.PaymentResultRecorded.model_construct(
            instruction_id=ins, application_id=app, outcome="executed"), tq)
    t5 = t4 + timedelta(days=600)
    rep = ids()
    yield _env(ids, r.ReportSubmitted.model_construct(
        report_id=rep, application_id=app, kind="final", text="", accounts={"staff": 99_000_000},
        audit_statement="RS", submitted_by="g", submitted_at=t5), t5)
    yield _env(ids, r.ReportAccepted.model_construct(
        report_id=rep, application_id=app, kind="final", spent_oere=99_000_000,
        audit_level="auditor_statement_and_performance_audit"), t5)
    yield _env(ids, r.RepaymentClaimed.model_construct(
        application_id=app, cvr=applicant.cvr, currency="DKK", paid_oere=100_000_000,
        spent_oere=99_000_000, amount_oere=1_000_000), t5)


def stream(total: int) -> Iterator[tuple[Any, str, int, int]]:
    """``total`` events, generated lazily as a consumer decodes them (and drops them after)."""
    ids, k, n = _Ids(), 0, 0
    while True:
        for item in application(ids, k):
            yield item
            n += 1
            if n >= total:
                return
        k += 1


def main(total: int = 1_000_000) -> None:
    start = time.process_time()
    for _ in stream(total):
        pass
    generate = time.process_time() - start
    replay = Replay()
    apply = replay.apply
    start = time.process_time()
    for env, topic, partition, offset in stream(total):
        apply(env, topic, partition, offset)
    fold = time.process_time() - start - generate
    start = time.process_time()
    result = replay.result()
    result_seconds = time.process_time() - start
    start = time.process_time()
    digest = state_digest(result)
    digest_seconds = time.process_time() - start
    print(f"events folded      {total:>12,}  ({len(result.applications):,} applications, "
          f"verified={result.verified})")
    print(f"generation only    {generate:>12.2f} s   (subtracted)")
    print(f"fold (apply)       {fold:>12.2f} s   {total / fold:>12,.0f} events/s")
    print(f"result + checks    {result_seconds:>12.2f} s")
    print(f"digest             {digest_seconds:>12.2f} s   {digest[:23]}…")
    end_to_end = fold + result_seconds + digest_seconds
    print(f"fold+result+digest {end_to_end:>12.2f} s   {total / end_to_end:>12,.0f} events/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
