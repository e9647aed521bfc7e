"""A caseworker withdraws an award (e.g. the grantee declines it): the award no longer runs and
its money is free in its sub-pool (assessment may award it to the next application in rank).

A withdrawal is an ``AwardLapsed`` with reason ``withdrawn``: every consumer already knows what
a lapse means (no acceptance, budgets or payments on it; reporting expects nothing of it;
assessment releases its amount). Decisions where the rules are silent:
- only before any payment instruction: money that left (or is on its way) is settled through
  the final accounts and repayment (R22), not by undoing the award;
- accepted or not does not matter (a grantee may decline after accepting);
- withdrawing a lapsed award again is a retry and emits nothing; withdrawing an award that
  lapsed for another reason is refused (``award_lapsed``): its money is free already.
"""

from __future__ import annotations

from datetime import datetime

from contracts.base import Actor
from contracts.payments import AwardLapsed
from contracts.refusal import Refusal
from services.payments.domain.account import require_role
from services.payments.domain.state import GrantAccount, require_aware


def withdraw_award(state: GrantAccount, actor: Actor, now: datetime) -> list[AwardLapsed]:
    require_aware(now)
    require_role(actor, "caseworker")
    if state.lapse is not None:
        if state.lapse.reason == "withdrawn":
            return []
        raise Refusal("award_lapsed", f"the award lapsed ({state.lapse.reason})", "conflict")
    if state.instructions:
        raise Refusal("payments_instructed",
                      f"{len(state.instructions)} payment instruction(s) exist for this "
                      f"award; it can no longer be withdrawn", "conflict")
    return [AwardLapsed(application_id=state.application_id, reason="withdrawn",
                        decided_by=actor.id, lapsed_at=now)]
