"""Session fixtures: a real Kafka-compatible broker and a real PostgreSQL server.

Where they come from is decided in ``tests.infra`` (environment, then testcontainers, then the
embedded binaries). Nothing starts unless a test asks for one of these fixtures, so the pure unit
tests stay fast.

- ``kafka_bootstrap``: ``host:port`` with every platform topic and its ``.dlt`` created.
- ``pg_url``: server URL without a database (``postgresql://postgres@127.0.0.1:PORT``).
- ``fresh_database``: URL of a new, empty database, dropped after the test.
- ``unique_topic_prefix`` / ``fresh_topic``: names and new topics that no other test touches.
- ``private_kafka``: a broker of the test's own, with the platform's topics.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from grants.stack import create_database, drop_database, ensure_topics, start_broker
from tests.infra import kafka_server, kafka_source, postgres_server, private_namespace

_OWN_BASETEMP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    # pytest's default basetemp is /tmp/pytest-of-<user>/pytest-<N>, and each run deletes all
    # but the newest three of them: on a machine where several sessions run the suite at once,
    # that removed the data directories of other sessions' live stacks. A run without
    # --basetemp gets a directory of its own instead (xdist workers inherit the controller's).
    # It is removed after a green run and kept after a red one, for its logs.
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = config.stash[_OWN_BASETEMP] = tempfile.mkdtemp(
            prefix="grants-pytest-")


# Whole stacks first: with pytest-xdist (scripts/test.sh) each worker takes the next module in
# collection order, so the minutes-long fault and end-to-end modules start while the seconds-long
# ones fill the gaps, instead of one of them starting last on one worker while the others idle.
_FIRST = ("tests/reliability/", "tests/e2e/", "tests/browser/", "tests/integration/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, p in enumerate(_FIRST) if path.startswith(p)), len(_FIRST))

    items.sort(key=rank)  # stable: the order inside each group is pytest's


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    own = session.config.stash.get(_OWN_BASETEMP, None)
    if own is not None and exitstatus == 0:
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture(scope="session")
def _kafka_server() -> Iterator[str]:
    with kafka_server() as (bootstrap, _source):
        yield bootstrap


@pytest.fixture(scope="session")
async def kafka_bootstrap(_kafka_server: str) -> str:
    """Bootstrap address of the session's broker, with all platform topics created."""
    await ensure_topics(_kafka_server)
    return _kafka_server


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """Server URL of the session's PostgreSQL, without a database name."""
    with postgres_server() as (url, _source):
        yield url


@pytest.fixture
async def fresh_database(pg_url: str) -> AsyncIterator[str]:
    """A new empty database for this test; yields its full URL and drops it afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    await create_database(pg_url, name)
    try:
        yield f"{pg_url}/{name}"
    finally:
        await drop_database(pg_url, name)


@pytest.fixture
def unique_topic_prefix() -> str:
    """A prefix (``test.<12 hex>``) for topic or group names private to this test."""
    return f"test.{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def fresh_topic(
    kafka_bootstrap: str, unique_topic_prefix: str
) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Factory: ``await fresh_topic(partitions=1, suffix="t")`` creates a private topic and
    returns its name; all of them are deleted after the test."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def make(partitions: int = 1, suffix: str = "t") -> str:
        name = f"{unique_topic_prefix}.{suffix}{len(created)}"
        await ensure_topics(kafka_bootstrap, topics=(), extra={name: partitions})
        created.append(name)
        return name

    try:
        yield make
    finally:
        if created:
            try:
                await admin.delete_topics(created)
            except Exception:  # noqa: BLE001 - best effort: the broker may already be gone at session end
                pass
        await admin.close()


@pytest.fixture
async def private_kafka(request: pytest.FixtureRequest,
                        monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A broker of this test's own, with the platform's topics: for services under test that
    consume platform topics, which other tests fill with their own events on the session's
    broker (those would land in this test's outbox and audit chain), and for a log that must
    hold only what the test wrote. The embedded broker starts in ms; on any other broker
    (``GRANTS_TEST_KAFKA_BOOTSTRAP``, testcontainers) the test gets a namespace of its own on the
    session's broker instead (``GRANTS_NAMESPACE``: its own topics, groups and databases),
    whose topics are deleted afterwards."""
    if kafka_source() != "embedded":
        bootstrap: str = request.getfixturevalue("_kafka_server")
        async with private_namespace(bootstrap, monkeypatch):
            yield bootstrap
        return
    broker = start_broker(die_with_parent=True)
    try:
        await ensure_topics(broker.bootstrap)
        yield broker.bootstrap
    finally:
        broker.stop()
