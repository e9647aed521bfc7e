"""Refusing a submission on its token alone (R4), before its content is authorised.

The adapter verifies the token; when that fails (401: missing, invalid, expired) or the token's
roles do not allow submitting at all (403), the submission is refused here with the same receipt
and event on every way in. Nothing is written to an application's record: whoever cannot show a
valid token must not be able to add to someone's application, so the event names the submission
only (``SubmissionUnauthorized`` has no application id).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from contracts.base import Reason
from contracts.intake import SubmissionUnauthorized
from contracts.reason_codes.intake import REASON_CODES

from services.intake.domain.deadline import require_aware
from services.intake.domain.decision import Decision
from services.intake.domain.input_errors import ParsedSubmission
from services.intake.domain.reason_codes import reason
from services.intake.domain.state import IntakeEvent, RefusedSubmission, refused_receipt

# What a token verifier may say beyond the documented codes, as the documented code it means.
_TOKEN_CODES = {"token_missing": "token_missing", "token_expired": "token_expired"}


def token_reason(verifier_code: str) -> Reason:
    """The reason for a token the adapter could not verify; every other failure (bad signature,
    issuer, audience, no keys) is ``token_invalid``, so callers learn nothing about our keys."""
    code = _TOKEN_CODES.get(verifier_code, "token_invalid")
    return reason(code, "token", REASON_CODES[code])


def decide_token_refusal(
    parsed: ParsedSubmission,
    now: datetime,
    reasons: Sequence[Reason],
    status: Literal[401, 403],
) -> Decision:
    """Refuse a submission whose token does not authenticate (401) or may not submit (403).

    ``parsed`` is the submission as far as it parsed: its ids, read best-effort, let the receipt
    and the event name what was refused.
    """
    require_aware(now, "now")
    if not reasons:
        raise ValueError("a token refusal needs at least one reason")
    event = SubmissionUnauthorized(
        submission_id=parsed.submission_id, received_at=now, status=status, reasons=list(reasons)
    )
    refused = RefusedSubmission(
        submission_id=parsed.submission_id,
        received_at=now,
        status="unauthorized",
        reasons=tuple(reasons),
    )
    return Decision(
        events=(event,), receipt=refused_receipt(parsed.application_id, refused),
        answer="unauthenticated" if status == 401 else "forbidden",
    )


def recorded_nowhere(decision: Decision) -> bool:
    """Whether a decision is a refusal for the token or the organisation alone (only
    ``SubmissionUnauthorized``): stored on no application's record and in no index (issue 14),
    answered to an HTTP caller only, published for the portal keyed by the record's key."""
    return bool(decision.events) and all(isinstance(e, SubmissionUnauthorized)
                                         for e in decision.events)


def published_refusal(decision: Decision) -> list[IntakeEvent]:
    """A refusal recorded nowhere as the portal topic gets it: without the submission id, which
    comes from a body whose sender was not allowed to name it (it could be someone else's)."""
    return [e.model_copy(update={"submission_id": None}) for e in decision.events]
