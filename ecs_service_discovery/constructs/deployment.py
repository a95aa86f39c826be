# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""How a service deploys a new revision: rolling, blue/green, linear or canary (ECS's strategies).

Which strategy fits depends on how callers find the service (docs/deployments.md):

* by DNS, callers cache the answer for its TTL and keep calling the tasks it names
  (aws/containers-roadmap#648): nothing can shift their traffic, so a rolling update with this
  library's drain (each stopping task serves ``dns_ttl`` + 5 s more) is the right tool and the only
  one allowed with ``discovery="dns"``;
* through Service Connect, ECS shifts traffic between the blue and the green revision itself
  (ECS developer guide, "Service Connect resources for Amazon ECS blue/green deployments"), and
  requests that carry a header (:data:`TEST_TRAFFIC_HEADER`) reach green before any user does.

Everything aws-cdk-lib's ``FargateService`` has (strategy, bake time, linear and canary steps,
lifecycle hooks, deployment alarms) goes through it; only the Service Connect test traffic
rules, which it lacks, are written with one L1 property override (:func:`apply_deployment`).
The options are plain values that the template states in full (defaults filled in), so a reader
of the synthesized template (the local run) finds the same deployment in
``DeploymentConfiguration`` and ``ServiceConnectConfiguration`` (:func:`read_deployment`).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from aws_cdk import Acknowledgment, Duration, Names, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ecs_service_discovery.constructs.service_connect import Discovery, ServiceConnectEndpoint, ServiceConnectOptions
from ecs_service_discovery.validation import MAX_INT32, check_bool, check_int_range, invalid, require_type

#: The header that sends a request to the green revision during a Service Connect blue/green,
#: linear or canary deployment: ECS's default ("By default, Service Connect recognizes the
#: x-amzn-ecs-blue-green-test header for HTTP-based protocols", ECS developer guide). The discovery
#: client and the apps keep their own copy (they cannot import this library); a test compares them.
TEST_TRAFFIC_HEADER = "x-amzn-ecs-blue-green-test"

#: ECS API reference, DeploymentConfiguration.bakeTimeInMinutes, LinearConfiguration and
#: CanaryConfiguration: every bake time is 0-1440 minutes; percentages are multiples of 0.1.
MAX_BAKE_TIME_MINUTES = 1440
LINEAR_STEP_PERCENT = (3.0, 100.0)
CANARY_PERCENT = (0.1, 100.0)
#: ECS's defaults for the steps (the same references); the library writes them into the template.
DEFAULT_LINEAR_STEP_PERCENT = 10.0
DEFAULT_LINEAR_STEP_BAKE_TIME_MINUTES = 6
DEFAULT_CANARY_PERCENT = 5.0
DEFAULT_CANARY_BAKE_TIME_MINUTES = 10
#: CloudFormation refuses a linear or canary deployment whose bake times add up to more than
#: 33 hours (AWS::ECS::Service LinearConfiguration / CanaryConfiguration).
MAX_CLOUDFORMATION_DEPLOYMENT_MINUTES = 33 * 60
#: The library's bake time for blue/green, linear and canary: both revisions keep running this
#: long after the shift, so the default alarm (two one-minute periods, see below) can fire and
#: ECS roll back to blue before blue's tasks stop.
DEFAULT_BAKE_TIME_MINUTES = 5

#: The default alarm's metric: Service Connect's count of 5xx answers of the service's tasks (ECS
#: developer guide, "Amazon ECS CloudWatch metrics", Service Connect metrics: namespace AWS/ECS,
#: dimensions ClusterName, ServiceName and DiscoveryName for a service's own endpoint;
#: TargetDiscoveryName is the callers' side). Published for the HTTP-based app protocols only.
SERVICE_CONNECT_METRICS_NAMESPACE = "AWS/ECS"
ERROR_METRIC_NAME = "HTTPCode_Target_5XX_Count"
ERROR_ALARM_PERIOD_MINUTES = 1
ERROR_ALARM_EVALUATION_PERIODS = 2
DEFAULT_ERROR_ALARM_THRESHOLD = 5
#: App protocols whose requests carry headers and whose 5xx answers Service Connect counts.
HTTP_APP_PROTOCOLS = ("http", "http2", "grpc")

