"""R1: pool definitions are validated, versioned by content, and split into regional sub-pools."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.refusal import Refusal
from services.assessment.domain import (
    content_hash, new_round, next_pool_version, parse_pool_definition, publish_pool,
)
from services.assessment.domain.pools import sub_pool_amounts, sub_pool_names

from .builders import Harness, pool_raw, shared_json


def refusal(raw: object) -> Refusal:
    with pytest.raises(Refusal) as caught:
        parse_pool_definition(raw)  # type: ignore[arg-type]
    return caught.value


def test_both_shared_pools_validate() -> None:
    for name in ("familiehus-2022", "styrket-familiebehandling-2019"):
        pool = parse_pool_definition(shared_json(f"data/pools/{name}.json"))
        assert pool.pool_id == name


def test_errors_name_the_field_path() -> None:
    raw = pool_raw()
    raw["sub_pools"][1]["region_code"] = "12"
    raw["criteria"][0]["id"] = 0
    del raw["title"]
    error = refusal(raw)
    assert error.code == "pool_invalid" and error.kind == "invalid"
    assert "title: Field required" in error.details
    assert any(d.startswith("sub_pools.1.region_code: ") for d in error.details)
    assert any(d.startswith("criteria.0.id: ") for d in error.details)
    assert "sub_pools.1.region_code" in error.message


def test_whole_model_errors_are_reported_with_their_message() -> None:
    error = refusal(pool_raw(total_dkk=3000001))
    assert error.code == "pool_invalid"
    assert any("sub_pools: amounts sum to 3000000 DKK" in d for d in error.details)


def test_unknown_region_is_refused() -> None:
    raw = pool_raw()
    raw["sub_pools"][1]["region_code"] = "9999"
    error = refusal(raw)
    assert error.details == ("sub_pools.1.region_code: 9999 is not a Danish region",)


def test_not_an_object_is_refused() -> None:
    assert refusal(["not", "a", "pool"]).code == "pool_invalid"


def test_hash_is_canonical_over_key_order_amount_spelling_and_defaults() -> None:
    a = parse_pool_definition(pool_raw())
    reordered = dict(reversed(list(pool_raw(total_dkk="3000000.00").items())))
    reordered["fill_with_smaller_after_exhausted"] = True  # the default, now explicit
    assert content_hash(parse_pool_definition(reordered)) == content_hash(a)
    assert content_hash(a).startswith("sha256:") and len(content_hash(a)) == 7 + 64
    assert content_hash(parse_pool_definition(pool_raw(title="Other"))) != content_hash(a)


def test_first_publish_is_version_1_with_the_deadline_in_utc() -> None:
    event = publish_pool(None, pool_raw())
    assert event is not None
    assert (event.pool_id, event.version) == ("example-2025", 1)
    # 15 May is summer time (+02:00) in Copenhagen.
    assert event.deadline == datetime(2025, 5, 15, 10, 0, tzinfo=UTC)
    assert event.content_hash == content_hash(event.definition)


def test_winter_deadline_uses_winter_offset() -> None:
    event = publish_pool(None, pool_raw(deadline_local="2025-01-15T12:00:00"))
    assert event is not None and event.deadline == datetime(2025, 1, 15, 11, 0, tzinfo=UTC)


def test_no_deadline_publishes_none() -> None:
    raw = pool_raw()
    del raw["deadline_local"]
    event = publish_pool(None, raw)
    assert event is not None and event.deadline is None


def test_same_content_again_is_no_new_version_new_content_is_next() -> None:
    h = Harness()
    assert h.publish(pool_raw()) is None
    assert h.publish(pool_raw(total_dkk="3000000.00")) is None
    second = h.publish(pool_raw(title="Renamed"))
    assert second is not None and second.version == 2
    assert h.round.version == 2
    # Going back to the first content is a change from what is in force: version 3.
    third = h.publish(pool_raw())
    assert third is not None and third.version == 3


def test_publishing_another_pools_definition_into_a_round_is_refused() -> None:
    h = Harness()
    with pytest.raises(Refusal) as caught:
        h.publish(pool_raw(pool_id="other-pool"))
    assert caught.value.code == "pool_mismatch"
    current = h.round.pool
    with pytest.raises(Refusal):
        next_pool_version(current, pool_raw(pool_id="other-pool"))


def test_empty_round_gets_version_1() -> None:
    event = publish_pool(new_round("example-2025"), pool_raw())
    assert event is not None and event.version == 1


def test_pool_is_frozen_once_decisions_exist() -> None:
    h = Harness()
    h.submit("A", "101", 100_000_00)
    h.score("A", "assessor-a")
    h.allocate()
    assert h.publish(pool_raw()) is None  # unchanged content is still fine
    with pytest.raises(Refusal) as caught:
        h.publish(pool_raw(title="Changed after decisions"))
    assert (caught.value.code, caught.value.kind) == ("pool_decided", "conflict")


def test_unpublished_round_refuses_work() -> None:
    with pytest.raises(Refusal) as caught:
        _ = new_round("x").definition
    assert (caught.value.code, caught.value.kind) == ("pool_not_published", "not_found")


def test_sub_pools_in_oere_and_a_pool_without_sub_pools_is_one_pool() -> None:
    pool = parse_pool_definition(shared_json("data/pools/familiehus-2022.json"))
    amounts = sub_pool_amounts(pool)
    assert amounts["1084"] == 37_286_602_00
    assert sum(amounts.values()) == pool.total_oere == 126_003_000_00
    assert sub_pool_names(pool)["1081"] == "Nordjylland"
    single = parse_pool_definition(shared_json("data/pools/styrket-familiebehandling-2019.json"))
    assert sub_pool_amounts(single) == {None: 22_600_000_00}
