"""Deployments by discovery mode (issue 24): DeploymentOptions' checks, the rules between a strategy
and how the service is found, and what each strategy writes into the template in each mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, ValidationError
from ecs_service_discovery.constructs.deployment import (
    TEST_TRAFFIC_HEADER,
    DeploymentOptions,
    DeploymentStrategy,
    LifecycleHook,
    check_deployment,
    check_deployment_options,
    read_deployment,
)
from ecs_service_discovery.constructs.service_connect import Discovery, ServiceConnectOptions

BLUE_GREEN = DeploymentStrategy.BLUE_GREEN
LINEAR = DeploymentStrategy.LINEAR
CANARY = DeploymentStrategy.CANARY
ROLLING = DeploymentStrategy.ROLLING
SHIFTING = [BLUE_GREEN, LINEAR, CANARY]
#: A 5,000-digit number (pytest cannot print it as a test id).
HUGE = pytest.param(10**5000, id="10**5000")


def _refused(parameter: str, allowed: str, **options: Any) -> str:
    """The message of the ValidationError ``DeploymentOptions(**options)`` raises; it names ``parameter``
    and says what is ``allowed``."""
    with pytest.raises(ValidationError) as raised:
        DeploymentOptions(**options)
    message = str(raised.value)
    assert message.startswith(f"deployment.{parameter}="), message
    assert allowed in message, message
    assert "\n" not in message
    return message


@pytest.fixture(scope="module")
def stack() -> Iterator[cdk.Stack]:
    yield cdk.Stack(cdk.App(), "Hooks")


@pytest.fixture(scope="module")
def function(stack: cdk.Stack) -> lambda_.IFunction:
    return lambda_.Function.from_function_attributes(
        stack,
        "Hook",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:smoke-test",
        same_environment=True,
    )


# --- Strategy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["rolling", "blue-green", "linear", "canary"])
def test_a_strategy_is_given_by_its_value(value: str) -> None:
    assert DeploymentOptions(strategy=value).strategy is DeploymentStrategy(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    ["blue_green", "BLUE_GREEN", "Canary", "canary\n", " linear", "", None, 1, True, ecs.DeploymentStrategy.CANARY],
)
def test_an_unknown_strategy_is_refused(value: Any) -> None:
    _refused("strategy", "expected one of ['rolling', 'blue-green', 'linear', 'canary']", strategy=value)


def test_the_default_is_rolling_with_nothing_else() -> None:
    options = DeploymentOptions()
    assert options.strategy is ROLLING
    assert (options.bake_time, options.steps, options.lifecycle_hooks, options.alarms) == (None, None, (), ())


# --- Bake time and steps -----------------------------------------------------------------------


@pytest.mark.parametrize("strategy", SHIFTING)
def test_bake_time_defaults_to_five_minutes_and_takes_the_ecs_range(strategy: DeploymentStrategy) -> None:
    assert DeploymentOptions(strategy=strategy).bake_time == 5
    assert DeploymentOptions(strategy=strategy, bake_time_minutes=0).bake_time == 0
    assert DeploymentOptions(strategy=BLUE_GREEN, bake_time_minutes=1440).bake_time == 1440


@pytest.mark.parametrize("value", [1441, -1, 5.0, 5.5, True, "5", float("nan"), float("inf"), 2**31, HUGE])
def test_a_bake_time_outside_whole_minutes_0_to_1440_is_refused(value: Any) -> None:
    message = _refused(
        "bake_time_minutes",
        "expected a whole number from 0 to 1440 minutes",
        strategy=BLUE_GREEN,
        bake_time_minutes=value,
    )
    assert len(message) < 400  # a 5,000-digit number is not printed whole


@pytest.mark.parametrize(
    "field_value",
    [
        ("bake_time_minutes", 5),
        ("step_percent", 10.0),
        ("step_bake_time_minutes", 6),
        ("test_traffic_header", "x-smoke"),
        ("test_traffic_header_value", "1"),
    ],
)
def test_rolling_takes_no_option_of_the_traffic_shifting_strategies(field_value: tuple[str, Any]) -> None:
    name, value = field_value
    _refused(name, "expected None with strategy 'rolling'", **{name: value})


@pytest.mark.parametrize("name", ["step_percent", "step_bake_time_minutes"])
def test_blue_green_shifts_all_at_once_so_takes_no_steps(name: str) -> None:
    _refused(name, "only linear and canary deployments shift in steps", strategy=BLUE_GREEN, **{name: 10})


def test_steps_default_to_ecs_defaults_and_are_stated() -> None:
    assert DeploymentOptions(strategy=LINEAR).steps == (10.0, 6)
    assert DeploymentOptions(strategy=CANARY).steps == (5.0, 10)
    assert DeploymentOptions(strategy=LINEAR, step_percent=33, step_bake_time_minutes=0).steps == (33.0, 0)
    assert DeploymentOptions(strategy=BLUE_GREEN).steps is None


@pytest.mark.parametrize("value", [3, 3.0, 10.5, 99.9, 100])
def test_linear_steps_of_3_to_100_percent_in_tenths_are_accepted(value: float) -> None:
    assert DeploymentOptions(strategy=LINEAR, step_percent=value).steps == (float(value), 6)


@pytest.mark.parametrize(
    "value", [2.9, 0.1, 100.1, 101, -10, 10.05, 0.1 * 3 * 10, float("nan"), float("inf"), True, "10", HUGE]
)
def test_a_linear_step_outside_3_to_100_in_tenths_is_refused(value: Any) -> None:
    _refused("step_percent", "expected a number from 3.0 to 100.0 in steps of 0.1", strategy=LINEAR, step_percent=value)


@pytest.mark.parametrize("value", [0.1, 0.3, 0.7, 5, 100.0])
def test_a_canary_share_of_0_1_to_100_percent_is_accepted(value: float) -> None:
    assert DeploymentOptions(strategy=CANARY, step_percent=value).steps == (float(value), 10)


@pytest.mark.parametrize("value", [0, 0.05, 100.01, -0.1, float("-inf"), 1e999, False])
def test_a_canary_share_outside_0_1_to_100_is_refused(value: Any) -> None:
    _refused("step_percent", "expected a number from 0.1 to 100.0 in steps of 0.1", strategy=CANARY, step_percent=value)


@pytest.mark.parametrize("value", [1441, -1, 6.0, True, "6"])
def test_a_step_bake_time_outside_0_to_1440_minutes_is_refused(value: Any) -> None:
    _refused(
        "step_bake_time_minutes",
        "expected a whole number from 0 to 1440 minutes",
        strategy=CANARY,
        step_bake_time_minutes=value,
    )


def test_a_canary_longer_than_cloudformation_allows_is_refused_at_the_limit_plus_one() -> None:
    # CloudFormation refuses BakeTimeInMinutes + CanaryBakeTimeInMinutes over 33 hours (1980 minutes).
    DeploymentOptions(strategy=CANARY, bake_time_minutes=1440, step_bake_time_minutes=540)
    message = _refused(
        "step_bake_time_minutes", "1981 minutes", strategy=CANARY, bake_time_minutes=1440, step_bake_time_minutes=541
    )
    assert "33 hours" in message


@pytest.mark.parametrize(
    ("percent", "waits"),
    # 100 / percent - 1 waits when it divides evenly, else its floor (CloudFormation's count).
    [(10, 9), (11, 9), (3, 33), (50, 1), (100, 0), (33.3, 3)],
)
def test_a_linear_deployment_counts_the_waits_as_cloudformation_does(percent: float, waits: int) -> None:
    # GIVEN the longest step wait that fits in 1980 minutes with a bake time of 0
    if waits:
        fits = 1980 // waits
        DeploymentOptions(
            strategy=LINEAR, step_percent=percent, bake_time_minutes=0, step_bake_time_minutes=min(fits, 1440)
        )
        if fits < 1440:
            # THEN one more minute per wait is refused
            _refused(
                "step_bake_time_minutes",
                f"x {waits} wait(s)",
                strategy=LINEAR,
                step_percent=percent,
                bake_time_minutes=0,
                step_bake_time_minutes=fits + 1,
            )
    else:
        DeploymentOptions(strategy=LINEAR, step_percent=percent, bake_time_minutes=1440, step_bake_time_minutes=1440)


# --- Test traffic header -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["x-smoke-test", TEST_TRAFFIC_HEADER, "x", "a" * 256, "x_canary.v2", "x-~!#$%&'*+^`|"]
)
def test_a_lower_case_header_name_is_accepted(value: str) -> None:
    assert DeploymentOptions(strategy=BLUE_GREEN, test_traffic_header=value).test_traffic_header == value


@pytest.mark.parametrize(
    "value",
    [
        "X-Smoke",
        "x smoke",
        "x-smoke\n",
        "",
        "a" * 257,
        ":authority",
        "x:y",
        "x\x00",
        "x-\u202e",
        "é",
        'x"',
        7,
        b"x-smoke",
    ],
)
def test_a_header_name_that_is_no_lower_case_http_token_is_refused(value: Any) -> None:
    _refused(
        "test_traffic_header",
        "expected a lower-case HTTP header name of 1-256",
        strategy=LINEAR,
        test_traffic_header=value,
    )


@pytest.mark.parametrize("value", ["connection", "upgrade", "transfer-encoding", "te", "keep-alive"])
def test_a_hop_by_hop_header_is_refused_because_proxies_drop_it(value: str) -> None:
    _refused("test_traffic_header", "hop-by-hop", strategy=CANARY, test_traffic_header=value)


@pytest.mark.parametrize("value", ["1", "green build 42", "~", "a" * 256])
def test_a_visible_ascii_header_value_is_accepted(value: str) -> None:
    assert DeploymentOptions(strategy=BLUE_GREEN, test_traffic_header_value=value).test_traffic_header_value == value


@pytest.mark.parametrize("value", ["", " 1", "1 ", "1\n", "a\tb", "a\x00b", "é", "a" * 257, "\ud800", 1, True])
def test_a_header_value_outside_visible_ascii_is_refused(value: Any) -> None:
    _refused(
        "test_traffic_header_value",
        "expected 1-256 visible ASCII characters",
        strategy=BLUE_GREEN,
        test_traffic_header_value=value,
    )


# --- Hooks and alarms --------------------------------------------------------------------------


def test_a_hook_takes_stages_as_members_or_values(function: lambda_.IFunction) -> None:
    options = DeploymentOptions(
        strategy=BLUE_GREEN,
        lifecycle_hooks=[
            LifecycleHook(function, ["POST_TEST_TRAFFIC_SHIFT", ecs.DeploymentLifecycleStage.PRE_SCALE_UP])
        ],
    )
    (hook,) = options.lifecycle_hooks
    assert hook.stages == (
        ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT,
        ecs.DeploymentLifecycleStage.PRE_SCALE_UP,
    )


@pytest.mark.parametrize(
    ("stages", "where"),
    [
        ([], "stages="),
        ("POST_TEST_TRAFFIC_SHIFT", "stages="),
        (["post_test_traffic_shift"], "stages[0]"),
        (["POST_TEST_TRAFFIC_SHIFT\n"], "stages[0]"),
        (["PRE_SCALE_UP", "PRE_SCALE_UP"], "stages[1]"),
        ([ecs.DeploymentLifecycleStage.PRE_SCALE_UP, "PRE_SCALE_UP"], "stages[1]"),
        ([3], "stages[0]"),
        (None, "stages="),
    ],
)
def test_a_hook_without_a_list_of_distinct_stages_is_refused(
    function: lambda_.IFunction, stages: Any, where: str
) -> None:
    message = _refused(
        f"lifecycle_hooks[0].{where}".rstrip("="),
        "expected a non-empty list of aws_ecs.DeploymentLifecycleStage members",
        strategy=CANARY,
        lifecycle_hooks=[LifecycleHook(function, stages)],
    )
    assert "POST_TEST_TRAFFIC_SHIFT" in message  # the allowed values are listed


@pytest.mark.parametrize("function_value", ["arn:aws:lambda:us-east-1:123456789012:function:x", None, 1])
def test_a_hook_without_a_lambda_function_is_refused(function_value: Any) -> None:
    _refused(
        "lifecycle_hooks[0].function",
        "expected an aws_lambda.IFunction",
        strategy=BLUE_GREEN,
        lifecycle_hooks=[LifecycleHook(function_value, ["PRE_SCALE_UP"])],
    )


def test_hooks_must_be_a_list_of_lifecycle_hooks(function: lambda_.IFunction) -> None:
    hook = LifecycleHook(function, ["PRE_SCALE_UP"])
    _refused("lifecycle_hooks", "expected a list of LifecycleHook", strategy=BLUE_GREEN, lifecycle_hooks=hook)
    _refused("lifecycle_hooks[1]", "expected a LifecycleHook", strategy=BLUE_GREEN, lifecycle_hooks=[hook, function])
    _refused("lifecycle_hooks", "expected None with strategy 'rolling'", lifecycle_hooks=[hook])


def test_a_hook_role_must_be_a_role(function: lambda_.IFunction) -> None:
    _refused(
        "lifecycle_hooks[0].role",
        "expected an aws_iam.IRole",
        strategy=BLUE_GREEN,
        lifecycle_hooks=[LifecycleHook(function, ["PRE_SCALE_UP"], role="arn:aws:iam::123456789012:role/x")],  # type: ignore[arg-type]
    )


def test_alarms_must_be_cloudwatch_alarms(stack: cdk.Stack) -> None:
    alarm = cloudwatch.Alarm.from_alarm_name(stack, "Alarm", "checkout-errors")
    assert DeploymentOptions(alarms=[alarm]).alarms == (alarm,)
    _refused("alarms", "expected a list of aws_cloudwatch.IAlarm", alarms="checkout-errors")
    _refused("alarms[1]", "expected an aws_cloudwatch.IAlarm", alarms=[alarm, "checkout-errors"])


@pytest.mark.parametrize("value", [1, 0, "true", "False"])
def test_error_alarm_is_a_bool(value: Any) -> None:
    _refused("error_alarm", "expected True or False", strategy=BLUE_GREEN, error_alarm=value)


@pytest.mark.parametrize("value", [0, -1, True, 2**31, 5.0, "5"])
def test_error_alarm_threshold_is_a_positive_count(value: Any) -> None:
    _refused(
        "error_alarm_threshold",
        "expected a whole number from 1 to 2147483647",
        strategy=BLUE_GREEN,
        error_alarm_threshold=value,
    )


def test_options_are_not_options_of_another_type() -> None:
    with pytest.raises(ValidationError, match=r"^deployment='canary' is not valid: expected a DeploymentOptions"):
        check_deployment_options("deployment", "canary")


# --- Strategy by discovery mode ----------------------------------------------------------------


@pytest.mark.parametrize("strategy", SHIFTING)
def test_a_traffic_shifting_strategy_with_dns_discovery_says_why_and_what_to_use(strategy: DeploymentStrategy) -> None:
    with pytest.raises(ValidationError) as raised:
        check_deployment("", DeploymentOptions(strategy=strategy), Discovery.DNS, None)
    message = str(raised.value)
    assert message.startswith(f"deployment.strategy='{strategy.value}' is not valid: with discovery='dns'")
    # Why: callers cache DNS answers (the roadmap issue); instead: rolling with drain, or Service Connect.
    for words in (
        "cache the DNS answer",
        "aws/containers-roadmap#648",
        "'rolling'",
        "dns_ttl + 5 s",
        "'both'",
        "'service-connect'",
    ):
        assert words in message


@pytest.mark.parametrize("discovery", [Discovery.SERVICE_CONNECT, Discovery.BOTH])
@pytest.mark.parametrize("strategy", SHIFTING)
def test_a_traffic_shifting_strategy_with_service_connect_is_accepted(
    strategy: DeploymentStrategy, discovery: Discovery
) -> None:
    check_deployment("", DeploymentOptions(strategy=strategy, error_alarm=True), discovery, None)


def test_rolling_is_accepted_in_every_mode() -> None:
    for discovery in Discovery:
        check_deployment("", DeploymentOptions(), discovery, None)


@pytest.mark.parametrize(
    ("service_connect", "reason"),
    [
        (ServiceConnectOptions(client_only=True), "client_only"),
        (ServiceConnectOptions(app_protocol="tcp"), "its app_protocol is 'tcp'"),
    ],
)
@pytest.mark.parametrize(
    "option", [("test_traffic_header", "x-smoke"), ("test_traffic_header_value", "1"), ("error_alarm", True)]
)
def test_test_traffic_and_the_5xx_alarm_need_a_published_http_endpoint(
    service_connect: ServiceConnectOptions, reason: str, option: tuple[str, Any]
) -> None:
    name, value = option
    options = DeploymentOptions(strategy=CANARY, **{name: value})
    with pytest.raises(
        ValidationError, match=rf"^service 'api': deployment\.{name}=.* is not valid: expected"
    ) as raised:
        check_deployment("service 'api': ", options, Discovery.BOTH, service_connect)
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    "service_connect", [ServiceConnectOptions(client_only=True), ServiceConnectOptions(app_protocol="tcp")]
)
def test_without_such_an_endpoint_the_defaults_add_neither(service_connect: ServiceConnectOptions) -> None:
    check_deployment("", DeploymentOptions(strategy=BLUE_GREEN), Discovery.SERVICE_CONNECT, service_connect)


# --- What each strategy writes, by discovery mode ------------------------------------------------

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim")
FIVE_XX = {"Namespace": "AWS/ECS", "MetricName": "HTTPCode_Target_5XX_Count", "Statistic": "Sum", "Period": 60}


def _platform(app: cdk.App, construct_id: str) -> tuple[cdk.Stack, ecs.Cluster, DiscoveryNamespace]:
    stack = cdk.Stack(app, construct_id)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    return stack, ecs.Cluster(stack, "Cluster", vpc=vpc), DiscoveryNamespace(stack, "Namespace", vpc=vpc, name="corp")


def _build(app: cdk.App, construct_id: str, **kwargs: Any) -> DiscoverableFargateService:
    stack, cluster, namespace = _platform(app, construct_id)
    return DiscoverableFargateService(
        stack, "Worker", cluster=cluster, namespace=namespace, name="worker", image=IMAGE, **kwargs
    )


def _service(app: cdk.App, construct_id: str, **kwargs: Any) -> tuple[Template, DiscoverableFargateService]:
    """A service alone in its app (a template synthesizes the app: nothing may be added after)."""
    service = _build(app, construct_id, **kwargs)
    return Template.from_stack(cdk.Stack.of(service)), service


def _ecs_service(template: Template) -> dict[str, Any]:
    (service,) = template.find_resources("AWS::ECS::Service").values()
    return service["Properties"]


@pytest.fixture(scope="module")
def shifted() -> dict[tuple[DeploymentStrategy, str], tuple[Template, DiscoverableFargateService]]:
    app = cdk.App()
    services = {
        (strategy, mode): _build(
            app, f"{strategy.value}-{mode}", discovery=mode, deployment=DeploymentOptions(strategy=strategy)
        )
        for strategy in SHIFTING
        for mode in ("service-connect", "both")
    }
    return {key: (Template.from_stack(cdk.Stack.of(service)), service) for key, service in services.items()}


STEPS = {
    BLUE_GREEN: {},
    LINEAR: {"LinearConfiguration": {"StepPercent": 10, "StepBakeTimeInMinutes": 6}},
    CANARY: {"CanaryConfiguration": {"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 10}},
}


@pytest.mark.parametrize("mode", ["service-connect", "both"])
@pytest.mark.parametrize("strategy", SHIFTING)
def test_each_strategy_states_its_deployment_with_defaults_filled_in(
    shifted: dict[tuple[DeploymentStrategy, str], tuple[Template, DiscoverableFargateService]],
    strategy: DeploymentStrategy,
    mode: str,
) -> None:
    template, service = shifted[(strategy, mode)]
    alarm = service.deployment.error_alarm
    assert alarm is not None
    alarm_name = template.find_resources("AWS::CloudWatch::Alarm")[
        cdk.Stack.of(service).get_logical_id(alarm.node.default_child)  # type: ignore[arg-type]
    ]["Properties"]["AlarmName"]
    # A literal name: the service lists it and the alarm reads the service's name, without a cycle.
    assert isinstance(alarm_name, str) and alarm_name.endswith("-deployment-5xx")
    template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": {
                "Strategy": strategy.name,
                "BakeTimeInMinutes": 5,
                "Alarms": {"AlarmNames": [alarm_name], "Enable": True, "Rollback": True},
                # Rolling's safeguards stay.
                "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                "MinimumHealthyPercent": 100,
                "MaximumPercent": 200,
                "LinearConfiguration": STEPS[strategy].get("LinearConfiguration", Match.absent()),
                "CanaryConfiguration": STEPS[strategy].get("CanaryConfiguration", Match.absent()),
            },
            "ServiceConnectConfiguration": Match.object_like(
                {
                    "Services": [
                        {
                            "PortName": "worker",
                            "DiscoveryName": "worker-sc",
                            "ClientAliases": [
                                {
                                    "DnsName": "worker.corp",
                                    "Port": 8080,
                                    "TestTrafficRules": {"Header": {"Name": TEST_TRAFFIC_HEADER}},
                                }
                            ],
                        }
                    ]
                }
            ),
            # In both mode the DNS records stay (their callers are not shifted, docs/deployments.md).
            "ServiceRegistries": Match.any_value() if mode == "both" else Match.absent(),
        },
    )


@pytest.mark.parametrize("strategy", SHIFTING)
def test_the_default_alarm_counts_the_service_connect_5xx_of_this_service(
    shifted: dict[tuple[DeploymentStrategy, str], tuple[Template, DiscoverableFargateService]],
    strategy: DeploymentStrategy,
) -> None:
    template, service = shifted[(strategy, "service-connect")]
    stack = cdk.Stack.of(service)
    service_id = stack.get_logical_id(service.service.node.default_child)  # type: ignore[arg-type]
    cluster_id = stack.get_logical_id(service.props.cluster.node.default_child)  # type: ignore[arg-type]
    template.resource_count_is("AWS::CloudWatch::Alarm", 1)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            **FIVE_XX,
            "Dimensions": Match.array_with(
                [
                    {"Name": "ClusterName", "Value": {"Ref": cluster_id}},
                    {"Name": "DiscoveryName", "Value": "worker-sc"},
                    {"Name": "ServiceName", "Value": {"Fn::GetAtt": [service_id, "Name"]}},
                ]
            ),
            "Threshold": 5,
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


@pytest.mark.parametrize("strategy", SHIFTING)
def test_dns_discovery_refuses_a_traffic_shift_before_any_construct_exists(strategy: DeploymentStrategy) -> None:
    stack, cluster, namespace = _platform(cdk.App(), "Dns")
    children = len(stack.node.children)
    with pytest.raises(ValidationError, match=r"^deployment\.strategy='.*' is not valid: with discovery='dns'"):
        DiscoverableFargateService(
            stack,
            "Worker",
            cluster=cluster,
            namespace=namespace,
            name="worker",
            image=IMAGE,
            deployment=DeploymentOptions(strategy=strategy),
        )
    assert len(stack.node.children) == children


def test_rolling_writes_the_same_template_as_no_deployment_option() -> None:
    plain, _ = _service(cdk.App(), "Worker", discovery="both")
    rolling, _ = _service(cdk.App(), "Worker", discovery="both", deployment=DeploymentOptions())
    assert rolling.to_json() == plain.to_json()
    assert "Strategy" not in _ecs_service(rolling)["DeploymentConfiguration"]


def test_a_custom_header_value_hooks_and_alarms_are_written(function: lambda_.IFunction) -> None:
    app = cdk.App()
    stack, cluster, namespace = _platform(app, "Custom")
    hook = lambda_.Function.from_function_attributes(
        stack, "Hook", function_arn="arn:aws:lambda:us-east-1:123456789012:function:smoke", same_environment=True
    )
    alarm = cloudwatch.Alarm.from_alarm_name(stack, "Latency", "worker-latency")
    service = DiscoverableFargateService(
        stack,
        "Worker",
        cluster=cluster,
        namespace=namespace,
        name="worker",
        image=IMAGE,
        discovery="service-connect",
        deployment=DeploymentOptions(
            strategy=LINEAR,
            step_percent=25,
            step_bake_time_minutes=2,
            bake_time_minutes=15,
            test_traffic_header="x-smoke",
            test_traffic_header_value="green",
            lifecycle_hooks=[LifecycleHook(hook, ["POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"])],
            alarms=[alarm],
            error_alarm=False,
        ),
    )
    template = Template.from_stack(stack)
    role = service.deployment.lifecycle_hook_role
    assert role is not None and service.deployment.error_alarm is None
    role_id = stack.get_logical_id(role.node.default_child)  # type: ignore[arg-type]
    properties = _ecs_service(template)
    config = properties["DeploymentConfiguration"]
    assert config["Strategy"] == "LINEAR"
    assert config["BakeTimeInMinutes"] == 15
    assert config["LinearConfiguration"] == {"StepPercent": 25, "StepBakeTimeInMinutes": 2}
    assert config["Alarms"] == {"AlarmNames": ["worker-latency"], "Enable": True, "Rollback": True}
    assert config["LifecycleHooks"] == [
        {
            "HookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:smoke",
            "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]},
            "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"],
        }
    ]
    (alias,) = properties["ServiceConnectConfiguration"]["Services"][0]["ClientAliases"]
    assert alias["TestTrafficRules"] == {"Header": {"Name": "x-smoke", "Value": {"Exact": "green"}}}
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "ecs.amazonaws.com"}})]}
            )
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Action": "lambda:InvokeFunction", "Effect": "Allow"})]}
            ),
        },
    )


@pytest.mark.parametrize(
    "service_connect", [ServiceConnectOptions(app_protocol="tcp"), ServiceConnectOptions(client_only=True)]
)
def test_without_an_http_endpoint_the_strategy_stays_and_neither_rule_nor_alarm_is_written(
    service_connect: ServiceConnectOptions,
) -> None:
    template, service = _service(
        cdk.App(),
        "Tcp",
        discovery="service-connect",
        service_connect=service_connect,
        deployment=DeploymentOptions(strategy=CANARY),
    )
    properties = _ecs_service(template)
    assert properties["DeploymentConfiguration"]["Strategy"] == "CANARY"
    assert (
        "Alarms" not in properties["DeploymentConfiguration"]
        or not properties["DeploymentConfiguration"]["Alarms"]["Enable"]
    )
    assert "TestTrafficRules" not in str(properties)
    assert service.deployment.error_alarm is None
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)


@pytest.mark.parametrize(
    "options",
    [
        DeploymentOptions(),
        DeploymentOptions(strategy=BLUE_GREEN),
        DeploymentOptions(strategy=BLUE_GREEN, bake_time_minutes=0, test_traffic_header="x-smoke"),
        DeploymentOptions(strategy=LINEAR, step_percent=33.3, step_bake_time_minutes=1, bake_time_minutes=60),
        DeploymentOptions(strategy=CANARY, step_percent=0.7, test_traffic_header_value="1"),
    ],
    ids=["rolling", "blue-green", "blue-green-no-bake", "linear", "canary"],
)
def test_the_template_reads_back_as_the_options_filled_in(options: DeploymentOptions) -> None:
    template, _ = _service(cdk.App(), "ReadBack", discovery="both", deployment=options)
    read = read_deployment(_ecs_service(template))
    assert read.strategy is options.strategy
    assert (read.bake_time, read.steps) == (options.bake_time, options.steps)
    expected_header = (options.test_traffic_header or TEST_TRAFFIC_HEADER) if options.strategy.shifts_traffic else None
    assert (read.test_traffic_header, read.test_traffic_header_value) == (
        expected_header,
        options.test_traffic_header_value,
    )


@pytest.mark.parametrize(
    ("properties", "parameter"),
    [
        ({"DeploymentConfiguration": {"Strategy": "blue_green"}}, "DeploymentConfiguration.Strategy"),
        (
            {"DeploymentConfiguration": {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 1441}},
            "deployment.bake_time_minutes",
        ),
        (
            {"DeploymentConfiguration": {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": {"Ref": "Bake"}}},
            "deployment.bake_time_minutes",
        ),
    ],
)
def test_reading_a_template_refuses_what_the_options_refuse(properties: dict[str, Any], parameter: str) -> None:
    with pytest.raises(ValidationError, match=rf"^{parameter}="):
        read_deployment(properties)


def test_the_discovery_client_sends_the_same_test_header() -> None:
    import ecs_discovery_client

    assert ecs_discovery_client.TEST_TRAFFIC_HEADER == TEST_TRAFFIC_HEADER
