"""Status and final reports with accounts (R20), their audit level (R21) and what follows (R22).

A final report is accepted only from the day after the project period's last day (Copenhagen);
status reports at any time. Its accounts hold only posts of the latest approved budget; what a
post spent beyond its approved amount is accepted as spent but not eligible
(``ReportAccepted.ineligible_oere`` / ``ineligible_posts``), so R22 claims it back with the
unspent money. Spending in a month outside the project period (``spent_months``) is refused
with that month as the path.

:func:`decide_report` is ``decide(state, command) -> events``: it returns ``ReportSubmitted`` and
then ``ReportAccepted`` or ``ReportRejected`` (with every reason found, not just the first), and
for an accepted final report the repayment claim or waiver. The receive time comes in the command
(``submitted_at``, set by the handler from its clock), never from a clock read here.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from contracts.base import Contract, Reason
from contracts.reporting import (
    AuditStatementType, ReportAccepted, ReportRejected, ReportSubmitted,
)
from contracts.money import format_dkk
from contracts.refusal import Refusal
from contracts.reason_codes import reporting as rc
from services.reporting.domain.grant_file import (
    GrantFile, apply_payload, report_fingerprint,
)
from services.reporting.domain.overdue import resolved_overdue
from services.reporting.domain.repayment import settle_repayment
from services.reporting.domain.rules import (
    audit_level, end_of_day, ineligible_per_post, month_in_period,
    needs_performance_audit, statement_type_suffices,
)

_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class SubmitReport(BaseModel):
    """Command: a grantee submits a status report (text) or the final report with accounts.

    ``accounts`` and ``spent_months`` hold raw integers on purpose: a negative amount is a reason
    to reject the report with its post named, not a validation error that hides which post.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    report_id: UUID
    application_id: UUID
    kind: Literal["status", "final"]
    text: str = ""
    accounts: dict[str, StrictInt] | None = None
    audit_statement: Annotated[str, Field(max_length=200)] | None = None
    # None: a v1 bare reference, which declares the statement the audit level requires.
    audit_statement_type: AuditStatementType | None = None
    performance_audit: Annotated[str, Field(max_length=200)] | None = None
    spent_months: dict[str, dict[str, StrictInt]] | None = None
    submitted_by: Annotated[str, Field(min_length=1, max_length=128)]
    submitted_at: AwareDatetime


def awarded(state: GrantFile | None, application_id: UUID) -> GrantFile:
    """The grant file of an award, or the refusal that no award is known."""
    if state is None or state.award is None:
        raise Refusal(rc.GRANT_NOT_AWARDED, f"no award is known for application "
                      f"{application_id}", "not_found")
    return state


def require_grantee(state: GrantFile, cvr: str | None) -> None:
    """Only the grantee (the token's CVR is the award's) reports on its grant or reads it."""
    assert state.award is not None
    if cvr != state.award.cvr:
        raise Refusal("cvr_mismatch", "the token's CVR is not the grantee's CVR", "forbidden")


def require_reader(state: GrantFile, roles: AbstractSet[str], cvr: str | None) -> None:
    """Who may read a grant's file: a caseworker or an auditor any; a grantee only its own."""
    if not roles & {"caseworker", "auditor"}:
        require_grantee(state, cvr)


def resent_final_report(state: GrantFile, command: SubmitReport) -> UUID | None:
    """The accepted final report's id when ``command`` is that very report sent again, so
    :func:`decide_report` recognises the resend (one effect) instead of refusing a second one."""
    if command.kind != "final" or state.final_report_id is None:
        return None
    accepted = state.reports.get(state.final_report_id)
    accounts = command.accounts
    if accounts is not None and any(v < 0 for v in accounts.values()):
        accounts = None
    sent = report_fingerprint("final", command.text, accounts, command.audit_statement,
                              command.audit_statement_type, command.performance_audit)
    return UUID(state.final_report_id) if accepted and accepted.fingerprint == sent else None


