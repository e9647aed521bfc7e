"""The one exception the reporting domain raises: a refused command that produces no event.

Handlers turn it into an HTTP problem response (``http_status``) or, for a command that arrived as
a message, into a recorded refusal. ``code`` is stable and listed in
:data:`services.reporting.domain.reasons.REFUSAL_CODES`.
"""

from __future__ import annotations


class DomainRefusal(Exception):
    """A command the rules refuse. ``details`` carries per-field messages (``path: message``)."""

    def __init__(
        self, code: str, message: str, http_status: int = 422, details: tuple[str, ...] = ()
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.details = tuple(details)

    def __repr__(self) -> str:
        return f"DomainRefusal({self.code!r}, {self.message!r}, {self.http_status})"
