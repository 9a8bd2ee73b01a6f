"""web/src/api/schema.d.ts is what openapi-typescript makes of the app's OpenAPI document
today: an API change that the builder has not caught up with fails here, not in a page."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI

WEB = Path(__file__).resolve().parents[2] / "web"
GENERATOR = WEB / "node_modules" / ".bin" / "openapi-typescript"
COMMITTED = WEB / "src" / "api" / "schema.d.ts"


def test_generated_api_types_are_current(tmp_path: Path) -> None:
    if not GENERATOR.exists() or shutil.which("node") is None:
        if IN_CI:
            pytest.fail("web/node_modules is missing; `make test` installs it")
        pytest.skip("web/node_modules is missing (make web)")
    spec = importlib.util.spec_from_file_location("web_openapi", WEB / "scripts" / "openapi.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(script.openapi_document(), indent=1, sort_keys=True) + "\n")
    generated = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(GENERATOR), str(document), "-o", str(generated)],
        cwd=WEB, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert generated.read_text() == COMMITTED.read_text(), (
        "web/src/api/schema.d.ts is stale: run `make web-types` and commit it"
    )
