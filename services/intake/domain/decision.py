"""What a ``decide_*`` function returns."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.intake import Receipt

from services.intake.domain.state import IntakeEvent


@dataclass(frozen=True)
class Decision:
    """The events to write through the outbox (in order), and what to answer the caller.

    ``receipt`` is set for submissions (R9). ``http_status`` is the answer an HTTP adapter gives:
    201 a new version or contact was recorded, 200 a repeat or a decision, 403 unauthorised,
    409 the application id belongs to someone else, 422 invalid.
    An empty ``events`` means a repeat: nothing to write.
    """

    events: tuple[IntakeEvent, ...] = ()
    receipt: Receipt | None = None
    http_status: int = 200
