"""The graph engine: graph model, node kinds, expressions, validation, compilation and
`GraphWorkflow`. Imports nothing of ours but itself (stdlib, pydantic, jinja2, temporalio)."""
