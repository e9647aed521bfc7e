"""R4, the pure part: decisions on verified claims. Every reason means 403."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.domain import (
    authorise_caseworker, authorise_contact, authorise_exception_decision, authorise_submission,
    roles_of,
)

from tests.unit.intake.factories import CVR_AARHUS, CVR_KBH


def codes(reasons: list) -> list[str]:  # type: ignore[type-arg]
    return [r.code for r in reasons]


def test_applicant_of_the_same_organisation_may_submit() -> None:
    assert authorise_submission({"cvr": CVR_AARHUS, "roles": ["applicant"]}, CVR_AARHUS) == []


def test_another_organisation_may_not_submit() -> None:
    reasons = authorise_submission({"cvr": CVR_KBH, "roles": ["applicant"]}, CVR_AARHUS)
    assert [(r.code, r.path) for r in reasons] == [("cvr_mismatch", "token.cvr")]


@pytest.mark.parametrize("claims", [{"roles": ["applicant"]}, {"cvr": None, "roles": ["applicant"]}, {"cvr": 29189846, "roles": ["applicant"]}, {"cvr": "", "roles": ["applicant"]}])
def test_a_token_without_a_cvr_claim_is_refused(claims: dict[str, Any]) -> None:
    assert codes(authorise_submission(claims, CVR_AARHUS)) == ["cvr_mismatch"]


@pytest.mark.parametrize(
    "roles",
    [[], ["caseworker"], ["Applicant"], None, "applicant", "applicant caseworker", {"applicant": True}, [["applicant"]]],
)
def test_the_applicant_role_is_required_as_a_list_entry(roles: Any) -> None:
    reasons = authorise_submission({"cvr": CVR_AARHUS, "roles": roles}, CVR_AARHUS)
    assert [(r.code, r.path) for r in reasons] == [("role_not_allowed", "token.roles")]


def test_both_failures_are_reported() -> None:
    assert codes(authorise_submission({"cvr": CVR_KBH}, CVR_AARHUS)) == ["role_not_allowed", "cvr_mismatch"]


def test_roles_of() -> None:
    assert roles_of({"roles": ["a", 1, "b"]}) == {"a", "b"}
    assert roles_of({"roles": ("a",)}) == {"a"}
    assert roles_of({}) == frozenset()


def test_caseworker_role() -> None:
    assert authorise_caseworker({"roles": ["caseworker"]}) == []
    assert codes(authorise_caseworker({"roles": ["applicant", "assessor"]})) == ["role_not_allowed"]


def test_contact_from_the_applicant_or_a_caseworker() -> None:
    assert authorise_contact({"cvr": CVR_AARHUS, "roles": ["applicant"]}, CVR_AARHUS) == []
    assert authorise_contact({"cvr": "11111111", "roles": ["caseworker"]}, CVR_AARHUS) == []
    assert codes(authorise_contact({"cvr": CVR_KBH, "roles": ["applicant"]}, CVR_AARHUS)) == ["cvr_mismatch"]
    assert codes(authorise_contact({"cvr": CVR_AARHUS, "roles": ["assessor"]}, CVR_AARHUS)) == ["role_not_allowed"]


def test_exception_decision_needs_a_caseworker_with_a_subject() -> None:
    ok = {"sub": "cw-1", "cvr": "11111111", "roles": ["caseworker"]}
    assert authorise_exception_decision(ok, CVR_AARHUS) == []
    assert codes(authorise_exception_decision({**ok, "roles": ["applicant"]}, CVR_AARHUS)) == ["role_not_allowed"]
    assert codes(authorise_exception_decision({**ok, "sub": ""}, CVR_AARHUS)) == ["subject_missing"]
    assert codes(authorise_exception_decision({"roles": ["caseworker"]}, CVR_AARHUS)) == ["subject_missing"]


def test_the_applicant_never_decides_its_own_exception() -> None:
    both = {"sub": "e-1", "cvr": CVR_AARHUS, "roles": ["applicant", "caseworker"]}
    assert codes(authorise_exception_decision(both, CVR_AARHUS)) == ["decider_is_applicant"]
    assert authorise_exception_decision(both, CVR_KBH) == []
