"""Issue 24: blue/green test traffic. A call can carry ECS's test header, so it reaches the green revision.

The header's name and the rules for it are defined twice: in the CDK library (which writes the
Service Connect test traffic rules) and in the client (which must not import the library). These
tests hold the two together: the constant, and every name and value one accepts the other accepts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecs_discovery_client import (
    TEST_TRAFFIC_HEADER,
    ConfigurationError,
    DiscoveryClient,
    DiscoverySettings,
    is_test_traffic_value,
)
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer
from ecs_service_discovery.constructs import deployment
from ecs_service_discovery.constructs.deployment import DeploymentOptions, DeploymentStrategy
from tests.client.conftest import settings_for
from tests.fakes import LoopbackHttpServer, Request, Response

# A task of the service, called by its address (no DNS needed), outside the ranges other tests use.
TASK_HOST = "127.0.3.9"

NAMES = [
    "x-amzn-ecs-blue-green-test",
    "x-smoke",
    "a",
    "a" * 256,
    "a" * 257,
    "x!#$%&'*+.^_`|~-0",
    "",
    "X-Smoke",  # upper case: the library wants the lower-case form ECS matches
    "x smoke",
    "x-smoke\n",
    "x-smoke\r\nx-injected",
    "x:smoke",
    "x/smoke",
    "x-sm\u00f6ke",
    "x-smoke\x00",
    "connection",  # hop-by-hop: a proxy drops it, no request would match
    "keep-alive",
    "te",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
]
VALUES = [
    "1",
    "true",
    "green smoke test",
    "~" * 256,
    "~" * 257,
    "",
    " leading",
    "trailing ",
    "tab\tinside",
    "line\nbreak",
    "crlf\r\nx-injected: 1",
    "nul\x00",
    "del\x7f",
    "caf\u00e9",
    "bidi\u202e",
]


def _library_accepts(**options: object) -> bool:
    try:
        DeploymentOptions(strategy=DeploymentStrategy.BLUE_GREEN, **options)  # pyright: ignore[reportArgumentType]
    except ValueError:
        return False
    return True


def _client_accepts(**settings: object) -> bool:
    try:
        DiscoverySettings(**settings)  # pyright: ignore[reportArgumentType]
    except ConfigurationError:
        return False
    return True


def test_the_header_is_the_one_the_library_writes_into_the_test_traffic_rules():
    assert TEST_TRAFFIC_HEADER == deployment.TEST_TRAFFIC_HEADER == "x-amzn-ecs-blue-green-test"
    assert DiscoverySettings().test_traffic_header == TEST_TRAFFIC_HEADER


@pytest.mark.parametrize("name", NAMES)
def test_the_client_and_the_library_accept_the_same_header_names(name: str):
    assert _client_accepts(test_traffic_header=name) == _library_accepts(test_traffic_header=name)


@pytest.mark.parametrize("value", VALUES)
def test_the_client_and_the_library_accept_the_same_header_values(value: str):
    accepted = _library_accepts(test_traffic_header_value=value)
    assert _client_accepts(test_traffic_value=value) == accepted
    assert is_test_traffic_value(value) == accepted


def test_the_header_and_value_come_from_the_environment_checked():
    settings = DiscoverySettings.from_environ(
        {"TEST_TRAFFIC_HEADER": " X-Smoke-Test\n", "TEST_TRAFFIC_HEADER_VALUE": "green"}
    )
    assert (settings.test_traffic_header, settings.test_traffic_value) == ("x-smoke-test", "green")
    for variable, value in [("TEST_TRAFFIC_HEADER", "x smoke"), ("TEST_TRAFFIC_HEADER", "connection")]:
        with pytest.raises(ConfigurationError) as raised:
            DiscoverySettings.from_environ({variable: value})
        assert raised.value.variable == variable
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings.from_environ({"TEST_TRAFFIC_HEADER_VALUE": "caf\u00e9"})
    assert raised.value.variable == "TEST_TRAFFIC_HEADER_VALUE"


# -- the calls --------------------------------------------------------------------------------------


@pytest.fixture
def task() -> Iterator[LoopbackHttpServer]:
    def respond(request: Request) -> Response:
        return Response(200, b"ok")

    with LoopbackHttpServer(respond, host=TASK_HOST) as server:
        yield server


def _sent(server: LoopbackHttpServer, name: str) -> list[str | None]:
    """The value of header ``name`` in each request ``server`` received (None: not sent)."""
    found: list[str | None] = []
    for request in server.requests:
        values = [value for key, value in request.headers.items() if key.lower() == name]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        found.append(values[0] if values else None)
    return found


def _client(dns: LoopbackDnsServer, task: LoopbackHttpServer, **overrides: object) -> DiscoveryClient:
    return DiscoveryClient(TASK_HOST, task.port, settings_for(dns, allow_loopback=True, **overrides))


def test_test_traffic_sends_the_header_only_when_asked(dns: LoopbackDnsServer, task: LoopbackHttpServer):
    client = _client(dns, task)

    client.call("/")
    client.call("/", test_traffic=True)
    client.request("GET", "/", test_traffic="green smoke")
    client.request("POST", "/", body=b"{}", headers={"Content-Type": "application/json"}, test_traffic=True)

    assert _sent(task, TEST_TRAFFIC_HEADER) == [None, "1", "green smoke", "1"]
    assert task.requests[3].headers.get("Content-Type") == "application/json"


def test_a_deployment_with_its_own_header_and_value_is_matched(dns: LoopbackDnsServer, task: LoopbackHttpServer):
    client = _client(dns, task, test_traffic_header="x-smoke", test_traffic_value="exact-match")

    client.call("/", test_traffic=True)

    assert _sent(task, "x-smoke") == ["exact-match"]
    assert _sent(task, TEST_TRAFFIC_HEADER) == [None]


def test_a_header_the_caller_gives_wins(dns: LoopbackDnsServer, task: LoopbackHttpServer):
    _client(dns, task).call("/", headers={"X-Amzn-Ecs-Blue-Green-Test": "mine"}, test_traffic=True)

    assert _sent(task, TEST_TRAFFIC_HEADER) == ["mine"]


@pytest.mark.parametrize(
    "value", ["", " x", "x ", "x\n", "x\r\nx-injected: 1", "\x00", "caf\u00e9", "~" * 257, None, 1, b"1", 1.0]
)
def test_a_bad_test_traffic_value_is_refused_before_anything_is_sent(
    dns: LoopbackDnsServer, task: LoopbackHttpServer, value: object
):
    with pytest.raises(ValueError, match="test_traffic"):
        _client(dns, task).call("/", test_traffic=value)  # pyright: ignore[reportArgumentType]

    assert task.requests == []
