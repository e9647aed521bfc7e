"""Export the JSON Schema of every event and command, and keep example messages of each.

    python -m contracts.export            # rewrite contracts/schemas, add new examples
    python -m contracts.export --check    # exit 1 if a schema is stale or an example not kept

Schemas are ``schemas/<EventType>.v<schema_version>.json`` (commands ``<Name>.command.v1.json``)
and always show today's models. Examples are **add-only**:
``examples/<EventType>/v<schema_version>/<label>.json`` (``typical``, ``minimal`` — only what is
required —, and the edge cases of ``contracts.examples.EDGE_CASES``). Export never overwrites or
deletes one: when today's example differs from every kept one, it is added as
``<label>-<hash>.json``. So the kept examples are messages older producers really wrote, and
``tests/contracts`` checks that today's schemas and models still accept every one of them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from contracts.audit import SignedCheckpoint
from contracts.examples import EDGE_CASES, EXAMPLE_COMMANDS, EXAMPLE_PAYLOADS, example_envelope
from contracts.intake import PortalSubmission, SubmitApplication
from contracts.registry import EVENTS, spec_for

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
EXAMPLES = HERE / "examples"
COMMANDS: dict[str, Any] = {"PortalSubmission": PortalSubmission, "SubmitApplication": SubmitApplication}
# Messages that are neither events nor commands: the audit topics' signed checkpoints.
MESSAGES: dict[str, Any] = {"SignedCheckpoint": SignedCheckpoint}


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def schemas() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for spec in EVENTS.values():
        schema = spec.envelope.model_json_schema()
        schema["$id"] = f"urn:grants:{spec.topic.name}:{spec.event_type}:v{spec.schema_version}"
        schema["x-topic"] = spec.topic.name
        files[SCHEMAS / f"{spec.event_type}.v{spec.schema_version}.json"] = _dump(schema)
    for name, model in COMMANDS.items():
        files[SCHEMAS / f"{name}.command.v1.json"] = _dump(model.model_json_schema())
    for name, model in MESSAGES.items():
        files[SCHEMAS / f"{name}.message.v1.json"] = _dump(model.model_json_schema())
    return files


def _minimal(envelope: Any) -> dict[str, Any]:
    """The envelope as a producer that sends only what is required would write it."""
    data: dict[str, Any] = json.loads(envelope.model_dump_json(exclude_defaults=True))
    data["payload"] = json.loads(envelope.payload.model_dump_json(exclude_defaults=True))
    return data


def examples() -> list[tuple[Path, str, dict[str, Any]]]:
    """Today's examples: (directory, label, message)."""
    out: list[tuple[Path, str, dict[str, Any]]] = []
    for payload in EXAMPLE_PAYLOADS:
        spec = spec_for(payload)
        envelope = example_envelope(payload)
        folder = EXAMPLES / spec.event_type / f"v{spec.schema_version}"
        out.append((folder, "typical", json.loads(envelope.model_dump_json())))
        out.append((folder, "minimal", _minimal(envelope)))
    for label, payloads in EDGE_CASES.items():
        for payload in payloads:
            spec = spec_for(payload)
            folder = EXAMPLES / spec.event_type / f"v{spec.schema_version}"
            out.append((folder, label, json.loads(example_envelope(payload).model_dump_json())))
    for name, command in EXAMPLE_COMMANDS.items():
        out.append((EXAMPLES / name / "v1", "typical", json.loads(command.model_dump_json())))
    return out


def schema_for_example(path: Path) -> Path:
    """``examples/<Name>/v<N>/<label>.json`` -> the schema file of that name and version."""
    name, version = path.parent.parent.name, path.parent.name
    for candidate in (f"{name}.{version}.json", f"{name}.command.{version}.json",
                      f"{name}.message.{version}.json"):
        if (SCHEMAS / candidate).exists():
            return SCHEMAS / candidate
    raise FileNotFoundError(f"no schema for example {path}")


def kept_examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*/v*/*.json"))


def _unkept(folder: Path, label: str, message: dict[str, Any]) -> Path | None:
    """Where to add ``message``, or None when a kept example already says exactly that."""
    kept = sorted(folder.glob("*.json")) if folder.exists() else []
    if any(json.loads(k.read_text()) == message for k in kept):
        return None
    path = folder / f"{label}.json"
    if path.exists():
        digest = hashlib.sha256(_dump(message).encode()).hexdigest()[:8]
        path = folder / f"{label}-{digest}.json"
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed files are stale")
    args = parser.parse_args(argv)
    stale = []
    rendered = schemas()
    for path, text in rendered.items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    for folder, label, message in examples():
        unkept = _unkept(folder, label, message)
        if unkept is not None:
            stale.append(unkept)
            if not args.check:
                folder.mkdir(parents=True, exist_ok=True)
                unkept.write_text(_dump(message))
    if args.check and stale:
        print("out of date (run python -m contracts.export):", *map(str, stale), sep="\n  ")
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(rendered)} schemas and "
          f"{len(kept_examples())} kept examples, {len(stale)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
