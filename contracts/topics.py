"""Every Kafka topic of the platform, named once.

Names follow ``grants.<service>.<family>.v<major>``; a breaking contract change is a new topic
version, never an in-place change. Dead-letter topics are ``<topic>.dlt``.

A namespace (``GRANTS_NAMESPACE``, empty by default) prefixes every topic as ``<ns>.<name>``, and
consumer groups and databases the same way (``servicekit.settings``), so several stacks or test
sessions can share one Kafka cluster and PostgreSQL server without reading each other's log. It
is read from the environment whenever a name is formed, never at import: a name must not be kept
in a module-level constant.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

NAMESPACE_ENV = "GRANTS_NAMESPACE"
# Valid in a topic name, a consumer group and an unquoted PostgreSQL identifier alike.
_NAMESPACE = re.compile(r"[a-z][a-z0-9_]{0,29}")


@functools.cache
def _checked(value: str) -> str:
    if value and not _NAMESPACE.fullmatch(value):
        raise ValueError(f"{NAMESPACE_ENV}={value!r}: want 1-30 of [a-z0-9_], starting with a "
                         "letter (or empty)")
    return value


def namespace() -> str:
    """The namespace in effect (``GRANTS_NAMESPACE``), ``""`` for none."""
    return _checked(os.environ.get(NAMESPACE_ENV, ""))


def namespaced(name: str, sep: str = ".") -> str:
    """``name`` in the current namespace: ``<ns><sep><name>``, or ``name`` without one."""
    ns = namespace()
    return f"{ns}{sep}{name}" if ns else name


def base_name(topic: str) -> str:
    """``topic`` without the current namespace's prefix (as the contracts name it)."""
    prefix = namespaced("")
    return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic


@dataclass(frozen=True)
class Topic:
    base_name: str
    partitions: int
    description: str

    @property
    def name(self) -> str:
        """The topic's name on the broker: ``base_name`` in the current namespace."""
        return namespaced(self.base_name)

    @property
    def dead_letter(self) -> str:
        return f"{self.name}.dlt"


class TopicNames(Sequence[str]):
    """A tuple-like list of topic names, formed in the namespace in effect when it is read."""

    def __init__(self, names: Callable[[], tuple[str, ...]]) -> None:
        self._names = names

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __repr__(self) -> str:
        return f"TopicNames{self._names()!r}"


# Inbound: portal back ends publish submissions here (commands, not events).
PORTAL_SUBMISSIONS = Topic(
    "grants.portal.submissions.v1", 3, "SubmitApplication commands from portal back ends"
)
INTAKE_APPLICATIONS = Topic(
    "grants.intake.applications.v1", 3, "receipts and deadline decisions on submissions"
)
INTAKE_EXCEPTIONS = Topic(
    "grants.intake.exceptions.v1", 3, "IT-problem exception requests and decisions"
)
ASSESSMENT_POOLS = Topic(
    "grants.assessment.pools.v1", 1,
    "pool versions, imported prior awards and the organisation register (reference data)")
ASSESSMENT_ASSESSMENTS = Topic(
    "grants.assessment.assessments.v1", 3, "eligibility results and assessor scores"
)
ASSESSMENT_DECISIONS = Topic(
    "grants.assessment.decisions.v1", 3, "awards (tilsagn) and rejections"
)
PAYMENTS_GRANTS = Topic(
    "grants.payments.grants.v1", 3, "grant accounts: acceptance, lapse, revised budgets"
)
PAYMENTS_INSTRUCTIONS = Topic(
    "grants.payments.instructions.v1", 3, "payment instructions, holds and releases for finance"
)
# Inbound: finance systems publish the result of each payment instruction here.
FINANCE_RESULTS = Topic(
    "grants.finance.results.v1", 3, "executed/failed results published by finance systems"
)
REPORTING_REPORTS = Topic(
    "grants.reporting.reports.v1", 3, "status and final reports, overdue notices, repayments"
)

# The platform's services: each publishes the topics ``grants.<service>.*`` through its outbox.
PLATFORM_SERVICES: tuple[str, ...] = ("intake", "assessment", "payments", "reporting")


def audit_topic(service: str) -> Topic:
    """Where ``service`` publishes the signed checkpoints of its Merkle tree (contracts.audit);
    one partition, so its checkpoints are in order."""
    return Topic(f"grants.{service}.audit.v1", 1,
                 f"signed checkpoints of the Merkle tree over every event {service} publishes")


AUDIT_TOPICS: tuple[Topic, ...] = tuple(audit_topic(s) for s in PLATFORM_SERVICES)

ALL_TOPICS: tuple[Topic, ...] = (
    PORTAL_SUBMISSIONS,
    INTAKE_APPLICATIONS,
    INTAKE_EXCEPTIONS,
    ASSESSMENT_POOLS,
    ASSESSMENT_ASSESSMENTS,
    ASSESSMENT_DECISIONS,
    PAYMENTS_GRANTS,
    PAYMENTS_INSTRUCTIONS,
    FINANCE_RESULTS,
    REPORTING_REPORTS,
    *AUDIT_TOPICS,
)

# Every topic that carries events (envelopes); the portal topic carries commands, the audit
# topics checkpoints.
EVENT_TOPICS = TopicNames(lambda: tuple(
    t.name for t in ALL_TOPICS if t is not PORTAL_SUBMISSIONS and t not in AUDIT_TOPICS))


def emitting_service(topic: str) -> str | None:
    """The platform service whose outbox publishes ``topic`` (``grants.<service>.<family>.v<n>``),
    or None for the inbound topics outside systems publish (portal, finance)."""
    parts = base_name(topic).split(".")
    if len(parts) >= 4 and parts[0] == "grants" and parts[1] in PLATFORM_SERVICES:
        return parts[1]
    return None


def all_topic_names(*, with_dead_letters: bool = True) -> list[str]:
    names = [t.name for t in ALL_TOPICS]
    if with_dead_letters:
        names += [t.dead_letter for t in ALL_TOPICS]
    return names
