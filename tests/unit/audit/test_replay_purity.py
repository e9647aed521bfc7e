"""The auditors' replay (``audit.replay``) is a pure fold: no I/O, no clock, no random ids, no
service code, and its modules stay small (import-linter also keeps it to ``contracts``)."""

from __future__ import annotations

import audit.replay as replay_package
from audit.replay import INVARIANT_RULE, INVARIANTS
from tests.unit.purity import assert_domain_pure, assert_modules_small, domain_modules

MODULES = domain_modules(replay_package)


def test_the_replay_is_pure() -> None:
    assert {p.stem for p in MODULES} >= {"fold", "checks", "models", "projection", "state"}
    assert_domain_pure(
        MODULES,
        forbidden_modules={"asyncpg", "aiokafka", "faststream", "fastapi", "httpx", "servicekit",
                           "services", "grants", "random", "secrets", "os", "socket", "time",
                           "logging", "structlog"},
        forbidden_names={"now", "utcnow", "today", "uuid1", "uuid4", "open", "print", "getenv"},
        own_package="audit.replay")


def test_modules_stay_small() -> None:
    assert_modules_small(MODULES)


def test_every_invariant_is_documented_with_its_rule() -> None:
    assert set(INVARIANT_RULE) == set(INVARIANTS)
    for code, meaning in INVARIANTS.items():
        assert code.replace("_", "").isalnum() and code == code.lower() and len(meaning) > 20
