"""The social network (SocialNetworkStack, topologies/social-network.yaml) running locally: the
backend's discovery page finds and calls every other service through the Cloud Map API and DNS."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.local.conftest import Demo, http_get, start_demo

CALLEES = ["auth", "feed", "messenger", "timeline", "user", "worker"]


@pytest.fixture(scope="module")
def social(assembly_dir, tmp_path_factory) -> Iterator[Demo]:
    # 14 tasks: one gunicorn worker process each keeps the machine's load reasonable.
    running = start_demo(
        assembly_dir, tmp_path_factory.mktemp("social"), "--gunicorn-workers", "1", stack="SocialNetwork"
    )
    try:
        yield running
    finally:
        code = running.interrupt(signal.SIGTERM)
        assert code == 0, running.output()[-3000:]


@pytest.fixture(scope="module")
def listing(social: Demo) -> dict[str, Any]:
    answer = http_get(social.api_url)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_every_service_of_the_topology_runs_its_own_tasks(social: Demo) -> None:
    assert sorted(social.state["services"]) == sorted(["backend", *CALLEES])
    assert all(len(tasks) == 2 for tasks in social.state["services"].values())
    assert social.state["namespace"]["name"] == "social"


def test_the_page_lists_every_other_service_with_its_healthy_instances(listing: dict[str, Any]) -> None:
    services = {service["name"]: service for service in listing["services"]}
    assert sorted(services) == CALLEES
    for name in CALLEES:
        assert services[name]["dns_name"] == f"{name}.social"
        assert services[name]["instances"] == {"healthy": 2, "total": 2, "error": None}


def test_the_page_calls_each_service_by_dns_and_each_answers_as_itself(social: Demo, listing: dict[str, Any]) -> None:
    # One generic image, told its name and message by the topology file's environment.
    assert sorted(service["name"] for service in listing["services"]) == CALLEES
    for service in listing["services"]:
        name = service["name"]
        assert service["error"] is None, service
        assert service["message"].startswith(f"{name}: "), service
        assert service["dns"]["address"] in social.addresses(name)
