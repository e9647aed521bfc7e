"""Authorisation on already-verified token claims (R4), the pure part.

The adapter verifies the token (signature, issuer, audience, expiry) and answers 401 itself with
``token_missing`` / ``token_invalid`` / ``token_expired``. What is left is a decision on the
claims: which organisation the submitter works for (``cvr``) and what they may do (``roles``).
Every function returns reasons; an empty list means allowed, and every reason here means 403.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from typing import Any, Literal

from contracts.base import Reason
from contracts.refusal import Refusal

from services.intake.domain.reason_codes import reason
from services.intake.domain.state import ApplicationState

Claims = Mapping[str, Any]


def roles_of(claims: Claims) -> frozenset[str]:
    """The ``roles`` claim as a set; anything but a list of strings grants nothing.

    A bare string is refused on purpose: ``"applicant" in "applicant,caseworker"`` would be a
    substring test, not a role test.
    """
    roles = claims.get("roles")
    if not isinstance(roles, list | tuple):
        return frozenset()
    return frozenset(r for r in roles if isinstance(r, str))


def _cvr_reasons(claims: Claims, applicant_cvr: str) -> list[Reason]:
    claimed = claims.get("cvr")
    if not isinstance(claimed, str) or not claimed:
        return [reason("cvr_mismatch", "token.cvr", "the token carries no cvr claim")]
    if claimed != applicant_cvr:
        return [reason("cvr_mismatch", "token.cvr")]
    return []


def _role_reasons(claims: Claims, role: str) -> list[Reason]:
    if role not in roles_of(claims):
        return [reason("role_not_allowed", "token.roles", f"the {role!r} role is required")]
    return []


def authorise_submission(claims: Claims, applicant_cvr: str) -> list[Reason]:
    """An applicant's employee submits: role ``applicant`` and the applicant's own CVR."""
    return _role_reasons(claims, "applicant") + _cvr_reasons(claims, applicant_cvr)


def authorise_submitter(claims: Claims) -> list[Reason]:
    """Before the content names an applicant (a submission that does not parse): the role only."""
    return _role_reasons(claims, "applicant")


def authorise_caseworker(claims: Claims) -> list[Reason]:
    """Caseworker actions (deciding exceptions) need the ``caseworker`` role."""
    return _role_reasons(claims, "caseworker")


def authorise_contact(claims: Claims, applicant_cvr: str) -> list[Reason]:
    """An IT-problem contact comes from the applicant, or is recorded by a caseworker.

    Caseworkers may record it because R6/R7 contacts often arrive by phone or e-mail.
    """
    if "caseworker" in roles_of(claims):
        return []
    return authorise_submission(claims, applicant_cvr)


_CVR = re.compile(r"^[0-9]{8}$")


def contact_reported_by(roles: Set[str], token_cvr: str | None, bound_cvr: str | None
                        ) -> tuple[str, Literal["caseworker", "applicant"]]:
    """Whose IT-problem contact it is and in which role it is recorded (R6/R7): a caseworker
    records it (a phone call) for the organisation the application is bound to; an applicant
    reports it for their own organisation (the token's CVR). A caseworker cannot report for an
    application on record nowhere; an applicant without a valid CVR claim cannot report."""
    if "caseworker" in roles and bound_cvr is not None:
        return bound_cvr, "caseworker"
    if "applicant" in roles and token_cvr and _CVR.match(token_cvr):
        return token_cvr, "applicant"
    if "caseworker" in roles:
        raise Refusal("application_unknown", "no application with this id is on record",
                      "not_found")
    raise Refusal("cvr_mismatch", "the token carries no valid cvr claim", "forbidden")


def authorise_exception_decision(claims: Claims, applicant_cvr: str | None) -> list[Reason]:
    """A caseworker decides, never the applicant (R8), and the decision names its maker."""
    reasons = authorise_caseworker(claims)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        reasons.append(reason("subject_missing", "token.sub"))
    # A token with both roles from the applicant's own organisation would let the applicant
    # decide its own exception; the organisation claim settles it.
    if applicant_cvr is not None and claims.get("cvr") == applicant_cvr:
        reasons.append(reason("decider_is_applicant", "token.cvr"))
    return reasons


def authorise_submission_read(token_cvr: str | None, submitter_cvr: str | None) -> None:
    """A receipt is read by the organisation that submitted it (the index's submitter CVR),
    never by a token without a CVR."""
    if token_cvr is None or token_cvr != submitter_cvr:
        raise Refusal("cvr_mismatch", "the submission is not your organisation's", "forbidden")


def readable_application(state: ApplicationState | None, roles: Set[str],
                         token_cvr: str | None) -> ApplicationState:
    """An application's record as its reader may see it: a caseworker any record; an applicant
    only their organisation's. A record bound to no applicant (only refused submissions named
    it) is unknown to applicants, so it tells a stranger nothing."""
    caseworker = "caseworker" in roles
    if state is None or (state.applicant_cvr is None and not caseworker):
        raise Refusal("application_unknown", "no application with this id", "not_found")
    if not caseworker and token_cvr != state.applicant_cvr:
        raise Refusal("cvr_mismatch", "the application is not your organisation's", "forbidden")
    return state
