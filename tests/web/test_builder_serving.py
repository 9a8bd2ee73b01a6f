"""The API serves the built builder at / without shadowing any API path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from auterity.settings import Settings
from tests.support import serve


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[str]:
    """The app with a small built builder of its own (the real one may not be built)."""
    dist = tmp_path_factory.mktemp("dist")
    (dist / "assets").mkdir()
    (dist / "index.html").write_text("<!doctype html><title>builder</title>")
    (dist / "assets" / "index-3f2a1b.js").write_text("console.log('builder')")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path_factory.getbasetemp() / "secret.txt").write_text("outside")
    with serve(create_app(settings.model_copy(update={"web_dir": dist}))) as url:
        yield url


@pytest.mark.parametrize(
    "path", ["/", "/graphs", "/graphs/gr_1?version=2", "/runs/dev:gr_1:abc", "/admin/users"]
)
def test_builder_paths_fall_back_to_an_uncached_index(builder: str, path: str) -> None:
    response = httpx.get(builder + path)
    assert response.status_code == 200
    assert response.text == "<!doctype html><title>builder</title>"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["content-type"].startswith("text/html")


def test_hashed_assets_are_immutable(builder: str) -> None:
    response = httpx.get(builder + "/assets/index-3f2a1b.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.head(builder + "/assets/index-3f2a1b.js").status_code == 200


@pytest.mark.parametrize(
    "path", ["/assets/missing.js", "/missing.png", "/../secret.txt", "/%2e%2e/secret.txt"]
)
def test_missing_files_and_escapes_are_404(builder: str, path: str) -> None:
    response = httpx.get(builder + path)
    assert response.status_code == 404
    assert "outside" not in response.text


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/v1/nope", 404, "application/problem+json"),
        ("/v1", 404, "application/problem+json"),
        ("/healthz", 200, "application/json"),
        ("/openapi.json", 200, "application/json"),
        ("/docs", 200, "text/html"),
        ("/metrics", 200, "text/plain"),
    ],
)
def test_api_paths_are_never_shadowed(builder: str, path: str, status: int, kind: str) -> None:
    response = httpx.get(builder + path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(kind)
    assert "<title>builder</title>" not in response.text


def test_unknown_methods_on_api_paths_keep_their_answers(builder: str) -> None:
    assert httpx.post(builder + "/v1/nope").status_code == 404
    assert httpx.delete(builder + "/healthz").status_code == 405


def test_an_unbuilt_builder_says_how_to_build_it(settings: Settings, tmp_path: Path) -> None:
    with serve(create_app(settings.model_copy(update={"web_dir": tmp_path / "none"}))) as url:
        response = httpx.get(url + "/graphs")
    assert response.status_code == 503
    assert "make run" in response.text
