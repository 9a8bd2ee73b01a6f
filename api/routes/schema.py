"""What a builder renders forms from and completes templates with: the JSON Schemas of a
graph and of each node kind's config, and the expression language's vocabulary.

Its paths share no prefix (they are part of the contract), so they are spelled in full.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import GraphsReader
from api.schemas.schema import ExpressionVocabulary
from auterity.graph.expressions import vocabulary
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


@router.get("/schema/expressions")
def read_expression_vocabulary(_principal: GraphsReader) -> ExpressionVocabulary:
    """Scope roots, filters, tests and globals that templates and expressions may use."""
    return ExpressionVocabulary(**vocabulary())
