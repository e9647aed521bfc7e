"""Opening a grant account, acceptance and lapse (R14, R18 second half).

Every function decides events from the state and returns them; it never changes the state. An
idempotent repeat (the same award, a second acceptance, a lapse sweep over a lapsed grant)
returns no events rather than raising, so a redelivered message or a retried request is harmless.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from contracts.assessment import GrantAwarded
from contracts.base import Actor
from contracts.payments import AwardAccepted, AwardLapsed, GrantAccountOpened
from contracts.refusal import Refusal
from services.payments.domain.months import add_months, first_day
from services.payments.domain.state import GrantAccount, require_aware

START_WINDOW_MONTHS: Final = 6
"""R18: a project not started within 6 months of its period start may lapse."""

PROJECT_ZONE: Final = ZoneInfo("Europe/Copenhagen")
"""Project periods are Danish calendar dates; "today" for them is the Copenhagen date."""


def open_account(state: GrantAccount | None, award: GrantAwarded) -> list[GrantAccountOpened]:
    """An award opens its grant account once; the same award again opens nothing."""
    if state is not None:
        return []
    return [GrantAccountOpened(application_id=award.application_id, cvr=award.applicant.cvr,
                               amount_oere=award.amount_oere,
                               acceptance_deadline=award.acceptance_deadline)]


def require_grantee(state: GrantAccount, actor: Actor, cvr: str) -> None:
    """The grantee acts as an applicant-role employee of the grant's own organisation (R4/R14).
    The adapter verifies the token; the domain still refuses a wrong role or CVR, because
    that is the rule, not a transport detail."""
    if actor.role != "applicant":
        raise Refusal("role_not_allowed", "only the grantee (role applicant) may do this",
                      "forbidden")
    if cvr != state.cvr:
        raise Refusal("cvr_mismatch", "the token's CVR is not the grantee's CVR", "forbidden")


def require_reader(state: GrantAccount, roles: AbstractSet[str], cvr: str | None) -> None:
    """Who may read a grant's account: a caseworker any; anyone else only the grantee's own."""
    if "caseworker" not in roles and cvr != state.cvr:
        raise Refusal("cvr_mismatch", "the token's CVR is not the grantee's CVR", "forbidden")


def require_role(actor: Actor, *roles: str) -> None:
    if actor.role not in roles:
        raise Refusal("role_not_allowed", f"role {actor.role} may not do this; needs "
                      f"{' or '.join(roles)}", "forbidden")


def require_not_lapsed(state: GrantAccount) -> None:
    if state.lapse is not None:
        raise Refusal("award_lapsed", f"the award lapsed ({state.lapse.reason})", "conflict")


def accept_award(state: GrantAccount, actor: Actor, cvr: str, now: datetime) -> list[AwardAccepted]:
    """R14: accepted at or before the deadline instant (inclusive). A second acceptance is a
    retry, not an error, and emits nothing."""
    require_aware(now)
    require_grantee(state, actor, cvr)
    if state.is_accepted:
        return []
    require_not_lapsed(state)
    if now > state.acceptance_deadline:
        raise Refusal("acceptance_deadline_passed",
                      f"the acceptance deadline was {state.acceptance_deadline.isoformat()}",
                      "conflict")
    return [AwardAccepted(application_id=state.application_id, accepted_by=actor.id,
                          accepted_at=now)]


def lapse_overdue(state: GrantAccount, now: datetime) -> list[AwardLapsed]:
    """The sweep: an award still unaccepted after its deadline lapses. At the deadline instant
    itself acceptance is still allowed, so nothing lapses then."""
    require_aware(now)
    if state.is_accepted or state.is_lapsed or now <= state.acceptance_deadline:
        return []
    return [AwardLapsed(application_id=state.application_id,
                        reason="acceptance_deadline_passed", lapsed_at=now)]


def start_window_end(state: GrantAccount) -> date:
    """The last day on which a project still counts as started in time."""
    return add_months(state.project_period.start, START_WINDOW_MONTHS)


def project_started(state: GrantAccount) -> bool:
    """Started = the latest approved budget's first month with money begins within 6 months of
    the period start (on or before ``start_window_end``). No approved budget: not started."""
    budget = state.latest_approved_budget
    if budget is None or budget.months is None:
        return False
    with_money = sorted(m for m, posts in budget.months.items() if sum(posts.values()) > 0)
    return bool(with_money) and first_day(with_money[0]) <= start_window_end(state)


def lapse_not_started(state: GrantAccount, actor: Actor, now: datetime) -> list[AwardLapsed]:
    """A caseworker lapses a project not started within 6 months of its period start (R18).
    Allowed only once the window is over: from the Copenhagen day after ``start_window_end``."""
    require_aware(now)
    require_role(actor, "caseworker")
    if state.is_lapsed:
        return []
    today = now.astimezone(PROJECT_ZONE).date()
    if today <= start_window_end(state):
        raise Refusal("project_start_window_open",
                      f"the project may start until {start_window_end(state).isoformat()}",
                      "conflict")
    if project_started(state):
        raise Refusal("project_started",
                      "the latest approved budget shows the project started in time", "conflict")
    return [AwardLapsed(application_id=state.application_id, reason="project_not_started",
                        decided_by=actor.id, lapsed_at=now)]
