"""The services' checkpoint keys on disk: one folder, one private key per service, one JWKS.

    <dir>/<service>.pem            the key the service signs with (GRANTS_AUDIT_SIGNING_KEY_FILE)
    <dir>/<service>.previous.pem   after a rotation: the old key, which announces the new one
                                   (GRANTS_AUDIT_PREVIOUS_KEY_FILE)
    <dir>/retired/<service>/<kid>.pem   keys rotated out before that (kept only for the JWKS)
    <dir>/audit-jwks.json          every public key, current and old: what auditors get

The embedded stack keeps this folder in ``<home>/keys/audit`` (made on the first ``stack up``,
like the dev token issuer's keys); production makes it with ``grants audit keys init`` on the
machine that holds secrets and distributes only ``audit-jwks.json`` (docs/production.md).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from pathlib import Path

from audit.keys import KeyFileError, Keyring, key_id, load_private_pem, public_jwk
from contracts.topics import PLATFORM_SERVICES
from servicekit.checkpoints import ensure_signing_key

JWKS_NAME = "audit-jwks.json"


def key_file(key_dir: Path, service: str) -> Path:
    return key_dir / f"{service}.pem"


def previous_key_file(key_dir: Path, service: str) -> Path:
    return key_dir / f"{service}.previous.pem"


def jwks_file(key_dir: Path) -> Path:
    return key_dir / JWKS_NAME


def write_jwks(key_dir: Path) -> Path:
    """(Re)write the JWKS from every private key in the folder, keeping every public key it
    already held (a key that was lost still verifies the history it signed); public material
    only."""
    ring = Keyring()
    with contextlib.suppress(OSError, KeyFileError):
        ring = Keyring.from_jwks(jwks_file(key_dir).read_bytes())
    found = [(p.name.split(".", 1)[0], p) for p in key_dir.glob("*.pem")]
    found += [(p.parent.name, p) for p in key_dir.glob("retired/*/*.pem")]
    for service, pem in sorted(found):
        if service in PLATFORM_SERVICES:
            ring.add(public_jwk(load_private_pem(pem.read_bytes()).public_key(), service))
    path = jwks_file(key_dir)
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(ring.to_jwks(), indent=2) + "\n")
    tmp.replace(path)
    return path


def ensure_keys(key_dir: Path, services: tuple[str, ...] = PLATFORM_SERVICES) -> Path:
    """A signing key for every service (made if missing) and the JWKS; returns the JWKS path."""
    for service in services:
        ensure_signing_key(key_file(key_dir, service))
    return write_jwks(key_dir)


def rotate(key_dir: Path, service: str) -> tuple[str, str]:
    """A new key for ``service``; the current one becomes ``.previous`` (it announces the new
    one in its last checkpoint), an older previous one moves to ``retired/``. Returns the old
    and the new key id."""
    current = key_file(key_dir, service)
    if not current.exists():
        raise FileNotFoundError(f"no key of {service} in {key_dir} (run `grants audit keys init`)")
    previous = previous_key_file(key_dir, service)
    if previous.exists():
        old = load_private_pem(previous.read_bytes()).public_key()
        retired = key_dir / "retired" / service / f"{key_id(old, service)}.pem"
        retired.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(previous, retired)
    old_kid = key_id(load_private_pem(current.read_bytes()).public_key(), service)
    shutil.move(current, previous)
    ensure_signing_key(current)
    new_kid = key_id(load_private_pem(current.read_bytes()).public_key(), service)
    write_jwks(key_dir)
    return old_kid, new_kid
