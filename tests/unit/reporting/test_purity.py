"""The reporting domain stays pure: no clock, no random ids, no I/O, no service runtime."""

from __future__ import annotations

import ast

import services.reporting.domain as domain
from audit.replay import INVARIANTS
from tests.unit.purity import assert_modules_small, domain_modules

FORBIDDEN_MODULES = {"asyncpg", "aiokafka", "faststream", "fastapi", "httpx", "servicekit",
                     "random", "secrets", "os", "socket", "pathlib", "time", "logging", "structlog"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "uuid1", "uuid4", "open", "print", "getenv"}


def test_domain_imports_nothing_impure() -> None:
    for path in domain_modules(domain):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
                assert not name.startswith("services.") or name.startswith(
                    "services.reporting.domain"), f"{path.name} imports {name}"


def test_domain_reads_no_clock_and_makes_no_ids() -> None:
    for path in domain_modules(domain):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}()"


def test_modules_stay_small() -> None:
    assert_modules_small(domain_modules(domain))


def test_every_reason_code_is_documented_and_well_formed() -> None:
    for table in (domain.REASON_CODES, domain.REFUSAL_CODES, INVARIANTS):
        for code, meaning in table.items():
            assert code.replace("_", "").isalnum() and code == code.lower()
            assert len(meaning) > 20
