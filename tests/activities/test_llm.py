"""The `node.llm` activity through LiteLLM against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.blobs import FileBlobStore
from activities.llm import LlmActivities, ModelEntry
from activities.secrets import Credential, StaticSecretSource
from auterity.graph.contracts import is_blob_ref
from tests.activities.nodes import TENANT, node_request
from tests.servers import ChatServer
from tests.support import LOOPBACK_EGRESS

# LiteLLM and openai lazily import TypedDicts with `ReadOnly` items, which pydantic warns about.
pytestmark = pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier:UserWarning")

TOKEN = "sk-very-secret-0001"
LOCAL_KEY = "sk-local-key-0002"
LABEL_SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["urgent", "normal"]},
        "score": {"type": "number"},
    },
    "required": ["label", "score"],
}


@pytest.fixture
def llm(chat_server: ChatServer, blobs: FileBlobStore) -> LlmActivities:
    base = f"{chat_server.url}/v1"
    routes = {
        "default": ["mock/echo"],
        "local": [f"openai/echo@{base}"],
        "resilient": [f"openai/broken@{base}", f"openai/say:from-fallback@{base}"],
        "down": [f"openai/broken@{base}"],
        "picky": [f"openai/rejecting@{base}"],
        "priced": [f"openai/gpt-4o-mini@{base}"],
        "canned": ["mock/canned-reply"],
    }
    secrets = StaticSecretSource(
        {
            TENANT: {
                "token": TOKEN,
                "local_key": Credential(LOCAL_KEY, ("127.0.0.1",)),
                "cloud_key": Credential(LOCAL_KEY, ("api.openai.com",)),
            }
        }
    )
    return LlmActivities(
        routes, blobs, threshold_bytes=2048, secrets=secrets, egress=LOOPBACK_EGRESS
    )


async def _fail(env: ActivityEnvironment, llm: LlmActivities, config: dict) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await env.run(llm.complete, node_request("llm", config))
    return caught.value


def test_route_entries_may_name_an_api_base() -> None:
    assert ModelEntry.parse("openai/llama3@http://127.0.0.1:11434/v1") == ModelEntry(
        "openai/llama3", "http://127.0.0.1:11434/v1"
    )
    assert ModelEntry.parse("vertex_ai/claude-3-5-sonnet@20240620") == ModelEntry(
        "vertex_ai/claude-3-5-sonnet@20240620"
    )


async def test_plain_completion_returns_text_usage_and_model(
    activity_env: ActivityEnvironment, llm: LlmActivities, chat_server: ChatServer
) -> None:
    config = {
        "route": "local",
        "system": "Answer briefly.",
        "prompt": "Hello {{ inputs.name }}",
        "temperature": 0.3,
        "max_tokens": 50,
    }
    scope = {"inputs": {"name": "Ada"}, "nodes": {}, "vars": {}}
    result = await activity_env.run(llm.complete, node_request("llm", config, scope=scope))

    assert result.output["text"] == "Hello Ada"
    assert result.output["model"] == "openai/echo"
    assert result.output["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "total_tokens": 10,
    }
    assert result.usage == result.output["usage"]
    assert result.cost is None and result.output["cost"] is None  # unpriced: unknown, not 0
    assert result.output["cost_known"] is False
    assert result.output["deployment"] == "route:local#0" and result.output["route"] == "local"
    assert result.attempt == 1
    assert "object" not in result.output
    sent = chat_server.requests[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Hello Ada"},
    ]
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 50


async def test_messages_are_rendered_in_order(
    activity_env: ActivityEnvironment, llm: LlmActivities, chat_server: ChatServer
) -> None:
    config = {
        "route": "local",
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "items: {{ inputs.items }}"},
        ],
    }
    scope = {"inputs": {"items": [1, 2]}, "nodes": {}, "vars": {}}
    result = await activity_env.run(llm.complete, node_request("llm", config, scope=scope))
    assert result.output["text"] == "items: [1, 2]"
    assert [m["role"] for m in chat_server.requests[-1]["messages"]] == [
        "user",
        "assistant",
        "user",
    ]


async def test_structured_output_is_parsed_and_validated(
    activity_env: ActivityEnvironment, llm: LlmActivities, chat_server: ChatServer
) -> None:
    config = {
        "route": "local",
        "prompt": '{"label": "{{ inputs.label }}", "score": 0.9}',
        "response_schema": LABEL_SCHEMA,
    }
    scope = {"inputs": {"label": "urgent"}, "nodes": {}, "vars": {}}
    result = await activity_env.run(llm.complete, node_request("llm", config, scope=scope))

    assert result.output["object"] == {"label": "urgent", "score": 0.9}
    response_format = chat_server.requests[-1]["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == LABEL_SCHEMA


@pytest.mark.parametrize(
    ("reply", "complaint"),
    [
        ("not json at all", "not JSON"),
        ('{"label": "whatever", "score": 1}', "at label"),
        ('{"label": "urgent"}', "score"),
    ],
)
async def test_invalid_structured_output_is_a_retryable_failure(
    activity_env: ActivityEnvironment, llm: LlmActivities, reply: str, complaint: str
) -> None:
    config = {"route": "local", "prompt": reply, "response_schema": LABEL_SCHEMA}
    error = await _fail(activity_env, llm, config)
    assert error.type == "InvalidStructuredOutput"
    assert not error.non_retryable
    assert complaint in error.message
    assert error.details[0]["text"] == reply


async def test_a_failing_primary_falls_back_to_the_next_model(
    activity_env: ActivityEnvironment, llm: LlmActivities, chat_server: ChatServer
) -> None:
    before = len(chat_server.requests)
    result = await activity_env.run(
        llm.complete, node_request("llm", {"route": "resilient", "prompt": "hi"})
    )
    assert result.output["text"] == "from-fallback"
    assert result.output["model"] == "openai/say:from-fallback"
    assert chat_server.models()[before:] == ["broken", "say:from-fallback"]


async def test_provider_failures_are_typed_by_retryability(
    activity_env: ActivityEnvironment, llm: LlmActivities
) -> None:
    down = await _fail(activity_env, llm, {"route": "down", "prompt": "hi"})
    assert down.type == "LlmProviderError" and not down.non_retryable

    rejected = await _fail(activity_env, llm, {"route": "picky", "prompt": "hi"})
    assert rejected.type == "LlmRequestRejected" and rejected.non_retryable


async def test_mock_models_need_no_server_and_no_key(
    activity_env: ActivityEnvironment, llm: LlmActivities
) -> None:
    echoed = await activity_env.run(llm.complete, node_request("llm", {"prompt": "ping"}))
    assert echoed.output["text"] == "ping"
    assert echoed.output["model"] == "mock/echo"
    assert echoed.output["usage"]["total_tokens"] > 0
    assert echoed.output["mock"] is True and echoed.output["cost"] is None

    canned = await activity_env.run(
        llm.complete, node_request("llm", {"route": "canned", "prompt": "anything"})
    )
    assert canned.output["text"] == "canned-reply"
    streamed = await activity_env.run(
        llm.complete, node_request("llm", {"prompt": "ping", "stream": True})
    )
    assert streamed.output == echoed.output, "a mock streams its whole answer as one chunk"


async def test_known_models_are_priced(
    activity_env: ActivityEnvironment, llm: LlmActivities
) -> None:
    result = await activity_env.run(
        llm.complete, node_request("llm", {"route": "priced", "prompt": "hi"})
    )
    assert result.cost == pytest.approx(7 * 1.5e-07 + 3 * 6e-07)  # LiteLLM's gpt-4o-mini price
    assert result.output["cost_known"] is True


async def test_model_must_be_one_the_routes_name(
    activity_env: ActivityEnvironment, llm: LlmActivities, chat_server: ChatServer
) -> None:
    result = await activity_env.run(
        llm.complete, node_request("llm", {"model": "openai/echo", "prompt": "direct"})
    )
    assert result.output["text"] == "direct"

    error = await _fail(activity_env, llm, {"model": "openai/gpt-unknown", "prompt": "hi"})
    assert error.type == "UnknownModel" and error.non_retryable

    error = await _fail(activity_env, llm, {"route": "nowhere", "prompt": "hi"})
    assert error.type == "UnknownRoute" and error.non_retryable
    assert "nowhere" in error.message


@pytest.mark.parametrize(
    "prompt",
    ["{{ secrets.token | reverse }}", "key={{ secrets.token }}", "{{ secrets.token[1:] }}"],
)
async def test_a_secret_in_a_prompt_is_refused_before_it_is_fetched(
    activity_env: ActivityEnvironment, llm: LlmActivities, chat_server: ChatServer, prompt: str
) -> None:
    """Attack: `{{ secrets.x | reverse }}` in a prompt used to come back reversed in the
    output, past the redaction of the exact value."""
    before = len(chat_server.requests)
    error = await _fail(activity_env, llm, {"route": "local", "prompt": prompt})
    assert error.type == "SecretRefused" and error.non_retryable
    assert error.message.startswith("node 'call': prompt at position ")
    assert "may appear only in" in error.message
    assert TOKEN not in error.message and TOKEN[::-1] not in error.message
    assert len(chat_server.requests) == before


async def test_a_provider_key_goes_only_to_the_hosts_it_is_bound_to(
    activity_env: ActivityEnvironment, llm: LlmActivities, chat_server: ChatServer
) -> None:
    config = {"route": "local", "prompt": "hi", "api_key": "{{ secrets.local_key }}"}
    result = await activity_env.run(llm.complete, node_request("llm", config))
    assert chat_server.keys[-1] == f"Bearer {LOCAL_KEY}"
    assert result.output["text"] == "hi"

    before = len(chat_server.requests)
    config = {"route": "local", "prompt": "hi", "api_key": "{{ secrets.cloud_key }}"}
    error = await _fail(activity_env, llm, config)
    assert error.type == "SecretRefused" and error.non_retryable
    assert "secret 'cloud_key' may not be sent to 127.0.0.1" in error.message
    assert "bound to api.openai.com" in error.message and LOCAL_KEY not in error.message
    assert len(chat_server.requests) == before


async def test_an_api_base_on_an_internal_address_is_refused_by_default(
    chat_server: ChatServer, blobs: FileBlobStore, activity_env: ActivityEnvironment
) -> None:
    routes = {"default": [f"openai/echo@{chat_server.url}/v1"]}
    strict = LlmActivities(routes, blobs)
    before = len(chat_server.requests)
    error = await _fail(activity_env, strict, {"prompt": "hi"})
    assert error.type == "EgressRefused" and error.non_retryable
    assert "egress to 127.0.0.1 refused: loopback address" in error.message
    assert "AUTERITY_EGRESS_ALLOW" in error.message
    assert len(chat_server.requests) == before


async def test_long_replies_are_offloaded_to_the_blob_store(
    activity_env: ActivityEnvironment, llm: LlmActivities
) -> None:
    config = {"route": "local", "prompt": "{{ 'word ' * 1000 }}"}
    result = await activity_env.run(llm.complete, node_request("llm", config))
    assert is_blob_ref(result.output)
    assert result.usage == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


async def test_bad_templates_fail_without_retry(
    activity_env: ActivityEnvironment, llm: LlmActivities
) -> None:
    error = await _fail(activity_env, llm, {"route": "local", "prompt": "{{ inputs.missing }}"})
    assert error.type == "ExpressionError" and error.non_retryable
    assert error.message.startswith("node 'call': prompt:")
