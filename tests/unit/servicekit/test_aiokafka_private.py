"""The aiokafka internals servicekit.aiokafka_private relies on, pinned to the locked release: an
aiokafka upgrade fails here, loudly and by name, instead of somewhere in a consumer at run time.

When it fails after an upgrade: read each function of servicekit/aiokafka_private.py against the
new aiokafka source, adapt it, then move AIOKAFKA_VERSION and requirements.lock together.
"""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from pathlib import Path

import aiokafka
from aiokafka import AIOKafkaConsumer
from aiokafka.client import AIOKafkaClient
from aiokafka.consumer.group_coordinator import GroupCoordinator

from servicekit import aiokafka_private
from servicekit.aiokafka_private import AIOKAFKA_VERSION

ROOT = Path(__file__).resolve().parents[3]
PROJECT = ("servicekit", "services", "grants", "bench", "console", "contracts", "tests/infra",
           "tests/pipe")


def _locked() -> str:
    found = re.search(r"^aiokafka==(\S+)", (ROOT / "requirements.lock").read_text(), re.M)
    assert found, "requirements.lock pins no aiokafka"
    return found.group(1)


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_the_installed_aiokafka_is_the_locked_one_the_private_calls_were_read_against() -> None:
    assert _locked() == AIOKAFKA_VERSION, (
        "requirements.lock moved aiokafka: read servicekit/aiokafka_private.py against it")
    assert version("aiokafka") == aiokafka.__version__ == AIOKAFKA_VERSION


def test_the_group_coordinator_answers_committed_offsets_as_read() -> None:
    """``consumer._coordinator``: None until ``start()`` (the fetcher then gives None), a
    ``GroupCoordinator`` made by ``start()`` for a consumer with a group id, whose
    ``fetch_committed_offsets(partitions)`` is a coroutine."""
    source = inspect.getsource(AIOKafkaConsumer.__init__)
    assert "self._coordinator = None" in source
    assert "self._coordinator = GroupCoordinator(" in inspect.getsource(AIOKafkaConsumer.start)
    fetch = GroupCoordinator.fetch_committed_offsets
    assert inspect.iscoroutinefunction(fetch) and _parameters(fetch) == ["self", "partitions"]
    # the public call wraps the same one (one partition per request): same answer shape
    assert "self._coordinator.fetch_committed_offsets([partition])" in inspect.getsource(
        AIOKafkaConsumer.committed)
    assert aiokafka_private.committed_offsets_fetcher(None) is None


def test_the_client_tracks_named_topics_as_read() -> None:
    """``consumer._client``: the consumer's ``AIOKafkaClient``, made in ``__init__``; its
    ``set_topics(topics)`` forces a metadata update for topics new to it and returns an
    awaitable of it; ``partitions_for_topic`` reads that client's cluster metadata."""
    assert "self._client = AIOKafkaClient(" in inspect.getsource(AIOKafkaConsumer.__init__)
    assert _parameters(AIOKafkaClient.set_topics) == ["self", "topics"]
    source = inspect.getsource(AIOKafkaClient.set_topics)
    assert "self.force_metadata_update()" in source and "self._topics = set(topics)" in source
    assert "self._client.cluster.partitions_for_topic(topic)" in inspect.getsource(
        AIOKafkaConsumer.partitions_for_topic)


_PRIVATE_USE = re.compile(
    r"\b\w*(?:consumer|producer|kafka|admin)\w*\._(?!_)\w+"  # consumer._client
    r"|getattr\(\s*\w*(?:consumer|producer|kafka|admin)\w*\s*,\s*[\"']_(?!_)")  # getattr(c, "_x"


def test_no_other_module_reaches_into_aiokafka() -> None:
    """The private calls stay in one module: a client object named like a Kafka client
    (``consumer``, ``producer``, ``kafka``, ``admin``) is never asked for an underscore name
    anywhere else in the project's code."""
    offenders = []
    for top in PROJECT:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == ROOT / "servicekit" / "aiokafka_private.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _PRIVATE_USE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