def decide_report(state: GrantFile, command: SubmitReport) -> list[Contract]:
    """Decide a submitted report. Raises :class:`Refusal` when nothing may be recorded."""
    if command.application_id != state.application_id:
        raise ValueError("command for another grant")
    if state.award is None:
        raise Refusal(rc.GRANT_NOT_AWARDED, "no award is known for this application", "not_found")
    if state.lapsed:
        raise Refusal(rc.AWARD_LAPSED, "the award lapsed", "conflict")

    submitted = _submitted_event(command)
    previous = state.reports.get(str(command.report_id))
    if previous is not None:
        if previous.fingerprint == _fingerprint(submitted):
            return []  # the same report sent twice has one effect
        raise Refusal(rc.REPORT_ID_REUSED, "report_id already used for another report", "conflict")
    if command.kind == "final" and state.final_accepted:
        raise Refusal(
            rc.FINAL_REPORT_ALREADY_ACCEPTED, "a final report was already accepted", "conflict")

    found = _status_reasons(command) if command.kind == "status" else _final_reasons(state, command)
    if found:
        rejected = ReportRejected(report_id=command.report_id,
                                  application_id=command.application_id, kind=command.kind,
                                  reasons=found)
        return [submitted, rejected]

    accepted = _accepted_event(state, command)
    events: list[Contract] = [submitted, accepted]
    after = state
    for payload in events:
        after = apply_payload(after, payload, command.submitted_at)
    events += resolved_overdue(after, command.report_id)  # a late report frees its hold
    if command.kind == "final":
        events += settle_repayment(after)
    return events


def _submitted_event(c: SubmitReport) -> ReportSubmitted:
    # The contract carries only non-negative øre: a report with a negative amount is recorded
    # without its accounts, and the rejection's reasons carry the raw amounts with their posts.
    accounts = c.accounts
    if accounts is not None and any(v < 0 for v in accounts.values()):
        accounts = None
    return ReportSubmitted(
        report_id=c.report_id, application_id=c.application_id, kind=c.kind, text=c.text,
        accounts=accounts, audit_statement=c.audit_statement,
        audit_statement_type=c.audit_statement_type, performance_audit=c.performance_audit,
        submitted_by=c.submitted_by, submitted_at=c.submitted_at,
    )


def _fingerprint(e: ReportSubmitted) -> str:
    return report_fingerprint(e.kind, e.text, e.accounts, e.audit_statement,
                              e.audit_statement_type, e.performance_audit)


def _accepted_event(state: GrantFile, c: SubmitReport) -> ReportAccepted:
    assert state.award is not None
    if c.kind == "status":
        return ReportAccepted(report_id=c.report_id, application_id=c.application_id, kind="status")
    spent = c.accounts or {}
    beyond = ineligible_per_post(spent, state.budget.posts) if state.budget is not None else {}
    return ReportAccepted(
        report_id=c.report_id, application_id=c.application_id, kind="final",
        spent_oere=sum(spent.values()), audit_level=audit_level(state.award.amount_oere),
        ineligible_oere=sum(beyond.values()) if beyond else None,
        ineligible_posts=beyond or None,
    )


def _status_reasons(c: SubmitReport) -> list[Reason]:
    if not c.text.strip():
        return [Reason(code=rc.TEXT_MISSING, path="text", message="a status report needs text")]
    return []


def _final_reasons(state: GrantFile, c: SubmitReport) -> list[Reason]:
    assert state.award is not None
    found: list[Reason] = []
    period_end = state.award.project_period.end
    if c.submitted_at < end_of_day(period_end):
        found.append(Reason(
            code=rc.FINAL_REPORT_BEFORE_PERIOD_END, path="kind",
            message=f"the project period ends {period_end.isoformat()}: a final report is "
                    f"accepted from {end_of_day(period_end).date().isoformat()} "
                    "(Europe/Copenhagen); a status report may be sent now"))
    posts = state.budget.posts if state.budget is not None else None
    if posts is None:
        found.append(Reason(code=rc.NO_APPROVED_BUDGET,
                            message="no revised budget has been approved for this grant"))
    if c.accounts is None:
        found.append(Reason(code=rc.ACCOUNTS_MISSING, path="accounts",
                            message="a final report needs accounts"))
    else:
        found += _amount_reasons(c.accounts, posts, "accounts")
    if c.spent_months is not None:
        found += _month_reasons(state, c.spent_months, posts)
        if c.accounts is not None:
            found += _mismatch_reasons(c.accounts, c.spent_months)
    found += _statement_reasons(state.award.amount_oere, c)
    return found


