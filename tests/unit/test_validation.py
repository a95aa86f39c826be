"""Bad input: one ValidationError per branch, raised before any construct (so any CloudFormation) exists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_ssm as ssm

from ecs_service_discovery import (
    DiscoverableFargateService,
    DiscoveryNamespace,
    ServiceOptions,
    ServiceScaling,
    ValidationError,
)
from ecs_service_discovery.validation import short
from stacks import ServiceDiscoveryStack

CANDIDATE = "Candidate"


@dataclass
class Env:
    """One stack for the whole module: failing constructions add nothing to it."""

    stack: cdk.Stack
    vpc: ec2.Vpc
    cluster: ecs.Cluster
    namespace: DiscoveryNamespace
    image: ecs.ContainerImage
    taken: DiscoverableFargateService
    elsewhere: DiscoverableFargateService


@pytest.fixture(scope="module")
def env() -> Env:
    stack = cdk.Stack(cdk.App(), "Validation")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    namespace = DiscoveryNamespace(stack, "Namespace", vpc=vpc, name="corp")
    other_namespace = DiscoveryNamespace(stack, "OtherNamespace", vpc=vpc, name="other")
    image = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim")
    taken = DiscoverableFargateService(stack, "Taken", cluster=cluster, namespace=namespace, name="taken", image=image)
    elsewhere = DiscoverableFargateService(
        stack, "Elsewhere", cluster=cluster, namespace=other_namespace, name="elsewhere", image=image
    )
    return Env(stack, vpc, cluster, namespace, image, taken, elsewhere)


def assert_rejected(env: Env, match: str, **overrides: Any) -> None:
    """GIVEN one bad parameter WHEN the service is constructed THEN ValidationError, and nothing was created."""
    props: dict[str, Any] = {
        "cluster": env.cluster,
        "namespace": env.namespace,
        "name": "candidate",
        "image": env.image,
    }
    props.update(overrides)
    with pytest.raises(ValidationError, match=match):
        DiscoverableFargateService(env.stack, CANDIDATE, **props)
    assert env.stack.node.try_find_child(CANDIDATE) is None


# --- Namespace name ------------------------------------------------------------------------------

NAMESPACE_RULES = "expected a DNS name of at most 253 characters"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("a" * 64, id="label-over-63"),
        pytest.param(".".join(["a" * 63] * 4), id="name-over-253"),
        pytest.param("-corp", id="leading-hyphen"),
        pytest.param("corp-", id="trailing-hyphen"),
        pytest.param("prod.-corp", id="label-leading-hyphen"),
        pytest.param("my_corp", id="underscore"),
        pytest.param("corp.", id="trailing-dot"),
        pytest.param("prod..corp", id="empty-label"),
        pytest.param("Corp", id="upper-case-rejected-not-normalized"),
        pytest.param(42, id="not-a-string"),
    ],
)
def test_namespace_name_must_be_a_lower_case_dns_name(env: Env, name: Any) -> None:
    with pytest.raises(ValidationError, match=rf"^name={re.escape(short(name))} is not valid: {NAMESPACE_RULES}"):
        DiscoveryNamespace(env.stack, CANDIDATE, vpc=env.vpc, name=name)
    assert env.stack.node.try_find_child(CANDIDATE) is None


def test_namespace_name_of_253_characters_is_accepted(env: Env) -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    assert DiscoveryNamespace(env.stack, "LongestName", vpc=env.vpc, name=name).name == name


def test_imported_namespace_name_is_checked_too(env: Env) -> None:
    with pytest.raises(ValidationError, match=r"^name='Shared' is not valid"):
        DiscoveryNamespace.from_attributes(
            env.stack, CANDIDATE, name="Shared", namespace_id="ns-abc", namespace_arn="arn:aws:servicediscovery:x"
        )


def test_stack_namespace_name_is_checked_before_the_stack_exists() -> None:
    app = cdk.App()
    with pytest.raises(ValidationError, match=r"^namespace_name='Bad_Name' is not valid"):
        ServiceDiscoveryStack(app, "ServiceDiscovery", namespace_name="Bad_Name")
    assert app.node.try_find_child("ServiceDiscovery") is None


# --- Service name --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("Worker", id="upper-case"),
        pytest.param("web_1", id="underscore"),
        pytest.param("-web", id="leading-hyphen"),
        pytest.param("web-", id="trailing-hyphen"),
        pytest.param("web.api", id="dot"),
        pytest.param("a" * 64, id="over-63"),
        pytest.param(None, id="none"),
    ],
)
def test_service_name_must_be_a_dns_label(env: Env, name: Any) -> None:
    assert_rejected(env, rf"^name={name!r} is not valid: expected a DNS label of 1-63 characters", name=name)


def test_a_second_service_with_the_same_name_in_a_namespace_is_rejected(env: Env) -> None:
    assert_rejected(
        env,
        r"^name='taken' is not valid: namespace 'corp' already has a service named 'taken' \(Validation/Taken\)",
        name="taken",
    )


def test_the_same_name_in_another_namespace_is_fine(env: Env) -> None:
    service = DiscoverableFargateService(
        env.stack,
        "TakenElsewhere",
        cluster=env.cluster,
        namespace=env.elsewhere.namespace,
        name="taken",
        image=env.image,
    )
    assert service.dns_name == "taken.other"


# --- Container port and DNS TTL ------------------------------------------------------------------


@pytest.mark.parametrize("port", [0, -1, 65536, "8080", True, 80.5])
def test_container_port_must_be_1_to_65535(env: Env, port: Any) -> None:
    assert_rejected(
        env, rf"^container_port={port!r} is not valid: expected a whole number from 1 to 65535", container_port=port
    )


@pytest.mark.parametrize(
    ("ttl", "shown"),
    [
        pytest.param(-1, "-1", id="negative-number"),
        pytest.param(10, "10", id="number-not-duration"),
        pytest.param(Duration.seconds(2147483648), "'2147483648 seconds'", id="over-2147483647"),
        pytest.param(Duration.millis(1500), "'1 second 500 millis'", id="not-whole-seconds"),
    ],
)
def test_dns_ttl_must_be_whole_seconds_0_to_2147483647(env: Env, ttl: Any, shown: str) -> None:
    assert_rejected(
        env,
        rf"^dns_ttl={shown} is not valid: expected a Duration of whole seconds from 0 to 2147483647 seconds",
        dns_ttl=ttl,
    )


def test_cdk_itself_refuses_a_negative_duration() -> None:
    # Why the negative TTL case above is a plain number: a negative Duration cannot even be made.
    with pytest.raises(RuntimeError, match="Duration amounts cannot be negative"):
        Duration.seconds(-1)


# --- Task size and count -------------------------------------------------------------------------


def test_cpu_memory_pair_must_be_a_fargate_size_and_the_message_lists_the_valid_pairs(env: Env) -> None:
    assert_rejected(
        env,
        r"^memory_limit_mib=4096 is not valid: with cpu=256 Fargate accepts 512, 1024, 2048 MiB "
        r"\(valid pairs: cpu=256: 512-2048 MiB in steps of 512; cpu=512: 1024-4096 MiB in steps of 1024; .*"
        r"cpu=16384: 32768-122880 MiB in steps of 8192\)$",
        cpu=256,
        memory_limit_mib=4096,
    )


def test_cpu_must_be_a_fargate_cpu_size(env: Env) -> None:
    assert_rejected(env, r"^cpu=300 is not valid: expected one of the Fargate CPU sizes \[256, 512, 1024", cpu=300)


@pytest.mark.parametrize("count", [-1, 1001, 2.5])
def test_desired_count_must_be_0_to_1000(env: Env, count: Any) -> None:
    assert_rejected(
        env,
        rf"^desired_count={count!r} is not valid: expected a whole number from 0 to 1000 \(tasks per service\)",
        desired_count=count,
    )


# --- Scaling -------------------------------------------------------------------------------------


def test_scaling_min_over_max_is_rejected(env: Env) -> None:
    assert_rejected(
        env,
        r"^scaling.min_capacity=5 is not valid: expected at most scaling.max_capacity=3",
        scaling=ServiceScaling(min_capacity=5, max_capacity=3),
    )


def test_scaling_min_defaults_to_desired_count_and_must_fit_under_max(env: Env) -> None:
    assert_rejected(
        env,
        r"^scaling.min_capacity=20 is not valid: expected at most scaling.max_capacity=10 "
        r"\(min_capacity defaults to desired_count\)",
        desired_count=20,
    )


def test_scaling_max_over_1000_is_rejected(env: Env) -> None:
    assert_rejected(
        env,
        r"^scaling.max_capacity=1001 is not valid: expected a whole number from 1 to 1000",
        scaling=ServiceScaling(max_capacity=1001),
    )


@pytest.mark.parametrize("field", ["cpu_target_percent", "memory_target_percent"])
@pytest.mark.parametrize("percent", [0, 101])
def test_scaling_targets_must_be_1_to_100_percent(env: Env, field: str, percent: int) -> None:
    assert_rejected(
        env,
        rf"^scaling.{field}={percent} is not valid: expected a whole number from 1 to 100 percent",
        scaling=ServiceScaling(**{field: percent}),
    )


def test_scaling_must_be_a_service_scaling(env: Env) -> None:
    assert_rejected(
        env, r"^scaling=\{'max_capacity': 5\} is not valid: expected a ServiceScaling", scaling={"max_capacity": 5}
    )


# --- Health check --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["health", "", "http://x/health"])
def test_health_check_path_must_start_with_a_slash(env: Env, path: str) -> None:
    assert_rejected(
        env, rf"^health_check_path={path!r} is not valid: expected a URL path starting with '/'", health_check_path=path
    )


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("interval", Duration.seconds(4), "from 5 to 300 seconds"),
        ("interval", Duration.seconds(301), "from 5 to 300 seconds"),
        ("timeout", Duration.seconds(1), "from 2 to 120 seconds"),
        ("timeout", Duration.seconds(121), "from 2 to 120 seconds"),
        ("start_period", Duration.seconds(301), "from 0 to 300 seconds"),
        ("retries", 0, "from 1 to 10"),
        ("retries", 11, "from 1 to 10"),
    ],
)
def test_health_check_settings_must_be_in_the_ecs_range(env: Env, field: str, value: Any, allowed: str) -> None:
    health_check = ecs.HealthCheck(command=["CMD", "true"], **{field: value})
    assert_rejected(env, rf"^health_check\.{field}=.* is not valid: expected .*{allowed}", health_check=health_check)


def test_health_check_needs_a_command(env: Env) -> None:
    assert_rejected(env, r"^health_check.command=\[\] is not valid", health_check=ecs.HealthCheck(command=[]))


# --- Other parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value", "match"),
    [
        ("stop_timeout", Duration.seconds(121), r"^stop_timeout='121 seconds' is not valid: .* from 2 to 120"),
        ("health_check_grace_period", 60, r"^health_check_grace_period=60 is not valid: expected a Duration"),
        (
            "log_encryption_key",
            "alias/logs",
            r"^log_encryption_key='alias/logs' is not valid: expected an aws_kms.IKey",
        ),
        ("environment", {"1BAD": "x"}, r"^environment key='1BAD' is not valid"),
        ("container_name", "App", r"^container_name='App' is not valid"),
        ("cluster", "my-cluster", r"^cluster='my-cluster' is not valid: expected an aws_ecs.ICluster"),
    ],
)
def test_other_parameters_are_checked(env: Env, parameter: str, value: Any, match: str) -> None:
    assert_rejected(env, match, **{parameter: value})


def test_infinite_log_retention_is_rejected(env: Env) -> None:
    from aws_cdk import aws_logs as logs

    assert_rejected(
        env,
        r"^log_retention=.* is not valid: expected an aws_logs.RetentionDays other than INFINITE",
        log_retention=logs.RetentionDays.INFINITE,
    )


# --- connect_to ----------------------------------------------------------------------------------


def test_connect_to_a_service_of_another_namespace_is_rejected(env: Env) -> None:
    with pytest.raises(
        ValidationError,
        match=r"^other='elsewhere' is not valid: it is registered in namespace 'other' but 'taken' is in 'corp'",
    ):
        env.taken.connect_to(env.elsewhere)


def test_connect_to_itself_is_rejected(env: Env) -> None:
    with pytest.raises(ValidationError, match=r"^other='taken' is not valid: a service cannot connect_to itself"):
        env.taken.connect_to(env.taken)


def test_connect_to_needs_a_discoverable_service(env: Env) -> None:
    with pytest.raises(ValidationError, match=r"^other='worker' is not valid: expected a DiscoverableFargateService"):
        env.taken.connect_to("worker")  # type: ignore[arg-type]


# --- Tokens --------------------------------------------------------------------------------------


def test_a_deploy_time_desired_count_is_not_checked_at_synth(env: Env) -> None:
    # GIVEN a desired count known only at deploy time (a CloudFormation parameter)
    desired = cdk.CfnParameter(env.stack, "DesiredCount", type="Number", min_value=0, max_value=1000)
    # WHEN it is passed, also as the scaling minimum it defaults to
    service = DiscoverableFargateService(
        env.stack,
        "FromParameter",
        cluster=env.cluster,
        namespace=env.namespace,
        name="from-parameter",
        image=env.image,
        # A number token is a float in Python.
        desired_count=desired.value_as_number,  # pyright: ignore[reportArgumentType]
    )
    # THEN construction passes and the template refers to the parameter
    cfn_service = service.service.node.default_child
    assert isinstance(cfn_service, ecs.CfnService)
    assert env.stack.resolve(cfn_service.desired_count) == {"Ref": "DesiredCount"}


def test_a_deploy_time_namespace_name_is_not_checked_at_synth(env: Env) -> None:
    name = cdk.CfnParameter(env.stack, "NamespaceName").value_as_string
    namespace = DiscoveryNamespace(env.stack, "FromParameterNamespace", vpc=env.vpc, name=name)
    resource = namespace.namespace.node.default_child
    assert isinstance(resource, servicediscovery.CfnPrivateDnsNamespace)
    assert env.stack.resolve(resource.name) == {"Ref": "NamespaceName"}


# === Issue 10: each class of bad input, several values each ======================================


def _service_kwargs(env: Env, **overrides: Any) -> dict[str, Any]:
    return {"cluster": env.cluster, "namespace": env.namespace, "name": "candidate", "image": env.image, **overrides}


# --- Full-string validation: a trailing newline (or other tail) is never part of a valid value ----


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("name", "api\n"),
        ("name", "api\r\n"),
        ("name", "api\x00"),
        ("container_name", "app\n"),
        ("environment", {"LOG_LEVEL\n": "debug"}),
        ("environment", {"A B": "x"}),
        ("environment", {"A=B": "x"}),
        ("health_check_path", "/health\n"),
        ("health_check_path", "/health;touch${IFS}X"),
        ("user", "10001\n"),
    ],
)
def test_a_value_with_a_tail_after_a_valid_prefix_is_refused(env: Env, parameter: str, value: Any) -> None:
    assert_rejected(env, rf"^{re.escape(parameter)}( key)?=.* is not valid", **{parameter: value})


@pytest.mark.parametrize("name", ["corp\n", "corp\n.internal", "prod.corp\n", "corp\t"])
def test_a_namespace_name_with_a_tail_is_refused(env: Env, name: str) -> None:
    with pytest.raises(ValidationError, match=r"^name=.* is not valid: expected a DNS name"):
        DiscoveryNamespace(env.stack, CANDIDATE, vpc=env.vpc, name=name)
    with pytest.raises(ValidationError, match=r"^name=.* is not valid: expected a DNS name"):
        DiscoveryNamespace.from_attributes(
            env.stack,
            CANDIDATE,
            name=name,
            namespace_id="ns-abcd1234",
            namespace_arn="arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-abcd1234",
        )
    assert env.stack.node.try_find_child(CANDIDATE) is None


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("namespace_id", "ns-abcd1234\n"),
        ("namespace_id", "ns-abcd 1234"),
        ("namespace_arn", "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-abcd1234\n"),
        ("namespace_arn", "arn:aws:s3:::bucket"),
    ],
)
def test_imported_namespace_ids_and_arns_are_checked_whole(env: Env, parameter: str, value: str) -> None:
    attributes: dict[str, Any] = {
        "name": "shared",
        "namespace_id": "ns-abcd1234",
        "namespace_arn": "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-abcd1234",
        parameter: value,
    }
    with pytest.raises(ValidationError, match=rf"^{parameter}=.* is not valid"):
        DiscoveryNamespace.from_attributes(env.stack, CANDIDATE, **attributes)
    assert env.stack.node.try_find_child(CANDIDATE) is None


# --- Reserved variables: the library's, ECS's, a secret's twin, a callee's -------------------------


@pytest.mark.parametrize(
    "name",
    [
        "SERVICE_NAME",
        "NAMESPACE",
        "NAMESPACE_ID",
        "AWS_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "ECS_CONTAINER_METADATA_URI_V4",
    ],
)
def test_environment_may_not_override_a_variable_the_library_or_ecs_sets(env: Env, name: str) -> None:
    assert_rejected(env, rf"^environment key='{name}' is not valid: the variable is set by", environment={name: "x"})


@pytest.mark.parametrize("name", ["SERVICE_NAME", "NAMESPACE_ID", "LOG_LEVEL"])
def test_a_secret_may_not_share_a_name_with_a_variable(env: Env, name: str) -> None:
    secret = ecs.Secret.from_ssm_parameter(
        ssm.StringParameter.from_string_parameter_name(env.stack, f"Param{name}", "/app/secret")
    )
    environment = {"LOG_LEVEL": "debug"}
    assert_rejected(env, rf"^secrets key='{name}' is not valid", environment=environment, secrets={name: secret})


@pytest.mark.parametrize(
    ("callee", "environment", "variable"),
    [
        ("bind", {}, "BIND_HOST"),
        ("db", {"DB_HOST": "x"}, "DB_HOST"),
        ("db", {"DB_PORT": "x"}, "DB_PORT"),
        ("db", {"DB_SERVICE": "x"}, "DB_SERVICE"),
    ],
)
def test_connect_to_never_overwrites_a_variable_the_caller_or_the_apps_use(
    env: Env, callee: str, environment: dict[str, str], variable: str
) -> None:
    # GIVEN a caller (whose environment may name the callee's variables) and a callee
    suffix = variable.lower().replace("_", "-")
    caller = DiscoverableFargateService(
        env.stack, f"Caller-{suffix}", **_service_kwargs(env, name=f"caller-{suffix}", environment=environment)
    )
    target = env.stack.node.try_find_child(f"Callee-{callee}") or DiscoverableFargateService(
        env.stack, f"Callee-{callee}", **_service_kwargs(env, name=callee)
    )
    assert isinstance(target, DiscoverableFargateService)
    constructs_before = len(env.stack.node.find_all())
    # WHEN it connects THEN the clash is refused, naming the variable, and no rule was added
    with pytest.raises(ValidationError, match=rf"^other='{callee}' is not valid: it would set the variable {variable}"):
        caller.connect_to(target)
    assert len(env.stack.node.find_all()) == constructs_before


# --- Wrong types for environment and secrets: clean ValidationErrors, never jsii or bare errors ----


@pytest.mark.parametrize(
    ("parameter", "value", "match"),
    [
        ("environment", ["A=1"], r"^environment=\['A=1'\] is not valid: expected a mapping"),
        ("environment", "A=1", r"^environment='A=1' is not valid: expected a mapping"),
        ("environment", {"A": 1}, r"^environment\['A'\]=1 is not valid: expected a string"),
        ("environment", {"A": None}, r"^environment\['A'\]=None is not valid: expected a string"),
        ("environment", {1: "x"}, r"^environment key=1 is not valid: expected a variable name"),
        ("secrets", ["DB_PASSWORD"], r"^secrets=\['DB_PASSWORD'\] is not valid: expected a mapping"),
        ("secrets", {"DB_PASSWORD": "hunter2"}, r"^secrets\['DB_PASSWORD'\]='hunter2' is not valid: expected an"),
        ("secrets", {"1X": None}, r"^secrets key='1X' is not valid"),
    ],
)
def test_environment_and_secrets_of_the_wrong_type_are_validation_errors(
    env: Env, parameter: str, value: Any, match: str
) -> None:
    assert_rejected(env, match, **{parameter: value})


# --- Non-root: every spelling of root is refused -----------------------------------------------


@pytest.mark.parametrize(
    "user", ["0", "00", "0:0", "0:10001", "root", "root:root", "root:10001", " 0", "0 ", "", 0, 10001]
)
def test_root_in_any_spelling_and_malformed_users_are_refused(env: Env, user: Any) -> None:
    assert_rejected(env, r"^user=.* is not valid: expected a non-root user", user=user)


@pytest.mark.parametrize("user", ["10001", "10001:10001", "10001:0", "app", "app:app", None])
def test_non_root_users_and_the_images_user_are_accepted(user: str | None) -> None:
    assert ServiceOptions(name="api", user=user).user == user


# --- Short forms: a huge value is never rendered whole -------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        pytest.param("name", "a" * 1_000_000, id="name-1M"),
        pytest.param("container_name", "b" * 100_000 + "\n", id="container-name-100k"),
        pytest.param("environment", {f"K{i}": i for i in range(100_000)}, id="environment-100k-keys"),
        pytest.param("environment", ["x" * 1000] * 10_000, id="environment-list"),
        pytest.param("desired_count", 10**5000, id="desired-count-5000-digits"),
        pytest.param("health_check_path", "/" + "a" * 1_000_000, id="path-1M"),
        pytest.param("user", "0" * 100_000, id="user-100k"),
    ],
)
def test_errors_show_a_short_form_of_huge_values(env: Env, parameter: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        DiscoverableFargateService(env.stack, CANDIDATE, **_service_kwargs(env, **{parameter: value}))
    assert len(str(caught.value)) < 1000
    assert env.stack.node.try_find_child(CANDIDATE) is None


def test_a_deeply_nested_value_is_shown_short() -> None:
    nested: Any = "leaf"
    for _ in range(10_000):
        nested = [nested]
    assert len(short(nested)) < 100
