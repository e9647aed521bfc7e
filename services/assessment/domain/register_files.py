"""Reading organisation register files (R2): two formats, every bad row named, nothing stored.

- ``grants-register-csv``: a header ``cvr,name,kind,municipality_code[,region_code]``, one row per
  organisation; ``region_code`` may be left empty (the municipality's region is used) and must
  match the municipality when given.
- ``cvr-permanent-jsonl``: the Danish Business Authority's CVR register as distributed through
  its system-to-system access (the ``cvr-permanent`` Elasticsearch index, one ``Vrvirksomhed``
  document per line, as a scroll over ``virksomhed/_search`` writes them, with or without the
  ``_source`` wrapper). Read: ``cvrNummer``; ``virksomhedMetadata.nyesteNavn.navn``;
  ``virksomhedMetadata.nyesteBeliggenhedsadresse.kommune.kommuneKode``;
  ``virksomhedMetadata.nyesteVirksomhedsform.virksomhedsformkode`` (mapped to a kind by
  :data:`CVR_FORM_KINDS`); ``virksomhedMetadata.sammensatStatus``. Entities that have ceased
  (status in :data:`CVR_CEASED_STATUSES`) or have no Danish municipality are skipped, not
  refused: they cannot apply.

A file with an invalid row is refused as a whole (``register_invalid``), every bad row named by
line and field (the first :data:`MAX_PROBLEMS`), as a pool definition is.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from contracts.register import Organisation
from contracts.refusal import Refusal

RegisterFormat = Literal["grants-register-csv", "cvr-permanent-jsonl"]
CSV_COLUMNS = ("cvr", "name", "kind", "municipality_code", "region_code")
MAX_PROBLEMS = 100  # named in a refusal; the message says how many more there were
MAX_HTTP_FILE_BYTES = 64 * 1024 * 1024  # bigger exports load from GRANTS_REGISTER_FILES


def check_http_file(size: int) -> None:
    """A register file sent over HTTP is bounded (the CVR register's whole export is not)."""
    if size > MAX_HTTP_FILE_BYTES:
        raise Refusal("register_too_large", f"a register file over HTTP is at most "
                      f"{MAX_HTTP_FILE_BYTES} bytes", "too_large")


def register_text(body: bytes) -> str:
    """A register file sent over HTTP is UTF-8 text (``register_invalid`` otherwise)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal("register_invalid", "the file is not UTF-8 text", "invalid") from exc


# Danish business forms (virksomhedsformkode, the CVR register's code list) → applicant kind.
# Anything else (foundations, state units, foreign branches, ...) is "other".
CVR_FORM_KINDS: dict[int, str] = {
    250: "municipality",            # primærkommune
    245: "region",                  # region
    110: "voluntary_organisation",  # forening
    115: "voluntary_organisation",  # frivillig forening
    152: "voluntary_organisation",  # forening med begrænset ansvar
    10: "private_supplier",         # enkeltmandsvirksomhed
    15: "private_supplier",         # personligt ejet mindre virksomhed
    30: "private_supplier",         # interessentskab
    40: "private_supplier",         # kommanditselskab
    60: "private_supplier",         # aktieselskab
    70: "private_supplier",         # kommanditaktieselskab / partnerselskab
    80: "private_supplier",         # anpartsselskab
    81: "private_supplier",         # iværksætterselskab
    151: "private_supplier",        # selskab med begrænset ansvar
}
CVR_CEASED_STATUSES = frozenset({"ophørt", "opløst", "opløst efter konkurs", "tvangsopløst",
                                 "opløst efter fusion", "opløst efter spaltning", "slettet"})


@dataclass(frozen=True)
class ParsedFile:
    """A register file that validated: its organisations in file order, and what was skipped."""

    format: RegisterFormat
    organisations: tuple[Organisation, ...]
    skipped: int
    content_hash: str


def _line(problem: str) -> int:
    head = problem.split(":", 1)[0]
    return int(head.removeprefix("line ")) if head.startswith("line ") else 0


def _refuse(problems: list[str], what: str) -> Refusal:
    shown = sorted(problems, key=_line)[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    message = f"{what}: {len(problems)} invalid row(s)" + (f", {more} not listed" if more else "")
    return Refusal("register_invalid", message, "invalid", details=tuple(shown))


def row_problems(line: int, error: ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"])
        text = item["msg"].removeprefix("Value error, ")
        if not field and ": " in text:  # whole-model checks name their field first
            field, text = text.split(": ", 1)
        out.append(f"line {line}: {field or '(row)'}: {text}")
    return out


def _content_hash(fmt: str, organisations: list[Organisation]) -> str:
    body = json.dumps({"format": fmt, "organisations": sorted(
        (o.model_dump(mode="json") for o in organisations), key=lambda o: o["cvr"])},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _collect(fmt: RegisterFormat, rows: list[tuple[int, dict[str, Any]]], skipped: int,
             problems: list[str], what: str) -> ParsedFile:
    organisations: list[Organisation] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        try:
            organisation = Organisation.model_validate(row)
        except ValidationError as exc:
            problems += row_problems(line, exc)
            continue
        if organisation.cvr in first_line:
            problems.append(f"line {line}: cvr: {organisation.cvr} also on line "
                            f"{first_line[organisation.cvr]}")
            continue
        first_line[organisation.cvr] = line
        organisations.append(organisation)
    if problems:
        raise _refuse(problems, what)
    return ParsedFile(fmt, tuple(organisations), skipped, _content_hash(fmt, organisations))


def parse_register_csv(text: str, what: str = "register file") -> ParsedFile:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS[:4] if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        raise Refusal("register_invalid", f"{what}: the header must be "
                      f"{','.join(CSV_COLUMNS)} (region_code optional)", "invalid",
                      details=tuple([f"line 1: {c}: missing column" for c in missing]
                                  + [f"line 1: {c}: unknown column" for c in unknown]))
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    for number, raw in enumerate(reader, start=2):
        if None in raw:
            problems.append(f"line {number}: (row): more fields than the header has")
            continue
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue  # a blank line
        rows.append((number, row))
    return _collect("grants-register-csv", rows, 0, problems, what)


def _path(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def cvr_document_row(doc: Any) -> dict[str, Any] | None:
    """A register row from one ``Vrvirksomhed`` document; ``None`` for an entity that cannot
    apply (ceased, or no Danish municipality). Values are not judged here."""
    if isinstance(doc, dict) and "_source" in doc:
        doc = doc["_source"]
    if isinstance(doc, dict) and "Vrvirksomhed" in doc:
        doc = doc["Vrvirksomhed"]
    meta = _path(doc, "virksomhedMetadata")
    status = _path(meta, "sammensatStatus")
    if isinstance(status, str) and status.strip().casefold() in CVR_CEASED_STATUSES:
        return None
    municipality = _path(meta, "nyesteBeliggenhedsadresse", "kommune", "kommuneKode")
    if municipality is None:
        return None
    form = _path(meta, "nyesteVirksomhedsform", "virksomhedsformkode")
    number = _path(doc, "cvrNummer")
    return {
        "cvr": f"{number:08d}" if isinstance(number, int) else str(number),
        "name": _path(meta, "nyesteNavn", "navn") or "",
        "kind": CVR_FORM_KINDS.get(form, "other") if isinstance(form, int) else "other",
        "municipality_code": (f"{municipality:03d}" if isinstance(municipality, int)
                              else str(municipality).zfill(3)),
    }


def parse_cvr_jsonl(text: str, what: str = "CVR export") -> ParsedFile:
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    skipped = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: (row): not a JSON document")
            continue
        row = cvr_document_row(doc)
        if row is None:
            skipped += 1
        else:
            rows.append((number, row))
    return _collect("cvr-permanent-jsonl", rows, skipped, problems, what)


def parse_register_file(text: str, fmt: RegisterFormat, what: str = "register file") -> ParsedFile:
    if fmt == "grants-register-csv":
        return parse_register_csv(text, what)
    if fmt == "cvr-permanent-jsonl":
        return parse_cvr_jsonl(text, what)
    raise Refusal("register_invalid", f"unknown register format {fmt!r}", "invalid")


def format_of(filename: str) -> RegisterFormat:
    """The format a file name implies: ``.csv`` the project's, ``.jsonl`` / ``.ndjson`` CVR's."""
    return "cvr-permanent-jsonl" if filename.endswith((".jsonl", ".ndjson")) \
        else "grants-register-csv"
