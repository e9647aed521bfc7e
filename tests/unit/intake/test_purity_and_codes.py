"""The intake domain stays pure and small, and every reason code it can emit is documented."""

from __future__ import annotations

import re

import services.intake.domain as domain
from services.intake.domain import REASON_CODES, reason
from tests.unit.purity import assert_domain_pure, assert_modules_small, domain_modules

MODULES = domain_modules(domain)
FORBIDDEN_MODULES = {
    "asyncpg", "aiokafka", "faststream", "fastapi", "starlette", "random", "secrets", "time",
    "os", "socket", "httpx", "structlog", "jwt", "servicekit", "pathlib", "subprocess",
}
FORBIDDEN_NAMES = {"now", "today", "utcnow", "uuid1", "uuid4", "urandom", "open", "print"}
# Emitted by the adapter when it cannot verify a token; documented here so the README has them.
ADAPTER_CODES = {"token_missing", "token_invalid", "token_expired"}


def test_domain_imports_nothing_impure() -> None:
    assert_domain_pure(MODULES, forbidden_modules=FORBIDDEN_MODULES,
                       forbidden_names=FORBIDDEN_NAMES, own_package="services.intake.domain")


def test_modules_stay_small() -> None:
    assert_modules_small(MODULES)


def _source_without_the_table() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in MODULES if p.name != "reason_codes.py")


def test_every_code_passed_to_reason_or_refusal_is_documented() -> None:
    used = set(re.findall(r'(?:reason|Refusal)\(\s*"([a-z_0-9]+)"', _source_without_the_table()))
    assert used, "the pattern found nothing: it is out of date"
    assert used <= set(REASON_CODES)


def test_every_documented_code_is_emitted_somewhere() -> None:
    source = _source_without_the_table()
    quoted = set(re.findall(r'"([a-z][a-z0-9_]*)"', source))
    assert set(REASON_CODES) - ADAPTER_CODES <= quoted


def test_codes_are_snake_case_with_a_meaning() -> None:
    for code, meaning in REASON_CODES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert meaning.strip() and "\n" not in meaning


def test_codes_the_scenarios_name_exist() -> None:
    assert {"deadline_passed", "contact_after_48h", "screenshot_missing", "budget_total_mismatch"} <= set(
        REASON_CODES
    )


def test_an_undocumented_code_cannot_be_emitted() -> None:
    import pytest

    with pytest.raises(KeyError):
        reason("made_up_code")
    assert reason("cvr_invalid", "applicant.cvr").message == REASON_CODES["cvr_invalid"]
