"""Fixtures of the construct tests."""

from __future__ import annotations

from typing import Any

import pytest
from syrupy.extensions.json import JSONSnapshotExtension


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    """syrupy's snapshot, stored as JSON (one readable .json file per test under __snapshots__)."""
    return snapshot.use_extension(JSONSnapshotExtension)
