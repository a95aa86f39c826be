"""The drain the construct sets is one the shipped apps accept, for every dns_ttl (issue 20).

The construct tells a task how long to keep serving after SIGTERM (``STOP_DRAIN_SECONDS`` =
``dns_ttl`` + 5 s) and gives the container a stop timeout; the apps in services/ refuse at start-up
a drain that, with their time to finish requests, would not end before Fargate's 120 s SIGKILL.
The apps' images do not contain the library, so both state Fargate's limit: these tests import
both and compare, then feed every drain the construct can produce to the apps' real start-up
check (graceful_stop.stop_seconds, gunicorn.conf.py, and real gunicorn for the boundary values).
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, ValidationError
from ecs_service_discovery.validation import (
    APP_FINISH_SECONDS,
    MAX_DNS_TTL_SECONDS,
    MAX_DRAIN_SECONDS,
    MAX_DRAINED_DNS_TTL_SECONDS,
    MAX_STOP_TIMEOUT_SECONDS,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMON_DIR = REPO_ROOT / "services" / "common"
WORKER_DIR = REPO_ROOT / "services" / "flask-worker"
IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine"
# Every TTL up to the limit, the first ones past it, and the extremes Cloud Map allows.
TTLS = (*range(MAX_DRAINED_DNS_TTL_SECONDS + 3), 300, 3600, MAX_DNS_TTL_SECONDS)
# What the apps read to stop; the test runs them with nothing else from the environment.
STOP_VARIABLES = ("STOP_DRAIN_SECONDS", "GUNICORN_GRACEFUL_TIMEOUT")


@pytest.fixture(scope="module")
def graceful_stop() -> Iterator[ModuleType]:
    """services/common/graceful_stop.py, the module the apps' images run, imported as they import it."""
    sys.path.insert(0, str(COMMON_DIR))
    try:
        import graceful_stop as module

        yield module
    finally:
        sys.path.remove(str(COMMON_DIR))


class _Services(cdk.Stack):
    """One service per TTL, read without synthesizing (so past the 500 resources of one template)."""

    def __init__(self) -> None:
        super().__init__(cdk.App(), "DrainLimit")
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        self.namespace = DiscoveryNamespace(self, "Namespace", vpc=vpc, name="drain")
        self.image = ecs.ContainerImage.from_registry(IMAGE)

    def service(self, name: str, **options: Any) -> DiscoverableFargateService:
        return DiscoverableFargateService(
            self, name, cluster=self.cluster, namespace=self.namespace, name=name, image=self.image, **options
        )

    def stop_settings(self, service: DiscoverableFargateService) -> tuple[dict[str, str], int]:
        """The container's library-set stop variables and its stop timeout, as the template has them."""
        rendered = self.resolve(service.container.render_container_definition())
        variables = {item["name"]: item["value"] for item in rendered["environment"]}
        return {name: variables[name] for name in STOP_VARIABLES if name in variables}, rendered["stopTimeout"]


@pytest.fixture(scope="module")
def by_ttl() -> tuple[_Services, dict[int, DiscoverableFargateService]]:
    stack = _Services()
    return stack, {ttl: stack.service(f"ttl-{ttl}", dns_ttl=Duration.seconds(ttl)) for ttl in TTLS}


def test_the_library_and_the_apps_state_the_same_stop_limits(graceful_stop: ModuleType) -> None:
    # GIVEN the apps' own module, WHEN compared with the library's constants, THEN they agree.
    assert graceful_stop.MAX_STOP_SECONDS == MAX_STOP_TIMEOUT_SECONDS == 120
    assert graceful_stop.DEFAULT_FINISH_SECONDS == APP_FINISH_SECONDS
    # The library's largest drain is exactly the apps' largest: they accept it and refuse one more.
    assert graceful_stop.stop_seconds({"STOP_DRAIN_SECONDS": str(MAX_DRAIN_SECONDS)}) == (MAX_DRAIN_SECONDS, 20)
    with pytest.raises(graceful_stop.StopSettingsError):
        graceful_stop.stop_seconds({"STOP_DRAIN_SECONDS": str(MAX_DRAIN_SECONDS + 1)})


