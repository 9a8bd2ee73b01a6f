"""Building the input the workflow sends to a node activity."""

from __future__ import annotations

from typing import Any

from auterity.graph.contracts import NodeActivityInput

TENANT = "tenant-a"


def node_request(
    kind: str,
    config: dict[str, Any],
    *,
    scope: dict[str, Any] | None = None,
    node_id: str = "call",
    execution_id: str = "tenant-a:graph-1:run-1",
    tenant: str = TENANT,
) -> NodeActivityInput:
    return NodeActivityInput(
        tenant=tenant,
        execution_id=execution_id,
        graph_id="graph-1",
        version_id="v" + "0" * 15,
        node_id=node_id,
        kind=kind,
        config=config,
        scope=scope or {"inputs": {}, "nodes": {}, "vars": {}},
    )
