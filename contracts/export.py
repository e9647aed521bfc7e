"""Export the JSON Schema of every event and command, and one example message of each.

    python -m contracts.export            # (re)write contracts/schemas and contracts/examples
    python -m contracts.export --check    # exit 1 if the committed files are out of date

Files are named ``<EventType>.v<schema_version>.json``. Example files are never deleted: older
examples stay as the compatibility suite that every later schema must still accept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from contracts.audit import SignedCheckpoint
from contracts.examples import EXAMPLE_COMMANDS, EXAMPLE_PAYLOADS, example_envelope
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


def rendered() -> dict[Path, str]:
    files: dict[Path, str] = {}
    for spec in EVENTS.values():
        schema = spec.envelope.model_json_schema()
        schema["$id"] = f"urn:grants:{spec.topic.name}:{spec.event_type}:v{spec.schema_version}"
        schema["x-topic"] = spec.topic.name
        files[SCHEMAS / f"{spec.event_type}.v{spec.schema_version}.json"] = _dump(schema)
    for payload in EXAMPLE_PAYLOADS:
        spec = spec_for(payload)
        envelope = example_envelope(payload)
        files[EXAMPLES / f"{spec.event_type}.v{spec.schema_version}.json"] = _dump(
            json.loads(envelope.model_dump_json())
        )
    for name, model in COMMANDS.items():
        files[SCHEMAS / f"{name}.command.v1.json"] = _dump(model.model_json_schema())
    for name, model in MESSAGES.items():
        files[SCHEMAS / f"{name}.message.v1.json"] = _dump(model.model_json_schema())
    for name, command in EXAMPLE_COMMANDS.items():
        files[EXAMPLES / f"{name}.command.v1.json"] = _dump(json.loads(command.model_dump_json()))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed files are stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if args.check and stale:
        print("out of date (run python -m contracts.export):", *map(str, stale), sep="\n  ")
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(rendered())} files, {len(stale)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
