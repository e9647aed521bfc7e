"""What reporting's report route accepts, its domain can record (issue 14).

Before: ``ReportBody`` had no bounds of its own; a 100,000-character text, an amount of 10^30 øre
or a reference with a newline passed the route and broke building ``ReportSubmitted`` (500).
Now the body carries the contract's bounds, so every accepted body decides into valid events.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.bounds import LONG_TEXT, MAX_AMOUNT_OERE
from services.reporting.domain.reports import SubmitReport, _submitted_event
from services.reporting.requests import ReportBody


def _codes(error: ValidationError) -> set[str]:
    return {e["type"] for e in error.errors()}


@pytest.mark.parametrize(("body", "code"), [
    ({"kind": "status", "text": "x" * (LONG_TEXT + 1)}, "string_too_long"),
    ({"kind": "final", "accounts": {"staff": 10**30}}, "amount_too_large"),
    ({"kind": "final", "accounts": {"staff": -(10**30)}}, "amount_too_large"),
    ({"kind": "final", "accounts": {"x" * 201: 1}}, "string_too_long"),
    ({"kind": "final", "accounts": {f"p{i}": 1 for i in range(1001)}}, "too_long"),
    ({"kind": "final", "audit_statement": "ref\n2"}, "text_control_character"),
    ({"kind": "final", "audit_statement": {"type": "auditor_statement", "reference": "a\tb"}},
     "text_control_character"),
    ({"kind": "final", "spent_months": {"2025-07": {"staff": 10**16}}}, "amount_too_large"),
])
def test_a_body_beyond_the_contracts_bounds_is_refused(body: dict, code: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ReportBody.model_validate(body)
    assert code in _codes(refused.value)


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
                | st.sampled_from(["\t", "\n", "\r"]), max_size=50) | st.sampled_from(
    ["x" * LONG_TEXT, "\n" * LONG_TEXT])
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1,
                max_size=20) | st.just("y" * 200)
amounts = st.integers(-MAX_AMOUNT_OERE, MAX_AMOUNT_OERE)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["status", "final"]), text=texts,
       accounts=st.none() | st.dictionaries(names, amounts, max_size=5),
       reference=st.none() | names)
def test_every_accepted_body_records_a_valid_report(kind: str, text: str, accounts: dict | None,
                                                    reference: str | None) -> None:
    body = ReportBody.model_validate({"kind": kind, "text": text, "accounts": accounts,
                                      "audit_statement": reference})
    command = SubmitReport(report_id=uuid4(), application_id=uuid4(), kind=body.kind,
                           text=body.text or "", accounts=body.accounts,
                           audit_statement=body.statement()[0], submitted_by="grantee",
                           submitted_at=datetime(2026, 1, 1, tzinfo=UTC))
    event = _submitted_event(command)  # raised ValidationError (a 500) before the bounds
    assert event.text == text
