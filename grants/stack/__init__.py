"""The embedded local stack: tansu broker, PostgreSQL, topics, databases, service processes.

Public API:
- ``EmbeddedStack(home=None, *, durable=True, die_with_parent=False)`` with ``up``, ``down``,
  ``load_state``, ``is_up``, ``start_service``, ``stop_service``, ``restart_service``,
  ``kill_service``; ``StackState`` / ``ServiceProcess`` describe what is running.
- ``start_broker`` / ``ensure_topics`` (any Kafka-compatible broker) and ``start_postgres`` /
  ``create_database`` / ``drop_database`` for tests and tools that need only one piece.
"""

from grants.stack._proc import free_port, port_open
from grants.stack.broker import (
    BrokerError,
    BrokerProcess,
    ensure_topics,
    ensure_topics_sync,
    start_broker,
    tansu_binary,
)
from grants.stack.postgres import (
    PostgresError,
    PostgresProcess,
    create_database,
    create_databases,
    drop_database,
    pg_bin_dir,
    start_postgres,
)
from grants.stack.supervisor import (
    ALL_SERVICES,
    DATABASES,
    BrokerState,
    EmbeddedStack,
    PostgresState,
    ServiceProcess,
    StackError,
    StackState,
    default_home,
    service_available,
)

__all__ = [
    "ALL_SERVICES",
    "DATABASES",
    "BrokerError",
    "BrokerProcess",
    "BrokerState",
    "EmbeddedStack",
    "PostgresError",
    "PostgresProcess",
    "PostgresState",
    "ServiceProcess",
    "StackError",
    "StackState",
    "create_database",
    "create_databases",
    "default_home",
    "drop_database",
    "ensure_topics",
    "ensure_topics_sync",
    "free_port",
    "pg_bin_dir",
    "port_open",
    "service_available",
    "start_broker",
    "start_postgres",
    "tansu_binary",
]
