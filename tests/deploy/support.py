"""Offline readers for deploy/: compose files as ``docker compose config`` sees them, Kubernetes
manifests checked against the API schemas, commands and settings checked against the code.

No Docker engine or cluster is needed: compose is validated against the Compose Specification's
JSON schema (vendored by ``check-jsonschema``) after YAML anchors/merge keys are resolved and
``${VAR}`` interpolated as compose does; manifests with ``kubernetes-validate`` (bundled schemas).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import typer
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
PRODUCTION_DOC = ROOT / "docs" / "production.md"
# The Kubernetes versions the manifests must be valid for (oldest supported, and the newest the
# validator bundles).
K8S_VERSIONS = ("1.29.0", "latest")

# -- compose ---------------------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")


class InterpolationError(ValueError):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR:+alt}`` and
    ``$$`` in every string of ``value``, as ``docker compose`` interpolates them."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("named")
        op, arg = m.group("op"), m.group("arg") or ""
        present = name in env
        text = env.get(name, "")
        if op in (":-", "-"):
            use_default = (not text) if op == ":-" else not present
            return arg if use_default else text
        if op in (":?", "?"):
            if (not text) if op == ":?" else not present:
                raise InterpolationError(f"{name}: {arg or 'required'}")
            return text
        if op in (":+", "+"):
            return arg if (text if op == ":+" else present) else ""
        return text

    return _VARIABLE.sub(replace, value)


def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON schema as vendored by check-jsonschema."""
    schema = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(schema.read_text())


def load_compose(path: Path = COMPOSE_FILE, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file with anchors and merge keys resolved and variables interpolated."""
    raw = yaml.safe_load(path.read_text())
    return interpolate(raw, env or {})


def compose_errors(document: dict[str, Any]) -> list[str]:
    """Schema violations of a compose document (empty when valid)."""
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(document)]


def docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    return probe.returncode == 0


# -- Kubernetes ------------------------------------------------------------------------------------

def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml"))


def manifests(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document


def all_resources() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in manifest_files() for doc in manifests(path)
            if doc.get("kind") != "Kustomization"]


def k8s_errors(document: dict[str, Any], version: str) -> list[str]:
    import kubernetes_validate

    if version == "latest":
        version = kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(map(str, exc.path)) or "(root)"
        return [f"{where}: {exc.message}"]
    return []


def pod_specs() -> Iterator[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(file, workload, pod spec) of every Deployment and Job."""
    for path, doc in all_resources():
        if doc["kind"] in ("Deployment", "Job"):
            yield path, doc, doc["spec"]["template"]["spec"]


# -- commands and settings -------------------------------------------------------------------------

def grants_command_error(args: list[str]) -> str | None:
    """Why ``grants <args>`` would not parse (None when the subcommand and options exist).
    Parses with click like the real CLI, without running the command."""
    from grants.cli import app

    # typer carries its own copy of click: groups are recognised by what they do
    command: Any = typer.main.get_command(app)
    words = list(args)
    path = ["grants"]
    while hasattr(command, "list_commands"):
        if not words:
            return f"{' '.join(path)} needs a subcommand"
        name = words.pop(0)
        ctx = command.make_context(path[-1], [name], resilient_parsing=True)
        sub = command.get_command(ctx, name)
        if sub is None:
            return f"{' '.join(path)} has no subcommand {name!r}"
        command, path = sub, [*path, name]
    try:
        command.make_context(" ".join(path), words)
    except Exception as exc:  # noqa: BLE001 - click's usage errors (typer's vendored click)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return f"{' '.join(path)}: {message}"
    return None


def command_error(command: list[str] | str) -> str | None:
    """Why a container command would not start code this repository has (None when it would).
    Knows ``python -m services.<name>``, ``grants ...`` and ``sh <script>``."""
    args = shlex.split(command) if isinstance(command, str) else list(command)
    if args[:2] == ["python", "-m"]:
        module = args[2]
        parts = module.split(".")
        if parts[0] != "services" or len(parts) != 2:
            return f"unexpected module {module}"
        if not (ROOT / "services" / parts[1] / "__main__.py").exists():
            return f"no module {module} (services/{parts[1]}/__main__.py)"
        return None
    if args[:1] == ["grants"]:
        return grants_command_error(args[1:])
    return f"unknown command {args}"


SETTING = re.compile(r"\bGRANTS_[A-Z0-9_]+\b\*?")


def settings_named(text: str) -> set[str]:
    """Every ``GRANTS_*`` name in a text (a trailing ``_*`` or ``*`` keeps the wildcard)."""
    return {m.group(0) for m in SETTING.finditer(text)}


def setting_exists(name: str) -> bool:
    """Whether ``GRANTS_<X>`` is a field of ServiceSettings (or of a service's own settings), or
    ``GRANTS_<PREFIX>_*`` names some. ``GRANTS_NAMESPACE`` is read by ``contracts.topics``
    whenever a name is formed (contracts depend on no settings class), so it counts too."""
    from contracts.topics import NAMESPACE_ENV
    from services.assessment.settings import AssessmentSettings
    from services.reporting.settings import ReportingSettings

    fields = {f"GRANTS_{f.upper()}" for cls in (AssessmentSettings, ReportingSettings)
              for f in cls.model_fields} | {NAMESPACE_ENV}
    if name.endswith("*"):
        prefix = name.rstrip("*")
        return any(f.startswith(prefix) for f in fields)
    return name in fields


TOPIC = re.compile(r"\bgrants\.[a-z]+\.[a-z]+\.v\d+(?:\.dlt)?\b")


def topics_named(text: str) -> set[str]:
    return set(TOPIC.findall(text))


def readme_production_section() -> str:
    """The README's "Run in production" section (empty when it has none)."""
    text = (ROOT / "README.md").read_text()
    found = re.search(r"^## Run in production\n(.*?)(?=^## )", text, re.S | re.M)
    return found.group(1) if found else ""


def deploy_texts() -> dict[Path, str]:
    """Every text file under deploy/, the production doc and the README's production section."""
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix != ".json"]
    if PRODUCTION_DOC.exists():
        files.append(PRODUCTION_DOC)
    texts = {p: p.read_text() for p in sorted(files)}
    texts[ROOT / "README.md"] = readme_production_section()
    return texts
