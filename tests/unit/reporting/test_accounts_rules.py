"""R20–R22 as issue 16 item 6 states them, each at its edge: a final report only after the
project period, overspending a post is not eligible and is claimed back, spending outside the
period is refused with its month, and the audit statement is typed by the award's size
(exactly 100,000.00 / 500,000.00 DKK and one øre over)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.reporting import RepaymentClaimed, ReportAccepted
from services.reporting.domain.reports import SubmitReport, decide_report
from services.reporting.domain.rules import ineligible_per_post
from tests.unit.reporting.builders import at, uid
from tests.unit.reporting.grants import APP
from tests.unit.reporting.test_reports import apply_all, codes, final, ready

# The project period of tests.unit.reporting.grants ends 2025-12-31 (Copenhagen, UTC+1).
LAST_INSTANT = at("2025-12-31T23:59:59.999999+01:00")
FIRST_AFTER = at("2026-01-01T00:00:00+01:00")
STAFF, MATERIALS = "project staff", "materials and meetings"  # approved 120,000,000 / 30,000,000


def final_at(when: Any, **extra: Any) -> SubmitReport:
    return final(**extra).model_copy(update={"submitted_at": when})


def accepted_of(events: list[Any]) -> ReportAccepted:
    return next(e for e in events if isinstance(e, ReportAccepted))


# -- a final report only after the project period (R20) ------------------------------------------

def test_a_final_report_in_the_periods_last_instant_is_refused_and_the_next_accepted() -> None:
    assert codes(decide_report(ready(), final_at(LAST_INSTANT)))[0] == (
        "final_report_before_period_end", "kind")
    assert accepted_of(decide_report(ready(), final_at(FIRST_AFTER))).kind == "final"


def test_status_reports_come_any_time() -> None:
    for when in (at("2025-07-01T00:00:00+02:00"), LAST_INSTANT, FIRST_AFTER):
        status = SubmitReport(report_id=uid("status", when.isoformat()), application_id=APP,
                              kind="status", text="on track", submitted_by="grantee",
                              submitted_at=when)
        assert accepted_of(decide_report(ready(), status)).kind == "status"


# -- overspending a post is not eligible and is claimed back (R20, R22) -------------------------

def test_spending_beyond_a_posts_approved_amount_is_accepted_but_not_eligible() -> None:
    exact = accepted_of(decide_report(ready(), final(accounts={STAFF: 120_000_000,
                                                               MATERIALS: 30_000_000})))
    assert (exact.ineligible_oere, exact.ineligible_posts) == (None, None)
    events = decide_report(ready(), final(accounts={STAFF: 120_000_001, MATERIALS: 29_999_999}))
    over = accepted_of(events)
    assert (over.spent_oere, over.ineligible_oere, over.ineligible_posts) == (
        150_000_000, 1, {STAFF: 1})
    # all 150,000,000 paid and spent, yet the øre over the staff post is not eligible: owed back,
    # and waived (under the 500 DKK threshold)
    assert [type(e).__name__ for e in events][2:] == ["RepaymentWaived"]
    assert events[2].amount_oere == 1 and events[2].ineligible_oere == 1


def test_the_overspent_part_is_claimed_with_the_unspent_money() -> None:
    # staff 10,000,000 over its approved amount, materials 12,000,000 under: spent 148,000,000
    events = decide_report(ready(), final(accounts={STAFF: 130_000_000, MATERIALS: 18_000_000}))
    accepted = accepted_of(events)
    assert (accepted.spent_oere, accepted.ineligible_oere) == (148_000_000, 10_000_000)
    claim = events[-1]
    assert isinstance(claim, RepaymentClaimed)
    # paid 150,000,000 − eligible (148,000,000 − 10,000,000) = 12,000,000
    assert (claim.paid_oere, claim.spent_oere, claim.ineligible_oere, claim.amount_oere) == (
        150_000_000, 148_000_000, 10_000_000, 12_000_000)
    assert apply_all(ready(), events).final_ineligible_oere == 10_000_000


def test_ineligible_per_post_at_the_edge() -> None:
    approved = {STAFF: 100, MATERIALS: 50}
    assert ineligible_per_post({STAFF: 100, MATERIALS: 50}, approved) == {}
    assert ineligible_per_post({STAFF: 101, MATERIALS: 0}, approved) == {STAFF: 1}
    assert ineligible_per_post({STAFF: 0, MATERIALS: 51}, approved) == {MATERIALS: 1}


# -- spending outside the project period is refused with its month (R20) -------------------------

@pytest.mark.parametrize(("month", "refused"), [
    ("2025-06", True), ("2025-07", False), ("2025-12", False), ("2026-01", True)])
def test_spending_in_a_month_outside_the_period_names_the_month(month: str, refused: bool) -> None:
    spent = {"2025-08": {STAFF: 120_000_000, MATERIALS: 29_000_000 - 1}, month: {MATERIALS: 1}}
    events = decide_report(ready(), final(spent_months=spent))
    if refused:
        assert ("spent_outside_period", f"spent_months.{month}") in codes(events)
    else:
        assert accepted_of(events).spent_oere == 149_000_000


# -- the audit statement typed by the audit level (R21) ------------------------------------------

REVIEWER_MAX, PERFORMANCE_ABOVE = 10_000_000, 50_000_000  # 100,000.00 and 500,000.00 DKK


def typed(kind: str | None, performance: str | None = None,
          reference: str | None = "ST-1") -> dict[str, Any]:
    return {"statement": reference, "audit_statement_type": kind, "performance_audit": performance}


def small_accounts(amount: int) -> dict[str, int]:
    return {STAFF: min(amount, 120_000_000) - 1}


@pytest.mark.parametrize(("award", "kind", "performance", "reasons"), [
    (REVIEWER_MAX, "reviewer_statement", None, []),
    (REVIEWER_MAX, "auditor_statement", None, []),  # more than enough
    (REVIEWER_MAX + 1, "reviewer_statement", None,
     [("audit_statement_wrong_type", "audit_statement.type")]),
    (REVIEWER_MAX + 1, "auditor_statement", None, []),
    (PERFORMANCE_ABOVE, "auditor_statement", None, []),
    (PERFORMANCE_ABOVE + 1, "auditor_statement", None,
     [("performance_audit_missing", "audit_statement.performance_audit")]),
    (PERFORMANCE_ABOVE + 1, "auditor_statement", "PA-1", []),
    (PERFORMANCE_ABOVE + 1, "reviewer_statement", "PA-1",
     [("audit_statement_wrong_type", "audit_statement.type")]),
    (PERFORMANCE_ABOVE + 1, "reviewer_statement", None,
     [("audit_statement_wrong_type", "audit_statement.type"),
      ("performance_audit_missing", "audit_statement.performance_audit")]),
])
def test_the_statement_type_at_each_threshold(award: int, kind: str, performance: str | None,
                                              reasons: list[tuple[str, str]]) -> None:
    events = decide_report(ready(award), final(accounts=small_accounts(award),
                                               **typed(kind, performance)))
    if reasons:
        assert codes(events) == reasons
    else:
        assert accepted_of(events).audit_level is not None


@pytest.mark.parametrize("award", [REVIEWER_MAX + 1, PERFORMANCE_ABOVE + 1])
def test_a_missing_statement_is_refused_typed_or_not(award: int) -> None:
    for statement in (typed("auditor_statement", "PA-1", reference=""), typed(None, None, None)):
        events = decide_report(ready(award), final(accounts=small_accounts(award), **statement))
        assert codes(events) == [("audit_statement_missing", "audit_statement")]


def test_a_bare_v1_reference_declares_the_statement_its_level_needs() -> None:
    events = decide_report(ready(PERFORMANCE_ABOVE + 1),
                           final(accounts=small_accounts(PERFORMANCE_ABOVE + 1), statement="RS"))
    assert accepted_of(events).audit_level == "auditor_statement_and_performance_audit"
