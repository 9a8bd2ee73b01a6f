"""The AI gateway's admin pages on the real stack: an editor with routes:manage and
budgets:manage makes a route and a budget (the API's 422s shown next to the field they
name), spend shows the cost of a real call through a local OpenAI-compatible server, a
prompt alias moves (audited) and two versions are compared side by side, an owner changes
tenant settings, and someone without the permissions sees no page and gets 403s. Every page
is checked with axe and at phone width."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.browser.stack import (
    Stack,
    describe_violations,
    join,
    serious_violations,
    sign_in,
    token_of,
)
from tests.browser.test_runs_and_tasks import start
from tests.servers import ChatServer

AI_EDITOR = [
    "graphs:read",
    "graphs:write",
    "executions:read",
    "executions:start",
    "routes:manage",
    "budgets:manage",
    "spend:read",
    "registry:manage",
    "secrets:manage",
]
PASSWORD = "a gateway editor passphrase 7"
# The local server answers every call with 7 prompt and 3 completion tokens.
PRICE = {"input_cost_per_token": 0.0001, "output_cost_per_token": 0.0003}
COST = 7 * 0.0001 + 3 * 0.0003


def person(stack: Stack, permissions: list[str] | None, builtin: str = "viewer") -> str:
    """Someone who joined the tenant with a custom role of `permissions` (or a built-in role)."""
    suffix = uuid.uuid4().hex[:8]
    email = f"gw-{suffix}@example.org"
    with stack.client() as api:
        role = builtin
        if permissions is not None:
            role = f"gateway-{suffix}"  # no built-in role's name inside it
            made = api.post("/v1/roles", json={"name": role, "permissions": permissions})
            assert made.status_code == 201, made.text
        join(api, email, [role], PASSWORD)
    return email


def go(page: Any, path: str) -> None:
    """Move within the signed-in builder (a reload would end the in-memory session)."""
    page.evaluate(
        "path => { history.pushState({}, '', path); dispatchEvent(new PopStateEvent('popstate')); }",
        path,
    )


def message_of(page: Any, field: Any) -> str:
    """The text a field points at with aria-describedby (its error or hint)."""
    described = field.get_attribute("aria-describedby")
    assert described, "the field describes nothing"
    return str(page.evaluate("id => document.getElementById(id)?.textContent ?? ''", described))


def fits_a_phone(page: Any) -> None:
    """At 390 px the page scrolls down, never sideways (wide tables scroll in their box)."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide at phone width"
    page.set_viewport_size({"width": 1400, "height": 900})


def no_violations(page: Any, where: str) -> None:
    page.wait_for_timeout(300)  # colour transitions (a button just enabled) have settled
    found = serious_violations(page)
    assert not found, f"{where}: {describe_violations(found)}"


def wait_for_run(stack: Stack, run_id: str) -> dict[str, Any]:
    with stack.client() as api:
        for _ in range(240):
            run = api.get(f"/v1/executions/{run_id}").json()
            if run["status"] != "running":
                return dict(run)
            time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish")


