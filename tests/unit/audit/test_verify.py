"""The log verifier on synthetic logs: what verifies, and the first bad thing it names.

Each failing case was checked to pass (wrongly) with the check it targets removed: without the
prefix comparison in ``check_event`` the edited event is caught only as a root mismatch with no
event named; without ``signature_valid`` the forged checkpoint is accepted; without the retired
set an old key signs after a rotation unnoticed; without the missing-leaf walk a deleted event
leaves the verdict clean (the later checkpoints then fail only as a root mismatch).
"""

from __future__ import annotations

import json
import random

import pytest

from audit.checkpoint import canonical
from audit.keys import KeyFileError, Keyring
from audit.verify import (
    CHECKPOINT_CHAIN_BROKEN, CHECKPOINT_MALFORMED, CHECKPOINT_RETIRED_KEY,
    CHECKPOINT_SIGNATURE_INVALID, CHECKPOINT_UNKNOWN_KEY, EVENT_ALTERED, EVENT_MISSING,
    EVENT_NOT_CHECKPOINTED, HISTORY_REWRITTEN, LogVerifier,
)
from contracts.audit import LEAF_HEADER
from tests.unit.audit.logs import Service, edited, keyring, signer

APPS = "grants.intake.applications.v1"
EXC = "grants.intake.exceptions.v1"
DECISIONS = "grants.assessment.decisions.v1"
FINANCE = "grants.finance.results.v1"


def honest() -> tuple[Service, Service]:
    intake, assessment = Service("intake", signer("intake")), Service("assessment",
                                                                      signer("assessment"))
    for batch in range(5):
        for i in range(7):
            intake.emit(APPS if i % 3 else EXC, f"app-{batch}-{i}", partition=i % 3)
        intake.checkpoint()
        assessment.emit(DECISIONS, f"app-{batch}-0")
        assessment.checkpoint()
    intake.checkpoint()  # a heartbeat: same tree, new time
    return intake, assessment


def run(services: tuple[Service, ...], events=None, checkpoints=None, keys=None, previous=()):
    verifier = LogVerifier(keys or keyring(*services), previous=previous)
    for record in checkpoints if checkpoints is not None else [
            c for s in services for c in s.checkpoints]:
        verifier.add_checkpoint(record)
    folded = [r for r in (events if events is not None else [e for s in services
                                                              for e in s.events])
              if verifier.check_event(r)]
    return verifier.finish(), folded


def codes(report) -> list[str]:
    return [v["invariant"] for v in report.violations]


def test_an_honest_log_verifies_in_any_order() -> None:
    intake, assessment = honest()
    events = [*intake.events, *assessment.events]
    for seed in range(3):
        random.Random(seed).shuffle(events)
        report, folded = run((intake, assessment), events)
        assert report.verified, report.violations
        assert len(folded) == len(events)
        assert report.services["intake"].last_verified.sequence == 6
        assert report.services["intake"].events_verified == 35
        assert report.services["assessment"].last_verified.tree_size == 5


def test_an_edited_event_is_named_and_not_folded() -> None:
    intake, assessment = honest()
    bad = intake.events[12]
    body = json.loads(bad.value)
    events = [edited(e, value=json.dumps({**body, "n": 999}).encode()) if e is bad else e
              for e in [*intake.events, *assessment.events]]
    report, folded = run((intake, assessment), events)
    assert codes(report) == [EVENT_ALTERED]
    v = report.violations[0]
    assert (v["topic"], v["partition"], v["offset"], v["leaf_index"]) == (
        bad.topic, bad.partition, bad.offset, 12)
    assert v["event_id"] == body["event_id"]
    assert len(folded) == len(events) - 1
    # verified up to the checkpoint before it (leaves 0..6 and 7..13: #1 holds, #2 does not)
    assert report.services["intake"].last_verified.sequence == 1


def test_an_event_moved_to_another_key_or_topic_is_altered() -> None:
    intake, assessment = honest()
    moved = intake.events[3]
    for change in ({"key": b"another-app"}, {"topic": EXC if moved.topic == APPS else APPS}):
        events = [edited(e, **change) if e is moved else e for e in intake.events]
        report, _ = run((intake,), events, intake.checkpoints, keys=keyring(intake))
        assert codes(report) == [EVENT_ALTERED], change


def test_a_deleted_event_is_missing() -> None:
    intake, assessment = honest()
    events = [e for e in intake.events if e is not intake.events[20]]
    report, _ = run((intake,), events, intake.checkpoints, keys=keyring(intake))
    assert codes(report) == [EVENT_MISSING]
    assert report.violations[0]["leaf_index"] == 20


def test_a_forged_checkpoint_fails() -> None:
    intake, _ = honest()
    forged = json.loads(intake.checkpoints[2].value)
    forged["checkpoint"]["tree_size"] += 0  # same content ...
    forged["checkpoint"]["root_hash"] = "00" * 32  # ... but another root under the old signature
    records = list(intake.checkpoints)
    records[2] = edited(records[2], value=canonical(forged))
    report, _ = run((intake,), intake.events, records, keys=keyring(intake))
    assert CHECKPOINT_SIGNATURE_INVALID in codes(report)
    assert report.violations[codes(report).index(CHECKPOINT_SIGNATURE_INVALID)]["checkpoint"] == 3


