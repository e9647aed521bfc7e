"""R2, R4 (issue 15): intake takes who the applicant is from the organisation register by the
token's CVR; typed values are claims, checked against the entry, never stored as the truth.

Checked to fail without the change: with ``decide_submission`` storing ``command.applicant`` as
before (no register lookup), every test here but the unregistered-pool one fails (no
``applicant_unknown`` / ``applicant_register_mismatch``, the typed municipality stored).
"""

from __future__ import annotations

from datetime import timedelta

from tests.unit.intake.factories import (
    CVR_AARHUS, CVR_KBH, DEADLINE, Desk, applicant, names, pool_definition, pools_of, published,
    register_of, registered, submission,
)

BEFORE = DEADLINE - timedelta(hours=1)
UNREGISTERED = "10000009"  # passes modulus 11, in no register here


def _codes(decided) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    assert decided.receipt is not None
    return [(r.code, r.path) for r in decided.receipt.reasons]


def test_the_stored_applicant_is_the_registers_entry_with_its_revision() -> None:
    desk = Desk()
    typed = applicant().model_copy(update={"name": "Aarhus kommune (typed)"})
    decided = desk.submit(submission(applicant=typed), BEFORE)
    received = decided.events[0]
    assert received.applicant.name == "Aarhus Kommune"  # the register's legal name
    assert received.applicant.region_code == "1082" and received.applicant.kind == "municipality"
    assert received.register_revision == 3


def test_a_typed_municipality_that_contradicts_the_register_is_refused() -> None:
    desk = Desk()
    decided = desk.submit(submission(applicant=applicant(municipality_code="101")), BEFORE)
    assert names(decided) == ["SubmissionInvalid"] and decided.answer == "invalid"
    assert _codes(decided) == [("applicant_register_mismatch", "applicant.municipality_code")]
    assert "751" in decided.receipt.reasons[0].message  # type: ignore[union-attr]


def test_a_typed_region_or_kind_that_contradicts_the_register_is_refused() -> None:
    desk = Desk()
    wrong = applicant().model_copy(update={"region_code": "1084", "kind": "region"})
    decided = desk.submit(submission(applicant=wrong), BEFORE)
    assert _codes(decided) == [("applicant_register_mismatch", "applicant.kind"),
                               ("applicant_register_mismatch", "applicant.region_code")]


def test_typed_values_that_agree_pass_and_an_omitted_kind_is_no_claim() -> None:
    desk = Desk(register=register_of(registered(CVR_AARHUS, "751", "Foreningen Familiehuset",
                                                "voluntary_organisation", revision=7)))
    # The contract's default kind is "municipality", but it was not typed: not a contradiction.
    decided = desk.submit(submission(), BEFORE)
    assert names(decided) == ["ApplicationReceived", "ApplicationAccepted"]
    assert decided.events[0].applicant.kind == "voluntary_organisation"
    typed = applicant().model_copy(update={"region_code": "1082"})
    assert names(Desk().submit(submission(applicant=typed), BEFORE)) == [
        "ApplicationReceived", "ApplicationAccepted"]


def test_a_cvr_not_in_the_register_is_applicant_unknown() -> None:
    desk = Desk()
    typed = applicant(cvr=UNREGISTERED)
    decided = desk.submit(submission(applicant=typed), BEFORE)
    assert _codes(decided) == [("applicant_unknown", "applicant.cvr")]


def test_checks_of_the_cvr_and_municipality_come_first() -> None:
    desk = Desk()
    decided = desk.submit(submission(applicant=applicant(cvr="12345678")), BEFORE)
    assert _codes(decided) == [("cvr_invalid", "applicant.cvr")]
    decided = desk.submit(submission(n=2, applicant=applicant(municipality_code="999")), BEFORE)
    assert _codes(decided) == [("municipality_unknown", "applicant.municipality_code")]


def test_a_pool_that_admits_unregistered_applicants_uses_what_they_typed() -> None:
    pool = published(pool_definition(admits_unregistered_applicants=True))
    desk = Desk(pools=pools_of(pool))
    decided = desk.submit(submission(applicant=applicant(cvr=UNREGISTERED, municipality_code="101")),
                          BEFORE)
    received = decided.events[0]
    assert received.applicant.municipality_code == "101" and received.applicant.region_code == "1084"
    assert received.register_revision is None
    # ...but a registered applicant is still checked against the register.
    mismatch = desk.submit(submission(n=2, application_id=None,
                                      applicant=applicant(municipality_code="101")), BEFORE)
    assert _codes(mismatch) == [("applicant_register_mismatch", "applicant.municipality_code")]
    # ...and a typed region must be the typed municipality's.
    wrong = applicant(cvr=UNREGISTERED, municipality_code="101").model_copy(
        update={"region_code": "1082"})
    refused = desk.submit(submission(n=3, application_id=None, applicant=wrong), BEFORE)
    assert _codes(refused) == [("region_not_of_municipality", "applicant.region_code")]


def test_the_token_decides_before_the_register() -> None:
    desk = Desk()
    decided = desk.submit(submission(applicant=applicant(cvr=CVR_KBH, municipality_code="751")),
                          BEFORE, claims={"sub": "e", "cvr": CVR_AARHUS, "roles": ["applicant"]})
    assert decided.answer == "forbidden" and _codes(decided) == [("cvr_mismatch", "token.cvr")]
