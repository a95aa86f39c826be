"""The discovery page in a real browser (Debian's headless Chromium, driven by playwright),
loaded from the running local topology."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, Route, sync_playwright

from ecs_discovery_tools.local.app_process import GunicornProcess, free_port
from tests.local.conftest import REPO_ROOT, Demo, http_get, wait_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"
SCRIPT_MESSAGE = "<script>alert(1)</script>"
INJECTED = "<script>alert('injected')</script>"
# The page keeps the Cloud Map registry this long (DISCOVERY_REGISTRY_TTL's default) before asking again.
REGISTRY_REFRESH_S = 5
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make browser` (Debian's chromium package)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 360})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    try:
        yield opened
    finally:
        context.close()


def rows(page: Page) -> dict[str, dict[str, str]]:
    found = {}
    for row in page.locator("tr.service").all():
        found[row.get_attribute("data-service") or ""] = {
            "dns_name": row.locator(".dns-name").inner_text(),
            "address": row.locator(".address").inner_text() if row.locator(".address").count() else "",
            "class": row.get_attribute("class") or "",
            "answer": row.locator("td.answer").inner_text(),
            "message": row.locator(".message").inner_text() if row.locator(".message").count() else "",
        }
    return found


def test_page_shows_every_other_service_of_the_namespace(demo: Demo, page: Page):
    response = page.goto(demo.page_url)

    assert response is not None and response.status == 200
    registered = {service["Name"] for service in demo.cloud_map().list_services()["Services"]}
    shown = rows(page)
    assert set(shown) == registered - {"backend"} == {"worker"}
    worker = shown["worker"]
    assert worker["dns_name"] == "worker.corp"
    assert worker["message"] == "Hello from worker"
    assert page.locator("tr.service[data-service=worker] .instances").inner_text().split() == [
        "3",
        "healthy",
        "of",
        "3",
    ]
    assert page.locator("tr.service[data-service=worker] .hosts").inner_text() == "3"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "discovery-page.png"), full_page=True)


def test_reloading_shows_dns_choosing_other_worker_tasks(demo: Demo, page: Page):
    page.goto(demo.page_url)
    seen: set[str] = set()
    for _ in range(30):  # each load picks a random start among the 3 tasks
        seen.add(rows(page)["worker"]["address"].split(":")[0])
        if len(seen) >= 2:
            break
        page.reload()

    assert len(seen) >= 2, seen
    assert seen <= set(demo.addresses("worker"))


def test_the_page_sets_a_content_security_policy_and_needs_nothing_else(demo: Demo, page: Page):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    response = page.goto(demo.page_url)

    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "frame-ancestors 'none'" in policy
    assert requested == [demo.page_url]  # no CDN, no script, no image, no font
    # The hashed inline stylesheet applied: CSP did not block it.
    assert page.locator("th").first.evaluate("e => getComputedStyle(e).textTransform") == "uppercase"


def test_the_policy_header_is_what_stops_a_script_that_got_into_the_page(demo: Demo, page: Page):
    # GIVEN the page as served, with a script added to its HTML (what a missed escape would let in)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def serve_with_script(route: Route, keep_policy: bool) -> None:
        served = route.fetch()
        body = served.text()
        assert "</body>" in body
        headers = dict(served.headers)
        if not keep_policy:
            del headers["content-security-policy"]
        route.fulfill(response=served, headers=headers, body=body.replace("</body>", INJECTED + "</body>", 1))

    page.on("dialog", on_dialog)
    # WHEN the browser loads it without the policy header THEN the script runs (the check sees scripts)
    page.route(demo.page_url, lambda route: serve_with_script(route, keep_policy=False))
    page.goto(demo.page_url)
    assert dialogs == ["injected"]
    # WHEN it loads it with the page's own header THEN the same script is blocked
    page.unroute(demo.page_url)
    page.route(demo.page_url, lambda route: serve_with_script(route, keep_policy=True))
    page.goto(demo.page_url)
    assert page.locator("script").count() == 1  # in the page, and blocked by the policy alone
    assert dialogs == ["injected"]


@pytest.fixture
def script_worker(demo: Demo, tmp_path) -> Iterator[str]:
    """A service 'evil' joins the namespace: a worker whose MESSAGE is a script tag."""
    host = "127.0.0.250"
    port = free_port([host])
    log = open(tmp_path / "evil.log", "wb")  # noqa: SIM115 (kept open for the child's lifetime)
    process = GunicornProcess(
        REPO_ROOT / "services" / "flask-worker",
        host=host,
        port=port,
        env={"SERVICE_NAME": "evil", "MESSAGE": SCRIPT_MESSAGE, "GUNICORN_WORKERS": "1"},
        output=log,
    )
    client = demo.cloud_map()
    service_id = None
    try:
        process.start().wait_ready()
        service_id = client.create_service(
            Name="evil",
            DnsConfig={
                "NamespaceId": demo.state["namespace"]["id"],
                "RoutingPolicy": "MULTIVALUE",
                "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}],
            },
            HealthCheckCustomConfig={"FailureThreshold": 1},
        )["Service"]["Id"]
        client.register_instance(
            ServiceId=service_id,
            InstanceId="evil-task",
            Attributes={"AWS_INSTANCE_IPV4": host, "AWS_INSTANCE_PORT": str(port)},
        )
        # As Route 53 after Cloud Map: the name answers a moment later. A page loaded before would
        # see NXDOMAIN, which resolvers cache (negative caching), so wait for the records first.
        wait_for(lambda: demo.dns_a("evil.corp") == [host], 10, "evil.corp never reached the local DNS")
        yield host
    finally:
        if service_id is not None:
            client.deregister_instance(ServiceId=service_id, InstanceId="evil-task")
            client.delete_service(Id=service_id)
        process.stop()
        log.close()


def test_a_script_in_a_service_answer_is_shown_as_text(demo: Demo, page: Page, script_worker: str):
    def evil_row() -> dict[str, str] | None:
        page.goto(demo.page_url)
        return rows(page).get("evil")

    row = wait_for(evil_row, REGISTRY_REFRESH_S * 4, "the new service never appeared on the page", interval=1)

    assert row["message"] == SCRIPT_MESSAGE
    assert row["address"].startswith(script_worker)
    assert page.locator("script").count() == 0  # nothing the service sent became markup
    assert "&lt;script&gt;" in page.content()


@pytest.fixture
def unreachable_service(demo: Demo) -> Iterator[None]:
    """A service 'ghost' whose only registered task is at an address where nothing listens."""
    client = demo.cloud_map()
    service_id = client.create_service(
        Name="ghost",
        DnsConfig={
            "NamespaceId": demo.state["namespace"]["id"],
            "RoutingPolicy": "MULTIVALUE",
            "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}],
        },
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]["Id"]
    client.register_instance(
        ServiceId=service_id,
        InstanceId="ghost-task",
        Attributes={"AWS_INSTANCE_IPV4": "127.0.0.251", "AWS_INSTANCE_PORT": "9"},
    )
    try:
        # Published by the local DNS within its poll interval; a page loaded before would cache NXDOMAIN.
        wait_for(lambda: demo.dns_a("ghost.corp") == ["127.0.0.251"], 10, "ghost.corp never reached the local DNS")
        yield
    finally:
        client.deregister_instance(ServiceId=service_id, InstanceId="ghost-task")
        client.delete_service(Id=service_id)


def test_a_service_that_cannot_be_reached_shows_its_error_in_its_row(demo: Demo, page: Page, unreachable_service):
    def ghost_row() -> dict[str, str] | None:
        response = page.goto(demo.page_url)
        assert response is not None and response.status == 200
        return rows(page).get("ghost")

    row = wait_for(ghost_row, REGISTRY_REFRESH_S * 4, "the unreachable service never appeared on the page", interval=1)

    assert "failed" in row["class"]
    assert row["answer"].startswith("unreachable: no address of ghost.corp answered")
    assert "127.0.0.251:9 connection refused" in row["answer"]
    assert rows(page)["worker"]["message"] == "Hello from worker"  # the others still shown
    page.screenshot(path=str(ARTIFACTS / "discovery-page-errors.png"), full_page=True)
    assert http_get(demo.api_url).status_code == 200
