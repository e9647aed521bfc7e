"""Property tests: validation never crashes and is exact; deadline is monotonic; any sequence of
commands keeps the record consistent (R9 idempotency, R23's "no late version without a grant")."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from contracts.base import BudgetLine, IndicativeBudget
from contracts.refusal import Refusal

from services.intake.domain import (
    REASON_CODES, cvr_is_valid, intake_outcome, is_on_time, parse_submission,
    receipt_for, validate_budget, validate_budget_lines,
)

from tests.unit.intake.factories import (
    DEADLINE, Desk, budget, caseworker_claims, contact, decision, submission, uid,
)

# at most 10^12 øre per rate or amount and quantities up to 100: ten lines stay under the
# contracts' ceiling of 10^15 øre (contracts.bounds.MAX_AMOUNT_OERE)
oere = st.integers(min_value=0, max_value=10**12)
posts = st.sampled_from(["staff", "Staff", "rent", "travel", "materials", " staff ", "x"])


@st.composite
def any_line(draw: st.DrawFn) -> BudgetLine:
    return BudgetLine(
        post=draw(posts),
        category=draw(st.sampled_from(["salary", "other"])),
        rate_oere=draw(st.none() | oere),
        quantity=draw(st.none() | st.integers(min_value=0, max_value=10**6)),
        amount_oere=draw(oere),
    )


@given(st.lists(any_line(), max_size=12), oere)
def test_budget_validation_never_raises_and_speaks_documented_codes(lines: list[BudgetLine], total: int) -> None:
    reasons = validate_budget(IndicativeBudget(lines=lines, total_oere=total))
    assert all(r.code in REASON_CODES for r in reasons)
    assert all(r.path and r.path.startswith("budget.") for r in reasons)
    assert len({(r.code, r.path) for r in reasons}) == len(reasons)
    # the per-line rules are a part of the whole-budget rules, never more
    assert {(r.code, r.path) for r in validate_budget_lines(lines)} <= {(r.code, r.path) for r in reasons}


@st.composite
def clean_lines(draw: st.DrawFn) -> list[BudgetLine]:
    names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=6), min_size=1, max_size=10, unique=True))
    lines = []
    for name in names:
        if draw(st.booleans()):
            rate, quantity = draw(oere), draw(st.integers(0, 100))
            lines.append(BudgetLine(post=name, category="salary", rate_oere=rate, quantity=quantity, amount_oere=rate * quantity))
        elif draw(st.booleans()):
            rate, quantity = draw(oere), draw(st.integers(0, 100))
            lines.append(BudgetLine(post=name, category="other", rate_oere=rate, quantity=quantity, amount_oere=rate * quantity))
        else:
            lines.append(BudgetLine(post=name, category="other", amount_oere=draw(oere)))
    return lines


@given(clean_lines())
def test_lines_that_multiply_and_sum_to_the_total_validate_clean(lines: list[BudgetLine]) -> None:
    assert validate_budget(IndicativeBudget(lines=lines, total_oere=sum(line.amount_oere for line in lines))) == []


@given(clean_lines(), st.integers(min_value=-(10**9), max_value=10**9).filter(bool))
def test_a_total_off_by_anything_is_exactly_one_mismatch(lines: list[BudgetLine], delta: int) -> None:
    total = sum(line.amount_oere for line in lines) + delta
    assume(total >= 0)
    reasons = validate_budget(IndicativeBudget(lines=lines, total_oere=total))
    assert [(r.code, r.path) for r in reasons] == [("budget_total_mismatch", "budget.total_oere")]


@given(st.text("0123456789", min_size=7, max_size=7))
def test_every_cvr_prefix_has_at_most_one_check_digit(prefix: str) -> None:
    valid = [d for d in "0123456789" if cvr_is_valid(prefix + d)]
    weighted = sum(int(d) * w for d, w in zip(prefix, (2, 7, 6, 5, 4, 3, 2), strict=True))
    expected = (-weighted) % 11
    assert valid == ([str(expected)] if expected < 10 else [])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_parsing_arbitrary_json_never_raises(value: Any) -> None:
    parsed = parse_submission(json.dumps(value))
    assert parsed.command is None
    assert parsed.reasons and all(r.code in REASON_CODES for r in parsed.reasons)


@given(st.sampled_from(["submission_id", "pool_id", "applicant", "purpose", "budget", "client_sent_at", "application_id"]), json_values)
def test_parsing_a_damaged_submission_never_raises(field: str, value: Any) -> None:
    raw = submission().model_dump(mode="json")
    raw[field] = value
    parsed = parse_submission(json.dumps(raw))
    assert (parsed.command is None) == bool(parsed.reasons)
    assert all(r.code in REASON_CODES for r in parsed.reasons)


instants = st.integers(min_value=-10**11, max_value=10**11).map(
    lambda us: DEADLINE + timedelta(microseconds=us)
)


@given(instants, instants)
def test_the_deadline_decision_is_monotonic(a: datetime, b: datetime) -> None:
    early, late = min(a, b), max(a, b)
    if is_on_time(late, DEADLINE):
        assert is_on_time(early, DEADLINE)
    if not is_on_time(early, DEADLINE):
        assert not is_on_time(late, DEADLINE)


@given(instants)
@settings(max_examples=50)
def test_a_submission_is_on_time_exactly_when_received_by_the_deadline(at: datetime) -> None:
    receipt = Desk().submit(submission(), at).receipt
    assert receipt is not None
    assert (receipt.status == "on_time") == (at <= DEADLINE)


# --- any sequence of commands -----------------------------------------------------------------

# Weighted towards well-formed commands, so that grants and admitted late versions are common.
mostly = st.sampled_from([True, True, True, False])
action = st.one_of(
    st.tuples(st.just("submit"), st.integers(1, 4), mostly),
    st.tuples(st.just("contact"), st.integers(1, 2), mostly, mostly, st.sampled_from([None, -5, 0, 0, 5])),
    st.tuples(st.just("decide"), st.integers(1, 2), mostly),
)


def _play(steps: list[tuple[Any, ...]], gaps: list[int]) -> Desk:
    desk = Desk()
    now = DEADLINE - timedelta(hours=6)  # close enough that sequences straddle the deadline
    for step, gap in zip(steps, gaps, strict=False):
        now += timedelta(minutes=gap)
        try:
            if step[0] == "submit":
                _, n, valid = step
                command = submission(n) if valid else submission(n, budget=budget(total=1))
                before = desk.state()
                decided = desk.submit(command, now)
                if before.version_of(uid(n)) is not None:
                    assert decided.events == ()
                    assert decided.receipt == receipt_for(before, uid(n))
                again = desk.submit(command, now)
                assert again.events == () and again.receipt == decided.receipt
            elif step[0] == "contact":
                _, n, documentation, attempted, shot = step
                screenshot = None if shot is None else DEADLINE + timedelta(minutes=shot)
                desk.contact(contact(now, n=n, documentation=documentation, attempted=attempted, screenshot_at=screenshot))
            else:
                _, n, approved = step
                desk.decide(decision(approved, n=n), now, claims=caseworker_claims())
        except Refusal as refusal:
            assert refusal.code in REASON_CODES
            assert refusal.kind in ("forbidden", "not_found", "conflict", "invalid")
    return desk


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, max_size=12), st.lists(st.integers(0, 10 * 60), min_size=12, max_size=12))
def test_any_sequence_keeps_the_record_consistent(steps: list[tuple[Any, ...]], gaps: list[int]) -> None:
    desk = _play(steps, gaps)  # the desk checks JSON round trip and rebuild-from-events each step
    state = desk.state()
    status, reasons = intake_outcome(state)
    event(f"outcome={status}")
    assert status in {"on_time", "late_rejected", "exception_pending", "exception_granted", "exception_refused", "invalid"}
    assert all(code in REASON_CODES for code in reasons)
    versions = [v.version for v in state.versions]
    assert versions == list(range(1, len(versions) + 1))
    assert len({v.submission_id for v in state.versions}) == len(versions)
    assert sum(1 for e in state.exceptions if e.status in ("pending", "granted")) <= 1
    if state.accepted is not None:
        accepted = state.version_of(state.accepted.submission_id)
        assert accepted is not None
        if state.accepted.basis == "on_time":
            assert accepted.received_at <= DEADLINE
        else:
            # R23: no late version accepted without a granted exception that covers it
            granted = state.exception(state.accepted.exception_id)  # type: ignore[arg-type]
            assert granted is not None and granted.status == "granted"
            assert accepted.received_at > DEADLINE
            assert accepted.received_at <= granted.contacted_at + timedelta(hours=24)
    for emitted in desk.log.get(state.application_id, []):
        if type(emitted).__name__ == "ApplicationAccepted" and emitted.basis == "on_time":
            assert state.version_of(emitted.submission_id).timeliness == "on_time"  # type: ignore[union-attr]
    assert all(v.received_at.tzinfo is not None for v in state.versions)
