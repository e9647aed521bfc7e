"""How the intake domain uses its reason codes: :func:`reason` builds a :class:`Reason` for a
documented code, and two sets name codes with a role in the rules.

The codes and their meanings are wire vocabulary, in :mod:`contracts.reason_codes.intake`; the
README's table is generated from there, and ``reason`` refuses a code it does not list, so a new
code cannot ship undocumented.
"""

from __future__ import annotations

from contracts.base import Reason
from contracts.reason_codes.intake import REASON_CODES

# What a caseworker may give as the reasons for refusing an exception: the R6–R8 requirements
# they found unmet on closer inspection, or the plain refusal.
CASEWORKER_REFUSAL_CODES = frozenset(
    {
        "documentation_missing",
        "attempt_not_documented",
        "screenshot_missing",
        "screenshot_after_deadline",
        "contact_after_48h",
        "exception_refused",
    }
)

# Reasons a late version is rejected for that are about timing alone; any other reason on a
# rejected late version comes from a refused IT-problem exception.
TIMING_ONLY_CODES = frozenset({"deadline_passed", "submission_outside_exception_window"})


def reason(code: str, path: str | None = None, message: str | None = None) -> Reason:
    """A :class:`Reason` for a documented code; the message defaults to the code's meaning."""
    if code not in REASON_CODES:
        raise KeyError(f"undocumented reason code {code!r}: add it to REASON_CODES")
    return Reason(code=code, path=path, message=REASON_CODES[code] if message is None else message)
