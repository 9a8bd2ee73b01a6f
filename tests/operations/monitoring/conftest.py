"""Monitoring fixtures: promtool, which checks the Prometheus files and runs the rule tests."""

from __future__ import annotations

import pytest

from tests.operations.tools import require

PROMTOOL_INSTALL = "apt-get install prometheus (Debian ships promtool with it)"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require("promtool", install=PROMTOOL_INSTALL)
