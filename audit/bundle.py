"""The offline audit bundle: the log as published, the public keys and a manifest of hashes.

    DIR/manifest.json                       format, the files with SHA-256 and record counts
    DIR/keys/audit-jwks.json                the services' public checkpoint keys
    DIR/checkpoints/<audit topic>.ndjson    signed checkpoints, in offset order
    DIR/events/<topic>.ndjson               every event topic
    DIR/dead-letters/<topic>.dlt.ndjson     what the services could not process

One JSON object per line: ``topic``, ``partition``, ``offset``, ``timestamp`` (ms, as the broker
gave it), ``key`` and ``value`` exactly as published (a JSON string when the bytes are UTF-8,
else ``key_base64`` / ``value_base64``) and ``headers`` (``[name, value]`` pairs, same rule).
Reading checks every file against the manifest first, refuses paths outside the bundle and
lines over :data:`MAX_LINE` bytes, and never needs more memory than one line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BUNDLE_FORMAT = "grants-audit-bundle/1"
MANIFEST = "manifest.json"
KEYS = "keys/audit-jwks.json"
KINDS = ("checkpoints", "events", "dead-letters")
MAX_LINE = 16 * 1024 * 1024
_FILE = re.compile(r"^(checkpoints|events|dead-letters)/[A-Za-z0-9._-]{1,200}\.ndjson$")


class BundleError(ValueError):
    """The bundle is incomplete, altered or not a bundle; the message names the file."""


@dataclass(frozen=True)
class BundleRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int | None = None

    def header(self, name: str) -> str | None:
        return next((v.decode(errors="replace") for k, v in self.headers if k == name), None)


def _text_or_b64(data: bytes) -> tuple[str, str]:
    try:
        return "", data.decode("utf-8")
    except UnicodeDecodeError:
        return "_base64", base64.b64encode(data).decode()


def record_line(topic: str, partition: int, offset: int, key: bytes | None, value: bytes,
                headers: Any = (), timestamp: int | None = None) -> bytes:
    line: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset,
                            "timestamp": timestamp}
    if key is not None:
        suffix, text = _text_or_b64(key)
        line["key" + suffix] = text
    suffix, text = _text_or_b64(value)
    line["value" + suffix] = text
    out_headers = []
    for name, raw in headers or ():
        suffix, text = _text_or_b64(bytes(raw))
        out_headers.append([name, text] if not suffix else [name, {"base64": text}])
    line["headers"] = out_headers
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def parse_line(raw: bytes, where: str) -> BundleRecord:
    try:
        line = json.loads(raw)
        key = (line["key"].encode() if "key" in line else
               base64.b64decode(line["key_base64"], validate=True) if "key_base64" in line
               else None)
        value = (line["value"].encode() if "value" in line
                 else base64.b64decode(line["value_base64"], validate=True))
        headers = tuple(
            (str(name), v.encode() if isinstance(v, str)
             else base64.b64decode(v["base64"], validate=True))
            for name, v in line.get("headers", []))
        timestamp = line.get("timestamp")
        return BundleRecord(str(line["topic"]), int(line["partition"]), int(line["offset"]),
                            key, value, headers, int(timestamp) if timestamp is not None else None)
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise BundleError(f"{where}: not a bundle record ({type(exc).__name__}: {exc})") from None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class _Open:
    handle: IO[bytes]
    records: int = 0


@dataclass
class BundleWriter:
    """Writes records as they stream in, one file per topic; :meth:`close` writes the
    manifest."""

    root: Path
    files: dict[str, _Open] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if any(self.root.iterdir()):
            raise BundleError(f"{self.root} is not empty: a bundle goes into a new folder")

    def add(self, kind: str, topic: str, partition: int, offset: int, key: bytes | None,
            value: bytes, headers: Any = (), timestamp: int | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(kind)
        name = f"{kind}/{topic}.ndjson"
        if not _FILE.match(name):
            raise BundleError(f"a topic name that cannot be a file name: {topic!r}")
        out = self.files.get(name)
        if out is None:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            out = self.files[name] = _Open(path.open("wb"))
        out.handle.write(record_line(topic, partition, offset, key, value, headers, timestamp))
        out.records += 1

    def touch(self, kind: str, topic: str) -> None:
        """An empty file for a topic that had no records (the manifest lists every topic)."""
        name = f"{kind}/{topic}.ndjson"
        if name not in self.files:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            self.files[name] = _Open(path.open("wb"))

    def close(self, jwks: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        for out in self.files.values():
            out.handle.close()
        keys = self.root / KEYS
        keys.parent.mkdir(parents=True, exist_ok=True)
        keys.write_text(json.dumps(jwks, indent=2) + "\n")
        entries = [{"path": name, "sha256": _sha256_file(self.root / name),
                    "records": out.records} for name, out in sorted(self.files.items())]
        entries.append({"path": KEYS, "sha256": _sha256_file(keys), "records": None})
        manifest = {"format": BUNDLE_FORMAT, **(meta or {}), "files": entries}
        (self.root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return manifest


class Bundle:
    """A bundle on disk, checked against its manifest on opening."""

    def __init__(self, root: Path) -> None:
        self.root = root
        path = root / MANIFEST
        try:
            self.manifest = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise BundleError(f"{root} has no {MANIFEST}: not an audit bundle") from None
        except (ValueError, OSError) as exc:
            raise BundleError(f"{path}: unreadable ({exc})") from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{path}: not a {BUNDLE_FORMAT} manifest")
        self.manifest_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.files: dict[str, dict[str, Any]] = {}
        for entry in self.manifest.get("files", []):
            name = entry.get("path") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not (name == KEYS or _FILE.match(name)):
                raise BundleError(f"{path}: a file entry outside the bundle layout: {name!r}")
            self.files[name] = entry

    def check(self) -> list[str]:
        """Every listed file present with its SHA-256; returns the problems (empty: intact)."""
        problems = []
        for name, entry in sorted(self.files.items()):
            path = self.root / name
            if not path.is_file():
                problems.append(f"{name}: missing")
            elif _sha256_file(path) != entry.get("sha256"):
                problems.append(f"{name}: its SHA-256 differs from the manifest's (altered)")
        for kind in KINDS:
            for path in sorted((self.root / kind).glob("*")):
                if f"{kind}/{path.name}" not in self.files:
                    problems.append(f"{kind}/{path.name}: not in the manifest")
        return problems

    def jwks(self) -> bytes:
        try:
            return (self.root / KEYS).read_bytes()
        except OSError as exc:
            raise BundleError(f"{KEYS}: {exc}") from None

    def records(self, kind: str) -> Iterator[BundleRecord]:
        for name in sorted(n for n in self.files if n.startswith(kind + "/")):
            with (self.root / name).open("rb") as f:
                number = 0
                while True:
                    raw = f.readline(MAX_LINE + 1)
                    if not raw:
                        break
                    number += 1
                    if len(raw) > MAX_LINE:
                        raise BundleError(f"{name}:{number}: a line over {MAX_LINE} bytes")
                    if raw.strip():
                        yield parse_line(raw, f"{name}:{number}")

    def batches(self, kind: str, size: int = 5000) -> Iterator[list[BundleRecord]]:
        batch: list[BundleRecord] = []
        for record in self.records(kind):
            batch.append(record)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