def test_an_editor_creates_a_route_and_a_budget(page: Any, stack: Stack, shot: Any) -> None:
    email = person(stack, AI_EDITOR)
    with stack.client() as api:
        put = api.put(
            "/v1/secrets/OPENAI_KEY", json={"value": "sk-test", "allowed_hosts": ["api.openai.com"]}
        )
        assert put.status_code in (200, 201), put.text
    route = f"fast-{uuid.uuid4().hex[:6]}"
    sign_in(page, stack, "/admin/routes", email, PASSWORD)
    page.get_by_role("heading", name="AI routes").wait_for()
    nav = page.get_by_role("navigation", name="Administration")
    shown = nav.get_by_role("link").all_inner_texts()
    assert {"AI routes", "Budgets", "Spend", "Prompts & models"} <= set(shown), shown
    assert "Tenant settings" not in shown and "Users" not in shown, shown

    page.get_by_role("button", name="New route").click()
    dialog = page.get_by_role("dialog", name="New route")
    dialog.get_by_label("Name").fill(route)
    dialog.get_by_label("Model (deployment 1)").fill("openai/gpt-4o-mini")
    api_base = dialog.get_by_label("API base (deployment 1)")
    api_base.fill("ftp://models.example")
    # The key is one of the tenant's secrets, chosen by name (its value never comes back).
    dialog.get_by_label("API key secret (deployment 1)").select_option("OPENAI_KEY")
    dialog.get_by_label("Weight (deployment 1)").fill("3")
    dialog.get_by_label("Requests per minute (deployment 1)").fill("500")
    dialog.get_by_label("USD per prompt token (deployment 1)").fill("0.00000015")
    dialog.get_by_label("USD per completion token (deployment 1)").fill("0.0000006")
    fallbacks = dialog.get_by_label("Fallbacks (in order)")
    fallbacks.fill("ghost")
    no_violations(page, "route dialog")
    # The schema's 422 names deployments[0].api_base: the message sits under that field.
    dialog.get_by_role("button", name="Save route").click()
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=api_base.element_handle()
    )
    assert "http or https" in message_of(page, api_base)
    shot("api-base-refused")
    api_base.fill("")
    # The service's 422 names fallbacks[0]: under the Fallbacks field.
    dialog.get_by_role("button", name="Save route").click()
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=fallbacks.element_handle()
    )
    assert "unknown route 'ghost'" in message_of(page, fallbacks)
    assert api_base.get_attribute("aria-invalid") is None
    no_violations(page, "route dialog with problems")
    shot("fallback-refused")
    fallbacks.fill("")
    dialog.get_by_role("button", name="Save route").click()
    dialog.wait_for(state="detached")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=route, exact=True))
    row.get_by_text("openai/gpt-4o-mini ×3").wait_for()
    with stack.client() as api:
        saved = api.get(f"/v1/routes/{route}").json()
    assert saved["version"] == 1
    assert saved["config"]["deployments"] == [
        {
            "model": "openai/gpt-4o-mini",
            "api_base": None,
            "api_key_secret": "OPENAI_KEY",
            "weight": 3,
            "rpm": 500,
            "tpm": None,
            "input_cost_per_token": 0.00000015,
            "output_cost_per_token": 0.0000006,
            "max_output_tokens": None,
        }
    ]

    page.get_by_role("button", name=f"Edit {route}").click()
    dialog = page.get_by_role("dialog", name=f"Edit route {route}")
    dialog.get_by_label("Routing strategy").select_option("latency-based-routing")
    dialog.get_by_label("Timeout per call (seconds)").fill("20")
    dialog.get_by_role("button", name="Save route").click()
    dialog.wait_for(state="detached")
    row.get_by_text("Lowest latency").wait_for()
    with stack.client() as api:
        edited = api.get(f"/v1/routes/{route}").json()
    assert edited["version"] == 2
    assert edited["config"]["strategy"] == "latency-based-routing"
    assert edited["config"]["timeout_seconds"] == 20
    assert edited["config"]["deployments"][0]["api_key_secret"] == "OPENAI_KEY"
    no_violations(page, "/admin/routes")
    fits_a_phone(page)

    nav.get_by_role("link", name="Budgets").click()
    page.get_by_role("button", name="New budget").click()
    dialog = page.get_by_role("dialog", name="New budget")
    budget = f"cap-{route}"
    dialog.get_by_label("Name").fill(budget)
    limit = dialog.get_by_label("Limit (USD)")
    limit.fill("-5")
    dialog.get_by_label("Period").select_option("daily")
    dialog.get_by_label("Enforcement").select_option("warn")
    dialog.get_by_label("Applies to").select_option("route")
    dialog.get_by_label("Route", exact=True).select_option(route)
    dialog.get_by_role("button", name="Save budget").click()
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=limit.element_handle()
    )
    assert "greater than 0" in message_of(page, limit)
    no_violations(page, "budget dialog with a problem")
    limit.fill("5")
    dialog.get_by_role("button", name="Save budget").click()
    dialog.wait_for(state="detached")
    made = page.locator(f'[data-budget="{budget}"]')
    made.get_by_text("$0 of $5.00 (0%)").wait_for()
    assert f"route {route}" in made.inner_text() and "warn only" in made.inner_text()
    with stack.client() as api:
        budgets = {b["name"]: b for b in api.get("/v1/budgets").json()["items"]}
    assert budgets[budget]["route"] == route and budgets[budget]["limit_usd"] == "5"
    assert (budgets[budget]["period"], budgets[budget]["enforcement"]) == ("daily", "warn")
    no_violations(page, "/admin/budgets")
    fits_a_phone(page)
    shot("budget")

    page.once("dialog", lambda confirm: confirm.accept())
    page.get_by_role("button", name=f"Delete {budget}").click()
    made.wait_for(state="detached")
    with stack.client() as api:
        assert budget not in {b["name"] for b in api.get("/v1/budgets").json()["items"]}
    nav.get_by_role("link", name="AI routes").click()
    page.once("dialog", lambda confirm: confirm.accept())
    page.get_by_role("button", name=f"Delete {route}").click()
    row.wait_for(state="detached")
    with stack.client() as api:
        assert api.get(f"/v1/routes/{route}").status_code == 404


