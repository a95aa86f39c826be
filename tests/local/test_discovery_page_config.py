"""The discovery page when the task was not given what it needs: it says so, with a 200."""

from __future__ import annotations

import importlib
import sys

import pytest
from flask import Flask

from tests.local.conftest import REPO_ROOT

BACKEND_DIR = REPO_ROOT / "services" / "flask-backend"


@pytest.fixture
def page_module(monkeypatch):
    monkeypatch.syspath_prepend(str(BACKEND_DIR))
    for name in ("NAMESPACE_ID", "AWS_ENDPOINT_URL_SERVICEDISCOVERY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NAMESPACE", "corp")
    monkeypatch.setenv("SERVICE_NAME", "backend")
    fresh = ("discovery_page", "discovery")  # the backend's own modules, imported by plain name
    for name in fresh:
        sys.modules.pop(name, None)
    yield importlib.import_module("discovery_page")
    for name in fresh:
        sys.modules.pop(name, None)


def test_without_namespace_id_the_page_explains_the_missing_grant(page_module):
    app = Flask(__name__)
    app.register_blueprint(page_module.discovery_page)

    html = app.test_client().get("/services")
    api = app.test_client().get("/api/services")

    assert html.status_code == 200 and api.status_code == 200
    assert "namespace.grant_discover_read()" in html.get_data(as_text=True)
    assert api.get_json()["error"].startswith("NAMESPACE_ID is not set")
    assert api.get_json()["services"] == []
    assert html.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize(
    ("has_srv", "ports", "environment", "expected"),
    [
        (True, (8080,), {}, None),  # SRV gives each task's port
        (False, (9000,), {"AUDIT_LOG_PORT": "7000"}, 9000),  # the port Cloud Map registered
        (False, (), {"AUDIT_LOG_PORT": "7000"}, 7000),  # A only, nothing registered: connect_to's port
        (False, (), {"AUDIT_LOG_PORT": "70000"}, 80),
        (False, (), {}, 80),
    ],
)
def test_an_a_only_service_is_called_on_the_port_the_caller_was_given(
    page_module, monkeypatch, has_srv, ports, environment, expected
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    service = page_module.RegisteredService("srv-1", "audit-log", has_srv, ports=ports)

    assert page_module.call_port(service) == expected
