"""`node.pure`: a transform, condition or switch whose scope holds blob refs.

The workflow computes these kinds itself, but reading a stored value there would
write it back into the run's history. Here the refs are resolved, the node is
computed exactly as the workflow would (`auterity.graph.pure`), and a large output
is stored again, so only refs and small values travel through Temporal. A foreach's
items come here the same way ("items"): the run learns a ref and the count, and each
batch reads its own part with `blob.slice`.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.blobs import BlobStore, offload, resolve_refs
from auterity.graph.budget import MAX_OUTPUT_CHARS, MAX_STORED_ITEMS_CHARS
from auterity.graph.contracts import PURE_ACTIVITY, PureNodeInput, PureNodeOutput
from auterity.graph.expressions import Budget
from auterity.graph.pure import ITEMS, NodeFailure, compute


class PureActivities:
    def __init__(self, store: BlobStore, threshold: int) -> None:
        self.store = store
        self.threshold = threshold

    @activity.defn(name=PURE_ACTIVITY)
    async def compute(self, request: PureNodeInput) -> PureNodeOutput:
        scope = await resolve_refs(self.store, request.tenant, request.scope)
        budget = Budget(
            compat=request.compat_templates,
            max_chars=MAX_STORED_ITEMS_CHARS if request.kind == ITEMS else MAX_OUTPUT_CHARS,
        )
        try:
            outcome = compute(request.kind, request.config, scope, budget)
        except NodeFailure as failure:
            raise ApplicationError(
                failure.message, failure.details, type=failure.type, non_retryable=True
            ) from None
        threshold = request.threshold_bytes or self.threshold
        output = await offload(self.store, request.tenant, outcome.output, threshold)
        count = len(outcome.output) if request.kind == ITEMS else None
        return PureNodeOutput(output=output, label=outcome.label, count=count)
