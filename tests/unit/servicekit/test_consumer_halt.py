"""A batch whose failure escapes the consumer (here: the broker refuses its dead letter) is never
acknowledged, and no later batch is either: the later commit would skip the failed records."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from servicekit.clock import make_clock
from servicekit.consumer import ConsumerHalted, EventConsumer
from servicekit.settings import ServiceSettings


class RefusingBroker:
    async def publish(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("dead-letter topic refused")


class Batch:
    def __init__(self, offset: int) -> None:
        self.raw_message = (SimpleNamespace(topic="t", partition=0, offset=offset, key=b"k",
                                            value=b"not json", headers=()),)
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


async def _never_called(*_: Any) -> None:
    raise AssertionError("no handler runs for an undecodable record")


async def test_an_escaping_failure_halts_the_consumer_and_acknowledges_nothing() -> None:
    stops: list[str] = []
    consumer = EventConsumer(
        name="g", handler=_never_called, settings=ServiceSettings(), clock=make_clock(False),
        pool_provider=lambda: None,  # type: ignore[arg-type,return-value]
        broker_provider=lambda: RefusingBroker(),  # type: ignore[arg-type,return-value]
        on_halt=lambda: stops.append("halt"))
    first, second = Batch(0), Batch(1)
    with pytest.raises(RuntimeError, match="refused"):
        await consumer.consume(first)  # type: ignore[arg-type]
    assert stops == ["halt"] and consumer.halted is not None
    with pytest.raises(ConsumerHalted):
        await consumer.consume(second)  # type: ignore[arg-type]
    assert not first.acked and not second.acked
    assert consumer.positions == {}