def _statement_reasons(award_oere: int, c: SubmitReport) -> list[Reason]:
    """R21. A typed statement must be of a type the award's size allows (a reviewer's only up
    to 100,000 DKK) and, over 500,000 DKK, name its performance audit; a bare v1 reference
    declares the statement the level requires."""
    level = audit_level(award_oere)
    if not (c.audit_statement or "").strip():
        return [Reason(code=rc.AUDIT_STATEMENT_MISSING, path="audit_statement",
                       message=f"audit level {level}: the statement's reference is required")]
    if c.audit_statement_type is None:
        return []
    found: list[Reason] = []
    if not statement_type_suffices(award_oere, c.audit_statement_type):
        found.append(Reason(
            code=rc.AUDIT_STATEMENT_WRONG_TYPE, path="audit_statement.type",
            message=f"an award of {format_dkk(award_oere)} (over 100,000.00 DKK) needs an "
                    f"auditor_statement, not a {c.audit_statement_type}"))
    if needs_performance_audit(award_oere) and not (c.performance_audit or "").strip():
        found.append(Reason(
            code=rc.PERFORMANCE_AUDIT_MISSING, path="audit_statement.performance_audit",
            message=f"an award of {format_dkk(award_oere)} (over 500,000.00 DKK) also needs a "
                    "performance audit"))
    return found


def _amount_reasons(amounts: dict[str, int], posts: dict[str, int] | None, at: str) -> list[Reason]:
    found: list[Reason] = []
    for post in sorted(amounts):
        if posts is not None and post not in posts:
            found.append(Reason(code=rc.POST_NOT_IN_BUDGET, path=f"{at}.{post}",
                                message=f"{post!r} is not a post of the approved budget"))
        if amounts[post] < 0:
            found.append(Reason(code=rc.AMOUNT_NEGATIVE, path=f"{at}.{post}",
                                message=f"{amounts[post]} øre is negative"))
    return found


def _month_reasons(
    state: GrantFile, months: dict[str, dict[str, int]], posts: dict[str, int] | None,
) -> list[Reason]:
    assert state.award is not None
    period = state.award.project_period
    found: list[Reason] = []
    for month in sorted(months):
        if not _MONTH.match(month):
            found.append(Reason(code=rc.MONTH_INVALID, path=f"spent_months.{month}",
                                message="not a month written YYYY-MM"))
            continue
        if not month_in_period(month, period):
            found.append(Reason(
                code=rc.SPENT_OUTSIDE_PERIOD, path=f"spent_months.{month}",
                message=f"outside the project period {period.start} – {period.end}"))
        found += _amount_reasons(months[month], posts, f"spent_months.{month}")
    return found


def _mismatch_reasons(accounts: dict[str, int], months: dict[str, dict[str, int]]) -> list[Reason]:
    per_post: dict[str, int] = {}
    for spent in months.values():
        for post, amount in spent.items():
            per_post[post] = per_post.get(post, 0) + amount
    found = []
    for post in sorted(set(accounts) | set(per_post)):
        if accounts.get(post, 0) != per_post.get(post, 0):
            found.append(Reason(
                code=rc.SPENT_MONTHS_MISMATCH, path=f"accounts.{post}",
                message=f"accounts say {accounts.get(post, 0)} øre, spent_months sum to "
                        f"{per_post.get(post, 0)} øre"))
    return found
