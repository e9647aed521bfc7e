"""Every page's routes, gathered (one module per area of work)."""

from __future__ import annotations

from fastapi import APIRouter

from console import pool_pages


def router() -> APIRouter:
    r = APIRouter()
    r.include_router(pool_pages.router())
    return r
