"""Fixtures of the reliability tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from grants.stack import ensure_topics, start_broker


@pytest.fixture
async def private_kafka() -> AsyncIterator[str]:
    """A broker of this test's own, with the platform's topics: the services under test consume
    platform topics, which other tests fill with their own events on the session's broker (and
    those would land in this test's outbox and audit chain). The embedded broker starts in ms."""
    broker = start_broker(die_with_parent=True)
    try:
        await ensure_topics(broker.bootstrap)
        yield broker.bootstrap
    finally:
        broker.stop()