# An HTTP field name (RFC 9110 "token"), lower case as HTTP/2 sends it; the value: visible ASCII
# with single spaces inside. ECS documents no length limit: 256 is the library's bound.
_MAX_HEADER_LENGTH = 256
_HEADER_NAME = re.compile(rf"[a-z0-9!#$%&'*+.^_`|~-]{{1,{_MAX_HEADER_LENGTH}}}")
_HEADER_VALUE = re.compile(rf"[\x21-\x7e](?:[\x20-\x7e]{{0,{_MAX_HEADER_LENGTH - 2}}}[\x21-\x7e])?")
# Hop-by-hop fields (RFC 9110 section 7.6.1): proxies drop them, so no rule can match them.
_HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade")


class DeploymentStrategy(enum.Enum):
    """How ECS replaces a service's tasks with a new revision (ECS's ``DeploymentConfiguration.strategy``)."""

    #: Start new tasks and stop old ones in steps; each stopping task drains first. The default, and
    #: the only strategy for a service found by DNS.
    ROLLING = "rolling"
    #: Start a whole green revision, send it test traffic, shift all traffic at once, keep blue for
    #: the bake time. Service Connect only.
    BLUE_GREEN = "blue-green"
    #: Like blue/green, shifting the traffic in equal steps. Service Connect only.
    LINEAR = "linear"
    #: Like blue/green, shifting a small share first, then the rest. Service Connect only.
    CANARY = "canary"

    @property
    def shifts_traffic(self) -> bool:
        """Whether ECS runs two revisions and shifts traffic between them (all but rolling)."""
        return self is not DeploymentStrategy.ROLLING

    @property
    def ecs_strategy(self) -> ecs.DeploymentStrategy:
        """aws-cdk-lib's member, whose value is CloudFormation's ``Strategy``."""
        return ecs.DeploymentStrategy[self.name]

    @classmethod
    def parse(cls, parameter: str, value: Any) -> DeploymentStrategy:
        """A :class:`DeploymentStrategy`, or its value (``"rolling"``, ``"blue-green"``, ``"linear"``,
        ``"canary"``) as a topology file writes it."""
        if isinstance(value, DeploymentStrategy):
            return value
        for strategy in cls:
            if isinstance(value, str) and value == strategy.value:
                return strategy
        raise invalid(parameter, value, f"expected one of {[s.value for s in cls]} or a DeploymentStrategy member")


@dataclass(frozen=True)
class LifecycleHook:
    """A Lambda function ECS invokes at stages of a blue/green, linear or canary deployment; its
    answer lets the deployment go on or rolls it back (ECS developer guide, "Lifecycle hooks for
    Amazon ECS service deployments").

    :param function: the function. An imported one needs ``from_function_attributes(...,
        same_environment=True)`` unless ``role`` is given (the library grants the invoke).
    :param stages: when it runs: ``aws_ecs.DeploymentLifecycleStage`` members or their values
        (``"POST_TEST_TRAFFIC_SHIFT"``, ...), at least one, each once.
    :param role: the role ECS assumes to invoke it. Default: the service's ``LifecycleHookRole``
        (trusted by ``ecs.amazonaws.com``, allowed ``lambda:InvokeFunction`` on the hooks' functions).
    """

    # lambda_.Function named too: jsii's stubs make type checkers reject a Function as IFunction.
    function: lambda_.IFunction | lambda_.Function
    stages: Sequence[ecs.DeploymentLifecycleStage | str]
    role: iam.IRole | iam.Role | None = None


@dataclass(frozen=True, kw_only=True)
class DeploymentOptions:
    """How a service deploys a new revision. Each field is checked when the options are made; which
    strategy a service may use follows from its ``discovery`` (checked with the service's props).

    :param strategy: a :class:`DeploymentStrategy` or its value. ``BLUE_GREEN``, ``LINEAR`` and
        ``CANARY`` need Service Connect (``discovery`` ``"service-connect"`` or ``"both"``): DNS
        callers cache answers and cannot be shifted. Default: ``DeploymentStrategy.ROLLING`` (drain,
        circuit breaker with rollback: the template is the same as without these options).
    :param bake_time_minutes: how long both revisions keep running after all traffic is on green,
        watched by the alarms, before blue stops (0-1440). Not with ``ROLLING``.
        Default: 5 minutes with the other strategies.
    :param step_percent: the share of traffic each step shifts: ``LINEAR`` 3.0-100.0, ``CANARY``
        (the canary share) 0.1-100.0, a multiple of 0.1. Default: ECS's, 10.0 (linear), 5.0 (canary).
    :param step_bake_time_minutes: the wait after each linear step, or after the canary share
        (0-1440). With the bake time it may add up to 33 hours at most (CloudFormation refuses more).
        Default: ECS's, 6 minutes (linear), 10 minutes (canary).
    :param test_traffic_header: the request header that sends a call to green before the shift
        (Service Connect test traffic rules), a lower-case HTTP field name. Only with a published
        Service Connect endpoint of an HTTP-based ``app_protocol``. Default: ECS's
        :data:`TEST_TRAFFIC_HEADER` (``x-amzn-ecs-blue-green-test``), written into the template.
    :param test_traffic_header_value: the header's value that matches (exact, visible ASCII).
        Default: any value.
    :param lifecycle_hooks: :class:`LifecycleHook` s ECS invokes during the deployment. Not with
        ``ROLLING``. They hold aws-cdk-lib objects, so a topology file cannot set them. Default: none.
    :param alarms: CloudWatch alarms that roll the deployment back when they fire. To alarm on the
        service's own metrics, give the alarm a physical ``alarm_name``: its generated name would
        make the service and the alarm depend on each other. Not from a topology file. Default: none
        beside ``error_alarm``'s.
    :param error_alarm: create an alarm on the service's Service Connect 5xx count
        (``HTTPCode_Target_5XX_Count``, dimensions ClusterName, ServiceName, DiscoveryName) that
        rolls the deployment back: ``error_alarm_threshold`` or more 5xx answers per minute in two
        consecutive minutes; no data (no traffic) is not breaching. Needs a published Service
        Connect endpoint of an HTTP-based ``app_protocol``. Default: ``True`` for ``BLUE_GREEN``,
        ``LINEAR`` and ``CANARY`` when the service has such an endpoint, else ``False``.
    :param error_alarm_threshold: 5xx answers per minute that count as a breach (1-2147483647).
        Default: 5.
    """

    strategy: DeploymentStrategy = DeploymentStrategy.ROLLING
    bake_time_minutes: int | None = None
    step_percent: float | None = None
    step_bake_time_minutes: int | None = None
    test_traffic_header: str | None = None
    test_traffic_header_value: str | None = None
    lifecycle_hooks: Sequence[LifecycleHook] = ()
    alarms: Sequence[cloudwatch.IAlarm] = field(default_factory=tuple[cloudwatch.IAlarm, ...])
    error_alarm: bool | None = None
    error_alarm_threshold: int = DEFAULT_ERROR_ALARM_THRESHOLD

    def __post_init__(self) -> None:
        check_deployment_options("deployment", self)

    @property
    def bake_time(self) -> int | None:
        """The bake time the template states, in minutes: ``None`` for rolling."""
        if not self.strategy.shifts_traffic:
            return None
        return self.bake_time_minutes if self.bake_time_minutes is not None else DEFAULT_BAKE_TIME_MINUTES

    @property
    def steps(self) -> tuple[float, int] | None:
        """The linear step or canary share and the wait after it, defaults filled in; ``None`` otherwise."""
        if self.strategy is DeploymentStrategy.LINEAR:
            percent, minutes = DEFAULT_LINEAR_STEP_PERCENT, DEFAULT_LINEAR_STEP_BAKE_TIME_MINUTES
        elif self.strategy is DeploymentStrategy.CANARY:
            percent, minutes = DEFAULT_CANARY_PERCENT, DEFAULT_CANARY_BAKE_TIME_MINUTES
        else:
            return None
        return (
            float(self.step_percent) if self.step_percent is not None else percent,
            self.step_bake_time_minutes if self.step_bake_time_minutes is not None else minutes,
        )


