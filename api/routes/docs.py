"""The interactive API reference, `/docs` (Swagger UI) and `/redoc`, served whole by the API.

Their scripts and styles come from the `fastapi-offline` package (swagger-ui-dist,
Apache-2.0; redoc, MIT) and are served under `ASSETS_PATH`, so the pages work
offline and in air-gapped installations: nothing is fetched from a CDN.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

ASSETS_PATH = "/docs/assets"

router = APIRouter(include_in_schema=False)


def assets_dir() -> Path:
    """The folder of the bundled swagger-ui and redoc files."""
    return Path(str(files("fastapi_offline") / "static"))


def _base(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


@router.get("/docs")
async def read_swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json, its assets served by this API."""
    base = _base(request)
    return get_swagger_ui_html(
        openapi_url=f"{base}{request.app.openapi_url}",
        title=f"{request.app.title} API",
        swagger_js_url=f"{base}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{base}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{base}{ASSETS_PATH}/favicon.png",
    )


@router.get("/redoc")
async def read_redoc(request: Request) -> HTMLResponse:
    """ReDoc over /openapi.json, its script served by this API (no web fonts fetched)."""
    base = _base(request)
    return get_redoc_html(
        openapi_url=f"{base}{request.app.openapi_url}",
        title=f"{request.app.title} API",
        redoc_js_url=f"{base}{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{base}{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )
