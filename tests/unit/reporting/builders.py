"""Event-log builders for the reporting tests: contract payloads wrapped in real envelopes.

:class:`Log` assigns each event its topic (from the registry), a partition (the aggregate key
hashed like a keyed producer would) and the next offset of that partition, so a built log looks
like what an auditor reads from Kafka. :func:`example_round` plays the round of
``shared/scenarios/example-small.json`` as the services would record it.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from contracts import assessment as a
from contracts import finance as f
from contracts import intake as i
from contracts import payments as p
from contracts import reporting as r
from contracts.base import Actor, Applicant, BudgetLine, Contract, IndicativeBudget, ProjectPeriod
from contracts.envelope import Envelope
from contracts.pools import PoolDefinition
from contracts.registry import decode, encode, envelope_of, spec_for
from audit.replay import LoggedEvent

DATA = Path(__file__).parent / "data"
SCENARIO = DATA / "example-small.json"
EXPECTED = DATA / "example-small.expected.json"


def uid(*parts: object) -> UUID:
    return uuid5(NAMESPACE_URL, "test:" + ":".join(map(str, parts)))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Log:
    """An append-only, positioned event log."""

    def __init__(self) -> None:
        self.events: list[LoggedEvent] = []
        self._offsets: dict[tuple[str, int], int] = {}
        self._sequence: dict[str, int] = {}

    def add(self, payload: Contract, when: datetime, *, key: object | None = None,
            event_id: UUID | None = None) -> LoggedEvent:
        spec = spec_for(payload)
        aggregate = str(key if key is not None else getattr(payload, "application_id", None)
                        or getattr(payload, "pool_id", None) or "none")
        partition = zlib.crc32(aggregate.encode()) % spec.topic.partitions
        offset = self._offsets.get((spec.topic.name, partition), 0)
        self._offsets[(spec.topic.name, partition)] = offset + 1
        self._sequence[aggregate] = self._sequence.get(aggregate, 0) + 1
        envelope = envelope_of(
            payload, event_id=event_id or uid("event", len(self.events)), occurred_at=when,
            correlation_id="corr-test", actor=Actor(id="svc-test", role="system"),
            aggregate_id=aggregate, sequence=self._sequence[aggregate],
        )
        # Through the wire format, as an auditor reads it.
        logged = LoggedEvent(decode(encode(envelope)), spec.topic.name, partition, offset)
        self.events.append(logged)
        return logged


def envelope(payload: Contract, when: datetime, *, n: int = 0) -> Envelope[Any]:
    return envelope_of(
        payload, event_id=uid("env", spec_for(payload).event_type, n, when.isoformat()),
        occurred_at=when, correlation_id="corr-test", actor=Actor(id="svc-test", role="system"),
        aggregate_id=str(getattr(payload, "application_id", "x")), sequence=n + 1,
    )


def scenario() -> dict[str, Any]:
    return json.loads(SCENARIO.read_text())


def expected() -> dict[str, Any]:
    return json.loads(EXPECTED.read_text())


class Round:
    """The example-small round as events, with handles the tests use to inject violations."""

    def __init__(self) -> None:
        self.data = scenario()
        self.log = Log()
        self.pool = PoolDefinition.model_validate(self.data["pool"])
        self.deadline = self.pool.deadline_instant()
        assert self.deadline is not None
        self.app: dict[str, UUID] = {}
        self.sub: dict[str, UUID] = {}
        self.applicant: dict[str, Applicant] = {}
        self.budget: dict[str, IndicativeBudget] = {}
        self.region: dict[str, str] = {"KBH": "1084", "GENTOFTE": "1084", "AARHUS": "1082",
                                       "RANDERS": "1082"}
        self.instructions: dict[str, list[UUID]] = {}
        self.awarded: dict[str, a.GrantAwarded] = {}

    # -- intake ----------------------------------------------------------------------------
    def publish_pool(self) -> None:
        self.log.add(a.PoolPublished(pool_id=self.pool.pool_id, version=1, content_hash="sha256:t",
                                     definition=self.pool, deadline=self.deadline),
                     at("2025-04-01T09:00:00+02:00"))

    def submit(self, action: dict[str, Any]) -> None:
        ref = action["ref"]
        when = at(action["at"])
        self.app[ref], self.sub[ref] = uid("app", ref), uid("sub", ref)
        self.applicant[ref] = Applicant.model_validate(action["applicant"])
        self.budget[ref] = IndicativeBudget(
            lines=[BudgetLine.model_validate(line) for line in action["budget"]["lines"]],
            total_oere=action["budget"]["total_oere"])
        late = when > self.deadline
        self.log.add(i.ApplicationReceived(
            submission_id=self.sub[ref], application_id=self.app[ref], version=1,
            pool_id=self.pool.pool_id, applicant=self.applicant[ref], purpose=action["purpose"],
            target_group=action["target_group"], budget=self.budget[ref], received_at=when,
            received_at_local=action["at"], deadline=self.deadline,
            timeliness="late" if late else "on_time"), when)
        if late:
            self.log.add(i.ApplicationRejectedLate(
                application_id=self.app[ref], submission_id=self.sub[ref],
                pool_id=self.pool.pool_id, received_at=when, deadline=self.deadline,
                reasons=["deadline_passed"]), when)
        else:
            self.log.add(i.ApplicationAccepted(
                application_id=self.app[ref], submission_id=self.sub[ref], version=1,
                pool_id=self.pool.pool_id, basis="on_time"), when)

    # -- assessment ------------------------------------------------------------------------
    def eligible(self, ref: str, when: datetime) -> LoggedEvent:
        """Assessment's gate for the application: what it emits when it registers one."""
        return self.log.add(a.EligibilityAssessed(
            application_id=self.app[ref], submission_id=self.sub[ref], pool_id=self.pool.pool_id,
            pool_version=1, municipality_code=self.applicant[ref].municipality_code,
            region_code=self.region.get(ref), applied_oere=self.budget[ref].total_oere,
            eligible=True), when)

    def assess(self, ref: str, when: datetime, score: float) -> None:
        self.eligible(ref, when)
        self.log.add(a.ApplicationScored(application_id=self.app[ref], assessor="assessor-a",
                                         scores={"1": 5}, justification="fine",
                                         aggregate_score=score), when)

    def award(self, ref: str, when: datetime, *, amount: int | None = None, rank: int = 1,
              region: str | None = None, municipality: str | None = None) -> a.GrantAwarded:
        region = region or self.region[ref]
        sub_amount = next(s.amount_oere for s in self.pool.sub_pools if s.region_code == region)
        event = a.GrantAwarded(
            application_id=self.app[ref], pool_id=self.pool.pool_id, pool_version=1,
            programme=self.pool.programme_id, region_code=region, sub_pool_amount_oere=sub_amount,
            municipality_code=municipality or self.applicant[ref].municipality_code,
            applicant=self.applicant[ref],
            amount_oere=self.budget[ref].total_oere if amount is None else amount,
            applied_oere=self.budget[ref].total_oere, score=18.0, rank=rank,
            project_period=ProjectPeriod(start=self.pool.project_period.start,
                                         end=self.pool.project_period.end),
            acceptance_deadline=when + timedelta(days=30), payment_frequency="quarterly",
            reporting_deadlines=[a.ReportingDeadline(kind="final", due=date(2026, 3, 31))],
            budget_lines=list(self.budget[ref].lines), approved_by="approver-x", decided_at=when)
        self.awarded[ref] = event
        self.log.add(event, when)
        return event

    def reject(self, ref: str, when: datetime, reasons: list[str], rank: int) -> None:
        self.log.add(a.ApplicationRejected(
            application_id=self.app[ref], pool_id=self.pool.pool_id, pool_version=1,
            programme=self.pool.programme_id, region_code=self.region[ref],
            municipality_code=self.applicant[ref].municipality_code,
            applied_oere=self.budget[ref].total_oere, score=14.0, rank=rank, reasons=reasons,
            approved_by="approver-x", decided_at=when), when)

    # -- payments --------------------------------------------------------------------------
    def accept(self, ref: str, when: datetime) -> None:
        self.log.add(p.AwardAccepted(application_id=self.app[ref], accepted_by="grantee",
                                     accepted_at=when), when)

    def revised_budget(self, ref: str, when: datetime, months: dict[str, dict[str, int]],
                       version: int = 1) -> None:
        total = sum(sum(m.values()) for m in months.values())
        award = self.awarded[ref].amount_oere
        self.log.add(p.RevisedBudgetSubmitted(application_id=self.app[ref], budget_version=version,
                                              months=months, total_oere=total,
                                              submitted_by="grantee"), when)
        self.log.add(p.RevisedBudgetApproved(application_id=self.app[ref], budget_version=version,
                                             months=months, total_oere=total, award_oere=award,
                                             approval="automatic"), when)

    def instruct(self, ref: str, when: datetime, amount: int, *, n: int | None = None,
                 replaces: UUID | None = None) -> UUID:
        sent = self.instructions.setdefault(ref, [])
        instruction_id = uid("instruction", ref, n if n is not None else len(sent))
        sent.append(instruction_id)
        self.log.add(p.PaymentInstructed(
            instruction_id=instruction_id, application_id=self.app[ref],
            cvr=self.applicant[ref].cvr, amount_oere=amount, due_date=when.date(),
            period_start="2025-07", period_end="2025-09", budget_version=1,
            replaces_instruction_id=replaces), when)
        return instruction_id

    def execute(self, ref: str, instruction_id: UUID, when: datetime, amount: int) -> None:
        self.log.add(f.PaymentExecuted(instruction_id=instruction_id, amount_oere=amount,
                                       executed_at=when), when, key=self.app[ref])

    # -- reporting -------------------------------------------------------------------------
    def final_report(self, ref: str, when: datetime, accounts: dict[str, int],
                     statement: str) -> None:
        report_id = uid("report", ref)
        spent = sum(accounts.values())
        self.log.add(r.ReportSubmitted(report_id=report_id, application_id=self.app[ref],
                                       kind="final", accounts=accounts, audit_statement=statement,
                                       submitted_by="grantee", submitted_at=when), when)
        self.log.add(r.ReportAccepted(report_id=report_id, application_id=self.app[ref],
                                      kind="final", spent_oere=spent,
                                      audit_level="auditor_statement_and_performance_audit"), when)
        paid = sum(self.executed_amounts.get(ref, []))
        if paid - spent >= 50_000:
            self.log.add(r.RepaymentClaimed(application_id=self.app[ref],
                                            cvr=self.applicant[ref].cvr, paid_oere=paid,
                                            spent_oere=spent, amount_oere=paid - spent), when)

    executed_amounts: dict[str, list[int]]


