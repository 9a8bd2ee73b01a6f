"""Executions: starting one, and runs as Temporal reports them (summaries and full reads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Body
from auterity.graph.run import NodeState


class ExecutionStart(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"inputs": {"name": "Ada"}}, {"inputs": {"name": "Ada"}, "version": "3"}]
        }
    )

    inputs: dict[str, Any] = Field(default_factory=dict, examples=[{"name": "Ada"}])
    version: str | None = Field(
        default=None, description="A version id or number; the current version if unset"
    )


class ExecutionStarted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "acme:gr_3f9a1c2b7d4e:9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d",
                    "graph_id": "gr_3f9a1c2b7d4e",
                    "version_id": "v_5e884898da28047151d0e56f",
                    "created": True,
                    "retry_of": None,
                }
            ]
        }
    )

    id: str
    graph_id: str
    version_id: str
    created: bool = Field(description="False when an Idempotency-Key matched an earlier start")
    retry_of: str | None = None


# Built by `services.executions` from Temporal's description of the run (no row holds it).
class ExecutionSummary(BaseModel):
    id: str
    graph_id: str | None
    version_id: str | None
    trigger: str | None
    status: str
    started_at: datetime | None
    closed_at: datetime | None


class ExecutionList(BaseModel):
    items: list[ExecutionSummary]
    next_cursor: str | None = None


class ExecutionRead(ExecutionSummary):
    inputs: dict[str, Any] | None = None
    nodes: dict[str, NodeState] | None = None
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    failed_node: str | None = None
    error: dict[str, Any] | None = None
    retry_of: str | None = None
    pinned: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="The registry versions the run pinned when it started: node id -> "
        '{"prompt": "<name>@<version>", "model": "<name>@<version>"}',
    )
    history_events: int | None = None
