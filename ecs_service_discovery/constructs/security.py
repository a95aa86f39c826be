# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""Pieces a stack adds once so that its services pass the security gates (cdk-nag, cfn-lint, checkov).

* :class:`LogEncryptionKey`: one KMS key for every log group of a stack, instead of a key per
  service (a key is a resource and costs money each month; 200 services share one).
* :class:`CdkProviderFunctionFindings`: an aspect that tidies the Lambda functions aws-cdk-lib
  adds on its own (e.g. the VPC's ``restrictDefaultSecurityGroup`` provider), which no
  construct of this library or of the user creates and so none can configure.
"""

from __future__ import annotations

from typing import cast

import jsii
from aws_cdk import Aspects, Aws, CfnResource, IAspect, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from ecs_service_discovery.validation import invalid, names_construct

# The Lambda function type aws-cdk-lib's CustomResourceProvider renders as a plain CfnResource.
_LAMBDA_FUNCTION = "AWS::Lambda::Function"
# Every function CustomResourceProvider creates lives in a construct named "Custom::<Name>Provider".
_PROVIDER_PREFIX = "Custom::"

#: checkov findings that cannot apply to aws-cdk-lib's own custom resource provider functions,
#: with the reason recorded next to each skip in the template.
CDK_PROVIDER_CHECKOV_SKIPS: dict[str, str] = {
    "CKV_AWS_115": (
        "aws-cdk-lib custom resource provider: invoked only by CloudFormation, a few times per deploy of "
        "this stack, so there is no load for a concurrency limit to cap"
    ),
    "CKV_AWS_116": (
        "aws-cdk-lib custom resource provider: CloudFormation waits for its answer and fails the deploy "
        "when it fails or times out, so a dead-letter queue would hold events nobody acts on"
    ),
    "CKV_AWS_117": (
        "aws-cdk-lib custom resource provider: it calls only the EC2 API, so placing it in the VPC would add "
        "ENIs and a dependency on NAT without protecting anything"
    ),
}


class LogEncryptionKey(kms.Key):
    """A customer-managed KMS key that CloudWatch Logs may use for the log groups of this account and region.

    Create one per stack and pass it as ``log_encryption_key`` to every
    :class:`DiscoverableFargateService` (and to any other log group, such as VPC flow logs).
    Key rotation is on. The key policy keeps aws-cdk-lib's default (the account administers the
    key) and adds CloudWatch Logs of this region, only for log groups of this account and region
    (``kms:EncryptionContext:aws:logs:arn``), with only the data-key actions it uses.

    :param scope: parent construct.
    :param construct_id: construct ID (public API: renaming it replaces the key).
    :param description: shown in the KMS console.
        Default: ``"Encrypts the CloudWatch Logs log groups of <construct path>"``.
    """

    @names_construct
    def __init__(self, scope: Construct, construct_id: str, *, description: str | None = None) -> None:
        if description is not None and (not isinstance(description, str) or len(description) > 8192):
            raise invalid("description", description, "expected a string of at most 8192 characters, or None")
        super().__init__(
            scope,
            construct_id,
            description=description or f"Encrypts the CloudWatch Logs log groups of {scope.node.path}",
            enable_key_rotation=True,
        )
        self.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccountAndRegion",
                principals=[cast(iam.IPrincipal, iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com"))],
                actions=[
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                ],
                # In a key policy "*" means this key.
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )


@jsii.implements(IAspect)
class CdkProviderFunctionFindings:
    """Aspect for the Lambda functions of aws-cdk-lib's custom resource providers.

    ``Aspects.of(stack).add(CdkProviderFunctionFindings())`` covers every provider of a stack;
    :class:`DiscoveryPlatformStack` adds it only to the provider its VPC creates, since an aspect
    on a whole stack is called back for every construct (slow for hundreds of services). For each
    such function it

    * drops the ``DependsOn`` on its own role, which its ``Fn::GetAtt`` of the role already
      enforces (cfn-lint W3005), and
    * records in the resource's ``Metadata`` why checkov's function checks in
      :data:`CDK_PROVIDER_CHECKOV_SKIPS` do not apply to it.

    Functions the user or this library creates are left alone.
    """

    @classmethod
    def add_to_providers_of(cls, stack: Stack) -> None:
        """Add the aspect to each custom resource provider ``stack`` holds now (the VPC's, say)
        rather than to the whole stack, which aws-cdk-lib would call back for every construct."""
        for child in stack.node.children:
            if child.node.id.startswith(_PROVIDER_PREFIX):
                Aspects.of(child).add(cls())

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type != _LAMBDA_FUNCTION:
            return
        provider = node.node.scope
        if provider is None or not provider.node.id.startswith(_PROVIDER_PREFIX):
            return
        role = provider.node.try_find_child("Role")
        if isinstance(role, CfnResource):
            node.remove_resource_dependency(role)
        node.add_metadata(
            "checkov",
            {"skip": [{"id": check, "comment": reason} for check, reason in CDK_PROVIDER_CHECKOV_SKIPS.items()]},
        )
