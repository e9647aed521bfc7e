"""What a ``decide_*`` function returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.intake import Receipt, SubmissionUnauthorized

from services.intake.domain.state import IntakeEvent


Answer = Literal["ok", "created", "unauthenticated", "forbidden", "invalid"]
"""What the caller is told, in the domain's words; the HTTP edge maps it to a status
(``services.intake.views.ANSWER_STATUS``)."""


@dataclass(frozen=True)
class Decision:
    """The events to write through the outbox (in order), and what to answer the caller.

    ``receipt`` is set for submissions (R9). ``answer`` (docs/http-api.md): a submission is
    ``ok`` when decided (new or repeated), ``unauthenticated`` / ``forbidden`` when its token
    does not authenticate / may not submit, ``invalid`` when refused — including an application
    id that belongs to someone else, whose receipt says ``application_id_conflict``; a contact
    is ``created`` when recorded, ``ok`` when repeated.
    An empty ``events`` means a repeat: nothing to write.
    """

    events: tuple[IntakeEvent, ...] = ()
    receipt: Receipt | None = None
    answer: Answer = "ok"


def binds_submission_id(decision: Decision) -> bool:
    """Whether a decided submission binds its submission id to its application (R9).

    A refused token binds nothing: the same submission may come again with a proper token and
    must then take effect, and an id a stranger sent first stays free for its rightful owner.
    Every other decision (accepted, late, invalid) binds it.
    """
    return not any(isinstance(e, SubmissionUnauthorized) for e in decision.events)
