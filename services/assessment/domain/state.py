"""The assessment state: one :class:`PoolRound` per pool, one :class:`FundingLedger` for R2.

Both are frozen, JSON-serialisable pydantic models (stored as JSONB) rebuilt only by the
``evolve_*`` functions from events, so replaying the event log gives the same state.

- :class:`PoolRound` — the pool version in force and every application submitted to it: its
  received versions, the accepted one, the latest eligibility outcome, every score event (the
  history; a rescore replaces the assessor's earlier scores only in the *latest* view) and the
  decision.
- :class:`FundingLedger` — who is funded in which programme: imported prior awards
  (``PriorAwardImported``) and every ``GrantAwarded``, from any pool of the programme, each with
  the applicant's identity (:func:`contracts.register.applicant_keys`: the CVR, and for a
  municipality its municipality).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contracts.assessment import (
    ApplicationRejected, ApplicationScored, EligibilityAssessed, GrantAwarded, PoolPublished,
    PriorAwardImported,
)
from contracts.base import Applicant, BudgetLine, UtcDatetime
from contracts.intake import ApplicationAccepted, ApplicationReceived
from contracts.payments import AwardLapsed
from contracts.municipalities import region_of
from contracts.pools import PoolDefinition
from contracts.register import applicant_keys
from contracts.refusal import Refusal


class State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApplicationVersion(State):
    """What assessment needs of one received version (from intake's ``ApplicationReceived``).

    ``applicant`` is the register's entry intake took at ``register_revision`` (R2, R4).
    """

    submission_id: UUID
    version: int
    applicant: Applicant
    purpose: str
    target_group: str
    budget_lines: tuple[BudgetLine, ...]
    applied_oere: int
    received_at: UtcDatetime
    register_revision: int | None = None

    @property
    def region_code(self) -> str | None:
        """The applicant's region: the register's (R2, R12); a version from before the register
        carries none, and its municipality's region is used."""
        return self.applicant.region_code or region_of(self.applicant.municipality_code)

    @property
    def keys(self) -> frozenset[str]:
        """Who the applicant is for once per applicant (:func:`~contracts.register.applicant_keys`)."""
        a = self.applicant
        return applicant_keys(a.cvr, a.kind, a.municipality_code)

    @classmethod
    def from_received(cls, event: ApplicationReceived) -> ApplicationVersion:
        return cls(
            submission_id=event.submission_id, version=event.version, applicant=event.applicant,
            purpose=event.purpose, target_group=event.target_group,
            budget_lines=tuple(event.budget.lines), applied_oere=event.budget.total_oere,
            received_at=event.received_at, register_revision=event.register_revision,
        )


class Decision(State):
    """An approved decision, as recorded from ``GrantAwarded`` / ``ApplicationRejected``."""

    outcome: Literal["awarded", "rejected"]
    amount_oere: int = 0
    region_code: str | None
    rank: int | None
    score: float | None
    reasons: tuple[str, ...] = ()
    pool_version: int
    approved_by: str
    decided_at: UtcDatetime
    # An award that lapsed or was withdrawn (payments' AwardLapsed): its money is free in its
    # sub-pool again (R12); the decision itself stays as it was made.
    released: str | None = None
    released_at: UtcDatetime | None = None

    @property
    def commits_oere(self) -> int:
        """What this decision holds of its sub-pool: an award in force, else nothing."""
        return self.amount_oere if self.outcome == "awarded" and self.released is None else 0


class ApplicationFile(State):
    application_id: UUID
    versions: tuple[ApplicationVersion, ...] = ()
    accepted_submission_id: UUID | None = None
    eligibility: EligibilityAssessed | None = None
    scorings: tuple[ApplicationScored, ...] = ()
    decision: Decision | None = None

    @property
    def accepted(self) -> ApplicationVersion | None:
        for v in self.versions:
            if v.submission_id == self.accepted_submission_id:
                return v
        return None


class PoolRound(State):
    pool_id: str
    pool: PoolPublished | None = None
    applications: dict[str, ApplicationFile] = {}

    @property
    def definition(self) -> PoolDefinition:
        if self.pool is None:
            raise Refusal("pool_not_published", f"pool {self.pool_id!r} is not published",
                          "not_found")
        return self.pool.definition

    @property
    def version(self) -> int:
        if self.pool is None:
            raise Refusal("pool_not_published", f"pool {self.pool_id!r} is not published",
                          "not_found")
        return self.pool.version

    @property
    def has_decisions(self) -> bool:
        return any(f.decision is not None for f in self.applications.values())

    def file(self, application_id: UUID) -> ApplicationFile:
        found = self.applications.get(str(application_id))
        if found is None:
            raise Refusal("application_unknown",
                          f"no application {application_id} in pool {self.pool_id!r}", "not_found")
        return found

    def files(self) -> list[ApplicationFile]:
        """Every application, in id order (so nothing depends on insertion order)."""
        return [self.applications[k] for k in sorted(self.applications)]


class FundedEntry(State):
    programme: str
    municipality_code: str
    pool_id: str
    application_id: UUID | None = None  # None for an imported prior award
    source: Literal["imported", "awarded"]
    cvr: str | None = None  # None: a prior award naming a municipality (or kept from before)
    kind: str | None = None

    @property
    def keys(self) -> frozenset[str]:
        return applicant_keys(self.cvr, self.kind, self.municipality_code)


class FundingLedger(State):
    entries: tuple[FundedEntry, ...] = ()

    def funded(self, programme: str, keys: frozenset[str],
               excluding_application: UUID | None = None) -> bool:
        """Whether the applicant (``keys``, :func:`~contracts.register.applicant_keys`) has an
        award in the programme other than the given application's."""
        return any(
            e.programme == programme and not e.keys.isdisjoint(keys)
            and (e.application_id is None or e.application_id != excluding_application)
            for e in self.entries
        )


# --- evolve ---------------------------------------------------------------------------------

RoundEvent = (
    PoolPublished | ApplicationReceived | ApplicationAccepted | EligibilityAssessed
    | ApplicationScored | GrantAwarded | ApplicationRejected | AwardLapsed
)


def _with_file(state: PoolRound, file: ApplicationFile) -> PoolRound:
    return state.model_copy(
        update={"applications": {**state.applications, str(file.application_id): file}})


def _updated(file: ApplicationFile, **changes: object) -> ApplicationFile:
    # model_copy skips validation; rebuild so nested values stay typed models.
    return ApplicationFile.model_validate({**dict(file), **changes})


def evolve_round(state: PoolRound, event: RoundEvent) -> PoolRound:
    """Apply one event to a pool round. Events for another pool are a programming error."""
    pool_id = getattr(event, "pool_id", state.pool_id)
    if pool_id != state.pool_id:
        raise ValueError(f"event for pool {pool_id!r} applied to {state.pool_id!r}")
    if isinstance(event, PoolPublished):
        return state.model_copy(update={"pool": event})
    if isinstance(event, ApplicationReceived):
        file = state.applications.get(str(event.application_id)) or ApplicationFile(
            application_id=event.application_id)
        if any(v.submission_id == event.submission_id for v in file.versions):
            return state  # a redelivered version changes nothing
        versions = (*file.versions, ApplicationVersion.from_received(event))
        return _with_file(state, _updated(file, versions=versions))
    if isinstance(event, ApplicationAccepted):
        file = state.file(event.application_id)
        if not any(v.submission_id == event.submission_id for v in file.versions):
            raise Refusal("version_unknown",
                          f"submission {event.submission_id} was never received", "conflict")
        current = file.accepted
        if current is not None and current.version > event.version:
            return state  # an older version cannot supersede a newer accepted one
        return _with_file(state, _updated(file, accepted_submission_id=event.submission_id))
    if isinstance(event, EligibilityAssessed):
        return _with_file(state, _updated(state.file(event.application_id), eligibility=event))
    if isinstance(event, ApplicationScored):
        file = state.file(event.application_id)
        return _with_file(state, _updated(file, scorings=(*file.scorings, event)))
    if isinstance(event, GrantAwarded):
        decision = Decision(
            outcome="awarded", amount_oere=event.amount_oere, region_code=event.region_code,
            rank=event.rank, score=event.score, pool_version=event.pool_version,
            approved_by=event.approved_by, decided_at=event.decided_at)
        return _with_file(state, _updated(state.file(event.application_id), decision=decision))
    if isinstance(event, ApplicationRejected):
        decision = Decision(
            outcome="rejected", region_code=event.region_code, rank=event.rank,
            score=event.score, reasons=tuple(event.reasons), pool_version=event.pool_version,
            approved_by=event.approved_by, decided_at=event.decided_at)
        return _with_file(state, _updated(state.file(event.application_id), decision=decision))
    if isinstance(event, AwardLapsed):
        file = state.file(event.application_id)
        decided = file.decision
        if decided is None or decided.outcome != "awarded" or decided.released is not None:
            return state  # nothing to release (or released before: a redelivery)
        released = decided.model_copy(update={"released": event.reason,
                                              "released_at": event.lapsed_at})
        return _with_file(state, _updated(file, decision=released))
    raise TypeError(f"a pool round does not evolve on {type(event).__name__}")


ApplicationEvent = (
    ApplicationReceived | ApplicationAccepted | EligibilityAssessed | ApplicationScored
    | GrantAwarded | ApplicationRejected | AwardLapsed
)


def evolve_files(state: PoolRound, events: Iterable[ApplicationEvent]) -> PoolRound:
    """``evolve_round`` for each event in turn, for many events about the round's applications:
    each evolves the one-file round of its application, so a whole pool's decisions copy the
    round's files once instead of once per decision (which grew as the square of the pool)."""
    files = dict(state.applications)
    for event in events:
        key = str(event.application_id)
        one = state.model_copy(update={"applications": {key: files[key]} if key in files else {}})
        evolved = evolve_round(one, event).applications
        if key in evolved:
            files[key] = evolved[key]
    return state.model_copy(update={"applications": files})


def _funded(event: PriorAwardImported | GrantAwarded) -> FundedEntry:
    if isinstance(event, PriorAwardImported):
        return FundedEntry(programme=event.programme, municipality_code=event.municipality_code,
                           pool_id=event.pool_id, source="imported", cvr=event.cvr, kind=event.kind)
    if not isinstance(event, GrantAwarded):
        raise TypeError(f"the funding ledger does not evolve on {type(event).__name__}")
    return FundedEntry(programme=event.programme, municipality_code=event.municipality_code,
                       pool_id=event.pool_id, application_id=event.application_id,
                       source="awarded", cvr=event.applicant.cvr, kind=event.applicant.kind)


def evolve_ledger(ledger: FundingLedger, event: PriorAwardImported | GrantAwarded) -> FundingLedger:
    """Record a prior or new award; the same award twice is recorded once."""
    return evolve_ledger_all(ledger, (event,))


def evolve_ledger_all(ledger: FundingLedger,
                      events: Iterable[PriorAwardImported | GrantAwarded]) -> FundingLedger:
    """``evolve_ledger`` for each event in turn, in one pass: a whole allocation's awards cost
    what they number, where folding ``evolve_ledger`` copied the entries once per award."""
    entries, seen = list(ledger.entries), set(ledger.entries)
    for entry in map(_funded, events):
        if entry not in seen:
            seen.add(entry)
            entries.append(entry)
    return ledger if len(entries) == len(ledger.entries) else FundingLedger(entries=tuple(entries))


def new_round(pool_id: str) -> PoolRound:
    return PoolRound(pool_id=pool_id)

