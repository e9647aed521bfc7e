"""Is today's contract a compatible evolution of the last released one?

Every consumer validates with ``extra="forbid"`` and the auditors' replay reads the log from
offset 0, so a schema must keep accepting **every message the released schema accepted**. That
makes these changes breaking (each needs a new topic version, see the README):

- ``schema_removed``: a released event/command schema is gone;
- ``property_removed``: a property the released schema allowed is refused now;
- ``required_added``: a field is required that was optional or absent;
- ``type_narrowed``: a JSON type, or a branch of a union, is no longer accepted;
- ``enum_value_removed``: a value of an enum or constant is no longer accepted;
- ``constraint_tightened``: a new or smaller ``maxLength``/``maximum``/…, a larger minimum, a new
  or changed ``pattern``/``format``;
- ``additional_properties_narrowed``: a map (or open object) refuses keys it used to take.

Adding an optional property, a new enum value or a new event is compatible for readers — but
old consumers refuse a property they do not know, so such a change rolls out consumers first.

    python -m contracts.evolution            # compare contracts/schemas with the last release
    python -m contracts.evolution snapshot   # accept today's schemas as the current release

The snapshot of a release is ``contracts/released/<version>/`` (the project's version in
pyproject.toml); the newest one is the baseline. ``snapshot`` rewrites the current version's
directory: do that only for a deliberate change (e.g. a new ``maxLength`` on an input) and say
why in the commit.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SCHEMAS = HERE / "schemas"
RELEASED = HERE / "released"
PYPROJECT = HERE.parent / "pyproject.toml"

Schema = dict[str, Any] | bool

# keywords that bound from above / from below: a new one, or a smaller / larger value, narrows
_UPPER = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_EXACT = ("pattern", "format", "multipleOf")
_ANY = "any"


@dataclass(frozen=True)
class Break:
    path: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.kind} ({self.detail})"


class _Walk:
    """Compares two schemas with their own ``$defs`` (``$ref`` resolved on each side)."""

    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.old_root, self.new_root = old_root, new_root
        self._seen: set[tuple[str, str, str]] = set()

    def _resolve(self, schema: Schema, root: dict[str, Any]) -> tuple[Schema, str]:
        ref = ""
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            node: Any = root
            for part in ref.removeprefix("#/").split("/"):
                node = node[part]
            schema = node
        return schema, ref

    def compare(self, old: Schema, new: Schema, path: str) -> list[Break]:
        old, old_ref = self._resolve(old, self.old_root)
        new, new_ref = self._resolve(new, self.new_root)
        if old_ref or new_ref:  # recursive models: each pair of definitions once per path
            key = (old_ref, new_ref, path)
            if key in self._seen:
                return []
            self._seen.add(key)
        if _accepts_all(new):
            return []
        if old is False:
            return []
        if new is False:
            return [Break(path, "type_narrowed", "nothing is accepted now")]
        if _accepts_all(old):
            return [Break(path, "type_narrowed", "accepted anything, now constrained")]
        assert isinstance(old, dict) and isinstance(new, dict)
        old_branches = old.get("anyOf") or old.get("oneOf")
        if old_branches:
            return [b for branch in old_branches for b in self.compare(branch, new, path)]
        new_branches = new.get("anyOf") or new.get("oneOf")
        if new_branches:
            tries = [self.compare(old, branch, path) for branch in new_branches]
            return [] if any(not t for t in tries) else min(tries, key=len)
        return self._compare_plain(old, new, path)

    def _compare_plain(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[Break]:
        out: list[Break] = []
        old_types, new_types = _types(old), _types(new)
        if new_types != {_ANY}:
            lost = old_types - new_types
            if "integer" in lost and "number" in new_types:
                lost.discard("integer")
            if lost:
                out.append(Break(path, "type_narrowed",
                                 f"{sorted(old_types)} -> {sorted(new_types)}"))
        out += _values(old, new, path)
        out += _bounds(old, new, path)
        if "object" in old_types & new_types or (_ANY in old_types and "properties" in new):
            out += self._objects(old, new, path)
        if "array" in old_types & new_types:
            if "items" in new:
                out += self.compare(old.get("items", True), new["items"], f"{path}[]")
            if new.get("uniqueItems") and not old.get("uniqueItems"):
                out.append(Break(path, "constraint_tightened", "uniqueItems added"))
        return out

    def _objects(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[Break]:
        out: list[Break] = []
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        for name, old_prop in old_props.items():
            where = f"{path}.{name}" if path else name
            if name in new_props:
                out += self.compare(old_prop, new_props[name], where)
            elif new_extra is False:
                out.append(Break(where, "property_removed", "no longer allowed"))
            else:
                out += self.compare(old_prop, new_extra, where)
        for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
            where = f"{path}.{name}" if path else name
            out.append(Break(where, "required_added",
                             "was optional" if name in old_props else "new field"))
        if old_extra is not False:
            if new_extra is False:
                out.append(Break(f"{path}.*", "additional_properties_narrowed",
                                 "other keys are refused now"))
            else:
                for b in self.compare(old_extra, new_extra, f"{path}.*"):
                    out.append(b if b.kind != "type_narrowed" or b.path != f"{path}.*" else
                               Break(b.path, "additional_properties_narrowed", b.detail))
        return out


def _accepts_all(schema: Schema) -> bool:
    if schema is True:
        return True
    if not isinstance(schema, dict):
        return False
    return not (set(schema) - {"title", "description", "default", "examples", "$comment"})


def _types(schema: dict[str, Any]) -> set[str]:
    if "type" in schema:
        t = schema["type"]
        return set(t) if isinstance(t, list) else {t}
    values = _enum(schema)
    if values is not None:
        return {_json_type(v) for v in values}
    if "properties" in schema or "additionalProperties" in schema:
        return {"object"}
    if "items" in schema:
        return {"array"}
    return {_ANY}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _enum(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return list(schema["enum"]) if "enum" in schema else None


def _values(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Break]:
    old_values, new_values = _enum(old), _enum(new)
    if new_values is None:
        return []
    if old_values is None:
        return [Break(path, "enum_value_removed", f"any value -> only {new_values}")]
    gone = [v for v in old_values if v not in new_values]
    return [Break(path, "enum_value_removed", f"{gone} no longer accepted")] if gone else []


def _bounds(old: dict[str, Any], new: dict[str, Any], path: str) -> list[Break]:
    out = []
    for key in _UPPER:
        if key in new and (key not in old or new[key] < old[key]):
            out.append(Break(path, "constraint_tightened", f"{key} {old.get(key)} -> {new[key]}"))
    for key in _LOWER:
        if key in new and (key not in old or new[key] > old[key]):
            out.append(Break(path, "constraint_tightened", f"{key} {old.get(key)} -> {new[key]}"))
    for key in _EXACT:
        if key in new and new[key] != old.get(key):
            out.append(Break(path, "constraint_tightened", f"{key} {old.get(key)!r} -> {new[key]!r}"))
    return out


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Break]:
    """Every way ``new`` refuses a message that ``old`` accepted (empty: compatible)."""
    return _Walk(old, new).compare(old, new, "")


# --- the released snapshots -------------------------------------------------------------------

def project_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.MULTILINE)
    if not match:
        raise RuntimeError(f"no version in {PYPROJECT}")
    return match.group(1)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", name))


def last_release(released: Path = RELEASED) -> Path | None:
    dirs = [d for d in released.iterdir() if d.is_dir()] if released.exists() else []
    return max(dirs, key=lambda d: _version_key(d.name)) if dirs else None


def compare_with_release(release: Path, schemas: Path = SCHEMAS) -> dict[str, list[Break]]:
    """Breaking changes per schema file name, today's ``schemas`` against one released snapshot."""
    found: dict[str, list[Break]] = {}
    for old_path in sorted(release.glob("*.json")):
        new_path = schemas / old_path.name
        if not new_path.exists():
            found[old_path.name] = [Break("", "schema_removed", f"{new_path.name} is gone")]
            continue
        breaks = breaking_changes(json.loads(old_path.read_text()), json.loads(new_path.read_text()))
        if breaks:
            found[old_path.name] = breaks
    return found


def snapshot(version: str, schemas: Path = SCHEMAS, released: Path = RELEASED) -> Path:
    target = released / version
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in sorted(schemas.glob("*.json")):
        shutil.copyfile(path, target / path.name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="contract evolution check")
    parser.add_argument("action", nargs="?", choices=["check", "snapshot"], default="check")
    args = parser.parse_args(argv)
    release = last_release()
    found = compare_with_release(release) if release else {}
    for name, breaks in found.items():
        for b in breaks:
            print(f"{name}: {b}")
    if args.action == "snapshot":
        target = snapshot(project_version())
        print(f"snapshot {target.relative_to(HERE.parent)}: "
              f"{sum(map(len, found.values()))} breaking change(s) accepted")
        return 0
    if release is None:
        print("no released snapshot (run: python -m contracts.evolution snapshot)")
        return 1
    print(f"against {release.name}: {sum(map(len, found.values()))} breaking change(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
