"""Refusals that produce no event.

Most intake refusals are facts worth recording (a late version, an invalid submission, a refused
IT-problem exception) and therefore come back as events. A few are not: a command that must not
touch the record at all, such as an applicant trying to decide their own exception. Those raise
:class:`DomainRefusal`, which the adapter turns into an HTTP error without writing anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.base import Reason


class DomainRefusal(Exception):
    """A command refused before it had any effect.

    ``code`` is a stable reason code listed in ``REASON_CODES``; ``http_status`` is what an HTTP
    adapter should answer (403 not allowed, 404 unknown, 409 conflicts with the record, 422 bad
    input). ``reasons`` lists every reason when there is more than one (the first is ``code``).
    """

    def __init__(
        self, code: str, message: str, http_status: int, *, reasons: Sequence[Reason] = ()
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.reasons = list(reasons)

    def __repr__(self) -> str:
        return f"DomainRefusal({self.code!r}, {self.message!r}, {self.http_status})"
