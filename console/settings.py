"""Console settings from the environment (prefix ``GRANTS_CONSOLE_``); nothing read at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANTS_CONSOLE_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The address people use (OIDC redirect URI; whether cookies must be Secure).
    public_url: str = "http://127.0.0.1:8080"

    intake_url: str = "http://127.0.0.1:8001"
    assessment_url: str = "http://127.0.0.1:8002"
    payments_url: str = "http://127.0.0.1:8003"
    reporting_url: str = "http://127.0.0.1:8004"
    service_timeout_s: float = 30.0

    # Signs the session cookie; a random one per process when unset (a restart signs people out).
    session_secret: SecretStr | None = None
    session_secret_file: Path | None = None
    session_ttl_s: int = 8 * 3600

    # Embedded stack only: the dev sign-in page, minting tokens with the dev issuer's key here.
    dev_signin: bool = False
    dev_key_dir: Path | None = None

    # Production: OpenID Connect authorisation code flow with PKCE against the identity broker.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid"
    # Endpoints; when unset they come from <issuer>/.well-known/openid-configuration.
    oidc_authorization_endpoint: str | None = None
    oidc_token_endpoint: str | None = None
    # Which token the services get: the broker's access token (default) or its ID token.
    oidc_service_token: str = "access_token"

    # The auditors' replay: the command the console runs for it (``grants audit replay``), and
    # where its reports go. Unset: the audit page offers no replay.
    replay_command: str | None = None
    work_dir: Path | None = None

    @property
    def secure_cookies(self) -> bool:
        """``Secure`` cookies everywhere but a loopback address (a browser on the same machine)."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.public_url)
        return not (parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)
