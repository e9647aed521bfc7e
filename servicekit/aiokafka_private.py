"""Every aiokafka internal the platform reaches into, in this one module, each with why.

aiokafka promises nothing about underscore names, so an upgrade may move or reshape any of them
without a word. They were read against :data:`AIOKAFKA_VERSION` (``requirements.lock``'s pin);
``tests/unit/servicekit/test_aiokafka_private.py`` fails when another aiokafka is installed, or
when an attribute or method used here is gone or has another signature: upgrading aiokafka means
reading each function below against the new release and moving the pin and the test with it.
No other module may touch an aiokafka underscore name (the same test looks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

AIOKAFKA_VERSION = "0.14.0"
"""The aiokafka release the calls below were read against."""

CommittedOffsets = Callable[[set[TopicPartition]], Awaitable[dict[TopicPartition, OffsetAndMetadata]]]


def committed_offsets_fetcher(consumer: Any) -> CommittedOffsets | None:
    """A function asking the group coordinator for the group's committed offsets of a set of
    partitions in ONE OffsetFetch request; a partition without a committed offset is absent from
    its answer (retriable broker errors are retried inside, others raised). ``None`` while the
    consumer has no coordinator (not started).

    Private: ``AIOKafkaConsumer._coordinator`` (a ``GroupCoordinator`` once ``start()`` ran with a
    group id) and its ``fetch_committed_offsets(partitions)``. The public
    ``AIOKafkaConsumer.committed(tp)`` wraps that same call for ONE partition per request: the
    consumer's check before every batch (``EventConsumer._offsets_still_ours``) would pay a
    round trip to the coordinator per partition in the batch instead of one.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None:
        return None
    fetch: CommittedOffsets = coordinator.fetch_committed_offsets
    return fetch


async def track_topics(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> None:
    """Make the consumer's cluster metadata cover exactly ``topics`` (fetched now when one of them
    is new to it), so ``partitions_for_topic`` answers for each topic that exists.

    Private: ``AIOKafkaConsumer._client`` (its ``AIOKafkaClient``) and ``set_topics(topics)``,
    which returns a future of the metadata update it forces. No public call does this without
    joining a group: ``consumer.topics()`` sends a metadata request that names no topic, which
    the embedded broker answers with every topic but Apache Kafka with none (INFRA-NOTES), and
    ``subscribe()`` makes the reader a group member with partitions assigned by the coordinator,
    where the readers need manual assignment of every partition.
    """
    names = list(topics)
    if names:
        await consumer._client.set_topics(names)  # noqa: SLF001 - see the docstring
