"""The discovery page when the task was not given what it needs: it says so, with a 200."""

from __future__ import annotations

import importlib
import sys

import pytest
from flask import Flask

from tests.demo.conftest import REPO_ROOT

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
    assert "grant_discovery_read()" in html.get_data(as_text=True)
    assert api.get_json()["error"].startswith("NAMESPACE_ID is not set")
    assert api.get_json()["services"] == []
    assert html.headers["Content-Security-Policy"].startswith("default-src 'none'")
