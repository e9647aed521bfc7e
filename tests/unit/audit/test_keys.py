"""The checkpoint keys on disk (grants.audit_keys): one key per service, a JWKS that only ever
grows (a lost key's public half still verifies the history it signed), rotation keeping the old
key as the announcer. Checked to fail: ``write_jwks`` rebuilt only from the private keys present
drops the lost key's entry."""

from __future__ import annotations

import json
from pathlib import Path

from audit.keys import Keyring
from grants import audit_keys


def kids(key_dir: Path) -> set[str]:
    return set(Keyring.from_jwks(audit_keys.jwks_file(key_dir).read_bytes()).keys)


def test_init_rotate_and_a_lost_key(tmp_path: Path) -> None:
    audit_keys.ensure_keys(tmp_path)
    first = kids(tmp_path)
    assert {k.split("-")[0] for k in first} == {"intake", "assessment", "payments", "reporting"}
    assert (tmp_path / "intake.pem").stat().st_mode & 0o077 == 0  # private: owner only
    assert "PRIVATE" not in audit_keys.jwks_file(tmp_path).read_text()
    old, new = audit_keys.rotate(tmp_path, "payments")
    assert old in first and new not in first
    assert (tmp_path / "payments.previous.pem").exists()
    assert kids(tmp_path) == first | {new}
    (tmp_path / "intake.pem").unlink()  # lost
    audit_keys.ensure_keys(tmp_path)
    after = kids(tmp_path)
    assert first <= after and len(after) == len(first) + 2
    assert json.loads(audit_keys.jwks_file(tmp_path).read_text())["keys"][0]["grants_service"]
