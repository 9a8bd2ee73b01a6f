"""Rendering a node's templated config inside an activity.

The workflow sends the raw config and the scope; here the referenced blob refs
are loaded, the referenced secrets fetched (after checking that each is used
only whole, where a credential belongs), and each field rendered with the graph
engine's expression engine under one work budget and deadline for the node.
Every failure becomes a typed, redacted `ApplicationError` naming the node and
the field. Before anything is sent, `check_destination` refuses a host that a
secret the node uses is not bound to.
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
from auterity import logs
from auterity.graph import expressions
from auterity.graph.budget import DEADLINE_SECONDS
from auterity.graph.contracts import NodeActivityInput
from auterity.graph.errors import ErrorType
from auterity.graph.expressions import Budget, ExpressionError, render_value
from auterity.graph.kinds import NODE_KINDS
from auterity.graph.validation import config_sources, secret_refusals
from auterity.redaction import SecretValues, encoded_forms, redact
from auterity.secrets import Credential

ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass
class NodeRendering:
    """The scope a node's templates see, their work budget, and the credentials they use,
    whose values must never leave."""

    request: NodeActivityInput
    scope: dict[str, Any]
    budget: Budget = field(default_factory=Budget)
    credentials: dict[str, Credential] = field(default_factory=dict)
    secret_values: SecretValues = field(default_factory=SecretValues)
    _guarded: set[str] = field(default_factory=set)

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
        """`value` rendered under the node's budget; an expression error (a budget overrun
        included) fails the node, naming `path`."""
        try:
            return render_value(value, self.scope, self.budget)
        except ExpressionError as exc:
            raise self.failure(
                f"{path}: {exc}", type=ErrorType.EXPRESSION_ERROR, non_retryable=True
            ) from None

    def guard(self, *values: str) -> None:
        """Masks these values too, in every form they may travel in (secret values, and
        what is derived from them, such as Basic credentials)."""
        for value in values:
            self._guarded |= encoded_forms(value)
        self.secret_values = SecretValues(self._guarded)
        logs.mask_in_logs(self._guarded)

    def check_destination(self, host: str | None) -> None:
        """Refuses, for good, to send this node's secrets to a host one is not bound to."""
        for name, credential in sorted(self.credentials.items()):
            if host is None or not credential.allows(host):
                raise self.failure(
                    f"secret {name!r} may not be sent to {host or 'an unknown host'}: it is "
                    f"bound to {credential.bound_to()} (the secret's allowed_hosts)",
                    type=ErrorType.SECRET_REFUSED,
                    non_retryable=True,
                )

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
    request: NodeActivityInput,
    blobs: BlobStore,
    secrets: SecretSource | None = None,
    template_seconds: float = DEADLINE_SECONDS,
) -> NodeRendering:
    """Load the blobs and secrets the config refers to; `secrets` None offers none. The
    node's templates get one budget, with a deadline `template_seconds` from now."""
    rendering = NodeRendering(request=request, scope={}, budget=Budget(seconds=template_seconds))
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
    wanted = referenced_names(request.config, "secrets")
    if wanted is None or wanted:
        _check_secret_placement(rendering)
    if secrets is not None:
        if wanted is None:
            raise rendering.failure(
                "secrets must be referenced by name, e.g. {{ secrets.api_token }}",
                type=ErrorType.SECRET_REFUSED,
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
        scope["secrets"] = {name: credential.value for name, credential in found.items()}
        rendering.credentials = found
        rendering.guard(*(credential.value for credential in found.values()))
    rendering.scope = scope
    return rendering


def _check_secret_placement(rendering: NodeRendering) -> None:
    """Refuses a config that uses a secret other than whole, where a credential belongs,
    before any secret is fetched (graphs saved before validation refused it)."""
    kind = NODE_KINDS.get(rendering.request.kind)
    if kind is None:
        return
    for source in config_sources(kind, rendering.request.config):
        try:
            refusals = secret_refusals(source)
        except ExpressionError:
            continue  # rendering reports it, with its position
        for message, position in refusals:
            at = f" at position {position}" if position is not None else ""
            raise rendering.failure(
                f"{source.field.removeprefix('config.')}{at}: {message}",
                type=ErrorType.SECRET_REFUSED,
                non_retryable=True,
            )


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
