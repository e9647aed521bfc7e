"""Pool definitions (R1): validate, version by content, and the regional sub-pools.

A pool is published as a raw dict (the JSON of ``shared/data/pools/*.json``, DKK amounts). It is
validated with :class:`contracts.pools.PoolDefinition`; every error is reported as
``field.path: message`` so an administrator sees exactly what to fix.

Versioning: the *content hash* is sha256 over the canonical JSON of the validated definition
(sorted keys, no whitespace, defaults filled in, amounts normalised so ``100`` and ``100.00`` are
the same). Publishing content equal to the current version is a no-op (no event); any other
content becomes version n+1 — including a return to an older version's content, because it is a
change from what is in force now.

Sub-pools: an application belongs to the sub-pool of its applicant's region in the organisation
register (the region of its registered address; ``ApplicationVersion.region_code``), never one the
applicant typed. A pool without sub-pools is one pool: its key is
``None`` and its amount the pool's total.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from contracts.assessment import PoolPublished
from contracts.pools import PoolDefinition, content_hash
from contracts.refusal import Refusal
from services.assessment.domain.state import PoolRound


def validation_messages(error: ValidationError) -> tuple[str, ...]:
    """Pydantic errors as ``path: message``. Whole-model checks name their field in the
    message itself (``sub_pools: amounts sum to …``), so they are given as they are."""
    messages = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        text = item["msg"].removeprefix("Value error, ")
        messages.append(f"{path}: {text}" if path else text)
    return tuple(messages)


def parse_pool_definition(raw: dict[str, Any]) -> PoolDefinition:
    """Validate a raw definition; refuse with ``pool_invalid`` naming every field path."""
    if not isinstance(raw, dict):
        raise Refusal("pool_invalid", "a pool definition is a JSON object", "invalid",
                      details=("(root): not an object",))
    try:
        definition = PoolDefinition.model_validate(raw)
    except ValidationError as exc:
        details = validation_messages(exc)
        raise Refusal("pool_invalid", "; ".join(details), "invalid", details=details) from exc
    return definition


def next_pool_version(
    current: PoolPublished | None, raw: dict[str, Any], *, decided: bool = False
) -> PoolPublished | None:
    """Decide a publish: the new version's event, or ``None`` when the content is unchanged.

    ``current`` is the version in force (``None`` for a new pool). ``decided`` says whether any
    application was already decided under it: then the pool is frozen (``pool_decided``), because
    awards name the version and sub-pool amount they were made under.
    """
    definition = parse_pool_definition(raw)
    digest = content_hash(definition)
    if current is not None:
        if definition.pool_id != current.pool_id:
            raise Refusal(
                "pool_mismatch",
                f"definition is for {definition.pool_id!r}, not {current.pool_id!r}", "invalid")
        if digest == current.content_hash:
            return None
        if decided:
            raise Refusal(
                "pool_decided",
                f"pool {current.pool_id!r} has decisions under version {current.version}",
                "conflict")
    return PoolPublished.of(definition, 1 if current is None else current.version + 1)


def publish_pool(state: PoolRound | None, raw: dict[str, Any]) -> PoolPublished | None:
    """Command: publish a pool definition into its round (``None`` for a pool not seen yet)."""
    if state is None:
        return next_pool_version(None, raw)
    if isinstance(raw, dict) and raw.get("pool_id") not in (None, state.pool_id):
        raise Refusal("pool_mismatch",
                      f"definition is for {raw.get('pool_id')!r}, not {state.pool_id!r}", "invalid")
    return next_pool_version(state.pool, raw, decided=state.has_decisions)


def sub_pool_amounts(pool: PoolDefinition) -> dict[str | None, int]:
    """Sub-pool key → amount in øre; a pool without sub-pools is one pool keyed ``None``."""
    if not pool.sub_pools:
        return {None: pool.total_oere}
    return {s.region_code: s.amount_oere for s in pool.sub_pools}


def sub_pool_names(pool: PoolDefinition) -> dict[str | None, str]:
    if not pool.sub_pools:
        return {None: pool.title}
    return {s.region_code: s.region for s in pool.sub_pools}


def decision_region(pool: PoolDefinition, municipality_region: str | None) -> str | None:
    """The region code a decision carries: its sub-pool's key.

    With sub-pools that is the municipality's region; a pool without sub-pools is one pool, so
    decisions carry ``None`` and downstream totals group all its awards together.
    """
    return municipality_region if pool.sub_pools else None
