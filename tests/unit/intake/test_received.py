"""The one dispatch behind both ways in (domain ``received``), the read rules of a receipt and
an application, and what a refusal recorded nowhere looks like on the portal topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.intake import ApplicationAccepted, SubmissionInvalid, SubmissionUnauthorized
from contracts.refusal import Refusal
from services.intake.domain import (
    ApplicationState,
    Decision,
    application_read,
    authorise_submission_read,
    decide_malformed,
    decide_received,
    decide_submission,
    decide_token_refusal,
    evolve_all,
    parse_submission,
    published_refusal,
    readable_application,
    recorded_nowhere,
    token_reason,
)
from tests.unit.intake.factories import (
    APP, CVR_AARHUS, CVR_KBH, DEADLINE, MS, applicant_claims, pools_of,
    register_of, submission, uid,
)

AT = DEADLINE - MS
APPLICANT = applicant_claims()
NOT_AN_APPLICANT = applicant_claims(roles=("assessor",))


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


VALID = parse_submission(submission().model_dump_json().encode())
MALFORMED = parse_submission(raw({"submission_id": str(uid(7)), "application_id": str(APP),
                                  "pool_id": "p"}))
MALFORMED_BARE = parse_submission(raw({"purpose": ""}))


def decide(parsed: Any, *, refused_token: str | None = None, claims: Any = APPLICANT,
           state: ApplicationState | None = None) -> Decision:
    return decide_received(parsed, AT, refused_token=refused_token, claims=claims, state=state,
                           pools=pools_of(), register=register_of())


# -- which record a submission reads ----------------------------------------------------------------

def test_a_refused_token_reads_no_record() -> None:
    assert application_read(VALID, None) is None
    assert application_read(MALFORMED, None) is None


def test_a_submission_that_parsed_reads_its_application() -> None:
    assert application_read(VALID, APPLICANT) == APP
    # whatever the roles: the content's authorisation is decided on the record (R4)
    assert application_read(VALID, NOT_AN_APPLICANT) == APP


def test_a_malformed_submission_reads_the_record_its_json_names_if_the_caller_may_submit() -> None:
    assert application_read(MALFORMED, APPLICANT) == APP
    assert application_read(MALFORMED, NOT_AN_APPLICANT) is None
    assert application_read(MALFORMED_BARE, APPLICANT) is None


# -- which decision it gets -------------------------------------------------------------------------

@pytest.mark.parametrize("parsed", [VALID, MALFORMED, MALFORMED_BARE])
def test_a_refused_token_is_refused_for_its_token_alone(parsed: Any) -> None:
    decided = decide(parsed, refused_token="token_expired", claims={})
    assert decided == decide_token_refusal(parsed, AT, [token_reason("token_expired")], 401)
    assert decided.answer == "unauthenticated"


def test_a_verifier_code_that_says_too_much_becomes_token_invalid() -> None:
    decided = decide(VALID, refused_token="bad_signature", claims={})
    event = decided.events[0]
    assert isinstance(event, SubmissionUnauthorized)
    assert [r.code for r in event.reasons] == ["token_invalid"]


@pytest.mark.parametrize("parsed", [MALFORMED, MALFORMED_BARE])
def test_a_malformed_submission_from_a_non_applicant_is_forbidden(parsed: Any) -> None:
    decided = decide(parsed, claims=NOT_AN_APPLICANT)
    assert decided.answer == "forbidden"
    assert [type(e) for e in decided.events] == [SubmissionUnauthorized]


def test_a_malformed_submission_is_refused_against_the_record_it_names() -> None:
    state = ApplicationState(application_id=APP)
    assert decide(MALFORMED, state=state) == decide_malformed(state, MALFORMED, AT)
    assert decide(MALFORMED_BARE) == decide_malformed(None, MALFORMED_BARE, AT)
    assert [type(e) for e in decide(MALFORMED_BARE).events] == [SubmissionInvalid]


def test_a_submission_that_parsed_is_decided_on_its_record() -> None:
    state = ApplicationState(application_id=APP)
    assert VALID.command is not None
    decided = decide(VALID, state=state)
    assert decided == decide_submission(state, VALID.command, AT, claims=APPLICANT,
                                        pools=pools_of(), register=register_of())
    assert ApplicationAccepted in [type(e) for e in decided.events]
    with pytest.raises(ValueError):
        decide(VALID, state=None)


# -- refusals recorded nowhere ----------------------------------------------------------------------

def test_only_a_token_or_organisation_refusal_is_recorded_nowhere() -> None:
    token = decide(VALID, refused_token="token_missing", claims={})
    organisation = decide(VALID, claims=applicant_claims(cvr=CVR_KBH),
                          state=ApplicationState(application_id=APP))
    assert recorded_nowhere(token) and recorded_nowhere(organisation)
    accepted = decide(VALID, state=ApplicationState(application_id=APP))
    assert not recorded_nowhere(accepted)
    assert not recorded_nowhere(decide(MALFORMED_BARE))
    assert not recorded_nowhere(Decision())  # a repeat: nothing at all


def test_a_published_refusal_names_no_submission_from_the_body() -> None:
    decided = decide(VALID, refused_token="token_missing", claims={})
    assert decided.events[0].submission_id == VALID.submission_id  # type: ignore[union-attr]
    published = published_refusal(decided)
    assert [e.submission_id for e in published] == [None]  # type: ignore[union-attr]
    assert [e.model_dump(exclude={"submission_id"}) for e in published] == [
        e.model_dump(exclude={"submission_id"}) for e in decided.events]


# -- who may read -----------------------------------------------------------------------------------

def test_a_receipt_is_read_by_the_organisation_that_submitted_it() -> None:
    authorise_submission_read(CVR_AARHUS, CVR_AARHUS)
    for token_cvr, submitter in ((CVR_KBH, CVR_AARHUS), (None, CVR_AARHUS), (None, None)):
        with pytest.raises(Refusal) as refused:
            authorise_submission_read(token_cvr, submitter)
        assert (refused.value.code, refused.value.kind) == ("cvr_mismatch", "forbidden")


def _bound_state() -> ApplicationState:
    state = ApplicationState(application_id=APP)
    assert VALID.command is not None
    decided = decide_submission(state, VALID.command, AT, claims=APPLICANT, pools=pools_of(),
                                register=register_of())
    bound = evolve_all(state, decided.events)
    assert bound.applicant_cvr == CVR_AARHUS
    return bound


def test_an_application_is_read_by_its_organisation_or_a_caseworker() -> None:
    state = _bound_state()
    assert readable_application(state, {"applicant"}, CVR_AARHUS) is state
    assert readable_application(state, {"caseworker"}, None) is state
    assert readable_application(state, {"caseworker"}, CVR_KBH) is state
    with pytest.raises(Refusal) as refused:
        readable_application(state, {"applicant"}, CVR_KBH)
    assert (refused.value.code, refused.value.kind) == ("cvr_mismatch", "forbidden")


def test_an_unbound_or_missing_record_is_unknown_to_applicants() -> None:
    unbound = ApplicationState(application_id=APP)
    assert readable_application(unbound, {"caseworker"}, None) is unbound
    for state, roles in ((unbound, {"applicant"}), (None, {"applicant"}),
                         (None, {"caseworker"})):
        with pytest.raises(Refusal) as refused:
            readable_application(state, roles, CVR_AARHUS)
        assert (refused.value.code, refused.value.kind) == ("application_unknown", "not_found")

