"""The shipped stacks in the discovery mode given by context, through app.py's own checks.

``cdk synth --app "<python> tests/security/discovery_modes_app.py" -c discovery=service-connect``
(or ``both``, ``dns``): run by tests/security/test_service_connect_gates.py with the real CLI.
It builds what app.py builds, with ``discovery`` passed to both stacks; once app.py reads the
``discovery`` context itself, the gates can run app.py instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aws_cdk as cdk

import app as project_app
from ecs_service_discovery import ValidationError
from stacks import ServiceDiscoveryStack, SocialNetworkStack


def build(app: cdk.App) -> None:
    discovery = app.node.try_get_context("discovery")
    ServiceDiscoveryStack(app, "ServiceDiscovery", discovery=discovery or "dns")
    SocialNetworkStack(app, "SocialNetwork", discovery=discovery)


def main() -> int:
    app = cdk.App()
    project_app.add_policy_checks(app)
    try:
        build(app)
    except ValidationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return project_app.synth_checked(app)


if __name__ == "__main__":
    sys.exit(main())