def test_spend_shows_the_cost_of_a_real_call(
    page: Any, stack: Stack, shot: Any, chat_server: ChatServer
) -> None:
    route = f"local-{uuid.uuid4().hex[:6]}"
    with stack.client() as api:
        made = api.post(
            "/v1/routes",
            json={
                "name": route,
                "deployments": [
                    {"model": "openai/echo", "api_base": f"{chat_server.url}/v1", **PRICE}
                ],
            },
        )
        assert made.status_code == 201, made.text
        capped = api.post(
            "/v1/budgets",
            json={"name": f"cap-{route}", "limit_usd": "1", "period": "daily", "route": route},
        )
        assert capped.status_code == 201, capped.text
    graph = {
        "name": f"spend-{route}",
        "nodes": [
            {
                "id": "ask",
                "type": "llm",
                "config": {"route": route, "prompt": "hello there", "max_tokens": 5},
            }
        ],
        "edges": [],
    }
    run = wait_for_run(stack, start(stack, graph))
    assert run["status"] == "completed", (run.get("error"), run.get("nodes"))
    answered = run["nodes"]["ask"]["output"]
    assert answered["cost"] == pytest.approx(COST) and answered["usage"]["prompt_tokens"] == 7

    sign_in(page, stack, "/admin/spend")
    page.get_by_role("heading", name="Spend").wait_for()
    page.get_by_label("Route", exact=True).check()
    page.get_by_label("Day", exact=True).uncheck()
    row = page.get_by_test_id("spend-row").filter(
        has=page.locator('[data-dimension="route"]', has_text=route)
    )
    row.wait_for()
    assert row.get_by_test_id("spend-cost").inner_text() == "$0.0016"
    assert "7 / 3" in row.inner_text()
    no_violations(page, "/admin/spend")
    shot("spend-by-route")

    page.get_by_label("Graph", exact=True).check()
    page.get_by_label("Node", exact=True).check()
    row = page.get_by_test_id("spend-row").filter(
        has=page.locator('[data-dimension="route"]', has_text=route)
    )
    row.locator('[data-dimension="graph"]', has_text=f"spend-{route}").wait_for()
    assert row.locator('[data-dimension="node"]').inner_text() == "ask"
    # A range after today holds no call of it.
    tomorrow = page.evaluate("() => new Date(Date.now() + 86400000).toISOString().slice(0, 10)")
    page.get_by_label("To", exact=True).fill(tomorrow)
    page.get_by_label("From", exact=True).fill(tomorrow)
    page.get_by_text("No model calls in these days.").wait_for()
    fits_a_phone(page)

    go(page, "/admin/budgets")
    page.locator(f'[data-budget="cap-{route}"]').get_by_text("$0.0016 of $1.00").wait_for()
    shot("budget-spent")


