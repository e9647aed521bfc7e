"""Every page's routes, gathered (one module per area of work)."""

from __future__ import annotations

from fastapi import APIRouter

from console import allocation_pages, application_pages, audit_pages, grant_pages, pool_pages


def router() -> APIRouter:
    r = APIRouter()
    for module in (pool_pages, application_pages, allocation_pages, grant_pages, audit_pages):
        r.include_router(module.router())
    return r
