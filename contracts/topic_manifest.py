"""What each platform topic may carry, declared once next to the topics (issue 14).

Per topic: the event types it accepts (those the registry places on it) and the roles that may
produce them (``None``: the topic's own service, whatever person's action it records). A
consumer dead-letters anything else with the code :data:`EVENT_TYPE_NOT_ALLOWED` or
:data:`ROLE_NOT_ALLOWED`, never applies it: a complete ``GrantAwarded`` published on the finance
topic opened grants in payments and reporting before this check.

The portal topic carries one command only (``PortalSubmission``, judged by intake); the audit
topics carry signed checkpoints (``contracts.audit``). Topics that are not the platform's (a
test's own topic) are not checked here.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import topics as t
from contracts.registry import EVENTS

EVENT_TYPE_NOT_ALLOWED = "event_type_not_allowed_on_topic"
ROLE_NOT_ALLOWED = "producer_role_not_allowed_on_topic"

MANIFEST_CODES: dict[str, str] = {
    EVENT_TYPE_NOT_ALLOWED: "a record's event type is not one its topic carries (e.g. GrantAwarded "
                            "on the finance topic); dead-lettered, never applied",
    ROLE_NOT_ALLOWED: "a record on an inbound topic comes from a role that may not publish there "
                      "(the finance topic: role finance only); dead-lettered, never applied",
}


@dataclass(frozen=True)
class TopicManifest:
    topic: str
    event_types: frozenset[str]
    producer_roles: frozenset[str] | None  # None: not restricted by role

    def refusal(self, event_type: str, role: str) -> str | None:
        """The code that refuses a record of ``event_type`` by ``role`` here; None: accepted."""
        if event_type not in self.event_types:
            return EVENT_TYPE_NOT_ALLOWED
        if self.producer_roles is not None and role not in self.producer_roles:
            return ROLE_NOT_ALLOWED
        return None


# Keyed by the topics' base names: the namespace (GRANTS_NAMESPACE) is read when a record
# arrives, never at import, so a namespaced stack checks its topics like any other.
_INBOUND_ROLES: dict[str, frozenset[str]] = {t.FINANCE_RESULTS.base_name: frozenset({"finance"})}
_EVENT_TOPICS = frozenset(topic.base_name for topic in t.ALL_TOPICS
                          if topic is not t.PORTAL_SUBMISSIONS and topic not in t.AUDIT_TOPICS)

MANIFESTS: dict[str, TopicManifest] = {
    topic.base_name: TopicManifest(
        topic.base_name,
        frozenset(s.event_type for s in EVENTS.values() if s.topic.base_name == topic.base_name),
        _INBOUND_ROLES.get(topic.base_name))
    for topic in t.ALL_TOPICS if topic.base_name in _EVENT_TOPICS
}


def refusal(topic: str, event_type: str, role: str) -> str | None:
    """Why ``topic`` (its name on the broker, in the namespace in effect) refuses an event of
    ``event_type`` from ``role`` (None: accepted, or not a platform topic)."""
    manifest = MANIFESTS.get(t.base_name(topic))
    return None if manifest is None else manifest.refusal(event_type, role)
