"""The 6-month no-start check as a caseworker task (R18, issue 16 item 7).

"A project not started within 6 months of its period start *may* lapse": a person decides, so
the scheduler does not lapse it — it opens a ``project_start_check`` task for a caseworker once
the window is over and the project shows no start (:func:`~.account.project_started`: the latest
approved budget puts money in a month up to the window's last day). The caseworker lapses the
grant (``lapse_not_started``) or dismisses the task. The task closes by itself when the grant
lapses or a later approved budget shows the project started. One task per grant, ever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID, uuid5

from contracts.base import Actor
from contracts.payments import CaseworkerTaskClosed, CaseworkerTaskOpened
from contracts.refusal import Refusal
from services.payments.domain.account import (
    PROJECT_ZONE, project_started, require_role, start_window_end,
)
from services.payments.domain.ids import NAMESPACE
from services.payments.domain.state import GrantAccount, require_aware

KIND: Literal["project_start_check"] = "project_start_check"


def start_check_id(application_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"task:{KIND}:{application_id}")


def start_check_due(state: GrantAccount, now: datetime) -> bool:
    """Accepted, running, the window over (from the Copenhagen day after its last day, as
    ``lapse_not_started`` allows) and no start shown."""
    require_aware(now)
    today = now.astimezone(PROJECT_ZONE).date()
    return (state.is_accepted and not state.is_lapsed and today > start_window_end(state)
            and not project_started(state))


def open_start_check(state: GrantAccount, now: datetime) -> list[CaseworkerTaskOpened]:
    """The task, when it is due (the adapter opens it once per grant: its id is stable)."""
    if not start_check_due(state, now):
        return []
    return [CaseworkerTaskOpened(task_id=start_check_id(state.application_id), kind=KIND,
                                 application_id=state.application_id,
                                 due=start_window_end(state), opened_at=now)]


def close_start_check(state: GrantAccount, task_id: UUID, now: datetime
                      ) -> list[CaseworkerTaskClosed]:
    """An open task whose grant lapsed, or whose project now shows its start, closes."""
    require_aware(now)
    outcome: Literal["lapsed", "started"] | None = (
        "lapsed" if state.is_lapsed else "started" if project_started(state) else None)
    if outcome is None:
        return []
    return [CaseworkerTaskClosed(task_id=task_id, kind=KIND,
                                 application_id=state.application_id, outcome=outcome,
                                 closed_at=now)]


def dismiss_start_check(task_id: UUID, application_id: UUID, actor: Actor, now: datetime,
                        closed_as: str | None = None) -> list[CaseworkerTaskClosed]:
    """A caseworker lets the project go on. ``closed_as``: the outcome of a task already
    closed — dismissed before changes nothing (once), any other outcome is final."""
    require_aware(now)
    require_role(actor, "caseworker")
    if closed_as == "dismissed":
        return []
    if closed_as is not None:
        raise Refusal("task_closed", f"the task closed: {closed_as}", "conflict")
    return [CaseworkerTaskClosed(task_id=task_id, kind=KIND, application_id=application_id,
                                 outcome="dismissed", closed_by=actor.id, closed_at=now)]
