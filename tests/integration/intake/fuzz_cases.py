"""Hypothesis strategies for malformed submissions, and the oracle that says what intake must do.

A case is a recipe, not a body: the test builds a valid submission with fresh ids and applies the
recipe's mutations to it, so no two cases share an id by accident and each one is a first
submission. The oracle is the pure domain itself, run the way the adapter runs it, on the state a
fresh application has: the service must answer exactly what it answers (status, receipt, events).
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from contracts.assessment import PoolPublished
from servicekit.identity import AuthError, TokenVerifier
from services.intake.domain import (
    RegisterEntry,
    ApplicationState,
    Decision,
    ParsedSubmission,
    application_id_for,
    authorise_submitter,
    decide_malformed,
    decide_submission,
    decide_token_refusal,
    token_reason,
)

# A pool nobody publishes, private to this run: other tests read the same topics and may
# count events of a pool id they consider unknown.
UNKNOWN_POOL = f"unpublished-{uuid.uuid4().hex[:10]}"
# Paths into a valid submission (see conftest.valid_submission) that mutations aim at.
PATHS: tuple[tuple[str | int, ...], ...] = (
    ("submission_id",), ("application_id",), ("pool_id",), ("applicant",),
    ("applicant", "cvr"), ("applicant", "municipality_code"), ("applicant", "name"),
    ("applicant", "kind"), ("purpose",), ("target_group",), ("description",),
    ("organisation",), ("anchoring_plan",), ("budget",), ("budget", "lines"),
    ("budget", "lines", 0), ("budget", "lines", 0, "post"), ("budget", "lines", 0, "category"),
    ("budget", "lines", 0, "rate_oere"), ("budget", "lines", 0, "quantity"),
    ("budget", "lines", 0, "amount_oere"), ("budget", "lines", 1, "amount_oere"),
    ("budget", "lines", 1), ("budget", "total_oere"), ("client_sent_at",),
)
OBJECTS = ((), ("applicant",), ("budget",), ("budget", "lines", 0))
NUMBERS = tuple(p for p in PATHS if p[-1] in ("rate_oere", "quantity", "amount_oere",
                                               "total_oere"))

json_scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12,
)
bad_numbers = st.sampled_from([-1, -(10**6), 1.5, 0.1, "100", True, None, [], {}, 10**40,
                               "1e3", -0.0])

mutation = st.one_of(
    st.tuples(st.just("delete"), st.sampled_from(PATHS)),
    st.tuples(st.just("replace"), st.sampled_from(PATHS), json_values),
    st.tuples(st.just("replace"), st.sampled_from(NUMBERS), bad_numbers),
    st.tuples(st.just("add"), st.sampled_from(OBJECTS), st.text(min_size=1, max_size=12),
              json_values),
    st.tuples(st.just("too_long"), st.sampled_from([("purpose",), ("target_group",),
                                                    ("applicant", "name"), ("pool_id",),
                                                    ("description",)])),
    st.tuples(st.just("empty"), st.sampled_from([("purpose",), ("target_group",),
                                                 ("applicant", "name"), ("pool_id",),
                                                 ("budget", "lines", 0, "post")])),
    st.tuples(st.just("business"), st.sampled_from(["total_off", "duplicate_post",
                                                    "salary_mismatch", "no_lines",
                                                    "municipality", "cvr_mod11", "pool",
                                                    "salary_without_rate"])),
)


@dataclass(frozen=True)
class Case:
    """``kind``: ``mutated`` (a valid submission, mutated), ``json`` (any JSON value), ``bytes``
    (any bytes) or ``token`` (a valid submission with a garbage token)."""

    kind: str
    mutations: tuple[Any, ...] = ()
    value: Any = None


cases = st.one_of(
    st.builds(Case, st.just("mutated"), st.lists(mutation, min_size=1, max_size=3).map(tuple)),
    st.builds(Case, st.just("json"), value=json_values),
    st.builds(Case, st.just("bytes"), value=st.binary(max_size=200)),
    st.builds(Case, st.just("token"), value=st.text(max_size=60)),
)


def _parent(doc: Any, path: tuple[str | int, ...]) -> tuple[Any, str | int] | None:
    node = doc
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int)
                                  and path[-1] < len(node)):
        return node, path[-1]
    return None


def _set(doc: Any, path: tuple[str | int, ...], value: Any) -> None:
    found = _parent(doc, path)
    if found is not None:
        node, key = found
        node[key] = value


def _business(doc: dict[str, Any], what: str) -> str | None:
    """Break a business rule; returns a CVR the token must carry, if the change needs one."""
    budget = doc.get("budget") if isinstance(doc.get("budget"), dict) else None
    lines = budget.get("lines") if budget and isinstance(budget.get("lines"), list) else None
    if what == "total_off" and budget is not None:
        budget["total_oere"] = 1
    elif what == "duplicate_post" and lines and isinstance(lines[0], dict):
        lines.append(dict(lines[0], amount_oere=0))
    elif what == "salary_mismatch" and lines and isinstance(lines[0], dict):
        lines[0]["quantity"] = 7
    elif what == "salary_without_rate" and lines and isinstance(lines[0], dict):
        lines[0].pop("rate_oere", None)
    elif what == "no_lines" and budget is not None:
        budget["lines"], budget["total_oere"] = [], 0
    elif what == "municipality":
        _set(doc, ("applicant", "municipality_code"), "999")
    elif what == "pool":
        doc["pool_id"] = UNKNOWN_POOL
    elif what == "cvr_mod11":
        _set(doc, ("applicant", "cvr"), "12345678")
        return "12345678"
    return None


def apply(case: Case, valid: dict[str, Any]) -> tuple[bytes, str | None]:
    """The body a case sends, and the CVR its token must carry if not the usual one."""
    if case.kind == "bytes":
        return bytes(case.value), None
    if case.kind == "json":
        return json.dumps(case.value).encode(), None
    doc = copy.deepcopy(valid)
    token_cvr = None
    for m in case.mutations:
        op = m[0]
        if op == "delete":
            found = _parent(doc, m[1])
            if found is not None:
                node, key = found
                if isinstance(node, dict):
                    node.pop(key, None)
                else:
                    del node[key]
        elif op == "replace":
            _set(doc, m[1], m[2])
        elif op == "add":
            node = doc
            for part in m[1]:
                node = node.get(part) if isinstance(node, dict) else (
                    node[part] if isinstance(node, list) and isinstance(part, int)
                    and part < len(node) else None)
            if isinstance(node, dict) and m[2] not in node:
                node[m[2]] = m[3]
        elif op == "too_long":
            _set(doc, m[1], "x" * 20_001)
        elif op == "empty":
            _set(doc, m[1], "")
        elif op == "business":
            token_cvr = _business(doc, m[1]) or token_cvr
    return json.dumps(doc).encode(), token_cvr


def oracle(parsed: ParsedSubmission, token: str | None, verifier: TokenVerifier,
           now: datetime, pools: dict[str, PoolPublished]) -> Decision:
    """What the adapter must decide for a first submission, by the pure domain alone (with the
    register the service was given, ``conftest.REGISTER``)."""
    from tests.integration.intake.conftest import REGISTER
    register = {o.cvr: RegisterEntry(o, revision) for revision, o in enumerate(REGISTER, 1)}
    try:
        principal = verifier.verify(token)
    except AuthError as refused:
        return decide_token_refusal(parsed, now, [token_reason(refused.code)], 401)
    claims = principal.claims
    if parsed.command is None:
        denied = authorise_submitter(claims)
        if denied:
            return decide_token_refusal(parsed, now, denied, 403)
        state = (ApplicationState(application_id=parsed.application_id)
                 if parsed.application_id is not None else None)
        return decide_malformed(state, parsed, now)
    command = parsed.command
    return decide_submission(ApplicationState(application_id=application_id_for(command)),
                             command, now, claims=claims, pools=pools, register=register)
