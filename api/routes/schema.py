"""The JSON Schemas a builder renders forms from: a whole graph, and each node kind's config.

Its two paths share no prefix (both are part of the contract), so they are spelled in full.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import GraphsReader
from auterity.graph.kinds import graph_schema, kind_schemas

router = APIRouter(tags=["graphs", "schema"])


@router.get("/schema/graph")
def read_graph_schema(_principal: GraphsReader) -> dict[str, Any]:
    """The JSON Schema of a graph, each node's config tied to its kind."""
    return graph_schema()


@router.get("/node-kinds")
def list_node_kinds(_principal: GraphsReader) -> dict[str, Any]:
    """Every node kind with the JSON Schema of its config and how it runs."""
    return kind_schemas()