def check_deployment_options(parameter: str, options: Any) -> None:
    """Every field of ``options`` on its own and with its strategy (named ``<parameter>.<field>``);
    the rules that depend on the service's discovery are :func:`check_deployment`'s."""
    require_type(parameter, options, DeploymentOptions, "expected a DeploymentOptions, or None")
    strategy = DeploymentStrategy.parse(f"{parameter}.strategy", options.strategy)
    object.__setattr__(options, "strategy", strategy)
    only_with_shift = (
        "expected None with strategy 'rolling': only blue/green, linear and canary deployments run two revisions "
        "(bake time, test traffic, lifecycle hooks)"
    )
    if options.bake_time_minutes is not None:
        if not strategy.shifts_traffic:
            raise invalid(f"{parameter}.bake_time_minutes", options.bake_time_minutes, only_with_shift)
        _check_whole(f"{parameter}.bake_time_minutes", options.bake_time_minutes, 0, MAX_BAKE_TIME_MINUTES, " minutes")
    for name in ("step_percent", "step_bake_time_minutes"):
        value = getattr(options, name)
        if value is not None and strategy not in (DeploymentStrategy.LINEAR, DeploymentStrategy.CANARY):
            raise invalid(
                f"{parameter}.{name}",
                value,
                f"expected None with strategy {strategy.value!r}: only linear and canary deployments shift in steps",
            )
    if options.step_percent is not None:
        low, high = LINEAR_STEP_PERCENT if strategy is DeploymentStrategy.LINEAR else CANARY_PERCENT
        _check_percent(f"{parameter}.step_percent", options.step_percent, low, high)
    if options.step_bake_time_minutes is not None:
        _check_whole(
            f"{parameter}.step_bake_time_minutes", options.step_bake_time_minutes, 0, MAX_BAKE_TIME_MINUTES, " minutes"
        )
    _check_total_minutes(parameter, options)
    if options.test_traffic_header is not None:
        _check_header_name(f"{parameter}.test_traffic_header", options.test_traffic_header)
    if options.test_traffic_header_value is not None and (
        not isinstance(options.test_traffic_header_value, str)
        or not _HEADER_VALUE.fullmatch(options.test_traffic_header_value)
    ):
        raise invalid(
            f"{parameter}.test_traffic_header_value",
            options.test_traffic_header_value,
            f"expected 1-{_MAX_HEADER_LENGTH} visible ASCII characters (spaces only inside), or None for any value",
        )
    if (options.test_traffic_header is not None or options.test_traffic_header_value is not None) and not (
        strategy.shifts_traffic
    ):
        name = "test_traffic_header" if options.test_traffic_header is not None else "test_traffic_header_value"
        raise invalid(f"{parameter}.{name}", getattr(options, name), only_with_shift)
    object.__setattr__(
        options, "lifecycle_hooks", _checked_hooks(f"{parameter}.lifecycle_hooks", options.lifecycle_hooks)
    )
    if options.lifecycle_hooks and not strategy.shifts_traffic:
        raise invalid(f"{parameter}.lifecycle_hooks", options.lifecycle_hooks, only_with_shift)
    object.__setattr__(options, "alarms", _checked_alarms(f"{parameter}.alarms", options.alarms))
    if options.error_alarm is not None:
        check_bool(f"{parameter}.error_alarm", options.error_alarm)
    _check_whole(
        f"{parameter}.error_alarm_threshold", options.error_alarm_threshold, 1, MAX_INT32, " 5xx answers per minute"
    )


