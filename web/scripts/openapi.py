"""Print the API's OpenAPI document, as `create_app().openapi()` builds it (no server needed).

`make web-types` feeds it to openapi-typescript; tests/web/test_api_types.py checks that
web/src/api/schema.d.ts is what it generates today."""

from __future__ import annotations

import json
import sys
import tempfile

from api.main import create_app
from auterity.settings import load_settings


def openapi_document() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        app = create_app(load_settings(env="test", home=home))
        return app.openapi()


if __name__ == "__main__":
    json.dump(openapi_document(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
