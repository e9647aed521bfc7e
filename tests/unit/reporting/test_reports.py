"""R20 reports and accounts, R21 audit level on acceptance: every reason at its edge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from contracts.payments import AwardLapsed
from contracts.reporting import RepaymentClaimed, ReportAccepted, ReportRejected, ReportSubmitted
from contracts.refusal import Refusal
from services.reporting.domain import REASON_CODES, REFUSAL_CODES
from services.reporting.domain.grant_file import GrantFile, apply_payload, evolve
from services.reporting.domain.reports import (
    SubmitReport, decide_report, require_grantee, require_reader, resent_final_report,
)
from services.reporting.domain.reports import awarded as awarded_file
from tests.unit.reporting.builders import at, envelope, uid
from tests.unit.reporting.grants import APP, CVR, awarded, paid, with_budget

WHEN = at("2026-02-20T10:00:00+01:00")
ACCOUNTS = {"project staff": 120_000_000, "materials and meetings": 29_000_000}


def final(accounts: dict[str, int] | None = ACCOUNTS, statement: str | None = "RS-1",
          n: int = 1, **extra: Any) -> SubmitReport:
    return SubmitReport(report_id=uid("report", n), application_id=APP, kind="final",
                        accounts=accounts, audit_statement=statement, submitted_by="grantee",
                        submitted_at=WHEN, **extra)


def status(text: str = "on track", n: int = 100) -> SubmitReport:
    return SubmitReport(report_id=uid("report", n), application_id=APP, kind="status", text=text,
                        submitted_by="grantee", submitted_at=WHEN)


def ready(amount: int = 150_000_000) -> GrantFile:
    return paid(with_budget(awarded(amount)), 75_000_000, 75_000_000)


def apply_all(state: GrantFile, events: list[Any], when: datetime = WHEN) -> GrantFile:
    for event in events:
        state = apply_payload(state, event, when)
    return state


def codes(events: list[Any]) -> list[tuple[str, str | None]]:
    rejected = [e for e in events if isinstance(e, ReportRejected)]
    assert len(rejected) == 1, events
    return [(r.code, r.path) for r in rejected[0].reasons]


def test_an_accepted_final_report_claims_back_what_was_not_spent() -> None:
    events = decide_report(ready(), final())
    assert [type(e) for e in events] == [ReportSubmitted, ReportAccepted, RepaymentClaimed]
    submitted, accepted, claim = events
    assert submitted.accounts == ACCOUNTS and submitted.audit_statement == "RS-1"
    assert accepted.spent_oere == 149_000_000
    assert accepted.audit_level == "auditor_statement_and_performance_audit"
    assert (claim.paid_oere, claim.spent_oere, claim.amount_oere) == (
        150_000_000, 149_000_000, 1_000_000)


@pytest.mark.parametrize(("award", "level"), [
    (10_000_000, "reviewer"), (10_000_001, "auditor_statement"),
    (50_000_000, "auditor_statement"), (50_000_001, "auditor_statement_and_performance_audit"),
])
def test_the_accepted_report_names_the_audit_level(award: int, level: str) -> None:
    state = paid(with_budget(awarded(award)), 1_000)
    events = decide_report(state, final({"project staff": 1_000}))
    assert events[1].audit_level == level


@pytest.mark.parametrize("award", [10_000_000, 10_000_001, 50_000_001])
@pytest.mark.parametrize("statement", [None, "", "   "])
def test_every_final_report_needs_a_statement_reference(award: int, statement: str | None) -> None:
    state = with_budget(awarded(award))
    assert codes(decide_report(state, final({"project staff": 1}, statement))) == [
        ("audit_statement_missing", "audit_statement")]


def test_a_post_outside_the_latest_approved_budget_is_rejected_with_its_path() -> None:
    events = decide_report(ready(), final({**ACCOUNTS, "travel": 5}))
    assert codes(events) == [("post_not_in_budget", "accounts.travel")]
    assert isinstance(events[0], ReportSubmitted) and events[0].accounts is not None


def test_the_accounts_follow_the_latest_budget_version() -> None:
    state = with_budget(ready(), {"2025-07": {"travel": 1}}, version=2)
    assert {c for c, _ in codes(decide_report(state, final()))} == {"post_not_in_budget"}
    assert len(decide_report(state, final({"travel": 1}))) == 3  # accepted + claim


def test_a_negative_amount_is_rejected_and_named_by_its_post() -> None:
    events = decide_report(ready(), final({"project staff": -1, "materials and meetings": 0}))
    assert codes(events) == [("amount_negative", "accounts.project staff")]
    assert events[0].accounts is None  # the contract cannot carry it; the reason does
    assert "-1" in events[1].reasons[0].message


def test_zero_is_not_negative() -> None:
    events = decide_report(ready(), final({"project staff": 0}))
    assert isinstance(events[1], ReportAccepted)


def test_a_final_report_before_any_approved_budget() -> None:
    assert codes(decide_report(awarded(), final())) == [("no_approved_budget", None)]


def test_a_final_report_without_accounts() -> None:
    assert codes(decide_report(ready(), final(None))) == [("accounts_missing", "accounts")]


def test_spent_months_must_lie_within_the_project_period() -> None:
    inside = {"2025-07": {"project staff": 60_000_000}, "2025-12": {"project staff": 60_000_000,
                                                                    "materials and meetings":
                                                                        29_000_000}}
    assert isinstance(decide_report(ready(), final(spent_months=inside))[1], ReportAccepted)
    outside = {"2025-06": {"project staff": 60_000_000}, "2026-01": {"project staff": 60_000_000,
                                                                     "materials and meetings":
                                                                         29_000_000}}
    assert codes(decide_report(ready(), final(spent_months=outside))) == [
        ("spent_outside_period", "spent_months.2025-06"),
        ("spent_outside_period", "spent_months.2026-01")]


def test_spent_months_must_add_up_to_the_accounts() -> None:
    months = {"2025-07": {"project staff": 120_000_000, "materials and meetings": 28_999_999}}
    assert codes(decide_report(ready(), final(spent_months=months))) == [
        ("spent_months_mismatch", "accounts.materials and meetings")]


def test_spent_months_keys_and_posts_are_checked() -> None:
    months = {"2025-13": {"project staff": 1}, "2025-08": {"travel": 0, "project staff": -2}}
    assert codes(decide_report(ready(), final({"project staff": -1}, spent_months=months))) == [
        ("amount_negative", "accounts.project staff"),
        ("amount_negative", "spent_months.2025-08.project staff"),
        ("post_not_in_budget", "spent_months.2025-08.travel"),
        ("month_invalid", "spent_months.2025-13"),
    ]


def test_every_reason_is_reported_at_once() -> None:
    events = decide_report(awarded(), final({"travel": -5}, None,
                                            spent_months={"2024-01": {"travel": -5}}))
    assert [c for c, _ in codes(events)] == [
        "no_approved_budget", "amount_negative", "spent_outside_period", "amount_negative",
        "audit_statement_missing"]


def test_a_rejected_final_report_can_be_followed_by_a_correct_one() -> None:
    state = ready()
    state = apply_all(state, decide_report(state, final({"travel": 1}, n=1)))
    assert state.reports[str(uid("report", 1))].status == "rejected"
    events = decide_report(state, final(n=2))
    assert isinstance(events[1], ReportAccepted)


def test_a_second_accepted_final_report_is_refused() -> None:
    state = ready()
    state = apply_all(state, decide_report(state, final(n=1)))
    with pytest.raises(Refusal) as refused:
        decide_report(state, final(n=2))
    assert refused.value.code == "final_report_already_accepted"
    assert refused.value.kind == "conflict"


def test_the_same_report_sent_twice_has_one_effect() -> None:
    state = ready()
    state = apply_all(state, decide_report(state, final(n=1)))
    assert decide_report(state, final(n=1)) == []
    with pytest.raises(Refusal) as refused:
        decide_report(state, final({"project staff": 1}, n=1))
    assert (refused.value.code, refused.value.kind) == ("report_id_reused", "conflict")


def test_a_resent_final_report_is_known_by_its_content_not_its_id() -> None:
    state = ready()
    assert resent_final_report(state, final(n=1)) is None  # nothing accepted yet
    state = apply_all(state, decide_report(state, final(n=1)))
    assert resent_final_report(state, final(n=7)) == uid("report", 1)
    assert resent_final_report(state, final({"project staff": 1}, n=7)) is None
    assert resent_final_report(state, final({"project staff": -1}, n=7)) is None
    assert resent_final_report(state, status()) is None


def test_only_the_grantee_of_an_award_reports_on_it() -> None:
    with pytest.raises(Refusal) as refused:
        awarded_file(None, APP)
    assert (refused.value.code, refused.value.kind) == ("grant_not_awarded", "not_found")
    with pytest.raises(Refusal) as refused:
        awarded_file(GrantFile.new(APP), APP)
    assert refused.value.code == "grant_not_awarded"
    state = awarded_file(ready(), APP)
    require_grantee(state, CVR)
    for cvr in ("12345678", None):
        with pytest.raises(Refusal) as refused:
            require_grantee(state, cvr)
        assert (refused.value.code, refused.value.kind) == ("cvr_mismatch", "forbidden")


def test_staff_read_any_grant_and_a_grantee_only_its_own() -> None:
    state = awarded_file(ready(), APP)
    for roles, cvr in (({"caseworker"}, None), ({"auditor"}, "12345678"),
                       ({"applicant", "caseworker"}, "12345678"), ({"applicant"}, CVR)):
        require_reader(state, frozenset(roles), cvr)
    for roles, cvr in (({"applicant"}, "12345678"), ({"applicant"}, None), (set(), CVR + "0")):
        with pytest.raises(Refusal) as refused:
            require_reader(state, frozenset(roles), cvr)
        assert (refused.value.code, refused.value.kind) == ("cvr_mismatch", "forbidden")


def test_reports_need_an_award_that_did_not_lapse() -> None:
    with pytest.raises(Refusal) as refused:
        decide_report(GrantFile.new(APP), final())
    assert (refused.value.code, refused.value.kind) == ("grant_not_awarded", "not_found")
    lapsed = evolve(ready(), envelope(AwardLapsed(
        application_id=APP, reason="acceptance_deadline_passed", lapsed_at=WHEN), WHEN))
    with pytest.raises(Refusal) as refused:
        decide_report(lapsed, final())
    assert (refused.value.code, refused.value.kind) == ("award_lapsed", "conflict")


def test_status_reports_need_text() -> None:
    events = decide_report(ready(), status())
    assert [type(e) for e in events] == [ReportSubmitted, ReportAccepted]
    assert events[1].spent_oere is None and events[1].audit_level is None
    assert codes(decide_report(ready(), status("  "))) == [("text_missing", "text")]


def test_a_status_report_after_the_final_one_is_still_taken() -> None:
    state = ready()
    state = apply_all(state, decide_report(state, final()))
    assert isinstance(decide_report(state, status())[1], ReportAccepted)


def test_every_code_used_is_documented() -> None:
    for code in ("no_approved_budget", "accounts_missing", "post_not_in_budget", "amount_negative",
                 "month_invalid", "spent_outside_period", "spent_months_mismatch",
                 "audit_statement_missing", "text_missing"):
        assert REASON_CODES[code]
    for code in ("grant_not_awarded", "award_lapsed", "final_report_already_accepted",
                 "report_id_reused"):
        assert REFUSAL_CODES[code]
