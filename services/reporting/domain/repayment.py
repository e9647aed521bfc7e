"""Repayment of paid but unspent money (R22), settled when the final report is accepted.

What counts as spent is the *eligible* spending: a post's spending beyond its approved amount is
not eligible (R20), so it is claimed back with the unspent money (paid − (spent − ineligible)).

The settlement is a function of the grant file alone, so it can run again whenever what was paid
changes: a finance result that arrives after the final report was accepted (a late execution of
an instruction) makes :func:`settle_repayment` emit a correcting claim for the difference only.

How the threshold and corrections combine (the rules are silent on corrections; decided here):
- the threshold applies to the grant's *total* unspent money (paid − spent), not to each
  correction: once the total is ≥ 500 DKK everything unspent is claimed, including an amount
  that was waived earlier when the total was still under the threshold;
- a claim is emitted for ``target − already claimed`` when that is positive; a waiver for
  ``unspent − already waived`` while the total stays under the threshold;
- paid never decreases (an executed instruction stays executed), so no negative correction
  exists; a claim already made is never withdrawn here.
"""

from __future__ import annotations

from contracts.base import Contract
from contracts.reporting import RepaymentClaimed, RepaymentWaived
from services.reporting.domain.grant_file import GrantFile
from services.reporting.domain.rules import REPAYMENT_THRESHOLD_OERE, repayment_for


def settle_repayment(state: GrantFile) -> list[Contract]:
    """The claim or waiver still owed by this grant; ``[]`` before the final report is accepted.

    Idempotent: once the returned events are applied to the file, calling it again returns ``[]``.
    """
    if state.award is None or state.final_spent_oere is None:
        return []
    paid, spent = state.paid_oere, state.final_spent_oere
    ineligible = state.final_ineligible_oere
    outcome = repayment_for(paid, spent - ineligible)
    if outcome is None:
        return []
    kind, unspent = outcome
    app, cvr = state.application_id, state.award.cvr
    if kind == "claim":
        due = unspent - state.claimed_oere
        if due <= 0:
            return []
        return [RepaymentClaimed(application_id=app, cvr=cvr, paid_oere=paid, spent_oere=spent,
                                 amount_oere=due, ineligible_oere=ineligible)]
    waived = unspent - state.waived_oere
    if waived <= 0 or state.claimed_oere > 0:
        return []
    return [RepaymentWaived(application_id=app, cvr=cvr, paid_oere=paid, spent_oere=spent,
                            amount_oere=waived, threshold_oere=REPAYMENT_THRESHOLD_OERE,
                            ineligible_oere=ineligible)]
