"""The facts the replay collects per application and per log: plain containers, no models.

Kept apart from the fold so :mod:`.replay_checks` and :mod:`.replay_projection` read the same
shapes. Every fact that can offend an invariant keeps its :data:`Ref`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

Ref = tuple[datetime, str, int, int, UUID, str]
"""Where an event is in the log: ``(occurred_at, topic, partition, offset, event_id,
event_type)``; compared as a tuple it is the log key that orders events deterministically."""


class AppFacts:
    """What the log says about one application, in every service."""

    __slots__ = (
        "pool_id", "municipality_code", "region_code", "received", "accepted", "rejected_late",
        "invalid", "exception", "exception_decisions", "eligibility", "score", "awards",
        "rejection", "award_accepted", "lapsed", "budget_versions", "approved_budgets",
        "instructions", "final_report", "final_accepted", "claimed", "waived", "overdue",
    )

    def __init__(self) -> None:
        self.pool_id: str | None = None
        self.municipality_code: str | None = None
        self.region_code: str | None = None
        self.received: list[UUID] = []  # submission ids, in arrival order
        # (ref, submission_id, version, basis, exception_id, pool_id)
        self.accepted: list[tuple[Ref, UUID, int, str, UUID | None, str]] = []
        self.rejected_late: tuple[Ref, list[str]] | None = None
        self.invalid: tuple[Ref, list[str]] | None = None
        self.exception: tuple[Ref, str, list[str]] | None = None  # latest (ref, status, reasons)
        self.exception_decisions: list[tuple[Ref, UUID, bool]] = []
        self.eligibility: tuple[Ref, bool, list[str]] | None = None
        self.score: tuple[Ref, float] | None = None
        self.awards: list[tuple[Ref, Any]] = []  # (ref, GrantAwarded)
        self.rejection: tuple[Ref, Any] | None = None  # (ref, ApplicationRejected)
        self.award_accepted: Ref | None = None
        self.lapsed = False
        # version -> (ref, outcome, reasons, decisive)
        self.budget_versions: dict[int, tuple[Ref, str, list[str], bool]] = {}
        self.approved_budgets: list[tuple[Ref, int, int]] = []  # (ref, version, sum of months)
        # (ref, instruction_id, amount_oere, replaces_instruction_id)
        self.instructions: list[tuple[Ref, UUID, int, UUID | None]] = []
        self.final_report: tuple[Ref, str] | None = None  # latest submitted / rejected
        self.final_accepted: tuple[Ref, int] | None = None  # (ref, spent_oere)
        self.claimed = 0
        self.waived = 0
        self.overdue = 0


class LogFacts:
    """Everything collected from the log; :class:`AppFacts` per application id."""

    def __init__(self) -> None:
        self.apps: dict[UUID, AppFacts] = {}
        self.counts: dict[str, int] = {}
        self.duplicates = 0
        # submission_id -> (ref, received_at, total_oere, deadline, version)
        self.submissions: dict[UUID, tuple[Ref, datetime, int, datetime, int]] = {}
        # submissions refused before they had an application id: key -> (ref, reason codes)
        self.refused_submissions: dict[str, tuple[Ref, list[str]]] = {}
        self.pool_versions: dict[tuple[str, int], tuple[Ref, Any]] = {}  # -> (ref, PoolPublished)
        self.priors: list[tuple[Ref, str, str, str]] = []  # (ref, programme, municipality, pool)
        self.awards: list[tuple[Ref, Any]] = []  # every GrantAwarded, for the sub-pool sums
        self.instruction_app: dict[UUID, tuple[UUID, int]] = {}  # -> (application_id, amount)
        self.executed: dict[UUID, Ref] = {}  # instruction_id -> its PaymentExecuted

    def latest_pool(self, pool_id: str) -> Any | None:
        """The highest published version of a pool (a ``PoolPublished``), if any."""
        versions = [v for (pid, v) in self.pool_versions if pid == pool_id]
        return self.pool_versions[(pool_id, max(versions))][1] if versions else None

    def pool_ids(self) -> list[str]:
        return sorted({pid for pid, _ in self.pool_versions})
