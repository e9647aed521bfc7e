"""The one exception every service's domain raises: a command refused before it had any effect.

Refusals that are facts worth recording (a late version, a rejected budget, an invalid report)
come back as events instead. A :class:`Refusal` means "nothing happened": the adapter writes
nothing and answers with the stable ``code``. It lives in ``contracts`` because the domains may
import only contracts, and because its codes are wire vocabulary (each service's reason-code
table lists them).

``kind`` says what sort of refusal it is, not how a transport answers it: the HTTP edge
(:data:`servicekit.http.REFUSAL_STATUS`) maps it to a status, a consumer records the code.
The same code may be of two kinds (``organisation_unknown`` is ``not_found`` for a lookup and
``invalid`` for a prior award naming an unknown CVR).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from contracts.base import Reason

RefusalKind = Literal["invalid", "forbidden", "not_found", "conflict", "too_large"]
"""invalid: bad input; forbidden: not this caller; not_found: unknown id; conflict: the record
says otherwise; too_large: over a documented size."""


class Refusal(Exception):
    """A refused command: a stable ``code``, a human ``message`` and its ``kind``.

    ``reasons`` lists every structured reason when there is more than one (with a path where one
    applies); ``details`` carries free-text per-field messages (``path: message``) for the
    service's edge to present.
    """

    def __init__(self, code: str, message: str, kind: RefusalKind = "invalid", *,
                 reasons: Sequence[Reason] = (), details: Sequence[str] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.kind: RefusalKind = kind
        self.reasons = tuple(reasons)
        self.details = tuple(details)

    def __repr__(self) -> str:
        return f"Refusal({self.code!r}, {self.message!r}, {self.kind!r})"
