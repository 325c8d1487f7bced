"""The browser playground of `metaalign serve`: one page, plain HTML, CSS and JavaScript in this folder.

Owns serving those three files at `/playground` (no build step, no CDN: a Content-Security-Policy
keeps every request on this server). The page talks to the API routes only (router.py); it holds no
logic the API does not enforce itself.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

FILES = {
    "playground.js": "text/javascript; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def read(name: str) -> str:
    """The text of one of the page's files, from the installed package."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def add_page(app: FastAPI) -> None:
    """Adds GET /playground and its two assets to `app` (not in the OpenAPI spec: they are not API)."""

    @app.get("/playground", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(read("index.html"), headers=HEADERS)

    @app.get("/playground/playground.js", include_in_schema=False)
    async def script() -> Response:
        return Response(read("playground.js"), media_type=FILES["playground.js"], headers=HEADERS)

    @app.get("/playground/playground.css", include_in_schema=False)
    async def style() -> Response:
        return Response(read("playground.css"), media_type=FILES["playground.css"], headers=HEADERS)
