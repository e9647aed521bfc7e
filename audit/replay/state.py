"""The facts the replay collects per application and per log: plain values, no models.

Kept apart from the fold so :mod:`.checks` and :mod:`.projection` read the same
shapes. Every fact that can offend an invariant keeps its :data:`Ref`.

Why tuples everywhere: a fact is a tuple (or ``NamedTuple``) of atomic values — ids as
``UUID.int``, positions and instants as ints (:mod:`.compact`), reason codes as tuples of str —
and per-application sequences grow by tuple
concatenation (they hold a handful of items). CPython's cyclic garbage collector stops tracking
such tuples, so a million-event fold does not spend its time in GC passes over its own state.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from audit.replay.compact import Positions
from contracts.assessment import PoolPublished

Ref = int
"""Where an event is in the log: ``(occurred_at, topic, partition, offset, event_id as int,
event_type)`` packed by :class:`.compact.Positions` into one int that compares like that tuple:
the log key that orders events deterministically. :func:`.compact.at_us` reads its
``occurred_at`` (as µs), ``LogFacts.positions.unpack`` the whole tuple."""


class Acceptance(NamedTuple):
    ref: Ref
    submission_id: int
    version: int
    basis: str
    exception_id: int | None
    pool_id: str


class Award(NamedTuple):
    """What the checks and views need of a ``GrantAwarded`` (field names as in the event)."""

    ref: Ref
    pool_id: str
    pool_version: int
    programme: str
    region_code: str | None
    sub_pool_amount_oere: int
    municipality_code: str
    amount_oere: int
    rank: int
    applicant: frozenset[str]  # who it went to (contracts.register.applicant_keys)


class Rejection(NamedTuple):
    ref: Ref
    reasons: tuple[str, ...]
    rank: int | None


class Instruction(NamedTuple):
    ref: Ref
    instruction_id: int
    amount_oere: int
    replaces: int | None


class Received(NamedTuple):
    ref: Ref
    received_at: int  # µs (compact.micros)
    total_oere: int
    deadline: int  # µs, the deadline intake stated on the receipt
    version: int


class AppFacts:
    """What the log says about one application, in every service; ``app_id`` is its key in
    ``LogFacts.apps`` (the same int object)."""

    __slots__ = (
        "app_id", "pool_id", "municipality_code", "region_code", "received", "accepted",
        "rejected_late", "invalid", "exception", "exception_decisions", "eligibility_ref",
        "eligible", "eligibility_reasons", "score_ref", "score", "awards", "rejection",
        "award_accepted", "lapsed", "budget_versions", "approved_budgets", "instructed",
        "final_report", "final_accepted", "claimed", "waived", "overdue", "final_reasons",
        "overpayment_claims",
    )

    def __init__(self, app_id: int) -> None:
        self.app_id = app_id
        self.pool_id: str | None = None
        self.municipality_code: str | None = None
        self.region_code: str | None = None
        self.received: tuple[int, ...] = ()  # submission ids, in arrival order
        self.accepted: tuple[Acceptance, ...] = ()
        self.rejected_late: tuple[Ref, tuple[str, ...]] | None = None
        self.invalid: tuple[Ref, tuple[str, ...]] | None = None
        self.exception: tuple[Ref, str, tuple[str, ...]] | None = None  # latest: status, reasons
        self.exception_decisions: tuple[tuple[Ref, int, bool], ...] = ()  # exception_id, approved
        # the latest EligibilityAssessed and the latest score, in slots rather than a tuple each
        self.eligibility_ref: Ref | None = None
        self.eligible: bool | None = None
        self.eligibility_reasons: tuple[str, ...] = ()
        self.score_ref: Ref | None = None
        self.score: float | None = None
        self.awards: tuple[Award, ...] = ()
        self.rejection: Rejection | None = None
        self.award_accepted: Ref | None = None
        self.lapsed = False
        # per budget version: (version, ref, outcome, reasons, decisive)
        self.budget_versions: tuple[tuple[int, Ref, str, tuple[str, ...], bool], ...] = ()
        self.approved_budgets: tuple[tuple[Ref, int, int], ...] = ()  # version, sum of months
        # every PaymentInstructed, flat: (ref, instruction id, amount, replaces) after another,
        # read as Instructions with instructions() (a tuple per instruction was ~70 B more)
        self.instructed: tuple[int | None, ...] = ()
        self.final_report: tuple[Ref, str] | None = None  # latest submitted / rejected
        self.final_accepted: tuple[Ref, int] | None = None  # (ref, spent_oere)
        self.final_reasons: tuple[str, ...] = ()  # of the latest rejected final report
        self.claimed = 0
        self.waived = 0
        self.overdue = 0
        self.overpayment_claims: tuple[tuple[Ref, int], ...] = ()  # payments' OverpaymentClaimed


    def instructions(self) -> list[Instruction]:
        """Every ``PaymentInstructed`` of the application, in the order folded."""
        flat = self.instructed
        return [Instruction(*flat[i:i + 4]) for i in range(0, len(flat), 4)]  # type: ignore[arg-type]


class InstructionOwners:
    """Instruction id → ``(application id, amount)`` of its latest ``PaymentInstructed``, read
    from the application's facts: one dict entry an instruction instead of a tuple and two more
    ints (the instruction is already in ``AppFacts.instructed``)."""

    __slots__ = ("_owner",)

    def __init__(self) -> None:
        self._owner: dict[int, AppFacts] = {}

    def __len__(self) -> int:
        return len(self._owner)

    def __contains__(self, instruction_id: object) -> bool:
        return instruction_id in self._owner

    def set(self, instruction_id: int, app: AppFacts) -> None:
        self._owner[instruction_id] = app

    def instruction(self, instruction_id: int) -> Instruction | None:
        """The latest instruction with that id (its fields are the objects the fold keeps)."""
        app = self._owner.get(instruction_id)
        if app is None:
            return None
        flat = app.instructed
        i = next(i for i in range(len(flat) - 4, -1, -4) if flat[i + 1] == instruction_id)
        return Instruction(*flat[i:i + 4])  # type: ignore[arg-type]

    def get(self, instruction_id: int) -> tuple[int, int] | None:
        found = self.instruction(instruction_id)
        if found is None:
            return None
        return self._owner[instruction_id].app_id, found.amount_oere


class LogFacts:
    """Everything collected from the log; :class:`AppFacts` per application id (as int)."""

    def __init__(self, event_types: Iterable[str] = ()) -> None:
        self.positions = Positions(event_types)  # the codec of every Ref below
        self.apps: dict[int, AppFacts] = {}
        self.counts: dict[str, int] = {}
        self.duplicates = 0
        self.submissions: dict[int, Received] = {}
        # submissions refused before they had an application id: key -> (ref, reason codes)
        self.refused_submissions: dict[str, tuple[Ref, tuple[str, ...]]] = {}
        self.pool_versions: dict[tuple[str, int], tuple[Ref, PoolPublished]] = {}
        # (ref, programme, municipality, pool, applicant keys: contracts.register.applicant_keys)
        self.priors: list[tuple[Ref, str, str, str, frozenset[str]]] = []
        self.awards: list[Award] = []  # every GrantAwarded, for the sub-pool sums
        # the first AwardLapsed per application (lapse or withdrawal): (ref, application id);
        # from then on its award no longer commits money in its sub-pool
        self.releases: list[tuple[Ref, int]] = []
        self.instruction_app = InstructionOwners()  # -> (application_id, amount)
        # what finance reported paid (first report); its keys are the instructions it executed
        self.executed_oere: dict[int, int] = {}

    def latest_pool(self, pool_id: str) -> PoolPublished | None:
        """The highest published version of a pool (a ``PoolPublished``), if any."""
        versions = [v for (pid, v) in self.pool_versions if pid == pool_id]
        return self.pool_versions[(pool_id, max(versions))][1] if versions else None

    def pool_ids(self) -> list[str]:
        return sorted({pid for pid, _ in self.pool_versions})
