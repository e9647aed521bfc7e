"""GRANTS_NAMESPACE: one setting prefixes every topic, consumer group and default database, read
when a name is formed (never frozen at import), and empty means exactly the contracts' names."""

from __future__ import annotations

import pytest

from audit import verify
from contracts import topics
from contracts.topics import NAMESPACE_ENV, base_name, emitting_service, namespaced
from grants.audit import AUDIT_TOPIC_NAMES, DEAD_LETTER_TOPICS
from grants.provision import owner_of
from servicekit.settings import ServiceSettings


def test_without_a_namespace_every_name_is_the_contracts_own(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.delenv(NAMESPACE_ENV, raising=False)
    assert topics.INTAKE_APPLICATIONS.name == "grants.intake.applications.v1"
    assert topics.INTAKE_APPLICATIONS.dead_letter == "grants.intake.applications.v1.dlt"
    settings = ServiceSettings(service_name="intake")
    assert (settings.group_id, settings.database_name) == ("grants-intake", "intake")


def test_a_namespace_prefixes_topics_groups_and_databases(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv(NAMESPACE_ENV, "t7ab")
    assert topics.INTAKE_APPLICATIONS.name == "t7ab.grants.intake.applications.v1"
    assert topics.INTAKE_APPLICATIONS.dead_letter == "t7ab.grants.intake.applications.v1.dlt"
    assert set(topics.EVENT_TOPICS) >= {"t7ab.grants.assessment.decisions.v1"}
    assert all(n.startswith("t7ab.") for n in [*topics.EVENT_TOPICS, *AUDIT_TOPIC_NAMES,
                                               *DEAD_LETTER_TOPICS, *topics.all_topic_names()])
    settings = ServiceSettings(service_name="intake")
    assert (settings.group_id, settings.database_name) == ("t7ab.grants-intake", "t7ab_intake")
    # an explicit database is taken as given (tests hand each service a fresh one)
    assert ServiceSettings(service_name="intake", database="x").database_name == "x"


def test_names_are_parsed_back_without_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAMESPACE_ENV, "t7ab")
    decisions = topics.ASSESSMENT_DECISIONS.name
    assert base_name(decisions) == "grants.assessment.decisions.v1"
    assert emitting_service(decisions) == "assessment"
    assert owner_of(decisions) == "assessment"
    assert verify._AUDIT_TOPIC_SERVICE[base_name(topics.audit_topic("payments").name)] == \
        "payments"
    assert emitting_service(topics.FINANCE_RESULTS.name) is None


def test_the_namespace_is_read_when_a_name_is_formed(monkeypatch: pytest.MonkeyPatch) -> None:
    names = topics.EVENT_TOPICS  # a module-level sequence stays right when the namespace changes
    monkeypatch.setenv(NAMESPACE_ENV, "a1")
    assert names[0].startswith("a1.")
    monkeypatch.setenv(NAMESPACE_ENV, "b2")
    assert names[0].startswith("b2.") and namespaced("x", "_") == "b2_x"


@pytest.mark.parametrize("bad", ["Upper", "1starts_with_digit", "has.dot", "has-dash",
                                 "x" * 31, "white space"])
def test_a_namespace_that_is_not_a_safe_identifier_is_refused(
        monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(NAMESPACE_ENV, bad)
    with pytest.raises(ValueError, match=NAMESPACE_ENV):
        topics.INTAKE_APPLICATIONS.name  # noqa: B018


def test_the_topic_manifest_guards_a_namespaced_topic_too(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Issue 14's manifest is keyed by base names: under a namespace a forged GrantAwarded on the
    finance topic is still refused (it was not, when the manifest froze names at import)."""
    from contracts.topic_manifest import EVENT_TYPE_NOT_ALLOWED, ROLE_NOT_ALLOWED, refusal

    monkeypatch.setenv(NAMESPACE_ENV, "t7ab")
    finance = topics.FINANCE_RESULTS.name
    assert finance.startswith("t7ab.")
    assert refusal(finance, "GrantAwarded", "finance") == EVENT_TYPE_NOT_ALLOWED
    assert refusal(finance, "PaymentExecuted", "caseworker") == ROLE_NOT_ALLOWED
    assert refusal(finance, "PaymentExecuted", "finance") is None
    assert refusal(topics.ASSESSMENT_DECISIONS.name, "PaymentExecuted", "assessor") \
        == EVENT_TYPE_NOT_ALLOWED
