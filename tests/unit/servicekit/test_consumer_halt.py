"""A batch whose failure escapes the consumer (here: the broker refuses its dead letter) is never
acknowledged, and no later batch is either: the later commit would skip the failed records."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from servicekit import consumer as consumer_module
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
        name="g", batch_handler=_never_called, settings=ServiceSettings(), clock=make_clock(False),
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


class FakeKafkaConsumer:
    """The parts of AIOKafkaConsumer the log-reset guard uses, with the group's committed
    offsets as the broker holds them."""

    def __init__(self, committed: dict[Any, int], loading_answers: int = 0) -> None:
        """``loading_answers``: how many first asks are answered with no offsets at all, as
        Kafka does while its coordinator loads the group's offsets after a restart."""
        from aiokafka.structs import OffsetAndMetadata
        committed_md = {tp: OffsetAndMetadata(o, "") for tp, o in committed.items()}
        self.asks = 0

        async def fetch_committed_offsets(partitions: Any) -> dict[Any, Any]:
            self.asks += 1
            if self.asks <= loading_answers:
                return {}
            return {tp: md for tp, md in committed_md.items() if tp in partitions}

        self._coordinator = SimpleNamespace(fetch_committed_offsets=fetch_committed_offsets)
        self.seeks: list[tuple[Any, Any]] = []

    def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def seek_to_beginning(self, *tps: Any) -> None:
        self.seeks += [(tp, "beginning") for tp in tps]


def _guarded(committed: dict[Any, int], loading_answers: int = 0
             ) -> tuple[EventConsumer, FakeKafkaConsumer]:
    consumer = EventConsumer(name="g", batch_handler=_never_called, settings=ServiceSettings(),
                             clock=make_clock(False), pool_provider=lambda: None,  # type: ignore
                             broker_provider=lambda: None)  # type: ignore[arg-type,return-value]
    fake = FakeKafkaConsumer(committed, loading_answers)
    consumer._subscriber = SimpleNamespace(consumer=fake)
    consumer.positions = {"t:0": 133, "t:1": 140}
    return consumer, fake


def _records(*where: tuple[int, int]) -> tuple[Any, ...]:
    return tuple(SimpleNamespace(topic="t", partition=p, offset=o) for p, o in where)


async def test_a_batch_is_processed_when_the_group_offsets_are_where_we_left_them() -> None:
    from aiokafka import TopicPartition
    consumer, fake = _guarded({TopicPartition("t", 0): 133, TopicPartition("t", 1): 150})
    assert await consumer._offsets_still_ours(_records((0, 133), (1, 150)))
    assert fake.seeks == []


async def test_a_broker_that_lost_the_log_sends_the_partition_back_to_its_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded broker restarted empty: no committed offset, and new records reuse the old
    offsets, so a fetch at 133 would skip the new log's first 133 records."""
    from aiokafka import TopicPartition
    monkeypatch.setattr(consumer_module, "OFFSETS_RELOAD_WAIT_S", 1.0)
    consumer, fake = _guarded({TopicPartition("t", 1): 140})
    ok = await consumer._offsets_still_ours(_records((0, 133), (0, 134), (1, 140)))
    assert not ok
    assert (TopicPartition("t", 0), "beginning") in fake.seeks
    assert (TopicPartition("t", 1), 140) in fake.seeks  # the other partition: read again as is
    assert "t:0" not in consumer.positions


async def test_a_lost_commit_resumes_at_the_committed_offset() -> None:
    from aiokafka import TopicPartition
    consumer, fake = _guarded({TopicPartition("t", 0): 100})
    assert not await consumer._offsets_still_ours(_records((0, 133)))
    assert fake.seeks == [(TopicPartition("t", 0), 100)]


async def test_a_durable_broker_still_loading_its_offsets_is_asked_again_not_reset() -> None:
    """Kafka 3.7 right after a restart answers an OffsetFetch with no offsets, and no error, for
    seconds (measured ~2.5 s idle, longer under load): the kept log must not be taken for a lost
    one. Asked again every 0.5 s, the third answer has the offsets: nothing is sought back."""
    from aiokafka import TopicPartition
    consumer, fake = _guarded({TopicPartition("t", 0): 133, TopicPartition("t", 1): 140},
                              loading_answers=3)
    assert await consumer._offsets_still_ours(_records((0, 133), (1, 140)))
    assert fake.seeks == [] and fake.asks == 4
