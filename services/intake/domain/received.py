"""Which decision a received submission gets (R3, R4, R9): the one dispatch behind both ways in
(``POST /submissions`` and the portal topic), and which application record it reads.

The adapter verifies the token; a token it could not verify reaches here as the verifier's code
(``refused_token``), a verified one as its claims. From there:

1. a refused token is refused for its token alone (401), reading no record;
2. a submission that did not parse is refused for the caller's roles (403) before anything else,
   reading no record; else it is refused as malformed (R3), against the record its raw JSON
   names (so a repeat of a known submission id gets its receipt again);
3. a submission that parsed is decided on its application's record (:func:`decide_submission`).

:func:`application_read` and :func:`decide_received` follow the same steps, so the record an
adapter locks is the one the decision reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

from contracts.assessment import PoolPublished

from services.intake.domain.applicant_identity import RegisterEntry
from services.intake.domain.authorisation import Claims, authorise_submitter
from services.intake.domain.decision import Decision
from services.intake.domain.input_errors import ParsedSubmission
from services.intake.domain.state import ApplicationState
from services.intake.domain.submissions import (
    application_id_for,
    decide_malformed,
    decide_submission,
)
from services.intake.domain.token_refusals import decide_token_refusal, token_reason


def application_read(parsed: ParsedSubmission, claims: Claims | None) -> UUID | None:
    """The application whose record deciding ``parsed`` reads (``claims`` None: the token was
    refused), or None when the decision reads none."""
    if claims is None:
        return None
    if parsed.command is None:
        return None if authorise_submitter(claims) else parsed.application_id
    return application_id_for(parsed.command)


def decide_received(
    parsed: ParsedSubmission,
    now: datetime,
    *,
    refused_token: str | None,
    claims: Claims,
    state: ApplicationState | None,
    pools: Mapping[str, PoolPublished],
    register: Mapping[str, RegisterEntry],
    bound_to: UUID | None = None,
) -> Decision:
    """Decide a submission received at ``now``. ``state`` is the record
    :func:`application_read` named (None when it names none); ``pools``, ``register`` and
    ``bound_to`` are as :func:`decide_submission` takes them."""
    if refused_token is not None:
        return decide_token_refusal(parsed, now, [token_reason(refused_token)], 401)
    command = parsed.command
    if command is None:
        denied = authorise_submitter(claims)
        if denied:
            return decide_token_refusal(parsed, now, denied, 403)
        return decide_malformed(state, parsed, now)
    if state is None:
        raise ValueError("a submission that parsed is decided on its application's record")
    return decide_submission(state, command, now, claims=claims, pools=pools, register=register,
                             bound_to=bound_to)
