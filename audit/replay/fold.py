"""The auditors' replay (R23): rebuild every service's state from the event log and verify it.

A pure fold: :meth:`Replay.apply` takes one decoded event with its topic/partition/offset and
records its facts in plain dicts, tuples and ints (no copies of the state per event);
:meth:`Replay.result` derives the per-application projection and checks the invariants over them.

Order. An auditor reads ten topics; across topics the log has no order, so nothing here depends
on the order events are applied in:
- "latest" (score, eligibility, decision, budget outcome, exception state) means the greatest
  *log key* ``(occurred_at, topic, partition, offset, event_id)``; within one aggregate's
  partition that agrees with the offset order;
- "before" between two events (an instruction and the acceptance, an acceptance and its
  exception decision) compares ``occurred_at``;
- the first violation of an invariant is the offending event with the smallest log key.
Any interleaving gives the same result and digest; a redelivered event (same id) counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from contracts.envelope import Envelope
from contracts.register import applicant_keys
from contracts.registry import EVENTS
from audit.replay.checks import check_invariants
from audit.replay.compact import SeenIds, event_id_of, micros
from audit.replay.models import LoggedEvent, ReplayResult, state_digest
from audit.replay.projection import application_views, pool_views, replay_totals
from audit.replay.state import (
    Acceptance, AppFacts, Award, InstructionOwners, LogFacts, Received, Ref, Rejection,
)


class Replay:
    """Fold events in with :meth:`apply`; read the rebuilt, verified state with :meth:`result`."""

    def __init__(self) -> None:
        self._dispatch: dict[str, Callable[[Any, Ref], None]] = {
            name[3:]: getattr(self, name) for name in dir(self) if name.startswith("_on")
        }
        self.facts = LogFacts(self._dispatch)  # positions only of events a handler takes
        self._pack = self.facts.positions.pack
        self._seen = SeenIds()  # by event id: a redelivery counts once
        self._deadlines: dict[int, int] = {}  # one int per deadline (µs), not one per receipt

    # -- the hot path ------------------------------------------------------------------------

    def apply(self, envelope: Envelope[Any], topic: str, partition: int = -1,
              offset: int = -1) -> None:
        key = envelope.event_id.int
        facts = self.facts
        if not self._seen.add(key):
            facts.duplicates += 1
            return
        event_type = envelope.event_type
        facts.counts[event_type] = facts.counts.get(event_type, 0) + 1
        handler = self._dispatch.get(event_type)
        if handler is not None:
            handler(envelope.payload, self._pack(envelope.occurred_at, topic, partition, offset,
                                                 key, event_type))

    def apply_logged(self, event: LoggedEvent) -> None:
        self.apply(event.envelope, event.topic, event.partition, event.offset)

    def apply_envelope(self, envelope: Envelope[Any]) -> None:
        """An event read without a position: its topic comes from the registry."""
        spec = EVENTS.get(envelope.event_type)
        self.apply(envelope, spec.topic.name if spec else "", -1, -1)

    def apply_all(self, events: Iterable[LoggedEvent]) -> Replay:
        for e in events:
            self.apply(e.envelope, e.topic, e.partition, e.offset)
        return self

    # -- the result --------------------------------------------------------------------------

    def result(self, release: bool = False) -> ReplayResult:
        """With ``release`` the replay is spent: each application's facts go once its view is
        built, so the views reuse their memory (the last call; applying or asking again fails)."""
        facts = self.facts
        violations, pools, received = check_invariants(facts), pool_views(facts), len(facts.apps)
        if release:
            facts.instruction_app = InstructionOwners()  # it holds the applications too
            self.apply = self.result = _spent  # type: ignore[method-assign]
        applications = application_views(facts, release)
        return ReplayResult(
            verified=not violations, events=sum(facts.counts.values()),
            duplicates=facts.duplicates, counts=dict(sorted(facts.counts.items())),
            totals=replay_totals(list(applications.values()), received),
            applications=applications, pools=pools, violations=violations)

    def state_digest(self) -> str:
        return state_digest(self.result())

    # -- one handler per event type (named _on<EventType>) -----------------------------------

    def _app(self, app_id: UUID) -> AppFacts:
        key = app_id.int
        app = self.facts.apps.get(key)
        if app is None:
            app = self.facts.apps[key] = AppFacts(key)
        return app

    def _onApplicationReceived(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        app.pool_id = p.pool_id
        app.municipality_code = p.applicant.municipality_code
        app.received += (p.submission_id.int,)
        deadline = micros(p.deadline)
        self.facts.submissions[p.submission_id.int] = Received(
            ref, micros(p.received_at), p.budget.total_oere,
            self._deadlines.setdefault(deadline, deadline), p.version)

    def _onApplicationAccepted(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        app.pool_id = app.pool_id or p.pool_id
        exception = p.exception_id.int if p.exception_id is not None else None
        app.accepted += (Acceptance(ref, p.submission_id.int, p.version, p.basis, exception,
                                    p.pool_id),)

    def _onApplicationRejectedLate(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        if app.rejected_late is None or ref > app.rejected_late[0]:
            app.rejected_late = (ref, tuple(p.reasons))

    def _onSubmissionInvalid(self, p: Any, ref: Ref) -> None:
        reasons = tuple(r.code for r in p.reasons)
        if p.application_id is not None:
            app = self._app(p.application_id)
            if app.invalid is None or ref > app.invalid[0]:
                app.invalid = (ref, reasons)
        else:
            self._refused(p.submission_id, ref, reasons)

    def _onSubmissionUnauthorized(self, p: Any, ref: Ref) -> None:
        self._refused(p.submission_id, ref, tuple(r.code for r in p.reasons))

    def _refused(self, submission_id: UUID | None, ref: Ref, reasons: tuple[str, ...]) -> None:
        key = str(submission_id if submission_id is not None else UUID(int=event_id_of(ref)))
        current = self.facts.refused_submissions.get(key)
        if current is None or ref > current[0]:
            self.facts.refused_submissions[key] = (ref, reasons)

    def _onItProblemExceptionRequested(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        status = "exception_refused" if p.status == "refused" else "exception_pending"
        self._exception_state(app, ref, status, tuple(p.reasons))

    def _onItProblemExceptionDecided(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        app.exception_decisions += ((ref, p.exception_id.int, p.approved),)
        status = "exception_granted" if p.approved else "exception_refused"
        self._exception_state(app, ref, status, tuple(p.reasons))

    @staticmethod
    def _exception_state(app: AppFacts, ref: Ref, status: str, reasons: tuple[str, ...]) -> None:
        if app.exception is None or ref > app.exception[0]:
            app.exception = (ref, status, reasons)

    def _onPoolPublished(self, p: Any, ref: Ref) -> None:
        self.facts.pool_versions[(p.pool_id, p.version)] = (ref, p)

    def _onPriorAwardImported(self, p: Any, ref: Ref) -> None:
        self.facts.priors.append((ref, p.programme, p.municipality_code, p.pool_id,
                                  applicant_keys(p.cvr, p.kind, p.municipality_code)))

    def _onEligibilityAssessed(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        app.pool_id = app.pool_id or p.pool_id
        app.municipality_code = app.municipality_code or p.municipality_code
        app.region_code = app.region_code or p.region_code
        if app.eligibility_ref is None or ref > app.eligibility_ref:
            app.eligibility_ref, app.eligible, app.eligibility_reasons = (
                ref, p.eligible, tuple(p.reasons))

    def _onApplicationScored(self, p: Any, ref: Ref) -> None:
        if p.aggregate_score is None:
            return  # a recusal that does not restate the score leaves it as it was
        app = self._app(p.application_id)
        if app.score_ref is None or ref > app.score_ref:
            app.score_ref, app.score = ref, p.aggregate_score

    def _onGrantAwarded(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        app.pool_id = app.pool_id or p.pool_id
        app.municipality_code = app.municipality_code or p.municipality_code
        app.region_code = app.region_code or p.region_code
        who = p.applicant
        keys = (applicant_keys(who.cvr, who.kind, p.municipality_code)
                | applicant_keys(who.cvr, who.kind, who.municipality_code))
        award = Award(ref, p.pool_id, p.pool_version, p.programme, p.region_code,
                      p.sub_pool_amount_oere, p.municipality_code, p.amount_oere, p.rank, keys)
        app.awards += (award,)
        self.facts.awards.append(award)

    def _onApplicationRejected(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        app.pool_id = app.pool_id or p.pool_id
        app.region_code = app.region_code or p.region_code
        if app.rejection is None or ref > app.rejection[0]:
            app.rejection = Rejection(ref, tuple(p.reasons), p.rank)

    def _onAwardAccepted(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        if app.award_accepted is None or ref < app.award_accepted:
            app.award_accepted = ref

    def _onAwardLapsed(self, p: Any, ref: Ref) -> None:
        app = self._app(p.application_id)
        if not app.lapsed:
            self.facts.releases.append((ref, p.application_id.int))
        app.lapsed = True

    def _onRevisedBudgetSubmitted(self, p: Any, ref: Ref) -> None:
        self._budget_outcome(p, ref, "pending", (), decisive=False)

    def _onRevisedBudgetPendingApproval(self, p: Any, ref: Ref) -> None:
        self._budget_outcome(p, ref, "pending", tuple(r.code for r in p.reasons))

    def _onRevisedBudgetRejected(self, p: Any, ref: Ref) -> None:
        self._budget_outcome(p, ref, "rejected", tuple(r.code for r in p.reasons))

    def _onRevisedBudgetApproved(self, p: Any, ref: Ref) -> None:
        self._app(p.application_id).approved_budgets += (
            (ref, p.budget_version, sum(sum(m.values()) for m in p.months.values())),)
        self._budget_outcome(p, ref, "approved", ())

    def _budget_outcome(self, p: Any, ref: Ref, outcome: str, reasons: tuple[str, ...],
                        decisive: bool = True) -> None:
        app = self._app(p.application_id)
        version = p.budget_version
        current = next((v for v in app.budget_versions if v[0] == version), None)
        # A submission only says the version exists; any outcome event outranks it.
        if current is None or decisive and (not current[4] or ref > current[1]):
            others = tuple(v for v in app.budget_versions if v[0] != version)
            app.budget_versions = (*others, (version, ref, outcome, reasons, decisive))

    def _onPaymentInstructed(self, p: Any, ref: Ref) -> None:
        replaces = p.replaces_instruction_id.int if p.replaces_instruction_id else None
        app, key, amount = self._app(p.application_id), p.instruction_id.int, p.amount_oere
        app.instructed += (ref, key, amount, replaces)
        self.facts.instruction_app.set(key, app)
        executed = self.facts.executed_oere
        if executed.get(key) == amount:  # reported before: the same amount as one int
            executed[key] = amount

    def _onPaymentExecuted(self, p: Any, ref: Ref) -> None:  # the first report stands
        key, amount = p.instruction_id.int, p.amount_oere
        if key in self.facts.executed_oere:
            return
        ins = self.facts.instruction_app.instruction(key)  # its ints, rather than equal copies
        if ins is not None:
            key, amount = ins.instruction_id, ins.amount_oere if ins.amount_oere == amount else amount
        self.facts.executed_oere[key] = amount

    def _onOverpaymentClaimed(self, p: Any, ref: Ref) -> None:
        self._app(p.application_id).overpayment_claims += ((ref, p.amount_oere),)

    def _onReportSubmitted(self, p: Any, ref: Ref) -> None:
        if p.kind == "final":
            self._final_state(p, ref, "submitted", None)

    def _onReportAccepted(self, p: Any, ref: Ref) -> None:
        if p.kind == "final":
            self._final_state(p, ref, "accepted", p.spent_oere or 0)

    def _onReportRejected(self, p: Any, ref: Ref) -> None:
        if p.kind == "final":
            self._final_state(p, ref, "rejected", None, tuple(r.code for r in p.reasons))

    def _final_state(self, p: Any, ref: Ref, status: str, spent: int | None,
                     reasons: tuple[str, ...] = ()) -> None:
        app = self._app(p.application_id)
        if status == "accepted":
            # The first accepted final report is the one (the domain refuses a second).
            if app.final_accepted is None or ref < app.final_accepted[0]:
                app.final_accepted = (ref, spent or 0)
        elif app.final_report is None or ref > app.final_report[0]:
            app.final_report, app.final_reasons = (ref, status), reasons

    def _onReportOverdue(self, p: Any, ref: Ref) -> None:
        self._app(p.application_id).overdue += 1

    def _onRepaymentClaimed(self, p: Any, ref: Ref) -> None:
        self._app(p.application_id).claimed += p.amount_oere

    def _onRepaymentWaived(self, p: Any, ref: Ref) -> None:
        self._app(p.application_id).waived += p.amount_oere


def replay(events: Iterable[LoggedEvent]) -> ReplayResult:
    """Rebuild and verify from a whole log."""
    return Replay().apply_all(events).result(release=True)


def _spent(*_args: Any, **_kwargs: Any) -> Any:  # a Replay after result(release=True)
    raise RuntimeError("this Replay released its facts (result(release=True))")
