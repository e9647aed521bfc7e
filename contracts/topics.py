"""Every Kafka topic of the platform, named once.

Names follow ``grants.<service>.<family>.v<major>``; a breaking contract change is a new topic
version, never an in-place change. Dead-letter topics are ``<topic>.dlt``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str

    @property
    def dead_letter(self) -> str:
        return f"{self.name}.dlt"


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
EVENT_TOPICS: tuple[str, ...] = tuple(
    t.name for t in ALL_TOPICS if t is not PORTAL_SUBMISSIONS and t not in AUDIT_TOPICS)


def emitting_service(topic: str) -> str | None:
    """The platform service whose outbox publishes ``topic`` (``grants.<service>.<family>.v<n>``),
    or None for the inbound topics outside systems publish (portal, finance)."""
    parts = topic.split(".")
    if len(parts) >= 4 and parts[0] == "grants" and parts[1] in PLATFORM_SERVICES:
        return parts[1]
    return None


def all_topic_names(*, with_dead_letters: bool = True) -> list[str]:
    names = [t.name for t in ALL_TOPICS]
    if with_dead_letters:
        names += [t.dead_letter for t in ALL_TOPICS]
    return names
