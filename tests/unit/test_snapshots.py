"""One snapshot per shipped stack: every template change shows up here as a diff to review.

Update with `make snapshot-update` after checking the diff (a changed logical ID replaces a resource).
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from tests.helpers import normalize_template


def test_service_discovery_stack_snapshot(seed_template: Template, snapshot_json: Any) -> None:
    assert normalize_template(seed_template.to_json()) == snapshot_json


def test_library_defaults_snapshot(library_defaults_template: Template, snapshot_json: Any) -> None:
    assert normalize_template(library_defaults_template.to_json()) == snapshot_json


def test_social_network_stack_snapshot(social_template: Template, snapshot_json: Any) -> None:
    assert normalize_template(social_template.to_json()) == snapshot_json
