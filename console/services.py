"""The console's only way to the platform: the four services' HTTP APIs, with the person's token.

Each call returns the decoded JSON; a refusal (4xx) raises :class:`Refused` with the service's
stable reason code and its per-field reasons, which the page shows in words
(:func:`console.texts.reason`). A service that is down is ``service_unavailable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

SERVICES = ("intake", "assessment", "payments", "reporting")


@dataclass
class Refused(Exception):
    """A service said no: ``code`` is its stable reason code."""

    service: str
    status: int
    code: str
    message: str = ""
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.service} refused ({self.status} {self.code}): {self.message}"


class Services:
    """One pooled HTTP client; the token is passed per call (it is the person's, not ours)."""

    def __init__(self, urls: dict[str, str], timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        await self._client.aclose()

    async def call(self, service: str, method: str, path: str, token: str | None, *,
                   json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = await self.raw(service, method, path, token, json=json, params=params)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    async def raw(self, service: str, method: str, path: str, token: str | None, *,
                  json: Any = None, params: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = await self._client.request(
                method, f"{self.urls[service]}{path}", json=json, headers=headers,
                params={k: v for k, v in (params or {}).items() if v not in (None, "")})
        except httpx.HTTPError as exc:
            raise Refused(service, 503, "service_unavailable", repr(exc)) from exc
        if response.status_code >= 400:
            raise _refusal(service, response)
        return response

    async def get(self, service: str, path: str, token: str | None, **params: Any) -> Any:
        return await self.call(service, "GET", path, token, params=params)

    async def post(self, service: str, path: str, token: str | None, body: Any = None) -> Any:
        return await self.call(service, "POST", path, token, json={} if body is None else body)


def _refusal(service: str, response: httpx.Response) -> Refused:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = body.get("error") or body.get("status") or f"http_{response.status_code}"
    reasons = body.get("reasons")
    if not isinstance(reasons, list):
        reasons = []
    return Refused(service, response.status_code, str(code), str(body.get("message", "")),
                   [r for r in reasons if isinstance(r, dict)])
