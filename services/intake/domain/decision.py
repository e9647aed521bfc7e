"""What a ``decide_*`` function returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contracts.intake import Receipt

from services.intake.domain.state import IntakeEvent


Answer = Literal["ok", "created", "unauthenticated", "forbidden", "invalid"]
"""What the caller is told, in the domain's words; the HTTP edge maps it to a status
(``services.intake.handlers.ANSWER_STATUS``)."""


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
