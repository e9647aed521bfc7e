"""The organisation register (R2, R4): reading register files, and deciding its changes.

Assessment owns the register as it owns pools. Two ways to change it, one event per change
(``OrganisationRecorded``, the register's history):

- **a register file**, one per source (``deploy/register/*.csv`` on the embedded stack; the CVR
  register's export in production), versioned by content like a pool: loading the same content
  again changes nothing; other content is the source's next version, whose new and changed rows
  become events, followed by one ``RegisterSourceLoaded``. A file with an invalid row is refused
  as a whole (``register_invalid``), every bad row named by line and field. A later version
  adds and changes entries, it never removes one (decisions and prior awards keep naming it).
- **a caseworker's change** of one entry over HTTP (``decide_change``).

Two file formats (:func:`parse_register_file`):

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

Pure: no I/O, no clock; the adapter passes the current entries of the CVRs concerned and the
register's revision.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.assessment import PriorAwardImported
from contracts.register import Organisation, OrganisationRecorded, RegisterSourceLoaded
from services.assessment.domain.errors import DomainRefusal

RegisterFormat = Literal["grants-register-csv", "cvr-permanent-jsonl"]
CSV_COLUMNS = ("cvr", "name", "kind", "municipality_code", "region_code")
MAX_PROBLEMS = 100  # named in a refusal; the message says how many more there were

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


class RegisterEntry(BaseModel):
    """What the register holds for one CVR: the organisation and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    organisation: Organisation
    entry_version: int
    revision: int
    source: str

    @classmethod
    def from_event(cls, event: OrganisationRecorded) -> RegisterEntry:
        return cls(organisation=event.organisation, entry_version=event.entry_version,
                   revision=event.revision, source=event.source)


@dataclass(frozen=True)
class ParsedFile:
    """A register file that validated: its organisations in file order, and what was skipped."""

    format: RegisterFormat
    organisations: tuple[Organisation, ...]
    skipped: int
    content_hash: str


def _refuse(problems: list[str], what: str) -> DomainRefusal:
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    message = f"{what}: {len(problems)} invalid row(s)" + (f", {more} not listed" if more else "")
    return DomainRefusal("register_invalid", message, 422, tuple(shown))


def _row_problems(line: int, error: ValidationError) -> list[str]:
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
            problems += _row_problems(line, exc)
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
        raise DomainRefusal("register_invalid", f"{what}: the header must be "
                            f"{','.join(CSV_COLUMNS)} (region_code optional)", 422,
                            tuple([f"line 1: {c}: missing column" for c in missing]
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
    raise DomainRefusal("register_invalid", f"unknown register format {fmt!r}", 422)


def format_of(filename: str) -> RegisterFormat:
    """The format a file name implies: ``.csv`` the project's, ``.jsonl`` / ``.ndjson`` CVR's."""
    return "cvr-permanent-jsonl" if filename.endswith((".jsonl", ".ndjson")) \
        else "grants-register-csv"


def _recorded(current: RegisterEntry | None, organisation: Organisation, revision: int,
              source: str, source_version: int | None, changed_by: str) -> OrganisationRecorded:
    return OrganisationRecorded(
        revision=revision, entry_version=1 if current is None else current.entry_version + 1,
        change="created" if current is None else "updated", organisation=organisation,
        previous=None if current is None else current.organisation, source=source,
        source_version=source_version, changed_by=changed_by)


@dataclass(frozen=True)
class SourceVersion:
    """The version of a register source in force (``None`` before its first load)."""

    source: str
    version: int
    content_hash: str


RegisterEvent = OrganisationRecorded | RegisterSourceLoaded


def decide_load(source: str, parsed: ParsedFile, in_force: SourceVersion | None,
                current: Mapping[str, RegisterEntry], revision: int,
                changed_by: str) -> list[RegisterEvent]:
    """Load a parsed file as ``source``'s next version: ``[]`` when its content is the version
    in force; else an ``OrganisationRecorded`` per new or changed row (revisions from
    ``revision + 1``, in file order) and the ``RegisterSourceLoaded`` that closes the load.

    ``current`` holds the register's entries for the file's CVRs (others may be left out).
    """
    if in_force is not None and in_force.content_hash == parsed.content_hash:
        return []
    version = 1 if in_force is None else in_force.version + 1
    events: list[RegisterEvent] = []
    for organisation in parsed.organisations:
        entry = current.get(organisation.cvr)
        if entry is not None and entry.organisation == organisation:
            continue
        revision += 1
        events.append(_recorded(entry, organisation, revision, source, version, changed_by))
    events.append(RegisterSourceLoaded(
        source=source, source_version=version, content_hash=parsed.content_hash,
        format=parsed.format, rows=len(parsed.organisations), changed=len(events),
        unchanged=len(parsed.organisations) - len(events), revision=revision))
    return events


def decide_change(current: RegisterEntry | None, raw: Any, revision: int,
                  changed_by: str) -> OrganisationRecorded | None:
    """A caseworker creates or changes one entry: the event, or ``None`` when the entry already
    says exactly this. An invalid entry is refused naming each field (``register_invalid``)."""
    try:
        organisation = Organisation.model_validate(raw)
    except ValidationError as exc:
        details = tuple(p.removeprefix("line 0: ") for p in _row_problems(0, exc))
        raise DomainRefusal("register_invalid", "; ".join(details), 422, details) from exc
    if current is not None and current.organisation == organisation:
        return None
    return _recorded(current, organisation, revision + 1, "caseworker", None, changed_by)


def evolve_entry(current: RegisterEntry | None, event: OrganisationRecorded) -> RegisterEntry:
    """The entry after an event; an older or repeated event leaves a newer entry as it is."""
    if current is not None and current.revision >= event.revision:
        return current
    return RegisterEntry.from_event(event)


def prior_award(programme: str, pool_id: str, cvr: str | None, municipality_code: str | None,
                entry: RegisterEntry | None,
                municipality_entries: list[RegisterEntry]) -> PriorAwardImported:
    """An award from an earlier round, naming its grantee (R2).

    By CVR: the register's entry gives the municipality and kind (a municipality given as well
    must be the entry's); a CVR not in the register needs its municipality. By municipality
    alone: the municipality's own award (``kind`` municipality), which counts for whatever
    entry of kind municipality applies for it; the CVR is recorded when the register holds
    exactly one such entry (``municipality_entries``: its entries of kind municipality).
    """
    if cvr is None and municipality_code is None:
        raise DomainRefusal("organisation_unknown", "a prior award names a cvr or a "
                            "municipality_code", 422)
    if cvr is None:
        assert municipality_code is not None
        own = municipality_entries[0].organisation.cvr if len(municipality_entries) == 1 else None
        return PriorAwardImported(programme=programme, municipality_code=municipality_code,
                                  pool_id=pool_id, cvr=own, kind="municipality")
    if entry is None:
        if municipality_code is None:
            raise DomainRefusal("organisation_unknown", "the CVR is not in the register; name "
                                "its municipality_code too", 422)
        return PriorAwardImported(programme=programme, municipality_code=municipality_code,
                                  pool_id=pool_id, cvr=cvr)
    registered = entry.organisation
    if municipality_code is not None and municipality_code != registered.municipality_code:
        raise DomainRefusal("applicant_register_mismatch",
                            f"the register has this CVR in municipality "
                            f"{registered.municipality_code}, not {municipality_code}", 422)
    return PriorAwardImported(programme=programme, municipality_code=registered.municipality_code,
                              pool_id=pool_id, cvr=cvr, kind=registered.kind)
