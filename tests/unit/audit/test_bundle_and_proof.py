"""The offline bundle (bytes round-trip exactly; an altered or smuggled file is named; hostile
paths and oversized lines are refused) and one grant's proof (verifies with the public keys
alone; fails when an event, the checkpoint or the key is not what was signed).

Checked to fail without the checks: ``Bundle.check`` returning [] lets the altered file through;
dropping the path pattern in ``Bundle.__init__`` accepts ``../manifest`` entries; a proof
verifier that skips ``signature_valid`` accepts the re-rooted checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit import merkle, proof
from audit.bundle import MAX_LINE, Bundle, BundleError, BundleWriter
from audit.checkpoint import canonical
from audit.keys import Keyring
from audit.verify import LogVerifier
from tests.unit.audit.logs import Service, keyring, signer

APPS = "grants.intake.applications.v1"


def small() -> Service:
    intake = Service("intake", signer("intake"))
    for i in range(9):
        intake.emit(APPS, f"app-{i % 3}", partition=i % 3)
        if i % 4 == 3:
            intake.checkpoint()
    intake.checkpoint()
    return intake


def write(root: Path, intake: Service) -> dict:
    w = BundleWriter(root)
    for c in intake.checkpoints:
        w.add("checkpoints", c.topic, c.partition, c.offset, c.key, c.value, c.headers)
    for e in intake.events:
        w.add("events", e.topic, e.partition, e.offset, e.key, e.value, e.headers, 1700)
    w.add("events", APPS, 0, 99, b"\xff\xfe", b"\x00\xffnot utf-8", [("h", b"\xff")])
    return w.close(keyring(intake).to_jwks(), {"created_at": "2026-01-05T10:00:00Z"})


def test_a_bundle_round_trips_the_exact_bytes(tmp_path: Path) -> None:
    intake = small()
    write(tmp_path / "b", intake)
    bundle = Bundle(tmp_path / "b")
    assert bundle.check() == []
    events = list(bundle.records("events"))
    assert sorted((e.topic, e.partition, e.offset, e.key, e.value, e.headers) for e in events) \
        == sorted([(e.topic, e.partition, e.offset, e.key, e.value, e.headers)
                   for e in intake.events] + [(APPS, 0, 99, b"\xff\xfe", b"\x00\xffnot utf-8",
                                               (("h", b"\xff"),))])
    verifier = LogVerifier(Keyring.from_jwks(bundle.jwks()))
    for c in bundle.records("checkpoints"):
        verifier.add_checkpoint(c)
    for e in events:
        verifier.check_event(e)
    report = verifier.finish()
    assert [v["invariant"] for v in report.violations] == ["event_not_checkpointed"]  # the raw one


def test_an_altered_or_added_file_is_named(tmp_path: Path) -> None:
    write(tmp_path / "b", small())
    path = tmp_path / "b" / "events" / f"{APPS}.ndjson"
    path.write_bytes(path.read_bytes().replace(b"app-1", b"app-7", 1))
    (tmp_path / "b" / "events" / "smuggled.ndjson").write_text("{}\n")
    problems = Bundle(tmp_path / "b").check()
    assert any(p.startswith(f"events/{APPS}.ndjson") and "altered" in p for p in problems)
    assert any(p.startswith("events/smuggled.ndjson") for p in problems)


def test_hostile_manifests_and_lines_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "b"
    write(root, small())
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"].append({"path": "../../etc/passwd", "sha256": "0" * 64})
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="outside the bundle"):
        Bundle(root)
    root2 = tmp_path / "c"
    write(root2, small())
    path = root2 / "events" / f"{APPS}.ndjson"
    path.write_bytes(b'{"topic": "' + b"x" * (MAX_LINE + 10) + b'"}\n')
    with pytest.raises(BundleError, match="over"):
        list(Bundle(root2).records("events"))
    with pytest.raises(BundleError, match="not an audit bundle"):
        Bundle(tmp_path)
    with pytest.raises(BundleError, match="not empty"):
        BundleWriter(root2)


def make_proof(intake: Service, key: str) -> dict:
    tree = merkle.MerkleTree(intake.leaves)
    mine = [proof.ProvenEvent("intake", e.topic, e.partition, e.offset, e.key, e.value,
                              int(e.headers[0][1])) for e in intake.events if e.key == key.encode()]
    last = intake.checkpoints[-1]
    return proof.build("app-1", mine, {"intake": tree},
                       {"intake": (json.loads(last.value)["checkpoint"]["tree_size"], last.value)},
                       {}, keyring(intake).to_jwks())


def test_one_grant_verifies_on_its_own_and_fails_when_an_event_changes() -> None:
    intake = small()
    doc = json.loads(json.dumps(make_proof(intake, "app-1")))  # as written to a file
    verdict = proof.verify(doc, keyring(intake))
    assert verdict.ok and verdict.verified == 3, verdict.problems
    changed = json.loads(json.dumps(doc))
    body = json.loads(changed["events"][1]["value"]["text"])
    changed["events"][1]["value"]["text"] = json.dumps({**body, "n": 42})
    verdict = proof.verify(changed, keyring(intake))
    assert not verdict.ok and verdict.verified == 2
    assert "event 2" in verdict.problems[0]


def test_a_proof_against_a_forged_checkpoint_or_an_unknown_key_fails() -> None:
    intake = small()
    doc = make_proof(intake, "app-1")
    forged = json.loads(doc["checkpoints"]["intake"]["record"])
    forged["checkpoint"]["root_hash"] = "11" * 32
    doc["checkpoints"]["intake"]["record"] = canonical(forged).decode()
    assert "signature" in proof.verify(doc, keyring(intake)).problems[0]
    other = Service("intake", signer("intake"))
    assert "not a known key" in proof.verify(make_proof(intake, "app-1"),
                                             keyring(other)).problems[0]
