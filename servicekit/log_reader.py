"""Reading topics from offset 0, knowing where each log ends, on tansu and Apache Kafka alike.

The end of a partition is the high watermark carried by fetch responses. ``end_offsets()``
(ListOffsets) is not used: on the embedded tansu broker it returns the last *batch's* base offset
+ 1, short of the real end when that batch holds several records (INFRA-NOTES). A partition is
caught up when its position has reached the high watermark of a fetch that began after the
caller asked.

Readers use manual assignment under their own group id and never commit: they have no effect on
the live services' consumer groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from contracts.topics import namespaced
from servicekit import aiokafka_private


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value


@functools.cache
def keep_large_buffers_mapped() -> bool:
    """Fix glibc's mmap threshold at its starting 128 KiB, once per process; False where the C
    library has no ``mallopt`` (not glibc). A reader's fetch responses are large, short-lived
    buffers. glibc raises the threshold to the largest mapped block freed (up to 32 MiB), after
    which such buffers come from the heap, and the pages they free there stay resident among a
    replay's long-lived objects (~20 MiB of RSS at 300k events, a third of the fold's own
    memory). At a fixed threshold they stay mapped and go back to the system when freed."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))


@dataclass(frozen=True)
class LogRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int | None = None  # ms, as the broker gave it

    def header(self, name: str) -> str | None:
        return next((v.decode(errors="replace") for k, v in self.headers if k == name), None)


def _record(r: ConsumerRecord) -> LogRecord:
    return LogRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()),
                     r.timestamp)


async def topic_partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]
                           ) -> list[TopicPartition]:
    """Every partition of ``topics`` (those that exist), in topic order then by number.

    Asks for the metadata of exactly these topics: a metadata request that names no topic is
    answered with every topic by the embedded broker, but with none by Apache Kafka.
    """
    names = list(topics)
    await aiokafka_private.track_topics(consumer, names)
    return [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t)
                                                                or ())]


class LogReader:
    def __init__(self, bootstrap: str, topics: Iterable[str], *, group_prefix: str = "grants-reader",
                 fetch_max_wait_ms: int = 10, max_records: int = 1000,
                 max_partition_fetch_bytes: int = 1024 * 1024,
                 fetch_max_bytes: int = 8 * 1024 * 1024,
                 client_options: Mapping[str, Any] | None = None) -> None:
        self.bootstrap = bootstrap
        # TLS/SASL keyword arguments (servicekit.kafka_security.client_kwargs) for real clusters.
        self.client_options = dict(client_options or {})
        self.topics = list(topics)
        self.group_id = namespaced(f"{group_prefix}-{uuid.uuid4().hex[:12]}")
        self.fetch_max_wait_ms = fetch_max_wait_ms
        # Small fetches and batches (was 5000 records, 8 MiB a partition, aiokafka's 50 MiB a
        # fetch): a replay's peak RSS at 300k events 172 -> 159 MiB, same CPU time.
        self.max_records = max_records
        self.max_partition_fetch_bytes = max_partition_fetch_bytes
        self.fetch_max_bytes = fetch_max_bytes
        self.consumer: AIOKafkaConsumer | None = None
        self.partitions: list[TopicPartition] = []
        self.rounds = 0
        self.positions: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        keep_large_buffers_mapped()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_wait_ms=self.fetch_max_wait_ms,
            max_partition_fetch_bytes=self.max_partition_fetch_bytes,
            fetch_max_bytes=self.fetch_max_bytes, isolation_level="read_committed",
            **self.client_options,
        )
        await self.consumer.start()
        parts = await topic_partitions(self.consumer, self.topics)
        self.partitions = parts
        self.consumer.assign(parts)
        await self.consumer.seek_to_beginning(*parts)
        self.positions = {tp: 0 for tp in parts}

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
            self.consumer = None

    async def fetch(self, timeout_ms: int = 50) -> list[LogRecord]:
        """One fetch round over all partitions; updates positions and high watermarks."""
        assert self.consumer is not None
        batch = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        records: list[LogRecord] = []
        for tp, rs in batch.items():
            if rs:
                self.positions[tp] = rs[-1].offset + 1
                records += [_record(r) for r in rs]
        self.rounds += 1
        return records

    def at_end(self) -> bool:
        assert self.consumer is not None
        for tp in self.partitions:
            hw = self.consumer.highwater(tp)
            if hw is None or self.positions.get(tp, 0) < hw:
                return False
        return True

    def lag(self) -> int:
        assert self.consumer is not None
        return sum(max(0, (self.consumer.highwater(tp) or 0) - self.positions.get(tp, 0))
                   for tp in self.partitions)

    async def read_to_end(self) -> AsyncIterator[list[LogRecord]]:
        """Yield batches from the current position until every partition is at its end."""
        while True:
            records = await self.fetch()
            if records:
                yield records
            elif self.at_end():
                return


async def wait_caught_up(reader: LogReader, poll: Callable[[], Any] | None = None,
                         timeout_s: float = 30.0) -> None:
    """Wait until a fetch round that started after this call finds every partition at its end.

    Only for a reader whose fetching runs elsewhere (a tail task); ``poll`` is awaited between
    checks when given.
    """
    start_round = reader.rounds
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if reader.rounds > start_round + 1 and reader.at_end():
            return
        if loop.time() > deadline:
            raise TimeoutError(f"event log not caught up after {timeout_s}s (lag {reader.lag()})")
        await asyncio.sleep(0.002)
