"""A CDK app with one deliberate cdk-nag violation, synthesized through app.py's own checks.

Run by tests/security/test_cdk_nag.py with the real CLI: ``cdk synth --app "<python> <this file>"``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2

import app as project_app


def main() -> int:
    app = cdk.App()
    project_app.add_policy_checks(app)
    stack = cdk.Stack(app, "NonCompliant")
    # SSH open to the internet: AwsSolutions-EC23.
    ec2.CfnSecurityGroup(
        stack,
        "OpenToTheWorld",
        group_description="deliberately non-compliant",
        vpc_id="vpc-12345678",
        security_group_ingress=[
            ec2.CfnSecurityGroup.IngressProperty(ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="0.0.0.0/0")
        ],
    )
    return project_app.synth_checked(app)


if __name__ == "__main__":
    sys.exit(main())
