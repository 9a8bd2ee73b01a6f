"""Side effects, one module per kind: http, llm, human tasks, blobs."""
