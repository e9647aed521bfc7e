"""A console in-process against fake services (an httpx MockTransport answering like them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from console.app import build
from console.settings import ConsoleSettings

Route = Callable[[httpx.Request], httpx.Response]


class FakeServices:
    """Answers by (service port, method, path); records every request with its token."""

    PORTS = {"intake": 9001, "assessment": 9002, "payments": 9003, "reporting": 9004}

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], Route | Any] = {}
        self.seen: list[httpx.Request] = []

    def on(self, service: str, method: str, path: str, answer: Route | Any) -> None:
        self.routes[(service, method, path)] = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        service = next((s for s, p in self.PORTS.items() if request.url.port == p), "idp")
        answer = self.routes.get((service, request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"error": "not_found"})
        if callable(answer):
            return answer(request)  # type: ignore[no-any-return]
        return httpx.Response(200, json=answer)

    def urls(self) -> dict[str, str]:
        return {f"{s}_url": f"http://svc:{p}" for s, p in self.PORTS.items()}


def console_client(tmp_path: Path, fake: FakeServices, **settings: Any) -> TestClient:
    config = ConsoleSettings(**{"dev_signin": True, "dev_key_dir": tmp_path / "keys",
                                **fake.urls(), **settings})
    return TestClient(build(config, transport=httpx.MockTransport(fake)))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, subject: str = "sb-1", roles: tuple[str, ...] = ("caseworker",),
            next_path: str = "/pools") -> httpx.Response:
    page = client.get("/signin")
    return client.post("/signin/dev", data={"csrf": csrf_of(page.text), "subject": subject,
                                            "roles": list(roles), "next": next_path},
                       follow_redirects=False)


def alert_of(html: str) -> str:
    found = re.search(r'role="alert">(.*?)</div>', html, re.S)
    assert found, "the page shows no alert"
    return re.sub(r"\s+", " ", found.group(1)).strip()
