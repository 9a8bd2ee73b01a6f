"""Rendering a node's templated config inside an activity.

The workflow sends the raw config and the scope; here the referenced blob refs
are loaded, the referenced secrets fetched, and each field rendered with the
graph engine's expression engine. Every failure becomes a typed, redacted
`ApplicationError` naming the node and the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.blobs import BlobStore, resolve_refs
from activities.secrets import SecretSource
from auterity.graph import expressions
from auterity.graph.contracts import NodeActivityInput
from auterity.graph.errors import ErrorType
from auterity.graph.expressions import ExpressionError, render_value
from auterity.redaction import SecretValues, redact

ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass
class NodeRendering:
    """The scope a node's templates see, and the secret values that must never leave."""

    request: NodeActivityInput
    scope: dict[str, Any]
    secret_values: SecretValues = field(default_factory=SecretValues)

    def parse(self, model: type[ConfigT]) -> ConfigT:
        """The node's config as its kind's model; a bad config fails the node for good."""
        try:
            return model.model_validate(self.request.config)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'config'}: {error['msg']}"
                for error in exc.errors()
            )
            raise self.failure(
                f"invalid {self.request.kind} config: {problems}",
                type=ErrorType.NODE_CONFIG_INVALID,
                non_retryable=True,
            ) from None

    def render(self, path: str, value: Any) -> Any:
        """`value` rendered; an expression error fails the node, naming `path`."""
        try:
            return render_value(value, self.scope)
        except ExpressionError as exc:
            raise self.failure(
                f"{path}: {exc}", type=ErrorType.EXPRESSION_ERROR, non_retryable=True
            ) from None

    def failure(
        self,
        message: str,
        *,
        type: ErrorType,
        non_retryable: bool = False,
        details: dict[str, Any] | None = None,
        next_retry_delay: timedelta | None = None,
    ) -> ApplicationError:
        """An ApplicationError for this node, with every secret value masked."""
        text = self.redact(f"node '{self.request.node_id}': {message}")
        extra = [self.redact(details)] if details is not None else []
        return ApplicationError(
            text, *extra, type=type, non_retryable=non_retryable, next_retry_delay=next_retry_delay
        )

    def redact(self, value: Any) -> Any:
        """`value` with this node's secret values masked; keys are the node's data, kept."""
        return redact(value, self.secret_values, keys=False)


async def prepare(
    request: NodeActivityInput, blobs: BlobStore, secrets: SecretSource | None = None
) -> NodeRendering:
    """Load the blobs and secrets the config refers to; `secrets` None offers none."""
    rendering = NodeRendering(request=request, scope={})
    node_names = referenced_names(request.config, "nodes")
    scope: dict[str, Any] = {}
    for key, value in request.scope.items():
        if key == "secrets":
            continue  # only ever filled here, from the secret source
        if key == "nodes" and isinstance(value, dict):
            scope[key] = {
                node_id: (
                    await resolve_refs(blobs, request.tenant, state)
                    if node_names is None or node_id in node_names
                    else state
                )
                for node_id, state in value.items()
            }
        else:
            scope[key] = await resolve_refs(blobs, request.tenant, value)
    if secrets is not None:
        wanted = referenced_names(request.config, "secrets")
        if wanted is None:
            raise rendering.failure(
                "secrets must be referenced by name, e.g. {{ secrets.api_token }}",
                type=ErrorType.EXPRESSION_ERROR,
                non_retryable=True,
            )
        found = await secrets.get(request.tenant, wanted) if wanted else {}
        missing = sorted(wanted - found.keys())
        if missing:
            raise rendering.failure(
                f"unknown secret(s): {', '.join(missing)}",
                type=ErrorType.SECRET_NOT_FOUND,
                non_retryable=True,
            )
        scope["secrets"] = found
        rendering.secret_values = SecretValues(found.values())
    rendering.scope = scope
    return rendering


def attempt_budget_seconds() -> float | None:
    """What is left of this attempt's start-to-close timeout (less a second for reporting)."""
    if not activity.in_activity():
        return None
    budget = activity.info().start_to_close_timeout
    return max(budget.total_seconds() - 1.0, 1.0) if budget else None


def current_attempt() -> int | None:
    """This activity's attempt number (1 for the first try); None outside an activity."""
    return activity.info().attempt if activity.in_activity() else None


def referenced_names(config: Any, root: str) -> set[str] | None:
    """Names read as `<root>.<name>` or `<root>['<name>']` in the config's templates.

    None when `root` is used any other way (computed keys, passed whole), so the
    caller cannot know which names are needed. Unparsable templates are skipped:
    rendering reports them with their position.
    """
    names: set[str] = set()
    for source in _strings(config):
        try:
            references = expressions.referenced_names(source)
        except ExpressionError:
            continue
        for reference in references:
            if reference.root != root:
                continue
            if reference.name is None:
                return None
            names.add(reference.name)
    return names


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
