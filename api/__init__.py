"""The FastAPI service: tenants, identity, graphs, executions, triggers, audit."""