def test_a_checkpoint_by_an_unknown_key_fails() -> None:
    intake, _ = honest()
    intruder = Service("intake", signer("intake"))
    intruder.emit(APPS, "x")
    records = [*intake.checkpoints, intruder.checkpoint(sequence=7)]
    report, _ = run((intake,), intake.events, records, keys=keyring(intake))
    assert codes(report) == [CHECKPOINT_UNKNOWN_KEY]
    # a key is bound to its service: a JWKS entry cannot re-bind intake's key to payments
    jwk = intake.signer.jwk().model_copy(update={"grants_service": "payments"})
    with pytest.raises(KeyFileError):
        Keyring([jwk])


def test_key_rotation_announced_by_the_old_key_verifies_and_retires_it() -> None:
    intake = Service("intake", signer("intake"))
    new = signer("intake")
    intake.emit(APPS, "a")
    intake.checkpoint()
    intake.emit(APPS, "b")
    intake.checkpoint(announce=new.jwk())  # signed by the old key, names the new one
    intake.emit(APPS, "c")
    intake.checkpoint(with_signer=new)
    report, _ = run((intake,), keys=keyring(intake))  # the JWKS knows only the old key
    assert report.verified, report.violations
    assert report.services["intake"].keys == [intake.signer.key_id, new.key_id]
    # the old key signs nothing after the rotation
    intake.emit(APPS, "d")
    intake.checkpoint()
    report, _ = run((intake,), keys=keyring(intake))
    assert codes(report) == [CHECKPOINT_RETIRED_KEY]


def test_a_gap_or_a_rewritten_previous_breaks_the_chain() -> None:
    intake, _ = honest()
    report, _ = run((intake,), intake.events, [c for i, c in enumerate(intake.checkpoints)
                                               if i != 3], keys=keyring(intake))
    assert codes(report) == [CHECKPOINT_CHAIN_BROKEN]
    assert "missing" in report.violations[0]["message"]


def test_a_republished_checkpoint_is_a_duplicate_but_other_content_is_not() -> None:
    intake, _ = honest()
    again = [*intake.checkpoints[:3], intake.checkpoints[2], *intake.checkpoints[3:]]
    report, _ = run((intake,), intake.events, again, keys=keyring(intake))
    assert report.verified and report.services["intake"].duplicates == 1
    other = Service("intake", intake.signer)
    other.emit(APPS, "z")
    report, _ = run((intake,), intake.events, [*intake.checkpoints, other.checkpoint()],
                    keys=keyring(intake))
    assert codes(report) == [CHECKPOINT_CHAIN_BROKEN]


def test_an_event_without_a_leaf_is_not_checkpointed_and_not_folded() -> None:
    intake, _ = honest()
    injected = edited(intake.events[0], headers=(), offset=99)
    report, folded = run((intake,), [*intake.events, injected], intake.checkpoints,
                         keys=keyring(intake))
    assert codes(report) == [EVENT_NOT_CHECKPOINTED]
    assert injected not in folded
    garbage = edited(intake.events[0], headers=((LEAF_HEADER, b"-1"),), offset=100)
    report, _ = run((intake,), [*intake.events, garbage], intake.checkpoints,
                    keys=keyring(intake))
    assert codes(report) == [EVENT_NOT_CHECKPOINTED]


def test_events_after_the_last_checkpoint_are_counted_not_verified() -> None:
    intake, _ = honest()
    late = intake.emit(APPS, "late")
    report, folded = run((intake,), keys=keyring(intake))
    assert report.verified
    assert report.services["intake"].events_after_cut == 1 and late not in folded


def test_inbound_topics_are_folded_and_counted() -> None:
    intake, _ = honest()
    from audit.bundle import BundleRecord

    finance = BundleRecord(FINANCE, 0, 0, b"k", b"{}")
    report, folded = run((intake,), [*intake.events, finance], intake.checkpoints,
                         keys=keyring(intake))
    assert report.verified and finance in folded
    assert report.inbound == {FINANCE: 1}


def test_malformed_checkpoints_are_named() -> None:
    intake, _ = honest()
    records = [edited(intake.checkpoints[0], value=b"not json"), *intake.checkpoints[1:]]
    report, _ = run((intake,), intake.events, records, keys=keyring(intake))
    assert CHECKPOINT_MALFORMED in codes(report)


def test_a_checkpoint_verified_before_must_still_be_there() -> None:
    intake, _ = honest()
    earlier, _ = run((intake,), keys=keyring(intake))
    kept = earlier.services["intake"].last_verified.to_json()
    report, _ = run((intake,), keys=keyring(intake), previous=[kept])
    assert report.verified
    # the history truncated to its first three checkpoints (and their events)
    short = intake.checkpoints[:3]
    report, _ = run((intake,), [e for e in intake.events if int(e.headers[0][1]) < 21], short,
                    keys=keyring(intake), previous=[kept])
    assert codes(report) == [HISTORY_REWRITTEN]
