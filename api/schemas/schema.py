"""What the builder reads to render forms and complete templates."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExpressionVocabulary(BaseModel):
    roots: list[str] = Field(description="Names a template starts from: inputs, nodes, vars, …")
    filters: list[str] = Field(description="Filters the sandbox allows, as in `x | upper`")
    tests: list[str] = Field(description="Tests, as in `x is number`")
    globals: list[str] = Field(description="Functions in scope, as in `range(3)`")
