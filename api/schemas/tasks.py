"""Human tasks: the inbox, deciding a task, and signed resume links for approvers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Body
from auterity.graph.model import Duration


# Validated from a `HumanTask` row.
class TaskRead(BaseModel):
    id: str
    execution_id: str
    node_id: str
    title: str
    description: str
    assignees: list[str]
    form: dict[str, Any]
    context: dict[str, Any]
    status: str
    decision: str | None
    comment: str | None
    data: dict[str, Any] | None
    completed_by: str | None
    created_at: Any
    due_at: Any
    completed_at: Any


class TaskComplete(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "decision": "approved",
                    "comment": "Looks right to me.",
                    "data": {"note": "escalated to tier 2"},
                },
                {"decision": "rejected", "comment": "Not a customer of ours."},
            ]
        }
    )

    decision: str = Field(min_length=1, max_length=200, examples=["approved"])
    comment: str | None = Field(default=None, max_length=10_000)
    data: dict[str, Any] = Field(default_factory=dict)


class ResumeLinkCreate(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"assignee": "user:ada@example.com", "expires_in": "2d"}]}
    )

    assignee: str = Field(
        pattern=r"^user:[^@\s]+@[^@\s]+$", description='Who may decide: "user:<email>"'
    )
    expires_in: Duration = Field(default="3d", description="At most until the task is due")


class ResumeLink(BaseModel):
    url: str
    token: str
    expires_at: datetime


class ResumeDecision(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.eyJhdWQiOiJhdXRlcml0eTpyZXN1bWUi"
                    "LCJzdWIiOiJ1c2VyOmFkYUBleGFtcGxlLmNvbSJ9.2wT0kq1xY3mQ8nV5bR7cL9pZ4sH6jF0dE1gA",
                    "decision": "approved",
                    "comment": "Refund is within policy.",
                    "data": {"note": "checked the order history"},
                }
            ]
        }
    )

    token: str = Field(min_length=20, max_length=4000)
    decision: str = Field(min_length=1, max_length=200)
    comment: str | None = Field(default=None, max_length=10_000)
    data: dict[str, Any] = Field(default_factory=dict)