def test_moving_a_prompt_alias_and_comparing_two_versions(
    page: Any, stack: Stack, shot: Any
) -> None:
    name = f"triage-{uuid.uuid4().hex[:6]}"
    with stack.client() as api:
        # The platform's development route `default` is mock/echo: it answers the prompt.
        first = {"template": "First: {{ ticket }}", "route": "default"}
        made = api.post("/v1/registry/prompts", json={"name": name, "spec": first})
        assert made.status_code == 201, made.text
        second = {"template": "Second: {{ ticket }}", "route": "default"}
        added = api.post(f"/v1/registry/prompts/{name}/versions", json={"spec": second})
        assert added.status_code == 201, added.text
        pinned = api.put(f"/v1/registry/prompts/{name}/aliases/production", json={"version": 1})
        assert pinned.status_code == 200, pinned.text
    email = person(stack, AI_EDITOR)
    sign_in(page, stack, "/admin/registry", email, PASSWORD)
    entry = page.locator(f'[data-entry="{name}"]')
    entry.locator('[data-alias="production"]').get_by_text("production → v1").wait_for()
    no_violations(page, "/admin/registry")
    fits_a_phone(page)

    entry.get_by_role("button", name=f"Move an alias of {name}").click()
    dialog = page.get_by_role("dialog", name=f"Move an alias of {name}")
    assert dialog.get_by_label("Alias").input_value() == "production"
    dialog.get_by_label("Version it names").select_option("2")
    no_violations(page, "alias dialog")
    dialog.get_by_role("button", name="Move alias").click()
    dialog.wait_for(state="detached")
    entry.locator('[data-alias="production"]').get_by_text("production → v2").wait_for()
    shot("alias-moved")
    with stack.client() as api:
        assert api.get(f"/v1/registry/prompts/{name}").json()["aliases"] == {"production": 2}
        entries = api.get("/v1/audit", params={"limit": 50}).json()["items"]
    moves = [
        e
        for e in entries
        if e["action"] == "registry.prompt.alias_moved" and e["details"].get("to") == 2
        and any(t.get("name") == name for t in e.get("targets", []))
    ]  # fmt: skip
    me = httpx.get(
        f"{stack.url}/v1/me",
        headers={"Authorization": f"Bearer {token_of(stack, email, PASSWORD)}"},
        timeout=30,
    ).json()
    assert len(moves) == 1 and moves[0]["actor"]["id"] == me["id"], moves
    assert moves[0]["details"]["from"] == 1, moves

    # A new version starts from the latest; JSON that does not parse is named by its field.
    entry.get_by_role("button", name=f"New version of {name}").click()
    dialog = page.get_by_role("dialog", name=f"New version of {name}")
    template = dialog.get_by_label("Template")
    assert template.input_value() == "Second: {{ ticket }}"
    template.fill("Third: {{ ticket }}")
    schema = dialog.get_by_label("Response JSON Schema")
    schema.fill("{not json")
    dialog.get_by_role("button", name="Save version").click()
    assert "not valid JSON" in message_of(page, schema)
    schema.fill("")
    dialog.get_by_role("button", name="Save version").click()
    dialog.wait_for(state="detached")
    entry.get_by_role("cell", name="v3", exact=True).wait_for()
    with stack.client() as api:
        versions = api.get(f"/v1/registry/prompts/{name}").json()["versions"]
    assert versions[-1]["version"] == 3
    assert versions[-1]["spec"]["template"] == "Third: {{ ticket }}"
    assert versions[-1]["spec"]["route"] == "default"

    model = f"classifier-{uuid.uuid4().hex[:6]}"
    page.get_by_role("button", name="New model").click()
    dialog = page.get_by_role("dialog", name="New model")
    dialog.get_by_label("Name").fill(model)
    dialog.get_by_label("Route").fill("default")
    dialog.get_by_label("Temperature").fill("7")
    dialog.get_by_role("button", name="Save version").click()
    temperature = dialog.get_by_label("Temperature")
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=temperature.element_handle()
    )
    assert "less than or equal to 2" in message_of(page, temperature)
    temperature.fill("0.2")
    dialog.get_by_role("button", name="Save version").click()
    dialog.wait_for(state="detached")
    page.locator(f'[data-entry="{model}"]').get_by_role("cell", name="v1", exact=True).wait_for()

    entry.get_by_role("button", name=f"Compare versions of {name}").click()
    dialog = page.get_by_role("dialog", name=f"Compare versions of {name}")
    # The defaults are the last two versions; compare v1 with what production names (v2).
    assert dialog.get_by_label("Version B").input_value() == "3"
    dialog.get_by_label("Version A").select_option("1")
    dialog.get_by_label("Version B").select_option("production")
    cases = dialog.get_by_label("Cases (JSON list, one object of variables per call)")
    assert '"ticket"' in cases.input_value()
    cases.fill("[{ticket: 'no quotes'}]")
    dialog.get_by_role("button", name="Run the comparison").click()
    assert "not valid JSON" in message_of(page, cases)
    cases.fill('[{"ticket": "site down"}, {"ticket": "typo on a page"}]')
    dialog.get_by_role("button", name="Run the comparison").click()
    rows = dialog.get_by_test_id("comparison-row")
    rows.first.wait_for(timeout=120_000)
    table = [row.locator("td").all_inner_texts() for row in rows.all()]
    assert [[cells[0], cells[1].split("\n")[0], cells[2].split("\n")[0]] for cells in table] == [
        ['{"ticket":"site down"}', "First: site down", "Second: site down"],
        ['{"ticket":"typo on a page"}', "First: typo on a page", "Second: typo on a page"],
    ]
    headers = dialog.get_by_role("columnheader").all_inner_texts()
    assert [header.lower() for header in headers] == ["case", "v1", "v2"]
    no_violations(page, "comparison results")
    shot("compared")


