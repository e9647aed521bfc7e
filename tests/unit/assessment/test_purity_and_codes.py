"""The domain stays pure (no I/O, clock, randomness or infrastructure imports) and every code it
can produce is documented."""

from __future__ import annotations

import re

import services.assessment.domain as domain
from services.assessment.domain import REASON_CODES, REFUSAL_CODES
from services.assessment.domain.reasons import GATE_REASON_ORDER
from tests.unit.purity import assert_domain_pure, assert_modules_small, domain_modules

MODULES = domain_modules(domain)
FORBIDDEN_MODULES = {"asyncpg", "aiokafka", "faststream", "fastapi", "random", "secrets", "time",
                     "os", "socket", "httpx", "structlog", "sqlalchemy", "servicekit"}
FORBIDDEN_NAMES = {"now", "today", "utcnow", "uuid1", "uuid4", "urandom", "open", "print"}


def test_domain_imports_nothing_impure() -> None:
    assert_domain_pure(MODULES, forbidden_modules=FORBIDDEN_MODULES,
                       forbidden_names=FORBIDDEN_NAMES, own_package="services.assessment.domain")


def test_modules_stay_small() -> None:
    assert_modules_small(MODULES)


def test_every_refusal_code_raised_is_documented_and_every_documented_one_is_raised() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in MODULES)
    raised = set(re.findall(r'Refusal\(\s*"([a-z_]+)"', source))
    assert raised == set(REFUSAL_CODES)


def test_reason_codes_are_stable_snake_case_and_ordered() -> None:
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", code) for code in REASON_CODES)
    assert set(GATE_REASON_ORDER) <= set(REASON_CODES)
    assert {"already_funded_in_programme", "sub_pool_exhausted", "not_scored",
            "minimum_requirement_not_met"} <= set(REASON_CODES)
    assert all(meaning.strip() for meaning in (*REASON_CODES.values(), *REFUSAL_CODES.values()))
