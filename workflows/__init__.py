"""The engine: `GraphWorkflow`, which interprets any compiled graph, and the platform's own
workflows. Imports nothing of ours but itself and the graph language (`auterity.graph`)."""
