"""The gateway's worker metrics (monitoring/METRICS.md), recorded through the Temporal
runtime's meter by the `llm` activity."""

TOKENS_METRIC = "auterity_llm_tokens_total"
"""Counter: tokens by tenant, route, model and type (`prompt`, `completion`)."""
COST_METRIC = "auterity_llm_cost_usd"
"""Histogram: the cost of one priced call, in USD; its `_sum` is the spend. (The runtime's
counters take whole numbers only.)"""
COST_BUCKETS_USD = [0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 10.0]
