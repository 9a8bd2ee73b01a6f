"""Grafana: four dashboards provisioned from files, each query on a provisioned data source."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.operations.monitoring.sources import PROVISIONING, dashboards, panels

DATASOURCES = yaml.safe_load((PROVISIONING / "datasources" / "auterity.yml").read_text())
PROVIDERS = yaml.safe_load((PROVISIONING / "dashboards" / "auterity.yml").read_text())


def test_the_four_dashboards_of_issue_15() -> None:
    titles = {dashboard["uid"]: dashboard["title"] for dashboard in dashboards().values()}
    assert set(titles) == {"auterity-api", "auterity-runs", "auterity-security", "auterity-llm"}


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboard_is_sound(name: str) -> None:
    dashboard = dashboards()[name]
    assert dashboard["uid"] == f"auterity-{name.removesuffix('.json')}"
    assert dashboard["editable"] is False  # provisioned: edits belong in this file
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert "datasource" in variables
    uids = {source["uid"] for source in DATASOURCES["datasources"]}
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert _datasource(panel) in {"${datasource}"} | uids, panel["title"]
        for target in panel["targets"]:
            assert _datasource(target) in {"${datasource}"} | uids, panel["title"]
            assert target["expr"].strip()
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]


def _datasource(item: dict[str, Any]) -> str:
    return str(item["datasource"]["uid"])


def test_provisioned_data_sources() -> None:
    sources = {source["uid"]: source for source in DATASOURCES["datasources"]}
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["prometheus"]["isDefault"] is True
    assert sources["jaeger"]["type"] == "jaeger"
    assert [source["uid"] for source in DATASOURCES["datasources"]].count("prometheus") == 1


def test_dashboards_are_provisioned_from_files() -> None:
    (provider,) = PROVIDERS["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/auterity"
