"""What a ``decide_*`` function returns."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.intake import Receipt

from services.intake.domain.state import IntakeEvent


@dataclass(frozen=True)
class Decision:
    """The events to write through the outbox (in order), and what to answer the caller.

    ``receipt`` is set for submissions (R9). ``http_status`` is the answer an HTTP adapter gives
    (docs/http-api.md): a submission is 200 when decided (new or repeated), 403 unauthorised,
    422 invalid — including an application id that belongs to someone else, whose receipt says
    ``application_id_conflict``; a contact is 201 when recorded, 200 when repeated.
    An empty ``events`` means a repeat: nothing to write.
    """

    events: tuple[IntakeEvent, ...] = ()
    receipt: Receipt | None = None
    http_status: int = 200
