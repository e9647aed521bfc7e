"""The one exception the payments domain raises: a command refused before it had any effect.

Refusals that are facts worth recording (a rejected revised budget, an unknown finance result)
come back as events instead. A ``DomainRefusal`` means "nothing happened": the adapter answers
``http_status`` with ``{"error": code, "message": message}`` and writes nothing. Every ``code``
is listed in :data:`services.payments.domain.reasons.REASON_CODES`.
"""

from __future__ import annotations


class DomainRefusal(Exception):
    """A refused command. ``http_status``: 403 not allowed, 404 unknown, 409 conflicts with the
    record, 422 bad input."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status

    def __repr__(self) -> str:
        return f"DomainRefusal({self.code!r}, {self.message!r}, {self.http_status})"
