"""The graph language: what a graph is and means, shared by every layer.

The graph model (`model`), node kinds (`kinds`), expressions and templates
(`expressions`), validation and compilation (`validation`, `compiler`), the
contracts of a run and of its activities (`run`, `contracts`), how runs are named
in Temporal (`naming`) and why they fail (`errors`). Pure: it imports nothing of
ours but itself, and no database, settings or HTTP client, so the API, the worker,
activities and the workflow sandbox all import it.
"""
