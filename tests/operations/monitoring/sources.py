"""The monitoring files as data: the metrics table, the alert rules, the dashboards."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from tests.operations.tools import REPO

MONITORING = REPO / "monitoring"
METRICS_MD = MONITORING / "METRICS.md"
ALERTS = MONITORING / "alerts.yml"
ALERT_TESTS = MONITORING / "tests" / "alerts_test.yml"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
PROVISIONING = MONITORING / "grafana" / "provisioning"

HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
ROW = re.compile(r"^\|\s*`(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)`\s*\|(?P<rest>.*)\|\s*$")


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: frozenset[str]
    meaning: str
    exported_by: frozenset[str]


@cache
def metrics_table() -> dict[str, Metric]:
    """Every row of METRICS.md's tables whose first cell is a `name`."""
    metrics: dict[str, Metric] = {}
    for line in METRICS_MD.read_text().splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        cells = [cell.strip() for cell in match["rest"].split("|")]
        assert len(cells) == 4, f"METRICS.md row needs 5 cells: {line}"
        kind, labels, meaning, exported_by = cells
        assert match["name"] not in metrics, f"METRICS.md lists {match['name']} twice"
        metrics[match["name"]] = Metric(
            name=match["name"],
            type=kind,
            labels=frozenset(label.strip() for label in labels.split(",") if label.strip()),
            meaning=meaning,
            exported_by=frozenset(part.strip() for part in exported_by.split(",")),
        )
    return metrics


def metric_of(series: str) -> Metric | None:
    """The table row a series name belongs to (a histogram's _bucket/_sum/_count included)."""
    metrics = metrics_table()
    if series in metrics:
        return metrics[series]
    for suffix in HISTOGRAM_SERIES:
        base = series.removesuffix(suffix)
        if base != series and base in metrics and metrics[base].type == "histogram":
            return metrics[base]
    return None


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@dataclass(frozen=True)
class DashboardQuery:
    dashboard: str
    where: str
    expr: str
    variable: bool = False


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    found = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_queries() -> list[DashboardQuery]:
    queries = []
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                queries.append(DashboardQuery(name, f"panel {panel['title']!r}", target["expr"]))
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable["type"] == "query":
                query = variable["query"]
                text = query["query"] if isinstance(query, dict) else query
                queries.append(DashboardQuery(name, f"variable {variable['name']}", text, True))
    return queries
