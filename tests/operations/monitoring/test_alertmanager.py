"""The Alertmanager example: amtool checks it, and routes each kind of alert where it belongs."""

from __future__ import annotations

import pytest

from tests.operations.monitoring.sources import MONITORING, alert_rules
from tests.operations.tools import output, require, run

CONFIG = MONITORING / "alertmanager.yml"


@pytest.fixture(scope="module")
def amtool() -> str:
    return require("amtool", install="apt-get install prometheus-alertmanager")


def test_amtool_checks_the_configuration(amtool: str) -> None:
    result = run([amtool, "check-config", str(CONFIG)])
    assert result.returncode == 0, output(result)


def receiver(amtool: str, labels: dict[str, str]) -> str:
    result = run(
        [amtool, "config", "routes", "test", f"--config.file={CONFIG}"]
        + [f"{key}={value}" for key, value in labels.items()]
    )
    assert result.returncode == 0, output(result)
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "page"}, "pager"),
        ({"severity": "ticket"}, "tickets"),
        ({"severity": "ticket", "team": "security"}, "security"),
        ({"severity": "page", "team": "security"}, "security-pager"),
    ],
)
def test_routes(amtool: str, labels: dict[str, str], expected: str) -> None:
    assert receiver(amtool, labels) == expected


def test_every_alert_reaches_a_receiver_by_its_labels(amtool: str) -> None:
    for rule in alert_rules():
        labels = {"alertname": rule["alert"], **rule["labels"]}
        wanted = {"page": "pager", "ticket": "tickets"}[labels["severity"]]
        if labels.get("team") == "security":
            wanted = "security-pager" if labels["severity"] == "page" else "security"
        assert receiver(amtool, labels) == wanted, rule["alert"]
