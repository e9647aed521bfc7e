"""The pure domain of the intake service (rules R3–R9).

No I/O, no clock, no random ids: the adapter passes ``now``, verified token claims and the
published pools in, and writes the returned events through its outbox.

Flow of a submission in an adapter::

    parsed = parse_submission(raw)
    if parsed.command is None:
        decision = decide_malformed(state_or_none, parsed, now)
    else:
        state = load(application_id_for(parsed.command)) or ApplicationState(application_id=...)
        decision = decide_submission(state, parsed.command, now, claims=claims, pools=pools,
                                     register=organisations_by_cvr)
    store(evolve_all(state, decision.events)); outbox(decision.events); answer(decision.receipt)
"""

from contracts.reason_codes.intake import REASON_CODES
from services.intake.domain.applicant_identity import (
    Identified,
    RegisterEntry,
    identify_applicant,
)
from services.intake.domain.authorisation import (
    authorise_caseworker,
    authorise_contact,
    authorise_exception_decision,
    authorise_submission,
    authorise_submission_read,
    authorise_submitter,
    contact_reported_by,
    readable_application,
    roles_of,
)
from services.intake.domain.commands import (
    DecideItProblemException,
    ReportItProblem,
    exception_id_for,
)
from services.intake.domain.deadline import COPENHAGEN, deadline_of, is_on_time, local_iso
from services.intake.domain.decision import Answer, Decision, binds_submission_id
from services.intake.domain.it_problem_exceptions import decide_contact, decide_exception_decision
from services.intake.domain.input_errors import (
    ParsedSubmission,
    parse_portal_submission,
    parse_submission,
    reasons_from_validation_error,
)
from services.intake.domain.it_problem_rules import contact_refusal_reasons, covers
from services.intake.domain.outcome import IntakeStatus, intake_outcome
from services.intake.domain.reason_codes import CASEWORKER_REFUSAL_CODES, reason
from services.intake.domain.state import (
    AcceptedVersion,
    ApplicationState,
    ExceptionRecord,
    IntakeEvent,
    RefusedSubmission,
    VersionRecord,
    evolve,
    evolve_all,
    receipt_for,
)
from services.intake.domain.submission_rules import (
    cvr_is_valid,
    validate_budget,
    validate_budget_lines,
    validate_submission,
)
from services.intake.domain.received import application_read, decide_received
from services.intake.domain.token_refusals import (
    decide_token_refusal,
    published_refusal,
    recorded_nowhere,
    token_reason,
)
from services.intake.domain.submissions import (
    application_id_for,
    decide_malformed,
    decide_submission,
)

__all__ = [
    "CASEWORKER_REFUSAL_CODES",
    "COPENHAGEN",
    "REASON_CODES",
    "AcceptedVersion",
    "ApplicationState",
    "DecideItProblemException",
    "Answer",
    "Decision",
    "ExceptionRecord",
    "Identified",
    "IntakeEvent",
    "IntakeStatus",
    "ParsedSubmission",
    "RefusedSubmission",
    "RegisterEntry",
    "ReportItProblem",
    "VersionRecord",
    "application_id_for",
    "application_read",
    "binds_submission_id",
    "authorise_caseworker",
    "authorise_contact",
    "authorise_exception_decision",
    "authorise_submission",
    "authorise_submission_read",
    "authorise_submitter",
    "contact_reported_by",
    "contact_refusal_reasons",
    "covers",
    "cvr_is_valid",
    "deadline_of",
    "decide_contact",
    "decide_exception_decision",
    "decide_malformed",
    "decide_received",
    "decide_submission",
    "decide_token_refusal",
    "evolve",
    "evolve_all",
    "exception_id_for",
    "identify_applicant",
    "intake_outcome",
    "is_on_time",
    "local_iso",
    "parse_portal_submission",
    "parse_submission",
    "published_refusal",
    "readable_application",
    "reason",
    "reasons_from_validation_error",
    "receipt_for",
    "recorded_nowhere",
    "roles_of",
    "token_reason",
    "validate_budget",
    "validate_budget_lines",
    "validate_submission",
]
