"""Why a node or a run failed: the `type` of every `ApplicationError` the platform raises.

A node's failure keeps its type in the run's state (`NodeError.type`), so a graph
can name types in `retry.non_retryable_error_types` and clients can branch on
them. The values are part of the contract: renaming one breaks saved graphs and
the histories of running executions.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    """Every failure type, named by what went wrong. Retryable unless marked otherwise
    at the raise site (`non_retryable=True`)."""

    # A node's own configuration or expressions (never retryable).
    NODE_CONFIG_INVALID = "NodeConfigInvalid"
    EXPRESSION_ERROR = "ExpressionError"
    SECRET_NOT_FOUND = "SecretNotFound"
    # http nodes: 408 and 429 are retryable client errors; other 4xx are not.
    HTTP_CLIENT_ERROR = "HttpClientError"
    HTTP_SERVER_ERROR = "HttpServerError"
    HTTP_NETWORK_ERROR = "HttpNetworkError"
    HTTP_UNEXPECTED_STATUS = "HttpUnexpectedStatus"
    HTTP_REQUEST_INVALID = "HttpRequestInvalid"
    HTTP_RESPONSE_TOO_LARGE = "HttpResponseTooLarge"
    # The security walls around what a tenant controls (never retryable).
    EGRESS_REFUSED = "EgressRefused"
    """The URL leads to an address the egress policy refuses (loopback, private, ...)."""
    SECRET_REFUSED = "SecretRefused"
    """A secret used where no credential belongs, or bound to other hosts."""
    # llm nodes.
    UNKNOWN_ROUTE = "UnknownRoute"
    UNKNOWN_MODEL = "UnknownModel"
    LLM_PROVIDER_ERROR = "LlmProviderError"
    LLM_REQUEST_REJECTED = "LlmRequestRejected"
    INVALID_STRUCTURED_OUTPUT = "InvalidStructuredOutput"
    BUDGET_EXHAUSTED = "BudgetExhausted"
    """A hard budget of the tenant, graph or route cannot admit the call (never retryable)."""
    # Human tasks.
    TENANT_NOT_FOUND = "TenantNotFound"
    TASK_NOT_FOUND = "TaskNotFound"
    TASK_REJECTED = "TaskRejected"
    APPROVAL_TIMED_OUT = "ApprovalTimedOut"
    # Blobs (large outputs stored outside history).
    BLOB_NOT_FOUND = "BlobNotFound"
    BLOB_REF_INVALID = "BlobRefInvalid"
    BLOB_CORRUPT = "BlobCorrupt"
    BLOB_SLICE_INVALID = "BlobSliceInvalid"
    """A part of a stored list asked for that the list does not hold, or no list stored."""
    # Child runs and time.
    SUBGRAPH_UNAVAILABLE = "SubgraphUnavailable"
    SUBGRAPH_FAILED = "SubgraphFailed"
    FOREACH_BATCH_FAILED = "ForeachBatchFailed"
    TIMEOUT = "Timeout"
    ACTIVITY_ERROR = "ActivityError"
    """An activity failed without saying why (no ApplicationError type)."""
    # The run itself.
    NODE_FAILED = "NodeFailed"
    """A run failed by a node under `on_error: "fail"`; details name the node."""


class ExpressionError(Exception):
    """A template or expression that cannot be parsed or evaluated."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (at position {self.position})"
