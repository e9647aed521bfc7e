"""Every stable reason code, collected from the contracts and servicekit, rendered for the README.

``python -m grants.reason_codes`` rewrites the README section between the markers; a test fails
when a service gains a code the README does not document. The tables are wire vocabulary
(:mod:`contracts.reason_codes`), so this imports no service.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import audit.verify as audit_verify
from contracts.reason_codes import assessment, intake, payments, reporting
from contracts.topic_manifest import MANIFEST_CODES
from servicekit.admission import ADMISSION_CODES
from servicekit.consumer import DEAD_LETTER_CODES
from servicekit.http_guard import EDGE_CODES

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- reason-codes:start -->"
END = "<!-- reason-codes:end -->"


ADAPTER_CODES: dict[str, str] = {
    "token_wrong_issuer": "the token's issuer (iss) is not the configured identity broker (401)",
    "token_wrong_audience": "the token's audience (aud) is not this platform (401)",
    "token_unverifiable": "the service has no issuer keys configured, so no token verifies (401)",
    "submission_unknown": "intake: no submission with this id (404)",
    "pool_not_found": "reporting: no event names this pool (404)",
    "scheduler_not_configured": "the service runs no scheduler of time-driven rules (404)",
    "scheduler_not_leader": "another instance holds the scheduler's lock; ask that one (409)",
    "scheduler_rule_failed": "a scheduled rule failed; the run is retried (503)",
}
"""Codes the adapters (routes, servicekit) answer with, outside the domains' tables."""

# How a code is emitted in the source: a refusal's first argument (after an HTTP status), a
# reason(...) call, or an ``"error": "<code>"`` answer.
_EMITTED = re.compile(
    r"""(?:Refusal|Refused|AuthError|_refuse\w*|reason)\(\s*(?:\d{3}\s*,\s*)?["']([a-z][a-z0-9_]+)["']"""
    r"""|["']error["']\s*:\s*["']([a-z][a-z0-9_]+)["']""")
_SOURCES = ("services", "servicekit", "audit", "contracts")


def emitted_codes(root: Path | None = None) -> set[str]:
    """Every reason code the code emits, collected from the source (not from the tables)."""
    base = root or README.parent
    found: set[str] = set()
    for folder in _SOURCES:
        for path in (base / folder).rglob("*.py"):
            for match in _EMITTED.finditer(path.read_text(encoding="utf-8")):
                found.add(match.group(1) or match.group(2))
    return found


def tables() -> list[tuple[str, dict[str, str]]]:
    out = [
        ("every service — the HTTP edge (servicekit, before or around any route)",
         {**EDGE_CODES, **ADMISSION_CODES}),
        ("every service — other refused commands and operations (adapters)", ADAPTER_CODES),
        ("every consumer — dead letters (`dlt-error-code` header)",
         {**DEAD_LETTER_CODES, **MANIFEST_CODES}),
        ("intake — submissions, tokens, deadline, IT-problem exceptions (R3–R9)",
         intake.REASON_CODES),
        ("assessment — eligibility, once per applicant, allocation (R1, R2, R10–R13)",
         assessment.REASON_CODES),
        ("assessment — refused commands (HTTP errors)", assessment.REFUSAL_CODES),
        ("payments — acceptance, lapse, budgets, holds, refused commands (R14–R19)",
         payments.REASON_CODES),
        ("reporting — reports, accounts, repayment (R20–R22)", reporting.REASON_CODES),
        ("reporting — refused commands (HTTP errors)", reporting.REFUSAL_CODES),
        ("audit — verifying the log from signed checkpoints alone (R23, `grants audit`)",
         audit_verify.VERIFICATION_CODES),
    ]
    return out


def render() -> str:
    parts = [START]
    for title, codes in tables():
        parts.append(f"\n**{title}**\n\n| code | meaning |\n|---|---|")
        parts += [f"| `{code}` | {meaning} |" for code, meaning in sorted(codes.items())]
    parts.append("\n" + END)
    return "\n".join(parts)


def updated_readme(text: str) -> str:
    block = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not block.search(text):
        raise SystemExit(f"README has no {START} … {END} block")
    return block.sub(lambda _: render(), text)


def main() -> int:
    text = README.read_text()
    new = updated_readme(text)
    if "--check" in sys.argv:
        return 0 if new == text else 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