def _check_whole(parameter: str, value: Any, low: int, high: int, what: str) -> None:
    """A whole number known at synth time. Anything but an int is refused here, before
    check_int_range asks Node.js whether it is a token: a NaN sent through jsii stops the kernel."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(parameter, value, f"expected a whole number from {low} to {high}{what}")
    check_int_range(parameter, value, low, high, what)


def _check_percent(parameter: str, value: Any, low: float, high: float) -> None:
    allowed = f"expected a number from {low} to {high} in steps of 0.1 (percent of the traffic)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(parameter, value, allowed)
    # Compared before any float(): a 5,000-digit int does not fit in one.
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(parameter, value, allowed)
    if not low <= value <= high:
        raise invalid(parameter, value, allowed)
    # As aws-cdk-lib checks it (Number.isInteger(percent * 10)), so the L2 never refuses what passes here.
    if not (float(value) * 10).is_integer():
        raise invalid(parameter, value, allowed)


def _linear_steps(percent: float) -> int:
    """How many waits a linear deployment makes (CloudFormation's count: none after the last step)."""
    tenths = round(percent * 10)
    return 1000 // tenths - 1 if 1000 % tenths == 0 else 1000 // tenths


def _check_total_minutes(parameter: str, options: DeploymentOptions) -> None:
    steps, bake = options.steps, options.bake_time
    if steps is None or bake is None:
        return
    percent, minutes = steps
    waits = _linear_steps(percent) if options.strategy is DeploymentStrategy.LINEAR else 1
    total = bake + minutes * waits
    if total > MAX_CLOUDFORMATION_DEPLOYMENT_MINUTES:
        raise invalid(
            f"{parameter}.step_bake_time_minutes",
            minutes,
            f"bake_time_minutes ({bake}) + step_bake_time_minutes ({minutes}) x {waits} wait(s) = {total} minutes; "
            f"CloudFormation refuses a {options.strategy.value} deployment over "
            f"{MAX_CLOUDFORMATION_DEPLOYMENT_MINUTES} minutes (33 hours): expected shorter bake times"
            + (" or a larger step_percent" if options.strategy is DeploymentStrategy.LINEAR else ""),
        )


def _check_header_name(parameter: str, value: Any) -> None:
    if not isinstance(value, str) or not _HEADER_NAME.fullmatch(value):
        raise invalid(
            parameter,
            value,
            f"expected a lower-case HTTP header name of 1-{_MAX_HEADER_LENGTH} characters from a-z, 0-9 and "
            f"!#$%&'*+.^_`|~- (for example {TEST_TRAFFIC_HEADER!r}, ECS's default)",
        )
    if value in _HOP_BY_HOP:
        raise invalid(parameter, value, "it is a hop-by-hop header that proxies drop, so no request would match")


def _checked_hooks(parameter: str, value: Any) -> tuple[LifecycleHook, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise invalid(parameter, value, "expected a list of LifecycleHook")
    hooks: list[LifecycleHook] = []
    for index, hook in enumerate(cast("Sequence[object]", value)):
        where = f"{parameter}[{index}]"
        require_type(where, hook, LifecycleHook, "expected a LifecycleHook")
        hook = cast(LifecycleHook, hook)
        require_type(f"{where}.function", hook.function, lambda_.IFunction, "expected an aws_lambda.IFunction")
        if hook.role is not None:
            require_type(
                f"{where}.role", hook.role, iam.IRole, "expected an aws_iam.IRole trusted by ecs.amazonaws.com, or None"
            )
        stages = _checked_stages(f"{where}.stages", hook.stages)
        hooks.append(LifecycleHook(function=hook.function, stages=stages, role=hook.role))
    return tuple(hooks)


def _checked_stages(parameter: str, value: Any) -> tuple[ecs.DeploymentLifecycleStage, ...]:
    names = [stage.value for stage in ecs.DeploymentLifecycleStage]
    allowed = (
        f"expected a non-empty list of aws_ecs.DeploymentLifecycleStage members or their values {names}, each once"
    )
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or not value:
        raise invalid(parameter, value, allowed)
    stages: list[ecs.DeploymentLifecycleStage] = []
    for index, stage in enumerate(cast("Sequence[object]", value)):
        if isinstance(stage, str) and stage in names:
            stage = ecs.DeploymentLifecycleStage(stage)
        if not isinstance(stage, ecs.DeploymentLifecycleStage):
            raise invalid(f"{parameter}[{index}]", stage, allowed)
        if stage in stages:
            raise invalid(f"{parameter}[{index}]", stage.value, f"the stage is listed twice; {allowed}")
        stages.append(stage)
    return tuple(stages)


def _checked_alarms(parameter: str, value: Any) -> tuple[cloudwatch.IAlarm, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise invalid(parameter, value, "expected a list of aws_cloudwatch.IAlarm")
    alarms = tuple(cast("Sequence[object]", value))
    for index, alarm in enumerate(alarms):
        require_type(f"{parameter}[{index}]", alarm, cloudwatch.IAlarm, "expected an aws_cloudwatch.IAlarm")
    return cast("tuple[cloudwatch.IAlarm, ...]", alarms)


def check_deployment(
    where: str, options: DeploymentOptions, discovery: Discovery, service_connect: ServiceConnectOptions | None
) -> None:
    """The rules between the deployment and how the service is found (``where`` prefixes the names).

    A traffic-shifting strategy needs Service Connect; test traffic rules and the default 5xx alarm
    need a published endpoint of an HTTP-based protocol.
    """
    strategy = options.strategy
    if strategy.shifts_traffic and not discovery.uses_service_connect:
        raise invalid(
            f"{where}deployment.strategy",
            strategy.value,
            "with discovery='dns' callers cache the DNS answer for its TTL and keep calling the tasks it named "
            "(aws/containers-roadmap#648), so ECS cannot shift their traffic to a new revision; expected strategy "
            "'rolling' (the default: each stopping task keeps serving for dns_ttl + 5 s while callers' answers "
            "expire), or discovery 'both' or 'service-connect' (ECS shifts Service Connect callers itself)",
        )
    published = _http_endpoint(service_connect) if discovery.uses_service_connect else None
    if published is not None:
        return
    reason = (
        "the service publishes no Service Connect endpoint (client_only)"
        if service_connect is not None and service_connect.client_only
        else f"its app_protocol is {service_connect.app_protocol!r}: Service Connect matches headers and counts 5xx "
        f"answers for {list(HTTP_APP_PROTOCOLS)} only"
        if service_connect is not None and discovery.uses_service_connect
        else "the service has no Service Connect endpoint (discovery='dns')"
    )
    for name in ("test_traffic_header", "test_traffic_header_value"):
        value = getattr(options, name)
        if value is not None:
            raise invalid(f"{where}deployment.{name}", value, f"expected None: {reason}")
    if options.error_alarm:
        raise invalid(f"{where}deployment.error_alarm", True, f"expected False or None: {reason}; pass your own alarms")


def _http_endpoint(service_connect: ServiceConnectOptions | None) -> ServiceConnectOptions | None:
    options = service_connect or ServiceConnectOptions()
    if options.client_only or options.app_protocol not in HTTP_APP_PROTOCOLS:
        return None
    return options


def deployment_service_props(options: DeploymentOptions) -> dict[str, Any]:
    """The keyword arguments of ``aws_ecs.FargateService`` for ``options``: none for rolling (the
    template stays what it was), else the strategy, the bake time and the steps, defaults filled in."""
    if not options.strategy.shifts_traffic:
        return {}
    props: dict[str, Any] = {
        "deployment_strategy": options.strategy.ecs_strategy,
        "bake_time": Duration.minutes(options.bake_time or 0),
    }
    steps = options.steps
    if steps is not None:
        percent, minutes = steps
        config = ecs.TrafficShiftConfig(step_percent=percent, step_bake_time=Duration.minutes(minutes))
        key = "linear_configuration" if options.strategy is DeploymentStrategy.LINEAR else "canary_configuration"
        props[key] = config
    return props


@dataclass(frozen=True)
class AppliedDeployment:
    """What :func:`apply_deployment` made: the default 5xx alarm and the hooks' role, when made."""

    error_alarm: cloudwatch.Alarm | None
    lifecycle_hook_role: iam.Role | None


def apply_deployment(
    scope: Construct,
    service: ecs.FargateService,
    options: DeploymentOptions,
    *,
    cluster: ecs.ICluster,
    endpoint: ServiceConnectEndpoint | None,
) -> AppliedDeployment:
    """Add to ``service`` (created with :func:`deployment_service_props`) what ``options`` need after
    it exists: test traffic rules, lifecycle hooks and alarms. Call once, after Service Connect is
    enabled. ``scope`` owns the new constructs (``DeploymentErrorAlarm``, ``LifecycleHookRole``).

    :param endpoint: the service's published Service Connect endpoint, or ``None``.
    """
    http_endpoint = endpoint if endpoint is not None and endpoint.app_protocol in HTTP_APP_PROTOCOLS else None
    if options.strategy.shifts_traffic and http_endpoint is not None:
        _add_test_traffic_rules(service, options)
    role = _add_lifecycle_hooks(scope, service, options.lifecycle_hooks)
    alarm_names = [alarm.alarm_name for alarm in options.alarms]
    error_alarm = None
    wants_error_alarm = options.error_alarm if options.error_alarm is not None else options.strategy.shifts_traffic
    if wants_error_alarm and http_endpoint is not None:
        # The physical name, not error_alarm.alarm_name (a Ref): the alarm reads the service's name, so a
        # Ref here would make the service and the alarm depend on each other.
        name = f"{Names.unique_resource_name(scope, max_length=200, separator='-')}-deployment-5xx"
        error_alarm = _error_alarm(scope, service, cluster, http_endpoint, options.error_alarm_threshold, name)
        alarm_names.append(name)
    if alarm_names:
        service.enable_deployment_alarms(alarm_names, behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM)
    return AppliedDeployment(error_alarm=error_alarm, lifecycle_hook_role=role)


def _add_test_traffic_rules(service: ecs.FargateService, options: DeploymentOptions) -> None:
    # aws-cdk-lib 2.275's ServiceConnectService has no test traffic rules; the L1 has them on the
    # client alias (the one alias the library publishes, Services[0].ClientAliases[0]).
    header: dict[str, Any] = {"Name": options.test_traffic_header or TEST_TRAFFIC_HEADER}
    if options.test_traffic_header_value is not None:
        header["Value"] = {"Exact": options.test_traffic_header_value}
    resource = service.node.default_child
    assert isinstance(resource, ecs.CfnService)
    resource.add_property_override(
        "ServiceConnectConfiguration.Services.0.ClientAliases.0.TestTrafficRules", {"Header": header}
    )


def _add_lifecycle_hooks(
    scope: Construct, service: ecs.FargateService, hooks: Sequence[LifecycleHook]
) -> iam.Role | None:
    role: iam.Role | None = None
    for index, hook in enumerate(hooks):
        hook_role = hook.role
        if hook_role is None:
            if role is None:
                role = iam.Role(
                    scope,
                    "LifecycleHookRole",
                    assumed_by=cast(iam.IPrincipal, iam.ServicePrincipal("ecs.amazonaws.com")),
                    description="ECS invokes the deployment lifecycle hooks of this service with this role",
                )
            hook.function.grant_invoke(role)
            hook_role = role
        stages = [ecs.DeploymentLifecycleStage(stage) for stage in hook.stages]
        service.add_lifecycle_hook(
            ecs.DeploymentLifecycleLambdaTarget(
                cast(lambda_.IFunction, hook.function),
                f"LifecycleHook{index}",
                lifecycle_stages=stages,
                role=cast(iam.IRole, hook_role),
            )
        )
    if role is not None:
        _acknowledge_invoke_versions(role)
    return role


def _acknowledge_invoke_versions(role: iam.Role) -> None:
    # grant_invoke allows the function's ARN and "<ARN>:*" (its versions and aliases): cdk-nag
    # reports the wildcard, which stays within the hooks' own functions.
    policy = role.node.try_find_child("DefaultPolicy")
    if isinstance(policy, iam.Policy):
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5",
                reason="lambda:InvokeFunction on each lifecycle hook's function and its versions and aliases "
                "('<function ARN>:*'); nothing else",
            )
        )


def _error_alarm(
    scope: Construct,
    service: ecs.FargateService,
    cluster: ecs.ICluster,
    endpoint: ServiceConnectEndpoint,
    threshold: int,
    alarm_name: str,
) -> cloudwatch.Alarm:
    metric = cloudwatch.Metric(
        namespace=SERVICE_CONNECT_METRICS_NAMESPACE,
        metric_name=ERROR_METRIC_NAME,
        dimensions_map={
            "ClusterName": cluster.cluster_name,
            "ServiceName": service.service_name,
            "DiscoveryName": endpoint.discovery_name,
        },
        statistic="Sum",
        period=Duration.minutes(ERROR_ALARM_PERIOD_MINUTES),
    )
    return cloudwatch.Alarm(
        scope,
        "DeploymentErrorAlarm",
        alarm_name=alarm_name,
        alarm_description=f"{endpoint.discovery_name}: {threshold} or more 5xx answers a minute through Service "
        "Connect; rolls a deployment back",
        metric=metric,
        threshold=threshold,
        evaluation_periods=ERROR_ALARM_EVALUATION_PERIODS,
        datapoints_to_alarm=ERROR_ALARM_EVALUATION_PERIODS,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def read_deployment(properties: Mapping[str, Any]) -> DeploymentOptions:
    """The deployment an ``AWS::ECS::Service``'s ``Properties`` state, as :class:`DeploymentOptions`
    (strategy, bake times, steps, test traffic header; not hooks or alarms), for readers of a
    synthesized template such as the local run. Values must be literals; a missing strategy is rolling.

    Raises :class:`~ecs_service_discovery.errors.ValidationError` for what the options refuse.
    """
    config = _object(properties.get("DeploymentConfiguration"))
    raw_strategy = config.get("Strategy", "ROLLING")
    by_ecs = {strategy.ecs_strategy.value: strategy for strategy in DeploymentStrategy}
    if raw_strategy not in by_ecs:
        raise invalid("DeploymentConfiguration.Strategy", raw_strategy, f"expected one of {sorted(by_ecs)}")
    strategy = by_ecs[raw_strategy]
    if not strategy.shifts_traffic:
        return DeploymentOptions()
    steps = _object(config.get("LinearConfiguration") or config.get("CanaryConfiguration"))
    percent = steps.get("StepPercent", steps.get("CanaryPercent"))
    step_minutes = steps.get("StepBakeTimeInMinutes", steps.get("CanaryBakeTimeInMinutes"))
    header: Mapping[str, Any] = {}
    for service in _objects(_object(properties.get("ServiceConnectConfiguration")).get("Services")):
        for alias in _objects(service.get("ClientAliases")):
            header = _object(_object(alias.get("TestTrafficRules")).get("Header")) or header
    return DeploymentOptions(
        strategy=strategy,
        bake_time_minutes=config.get("BakeTimeInMinutes"),
        step_percent=percent,
        step_bake_time_minutes=step_minutes,
        test_traffic_header=header.get("Name"),
        test_traffic_header_value=_object(header.get("Value")).get("Exact"),
    )


def _object(value: Any) -> Mapping[str, Any]:
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [_object(item) for item in cast("list[Any]", value)] if isinstance(value, list) else []


__all__ = [
    "TEST_TRAFFIC_HEADER",
    "AppliedDeployment",
    "DeploymentOptions",
    "DeploymentStrategy",
    "LifecycleHook",
    "apply_deployment",
    "check_deployment",
    "check_deployment_options",
    "deployment_service_props",
    "read_deployment",
]
