"""The expression language's vocabulary, for a builder's completion of templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import require
from auterity.security.principal import Principal
from workflows.expressions import vocabulary

router = APIRouter(prefix="/v1", tags=["schema"])
Reader = Annotated[Principal, require("graphs:read")]


class ExpressionVocabulary(BaseModel):
    roots: list[str] = Field(description="Names a template starts from: inputs, nodes, vars, …")
    filters: list[str] = Field(description="Filters the sandbox allows, as in `x | upper`")
    tests: list[str] = Field(description="Tests, as in `x is number`")
    globals: list[str] = Field(description="Functions in scope, as in `range(3)`")


@router.get("/schema/expressions")
def read_expression_vocabulary(_principal: Reader) -> ExpressionVocabulary:
    """Scope roots, filters, tests and globals that templates and expressions may use."""
    return ExpressionVocabulary(**vocabulary())
