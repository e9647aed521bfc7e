"""The domain stays pure (no I/O, clock, randomness or infrastructure imports) and every code it
can produce is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import services.assessment.domain as domain
from services.assessment.domain import REASON_CODES, REFUSAL_CODES
from services.assessment.domain.reasons import GATE_REASON_ORDER

DOMAIN = Path(domain.__file__).parent
MODULES = sorted(DOMAIN.glob("*.py"))
FORBIDDEN_MODULES = {"asyncpg", "aiokafka", "faststream", "fastapi", "random", "secrets", "time",
                     "os", "socket", "httpx", "structlog", "sqlalchemy", "servicekit"}
FORBIDDEN_NAMES = {"now", "today", "utcnow", "uuid1", "uuid4", "urandom", "open", "print"}


def test_domain_imports_nothing_impure() -> None:
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
                assert not {a.name for a in node.names} & FORBIDDEN_NAMES, path.name
            else:
                roots = set()
            assert not roots & FORBIDDEN_MODULES, f"{path.name} imports {roots}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in FORBIDDEN_NAMES, f"{path.name} uses .{node.attr}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_NAMES, f"{path.name} calls {node.func.id}"
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "services."):
                assert node.module.startswith("services.assessment.domain"), path.name


def test_modules_stay_small() -> None:
    for path in MODULES:
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, path.name


def test_every_refusal_code_raised_is_documented_and_every_documented_one_is_raised() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in MODULES if p.name != "reasons.py")
    raised = set(re.findall(r'DomainRefusal\(\s*"([a-z_]+)"', source))
    assert raised == set(REFUSAL_CODES)


def test_reason_codes_are_stable_snake_case_and_ordered() -> None:
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", code) for code in REASON_CODES)
    assert set(GATE_REASON_ORDER) <= set(REASON_CODES)
    assert {"already_funded_in_programme", "sub_pool_exhausted", "not_scored",
            "minimum_requirement_not_met"} <= set(REASON_CODES)
    assert all(meaning.strip() for meaning in (*REASON_CODES.values(), *REFUSAL_CODES.values()))
