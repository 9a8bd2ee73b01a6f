"""The web builder's static files: `GET /` and every builder path fall back to `index.html`.

Vite names assets by content hash, so `/assets/*` is cached for a year as immutable;
`index.html` is never cached, so a new build is picked up on the next load. Paths of
the API itself (`/v1`, `/docs`, `/openapi.json`, health, metrics) are never shadowed:
an unknown `/v1/...` path stays a problem+json 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from api.problems import problem_response

CHECKOUT_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
RESERVED = ("v1", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics")
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = """<!doctype html><html lang="en"><title>Auterity</title><body>
<h1>The builder is not built</h1><p>Run <code>make run</code> (it builds <code>web/</code>),
or <code>make web</code>. The API is at <a href="/docs">/docs</a>.</p></body></html>"""


class BuilderPath(Convertor[str]):
    """A path outside the API's own prefixes, so that unknown API paths keep their 404/405."""

    regex = "(?!(?:" + "|".join(name.replace(".", r"\.") for name in RESERVED) + ")(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("builder", BuilderPath())


def builder_dir(configured: Path | None) -> Path:
    return configured if configured is not None else CHECKOUT_DIST


def _file_in(root: Path, path: str) -> Path | None:
    """The file under `root` that `path` names, never one outside it."""
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        return None
    return candidate


def install_builder(app: FastAPI, root: Path) -> None:
    """Serve the builder from `root`; declared after every API route, so it never shadows one."""

    @app.api_route("/{path:builder}", methods=["GET", "HEAD"], include_in_schema=False)
    async def read_builder_page(path: str, request: Request) -> Response:
        first = path.split("/", 1)[0]
        index = root / "index.html"
        if path:
            found = _file_in(root, path)
            if found is not None and found.name != "index.html":
                cache = IMMUTABLE if first == "assets" else "public, max-age=3600"
                return FileResponse(found, headers={"Cache-Control": cache})
            if first == "assets" or "." in path.rsplit("/", 1)[-1]:
                return problem_response(404, "Not found", f"no file {request.url.path}")
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-cache"})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
