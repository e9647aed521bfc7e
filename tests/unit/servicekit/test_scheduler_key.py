"""The scheduler's leader lock key: stable per service, a signed 64-bit PostgreSQL bigint."""

from __future__ import annotations

from servicekit.scheduler import leader_lock_key


def test_the_key_is_a_stable_signed_bigint_per_service() -> None:
    keys = {name: leader_lock_key(name) for name in ("intake", "assessment", "payments",
                                                     "reporting")}
    assert len(set(keys.values())) == 4
    assert all(-(2**63) <= k < 2**63 for k in keys.values())
    assert leader_lock_key("payments") == keys["payments"]
    # not the relay's or the migrations' small constants
    assert not {0x7265_6C61, 0x6D69_6772} & set(keys.values())
