"""/docs and /redoc (routes/docs.py) work offline: every asset their pages load is the API's."""

from __future__ import annotations

import re

import httpx
import pytest


@pytest.mark.parametrize(("page", "assets"), [("/docs", 3), ("/redoc", 2)])
async def test_the_reference_pages_load_nothing_from_elsewhere(
    api: httpx.AsyncClient, page: str, assets: int
) -> None:
    response = await api.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)  # swagger-ui's spec URL
    urls += re.findall(r"""spec-url=["']([^"']+)["']""", html)  # redoc's
    assert len(urls) >= assets, html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
        loaded = await api.get(url)
        assert loaded.status_code == 200, url
        assert len(loaded.content) > 1000, url
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html
