"""State is JSON and rebuilds from the events; the domain is pure; every code is documented."""

from __future__ import annotations

import ast
import json
import re
from datetime import date
from pathlib import Path

from contracts.base import Actor
from contracts.finance import PaymentExecuted, PaymentFailed
from contracts.reporting import ReportOverdue
from services.payments import domain
from services.payments.domain import (
    REASON_CODES,
    GrantAccount,
    HoldBook,
    accept_award,
    apply,
    approve_pending_budget,
    evolve_holds,
    hold_for_overdue_report,
    instruct_due,
    record_result,
    reissue_failed,
    request_reissue,
    submit_revised_budget,
)
from tests.unit.payments.builders import (
    APP_ID,
    APPROVER,
    CASEWORKER,
    CVR,
    DEADLINE,
    GRANTEE,
    MATERIALS,
    STAFF,
    Driver,
    at,
    even_months,
    released_by_two,
)
from tests.unit.purity import assert_modules_small, domain_modules

DOMAIN_DIR = Path(domain.__file__).parent


def lifecycle() -> Driver:
    grant = Driver.for_award(frequency="monthly")
    grant(submit_revised_budget, {"2027-01": {STAFF: 1}}, GRANTEE, CVR)
    grant(accept_award, GRANTEE, CVR, DEADLINE)
    grant(submit_revised_budget, even_months("2023-01", 6, {STAFF: 1_000_000}), GRANTEE, CVR)
    first, second = grant(instruct_due, date(2023, 2, 1), None)
    grant(record_result, PaymentExecuted(instruction_id=first.instruction_id,
                                         amount_oere=first.amount_oere, executed_at=at(2023, 1, 2)))
    grant(record_result, PaymentFailed(instruction_id=second.instruction_id,
                                       failed_at=at(2023, 2, 2), reason="closed"))
    grant(request_reissue, second.instruction_id, CASEWORKER, None, at(2023, 4, 3))
    grant(reissue_failed, second.instruction_id, Actor(id="caseworker-2", role="caseworker"),
          None)
    grant(submit_revised_budget,
          {**even_months("2023-01", 6, {STAFF: 1_000_000}), "2023-06": {MATERIALS: 20_000_000}},
          GRANTEE, CVR)
    grant(approve_pending_budget, 3, CASEWORKER)
    grant(instruct_due, date(2023, 12, 31), None)
    return grant


def test_state_round_trips_through_json() -> None:
    state = lifecycle().state
    stored = json.loads(json.dumps(state.model_dump(mode="json")))
    assert GrantAccount.model_validate(stored) == state


def test_replaying_the_log_rebuilds_the_same_state() -> None:
    grant = lifecycle()
    assert apply(None, grant.log) == grant.state
    # The payloads survive the wire too (JSON out, contract model in).
    wire = [type(e).model_validate_json(e.model_dump_json()) for e in grant.log]
    assert apply(None, wire) == grant.state


def test_hold_book_round_trips_and_replays() -> None:
    report = ReportOverdue(application_id=APP_ID, cvr=CVR, kind="status", due=date(2023, 6, 30))
    events = hold_for_overdue_report(None, report, at(2023, 7, 1))
    book = None
    for event in events:
        book = evolve_holds(book, event)
    assert book is not None
    _, asked, release = released_by_two(book, events[0].hold_id, "a", "b", [APPROVER],
                                        at(2023, 7, 2))
    events += [asked, release]
    replayed = None
    for event in events:
        replayed = evolve_holds(replayed, event)
    assert replayed is not None and not replayed.active_holds
    assert HoldBook.model_validate(json.loads(replayed.model_dump_json())) == replayed


def _codes_in_source() -> set[str]:
    """Every string literal given as a code: Refusal("x", ...), Reason(code="x"),
    reason="x"."""
    found = set()
    for path in DOMAIN_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "Refusal" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(node.args[0].value)
            for keyword in node.keywords:
                if keyword.arg in ("code", "reason") and isinstance(keyword.value, ast.Constant):
                    found.add(keyword.value.value)
    return found


def test_every_code_the_domain_uses_is_documented() -> None:
    used = _codes_in_source()
    assert used, "the scan found no codes; it is broken"
    assert used <= set(REASON_CODES), sorted(used - set(REASON_CODES))


def test_reason_codes_are_stable_identifiers_with_meanings() -> None:
    for code, meaning in REASON_CODES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert meaning.strip()


FORBIDDEN_MODULES = {"asyncpg", "aiokafka", "faststream", "fastapi", "random", "os", "time",
                     "socket", "httpx", "secrets", "servicekit"}


def test_the_domain_is_pure() -> None:
    for path in DOMAIN_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
                names = {alias.name for alias in node.names}
                assert "uuid4" not in names and "uuid1" not in names, path.name
            else:
                roots = set()
            assert not roots & FORBIDDEN_MODULES, (path.name, roots)
            assert not (isinstance(node, ast.Attribute)
                        and node.attr in ("now", "utcnow", "today", "uuid4")), path.name
        # Other services are reached through contracts only.
        for other in ("intake", "assessment", "reporting"):
            assert f"services.{other}" not in path.read_text(), path.name


def test_domain_modules_stay_small() -> None:
    assert_modules_small(domain_modules(domain))