def test_an_owner_changes_tenant_settings(page: Any, stack: Stack, shot: Any) -> None:
    with stack.client() as api:
        before = api.get("/v1/tenant").json()
    sign_in(page, stack, "/admin/tenant")
    retention = page.get_by_label("Audit retention (days)")
    retention.wait_for()
    egress = page.get_by_label("Egress allow-list (one host name or CIDR a line)")
    retention.fill("5")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=retention.element_handle()
    )
    assert "30" in message_of(page, retention)
    retention.fill("400")
    # The platform lets tenants open nothing here: the entry is refused, next to the list.
    egress.fill("10.20.0.0/16")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=egress.element_handle()
    )
    assert "10.20.0.0/16" in message_of(page, egress)
    no_violations(page, "/admin/tenant with problems")
    shot("refused")
    egress.fill("\n".join(before["egress_allow"]))
    page.get_by_role("button", name="Save settings").click()
    page.get_by_role("status").filter(has_text="Saved.").wait_for()
    with stack.client() as api:
        after = api.get("/v1/tenant").json()
        assert after["audit_retention_days"] == 400
        restored = api.patch(
            "/v1/tenant", json={"audit_retention_days": before["audit_retention_days"]}
        )
        assert restored.status_code == 200, restored.text
    fits_a_phone(page)


def test_without_the_permissions_there_is_no_page_and_the_api_refuses(
    page: Any, stack: Stack, shot: Any
) -> None:
    email = person(stack, None, builtin="editor")
    asked: list[str] = []
    page.on("request", lambda sent: asked.append(sent.url))
    sign_in(page, stack, "/admin", email, PASSWORD)
    nav = page.get_by_role("navigation", name="Administration")
    nav.get_by_role("link", name="Webhooks").wait_for()
    shown = nav.get_by_role("link").all_inner_texts()
    for hidden in ("AI routes", "Budgets", "Spend", "Prompts & models", "Tenant settings"):
        assert hidden not in shown, shown
    for path, section in [
        ("/admin/routes", "AI routes needs the routes:manage permission"),
        ("/admin/budgets", "Budgets needs the budgets:manage permission"),
        ("/admin/spend", "Spend needs the spend:read permission"),
        ("/admin/registry", "Prompts & models needs the registry:manage permission"),
        ("/admin/tenant", "Tenant settings needs the tenant:manage permission"),
    ]:
        go(page, path)
        page.get_by_test_id("not-permitted").get_by_text(section).wait_for()
    shot("not-permitted")
    gateway = ("/v1/routes", "/v1/budgets", "/v1/spend", "/v1/registry", "/v1/tenant")
    assert not [url for url in asked if any(path in url for path in gateway)], asked

    headers = {"Authorization": f"Bearer {token_of(stack, email, PASSWORD)}"}
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as api:
        refused = {
            "list routes": api.get("/v1/routes").status_code,
            "create a route": api.post(
                "/v1/routes", json={"name": "sneaky", "deployments": [{"model": "mock/echo"}]}
            ).status_code,
            "list budgets": api.get("/v1/budgets").status_code,
            "read spend": api.get("/v1/spend").status_code,
            "move an alias": api.put(
                "/v1/registry/prompts/anything/aliases/production", json={"version": 1}
            ).status_code,
            "change the tenant": api.patch("/v1/tenant", json={"sso_required": False}).status_code,
        }
    assert refused == dict.fromkeys(refused, 403), refused
    with stack.client() as api:
        assert api.get("/v1/routes/sneaky").status_code == 404


def test_a_budget_is_made_from_the_keyboard(page: Any, stack: Stack, shot: Any) -> None:
    sign_in(page, stack, "/admin/budgets")
    page.get_by_role("button", name="New budget").wait_for()
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.textContent") == "New budget":
            break
    else:
        raise AssertionError("Tab never reached the New budget button")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="New budget")
    dialog.wait_for()
    # The dialog puts the focus in its first field; Escape closes it, back on the button.
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert page.evaluate("() => document.activeElement?.textContent") == "New budget"
    page.keyboard.press("Enter")
    dialog.wait_for()
    name = f"keys-{uuid.uuid4().hex[:6]}"
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type("12.5")
    page.keyboard.press("Enter")
    dialog.wait_for(state="detached")
    page.locator(f'[data-budget="{name}"]').get_by_text("$0 of $12.50").wait_for()
    shot("keyboard-budget")
    with stack.client() as api:
        made = {b["name"]: b for b in api.get("/v1/budgets").json()["items"]}[name]
        assert (made["limit_usd"], made["route"], made["graph_id"]) == ("12.5", None, None)
        assert api.delete(f"/v1/budgets/{made['id']}").status_code == 204
