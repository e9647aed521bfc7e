"""R22: paid − spent is claimed from 500.00 DKK, waived below; late payments are corrected."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import finance as f
from contracts import payments as p
from contracts.reporting import RepaymentClaimed, RepaymentWaived, ReportAccepted
from services.reporting.domain.grant_file import GrantFile, apply_payload, evolve
from services.reporting.domain.repayment import settle_repayment
from services.reporting.domain.reports import SubmitReport, decide_report
from tests.unit.reporting.builders import at, envelope, uid
from tests.unit.reporting.grants import APP, awarded, execute, instruct, paid, with_budget

WHEN = at("2026-02-20T10:00:00+01:00")


def report(spent: int, n: int = 1) -> SubmitReport:
    """Spending within the approved posts (staff 120,000,000, materials 30,000,000 øre)."""
    staff = min(spent, 120_000_000)
    return SubmitReport(report_id=uid("report", n), application_id=APP, kind="final",
                        accounts={"project staff": staff, "materials and meetings": spent - staff},
                        audit_statement="RS-1", submitted_by="grantee", submitted_at=WHEN)


def settle(paid_amounts: tuple[int, ...], spent: int) -> tuple[GrantFile, list[Any]]:
    state = paid(with_budget(awarded()), *paid_amounts)
    events = decide_report(state, report(spent))
    for e in events:
        state = apply_payload(state, e, WHEN)
    return state, events[2:]


@pytest.mark.parametrize(("unspent", "kind"), [
    (1, RepaymentWaived), (49_999, RepaymentWaived), (50_000, RepaymentClaimed),
    (50_001, RepaymentClaimed), (1_000_000, RepaymentClaimed),
])
def test_the_threshold_is_500_dkk_and_exactly_500_is_claimed(unspent: int, kind: type) -> None:
    _, events = settle((1_000_000,), 1_000_000 - unspent)
    assert len(events) == 1 and isinstance(events[0], kind)
    assert events[0].amount_oere == unspent
    if kind is RepaymentWaived:
        assert events[0].threshold_oere == 50_000


@pytest.mark.parametrize("spent", [1_000_000, 1_000_001, 5_000_000])
def test_nothing_unspent_gives_nothing(spent: int) -> None:
    assert settle((1_000_000,), spent)[1] == []


def test_settlement_is_idempotent() -> None:
    state, events = settle((150_000_000,), 149_000_000)
    assert events[0].amount_oere == 1_000_000
    assert state.claimed_oere == 1_000_000
    assert settle_repayment(state) == []


def test_nothing_is_settled_before_the_final_report_is_accepted() -> None:
    assert settle_repayment(paid(with_budget(awarded()), 5_000_000)) == []


def test_a_late_finance_result_brings_a_correcting_claim_for_the_difference_only() -> None:
    state = paid(with_budget(awarded()), 75_000_000)
    state, late = instruct(state, 1, 75_000_000)  # instructed, not yet executed at the report
    for e in decide_report(state, report(74_000_000)):
        state = apply_payload(state, e, WHEN)
    assert state.claimed_oere == 1_000_000
    state = execute(state, late, 75_000_000, n=1)
    correction = settle_repayment(state)
    assert len(correction) == 1 and isinstance(correction[0], RepaymentClaimed)
    assert correction[0].amount_oere == 75_000_000
    assert (correction[0].paid_oere, correction[0].spent_oere) == (150_000_000, 74_000_000)
    state = apply_payload(state, correction[0], WHEN)
    assert state.claimed_oere == 76_000_000 == state.paid_oere - 74_000_000
    assert settle_repayment(state) == []


def test_a_waiver_becomes_a_claim_when_the_total_reaches_the_threshold() -> None:
    state = paid(with_budget(awarded()), 1_000_000)
    state, late = instruct(state, 1, 20_000)
    for e in decide_report(state, report(970_000)):
        state = apply_payload(state, e, WHEN)
    assert state.waived_oere == 30_000 and state.claimed_oere == 0
    state = execute(state, late, 20_000, n=1)
    (claim,) = settle_repayment(state)
    # The total unspent (500.00 DKK) is claimed, including what was waived before.
    assert isinstance(claim, RepaymentClaimed) and claim.amount_oere == 50_000


def test_a_waiver_grows_while_the_total_stays_under_the_threshold() -> None:
    state = paid(with_budget(awarded()), 1_000_000)
    state, late = instruct(state, 1, 10_000)
    for e in decide_report(state, report(970_000)):
        state = apply_payload(state, e, WHEN)
    state = execute(state, late, 10_000, n=1)
    (waiver,) = settle_repayment(state)
    assert isinstance(waiver, RepaymentWaived) and waiver.amount_oere == 10_000


def test_accepted_report_event_carries_spent() -> None:
    _, events = settle((10,), 10)
    assert events == []
    state = paid(with_budget(awarded()), 10)
    accepted = decide_report(state, report(10))[1]
    assert isinstance(accepted, ReportAccepted) and accepted.spent_oere == 10


# -- what was paid: finance's amount, less payments' own overpayment claims (issue 16) ----------

def test_paid_is_what_finance_reported_and_payments_own_claims_are_not_claimed_twice() -> None:
    state, instruction_id = instruct(with_budget(awarded()), 0, 150_000_000)
    state = evolve(state, envelope(f.PaymentExecuted(
        instruction_id=instruction_id, amount_oere=149_000_000,
        executed_at=at("2025-07-16T09:00:00+02:00")), at("2025-07-16T09:00:00+02:00")))
    assert state.paid_oere == 149_000_000  # what finance says it paid, not the instruction
    claim = p.OverpaymentClaimed(
        claim_id=uid("claim", 1), application_id=APP, cvr="29189846", amount_oere=2_000_000,
        periods=[p.PeriodAmount(period_start="2025-07", amount_oere=2_000_000)],
        budget_version=2, claimed_on=date(2025, 8, 1))
    for n in (1, 2):  # redelivered: counted once
        state = evolve(state, envelope(claim, at("2025-08-01T09:00:00+02:00"), n=n))
    assert state.paid_oere == 147_000_000
    events = decide_report(state, report(140_000_000))
    (claimed,) = events[2:]
    assert isinstance(claimed, RepaymentClaimed) and claimed.amount_oere == 7_000_000