def example_round(*, amounts: dict[str, int] | None = None,
                  accept_at: dict[str, str] | None = None) -> Round:
    """The example-small round, end to end, as the four services would have recorded it.

    ``amounts`` overrides an award's amount, ``accept_at`` when a grantee accepts (to build a
    history that breaks one invariant at a known event).
    """
    amounts, accept_at = amounts or {}, accept_at or {}
    rnd = Round()
    rnd.executed_amounts = {}
    rnd.publish_pool()
    actions = rnd.data["actions"]
    for action in actions:
        if action["type"] == "submit":
            rnd.submit(action)
    assessed = at("2025-05-20T10:00:00+02:00")
    for ref, score in (("KBH", 22.0), ("GENTOFTE", 18.0), ("AARHUS", 21.0)):
        rnd.assess(ref, assessed, score)
    decided = at("2025-06-01T10:00:00+02:00")
    rnd.award("KBH", decided, amount=amounts.get("KBH"))
    rnd.reject("GENTOFTE", decided, ["sub_pool_exhausted"], rank=2)
    rnd.award("AARHUS", decided, amount=amounts.get("AARHUS"))
    for ref in ("KBH", "AARHUS"):
        rnd.accept(ref, at(accept_at.get(ref, "2025-06-02T10:00:00+02:00")))
    for action in actions:
        if action["type"] == "revised_budget":
            rnd.revised_budget(action["ref"], at(action["at"]), action["months"])
    for quarter, (instructed, executed) in enumerate((
            ("2025-07-15T09:00:00+02:00", "2025-07-16T09:00:00+02:00"),
            ("2025-10-15T09:00:00+02:00", "2025-10-16T09:00:00+02:00"))):
        for ref in ("KBH", "AARHUS"):
            amount = rnd.awarded[ref].amount_oere // 2
            instruction = rnd.instruct(ref, at(instructed), amount, n=quarter)
            rnd.execute(ref, instruction, at(executed), amount)
            rnd.executed_amounts.setdefault(ref, []).append(amount)
    for action in actions:
        if action["type"] == "final_report":
            rnd.final_report(action["ref"], at(action["at"]), action["accounts"],
                             action["audit_statement"])
    return rnd