@pytest.mark.parametrize("ttl", TTLS)
def test_the_apps_accept_the_drain_and_finish_before_the_stop_timeout(
    by_ttl: tuple[_Services, dict[int, DiscoverableFargateService]], graceful_stop: ModuleType, ttl: int
) -> None:
    stack, services = by_ttl
    variables, stop_timeout = stack.stop_settings(services[ttl])

    drain, finish = graceful_stop.stop_seconds(variables)  # the apps' start-up check: raises if refused

    assert drain == min(ttl + 5, MAX_DRAIN_SECONDS)
    # gunicorn's master ends its workers after drain + finish: before Fargate's SIGKILL.
    assert drain + finish < stop_timeout <= MAX_STOP_TIMEOUT_SECONDS


def test_only_a_ttl_past_the_limit_is_capped_with_a_warning_saying_what_it_costs(
    by_ttl: tuple[_Services, dict[int, DiscoverableFargateService]],
) -> None:
    _, services = by_ttl
    # The warnings as recorded on each construct (Annotations.from_stack would synthesize 1,000 resources).
    warned = {
        ttl: [entry.data for entry in service.node.metadata if entry.type == "aws:cdk:warning"]
        for ttl, service in services.items()
    }
    assert [ttl for ttl, messages in warned.items() if messages] == [
        ttl for ttl in TTLS if ttl > MAX_DRAINED_DNS_TTL_SECONDS
    ]
    (message,) = warned[MAX_DRAINED_DNS_TTL_SECONDS + 1]
    assert message.startswith("dns_ttl=95 s: callers may use a stopped task's address for 100 s")
    assert "STOP_DRAIN_SECONDS is 99: for up to 1 s after each task stops" in message
    assert "lower dns_ttl to 94 s or less" in message
    assert "cannotDrain" in message


def test_gunicorn_reads_the_drain_of_the_longest_and_a_capped_ttl_and_ends_before_sigkill(
    by_ttl: tuple[_Services, dict[int, DiscoverableFargateService]],
) -> None:
    # Real gunicorn with the construct's variables: it loads its configuration and the app, then
    # prints the settings, the master's graceful_timeout among them (drain + finish).
    stack, services = by_ttl
    for ttl in (MAX_DRAINED_DNS_TTL_SECONDS, MAX_DRAINED_DNS_TTL_SECONDS + 1, MAX_DNS_TTL_SECONDS):
        variables, stop_timeout = stack.stop_settings(services[ttl])
        result = subprocess.run(
            [sys.executable, "-m", "gunicorn", "--print-config", "-c", "../common/gunicorn.conf.py", "app:app"],
            cwd=WORKER_DIR,
            env={"PATH": str(Path(sys.executable).parent), "PYTHONDONTWRITEBYTECODE": "1", **variables},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        settings = {
            key.strip(): value.strip() for key, _, value in (line.partition("=") for line in result.stdout.splitlines())
        }
        graceful_timeout = int(settings["graceful_timeout"])
        assert graceful_timeout == MAX_DRAIN_SECONDS + APP_FINISH_SECONDS < stop_timeout


def test_the_apps_config_file_accepts_the_capped_drain(
    by_ttl: tuple[_Services, dict[int, DiscoverableFargateService]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, services = by_ttl
    variables, _ = stack.stop_settings(services[MAX_DNS_TTL_SECONDS])
    for name in STOP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the config adds services/common
    settings = runpy.run_path(str(COMMON_DIR / "gunicorn.conf.py"))
    assert (settings["drain_seconds"], settings["graceful_timeout"]) == (99, 119)


@pytest.mark.parametrize(("ttl", "stop"), [(MAX_DRAINED_DNS_TTL_SECONDS, 99), (MAX_DRAINED_DNS_TTL_SECONDS + 1, 99)])
def test_a_stop_timeout_given_must_still_cover_the_capped_drain(ttl: int, stop: int) -> None:
    stack = _Services()
    with pytest.raises(ValidationError, match=r"^stop_timeout='99 seconds' is not valid: .* expected more than 99"):
        stack.service("web", dns_ttl=Duration.seconds(ttl), stop_timeout=Duration.seconds(stop))
    stack.service("ok", dns_ttl=Duration.seconds(ttl), stop_timeout=Duration.seconds(stop + 1))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_number_is_no_token_and_never_reaches_jsii(value: float) -> None:
    """jsii cannot send NaN: asking Node.js whether NaN is a token stopped its kernel, and every later
    call of the session failed. is_token answers without asking."""
    from ecs_service_discovery.validation import is_token

    assert is_token(value) is False
    assert cdk.Token.is_unresolved("plain") is False  # the kernel still answers afterwards
