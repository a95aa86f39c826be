"""Two apps as two accounts in one local run (issue 23): the owner's stack creates the namespace
``corp`` and runs ``worker``; the consumer's stack names that namespace by its ARN (shared through
AWS RAM) and runs ``backend``, which calls ``worker`` by name. One demo process runs both stacks
(``--stack TwoAccountOwner --stack TwoAccountConsumer``) against one Cloud Map stand-in and one DNS
server, as on AWS the two accounts share one namespace and its hosted zone.

The app is tests/local/two_account_app.py (examples/cross-account's wiring, with services/ images).
What is shown: the consumer stack is read though it creates no namespace; its tasks sign as the
consumer account; ECS registers them in the owner's namespace as the consumer (CreatedByAccount); DNS
answers for both accounts' services; the consumer's backend calls the owner's worker N times with no
failure and reads the shared namespace through the Cloud Map API; stacks that cannot share a run are
refused before anything starts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ecs_discovery_tools.local.accounts import credentials_of
from ecs_discovery_tools.local.assembly import AssemblyError, read_stack, synthesize
from tests.conftest import once_per_run
from tests.local.conftest import REPO_ROOT, Demo, http_get, running_demo, wait_for
from tests.local.test_from_another_shell import another_shell, banner_commands, sh
from tests.local.two_account_app import (
    CONSUMER_ACCOUNT,
    CONSUMER_STACK,
    NAMESPACE_ARN,
    OWNER_ACCOUNT,
    OWNER_STACK,
    REGION,
)

CALLS = 40  # backend -> worker requests through the shared namespace
WORKERS, BACKENDS = 2, 2


@pytest.fixture(scope="module")
def two_account_assembly(tmp_path_factory) -> Path:
    """tests/local/two_account_app.py synthesized once (read-only: tests that change it copy it)."""

    def produce(folder: Path) -> dict[str, Any]:
        synthesize(REPO_ROOT, folder / "cdk.out", app=f"{sys.executable} -m tests.local.two_account_app")
        return {}

    folder, _ = once_per_run(tmp_path_factory, "two-account-assembly", {}, produce)
    return folder / "cdk.out"


def edited(assembly: Path, target: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of ``assembly`` whose ``stack`` template ``edit`` has changed, as a CloudFormation user
    would write it by hand."""
    shutil.copytree(assembly, target)
    path = target / f"{stack}.template.json"
    template = json.loads(path.read_text())
    edit(template["Resources"])
    path.write_text(json.dumps(template))
    return target


def of_type(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [resource["Properties"] for resource in resources.values() if resource["Type"] == kind]


def set_namespace_ids(value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(resources: dict[str, Any]) -> None:
        for properties in of_type(resources, "AWS::ServiceDiscovery::Service"):
            properties["NamespaceId"] = value

    return edit


# -- reading the stacks ----------------------------------------------------------------------------


def test_a_consumer_stack_is_read_by_the_namespace_arn_it_names(two_account_assembly):
    stack = read_stack(two_account_assembly, CONSUMER_STACK)

    assert (stack.namespace_arn, stack.namespace_name, stack.namespace_logical_id) == (NAMESPACE_ARN, None, None)
    assert (stack.account, stack.region) == (CONSUMER_ACCOUNT, REGION)
    assert [service.name for service in stack.services] == ["backend"]


def test_an_owner_stack_carries_its_environment(two_account_assembly):
    stack = read_stack(two_account_assembly, OWNER_STACK)

    assert (stack.namespace_name, stack.namespace_arn, stack.account, stack.region) == (
        "corp",
        None,
        OWNER_ACCOUNT,
        REGION,
    )


def test_an_environment_agnostic_stack_has_no_account_or_region(assembly_dir):
    stack = read_stack(assembly_dir, "ServiceDiscovery")

    assert (stack.account, stack.region, stack.namespace_arn) == (None, None, None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "NamespaceArn"}, r"NamespaceId is \{\"Ref\": \"NamespaceArn\"\}, an intrinsic function"),
        ({"Fn::ImportValue": "corp-arn"}, r"NamespaceId is \{\"Fn::ImportValue\".*an intrinsic function"),
        ("ns-0123456789abcdef", r"NamespaceId is 'ns-0123456789abcdef', not a namespace ARN"),
        (NAMESPACE_ARN + "\n", r"NamespaceId is 'arn:aws:servicediscovery:.*\\n', not a namespace ARN"),
        (NAMESPACE_ARN.replace(":namespace/", ":service/").replace("ns-", "srv-"), "not a namespace ARN"),
        ("arn:aws:servicediscovery:eu-west-1:1111:namespace/ns-0123456789abcdef", "not a namespace ARN"),
        ("x" * 5000, r"NamespaceId is 'xxxxxxxx.{0,80}', not a namespace ARN"),
        ({"Ref": "AWS::NoValue"}, "names no namespace"),
    ],
)
def test_a_consumer_namespace_id_that_is_not_a_literal_arn_is_refused_by_name(
    two_account_assembly, tmp_path, value, message
):
    assembly = edited(two_account_assembly, tmp_path / "cdk.out", CONSUMER_STACK, set_namespace_ids(value))

    with pytest.raises(AssemblyError, match=message) as refused:
        read_stack(assembly, CONSUMER_STACK)
    assert "BackendCloudMapService" in str(refused.value) or "names no namespace" in str(refused.value)
    assert len(str(refused.value)) < 400


@pytest.mark.parametrize("where", ["a second Cloud Map service", "Service Connect"])
def test_a_consumer_naming_two_namespaces_is_refused(two_account_assembly, tmp_path, where):
    other = NAMESPACE_ARN.replace("ns-0123456789abcdef", "ns-fedcba9876543210")

    def edit(resources: dict[str, Any]) -> None:
        (backend,) = of_type(resources, "AWS::ServiceDiscovery::Service")
        if where == "Service Connect":
            (service,) = of_type(resources, "AWS::ECS::Service")
            service["ServiceConnectConfiguration"] = {"Enabled": True, "Namespace": other}
            return
        resources["SecondCloudMapService"] = {
            "Type": "AWS::ServiceDiscovery::Service",
            "Properties": {**backend, "Name": "second", "NamespaceId": other},
        }

    assembly = edited(two_account_assembly, tmp_path / "cdk.out", CONSUMER_STACK, edit)

    with pytest.raises(AssemblyError, match=r"names 2 namespaces by ARN.*the local run needs exactly one"):
        read_stack(assembly, CONSUMER_STACK)


# -- stacks that cannot share a run: refused before anything starts -------------------------------


def demo_refusal(assembly: Path, tmp_path: Path, *stacks: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ecs_discovery_tools.local.demo", "--assembly", str(assembly), "--no-control"]
    command += ["--log-dir", str(tmp_path / "logs")]
    for stack in stacks:
        command += ["--stack", stack]
    return subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL
    )


def arn_edit(arn: str) -> Callable[[dict[str, Any]], None]:
    def edit(resources: dict[str, Any]) -> None:
        set_namespace_ids(arn)(resources)
        for properties in of_type(resources, "AWS::ECS::TaskDefinition"):
            for variable in properties["ContainerDefinitions"][0]["Environment"]:
                if variable["Name"] == "NAMESPACE_ID":
                    variable["Value"] = arn

    return edit


@pytest.mark.parametrize(
    ("stacks", "arn", "message"),
    [
        (
            [CONSUMER_STACK],
            None,
            f"stack {CONSUMER_STACK} creates no namespace: it registers in {NAMESPACE_ARN}, which another "
            f"stack creates; run that stack with it (--stack <owner's stack> --stack {CONSUMER_STACK})",
        ),
        (
            [OWNER_STACK, CONSUMER_STACK],
            NAMESPACE_ARN.replace(OWNER_ACCOUNT, "333333333333"),
            f"stack {CONSUMER_STACK} registers in a namespace of account 333333333333 "
            f"(arn:aws:servicediscovery:eu-west-1:333333333333:namespace/ns-0123456789abcdef); "
            f"this run's namespace corp is account {OWNER_ACCOUNT}'s (stack {OWNER_STACK})",
        ),
        (
            [OWNER_STACK, CONSUMER_STACK],
            NAMESPACE_ARN.replace(REGION, "us-west-2"),
            f"stack {CONSUMER_STACK} registers in a namespace of Region us-west-2 "
            f"(arn:aws:servicediscovery:us-west-2:{OWNER_ACCOUNT}:namespace/ns-0123456789abcdef); "
            f"this run's namespace corp is in {REGION}",
        ),
        ([OWNER_STACK, OWNER_STACK], None, f"--stack {OWNER_STACK} is given twice"),
    ],
)
def test_stacks_that_cannot_share_one_run_are_refused_in_one_line(two_account_assembly, tmp_path, stacks, arn, message):
    assembly = two_account_assembly
    if arn is not None:
        assembly = edited(assembly, tmp_path / "cdk.out", CONSUMER_STACK, arn_edit(arn))

    completed = demo_refusal(assembly, tmp_path, *stacks)

    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == f"local run: error: {message}\n"
    assert not (tmp_path / "logs" / "events.jsonl").exists()  # no task, no event


@pytest.mark.parametrize("name", ["x" * 3000, OWNER_STACK + "\n", "$(touch pwned); `id`", "\u202etsil"])
def test_a_stack_name_that_is_not_in_the_app_is_refused_in_one_short_line(two_account_assembly, tmp_path, name):
    completed = demo_refusal(two_account_assembly, tmp_path, OWNER_STACK, name)

    assert completed.returncode == 1, completed.stderr
    assert completed.stderr.startswith("local run: error: no stack ") and completed.stderr.count("\n") == 1
    assert len(completed.stderr) < 300 and "Traceback" not in completed.stderr
    assert not (tmp_path / "pwned").exists() and not (REPO_ROOT / "pwned").exists()


def test_two_stacks_that_each_create_a_namespace_are_refused(assembly_dir, tmp_path):
    completed = demo_refusal(assembly_dir, tmp_path, "ServiceDiscovery", "SocialNetwork")

    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == (
        "local run: error: stacks ServiceDiscovery and SocialNetwork each create a namespace (corp, social); "
        "a local run plays one namespace: run one of them, with the stacks that name its namespace by ARN\n"
    )


def test_the_same_service_name_in_two_stacks_is_refused(two_account_assembly, tmp_path):
    def rename(resources: dict[str, Any]) -> None:
        (backend,) = of_type(resources, "AWS::ServiceDiscovery::Service")
        backend["Name"] = "worker"

    assembly = edited(two_account_assembly, tmp_path / "cdk.out", CONSUMER_STACK, rename)

    completed = demo_refusal(assembly, tmp_path, OWNER_STACK, CONSUMER_STACK)

    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == (
        f"local run: error: service worker is in stacks {OWNER_STACK} and {CONSUMER_STACK}; "
        "a namespace holds one service of a name (Cloud Map: ServiceAlreadyExists)\n"
    )


# -- both apps running: real gunicorn tasks, loopback only -----------------------------------------


@pytest.fixture(scope="module")
def two_apps(two_account_assembly, tmp_path_factory) -> Iterator[Demo]:
    with running_demo(
        two_account_assembly,
        tmp_path_factory.mktemp("two-apps"),
        "--stack", CONSUMER_STACK,
        "--tasks", f"worker={WORKERS}",
        "--tasks", f"backend={BACKENDS}",
        stack=OWNER_STACK,
    ) as running:  # fmt: skip
        yield running


def client_of(demo: Demo, account: str) -> Any:
    credentials = credentials_of(account)
    return boto3.Session().client(
        "servicediscovery",
        region_name=demo.state["region"],
        endpoint_url=demo.state["cloud_map_endpoint"],
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        # DiscoverInstances' endpoint has a "data-" host prefix, which loopback does not resolve.
        config=Config(inject_host_prefix=False),
    )


def task_environ(pid: int) -> dict[str, str]:
    """The environment the local run started a task's process with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def test_one_run_plays_both_stacks_each_as_its_account(two_apps):
    assert two_apps.state["stacks"] == {
        OWNER_STACK: {"account": OWNER_ACCOUNT, "services": ["worker"]},
        CONSUMER_STACK: {"account": CONSUMER_ACCOUNT, "services": ["backend"]},
    }
    assert two_apps.state["region"] == REGION
    assert two_apps.state["owner_account"] == OWNER_ACCOUNT
    assert len(two_apps.addresses("worker")) == WORKERS and len(two_apps.addresses("backend")) == BACKENDS


def test_each_task_signs_as_its_stacks_account(two_apps):
    for service, account in (("worker", OWNER_ACCOUNT), ("backend", CONSUMER_ACCOUNT)):
        for task in two_apps.state["services"][service]:
            environ = task_environ(task["pid"])
            assert environ["AWS_ACCESS_KEY_ID"] == f"LOCAL{account}", service
            assert environ["AWS_REGION"] == REGION


def test_the_consumers_tasks_get_the_local_namespace_arn_for_the_one_their_template_names(two_apps):
    backend = two_apps.state["services"]["backend"][0]
    environ = task_environ(backend["pid"])
    local_arn = two_apps.state["namespace_arn"]

    assert local_arn.startswith(f"arn:aws:servicediscovery:{REGION}:{OWNER_ACCOUNT}:namespace/ns-")
    assert local_arn != NAMESPACE_ARN
    assert (environ["NAMESPACE_ID"], environ["NAMESPACE_OWNER_ACCOUNT"]) == (local_arn, OWNER_ACCOUNT)


def test_the_consumers_service_and_tasks_are_in_the_owners_namespace_created_by_the_consumer(two_apps):
    owner = client_of(two_apps, OWNER_ACCOUNT)
    by_id = [{"Name": "NAMESPACE_ID", "Values": [two_apps.state["namespace"]["id"]], "Condition": "EQ"}]

    services = {service["Name"]: service for service in owner.list_services(Filters=by_id)["Services"]}

    assert {name: (s["ResourceOwner"], s["CreatedByAccount"]) for name, s in services.items()} == {
        "worker": (OWNER_ACCOUNT, OWNER_ACCOUNT),
        "backend": (OWNER_ACCOUNT, CONSUMER_ACCOUNT),
    }
    for name, account in (("worker", OWNER_ACCOUNT), ("backend", CONSUMER_ACCOUNT)):
        instances = owner.list_instances(ServiceId=services[name]["Id"])["Instances"]
        assert sorted(i["Attributes"]["AWS_INSTANCE_IPV4"] for i in instances) == two_apps.addresses(name)
        assert {i["CreatedByAccount"] for i in instances} == {account}


def test_the_consumer_discovers_the_owners_worker_through_the_api(two_apps):
    consumer = client_of(two_apps, CONSUMER_ACCOUNT)

    answer = consumer.discover_instances(NamespaceName="corp", ServiceName="worker", OwnerAccount=OWNER_ACCOUNT)

    assert sorted(i["Attributes"]["AWS_INSTANCE_IPV4"] for i in answer["Instances"]) == two_apps.addresses("worker")


def test_dns_answers_for_both_accounts_services(two_apps):
    assert two_apps.dns_a("worker.corp") == two_apps.addresses("worker")
    assert two_apps.dns_a("backend.corp") == two_apps.addresses("backend")


def test_the_consumers_backend_calls_the_owners_worker_with_no_failure(two_apps):
    url = two_apps.state["services"]["backend"][0]["url"] + "/"

    answers = [http_get(url) for _ in range(CALLS)]

    failed = [(answer.status_code, answer.text[:200]) for answer in answers if answer.status_code != 200]
    assert failed == []
    reached = {answer.json()["worker"]["address"] for answer in answers}
    assert reached <= set(two_apps.addresses("worker")) and reached
    assert sum(len(answer.json()["worker"]["failed_attempts"]) for answer in answers) == 0


def test_the_consumers_discovery_page_reads_the_shared_namespace(two_apps):
    document = http_get(two_apps.api_url).json()

    (worker,) = [service for service in document["services"] if service["name"] == "worker"]
    assert worker["instances"] == {"healthy": WORKERS, "total": WORKERS, "error": None}
    assert (worker["registry"]["resource_owner"], worker["registry"]["created_by_account"]) == (
        OWNER_ACCOUNT,
        OWNER_ACCOUNT,
    )
    assert worker["error"] is None and worker["dns"]["address"] in two_apps.addresses("worker")


def test_the_banner_names_both_stacks_and_each_accounts_credentials(two_apps):
    output = two_apps.output()
    commands = banner_commands(two_apps)

    assert (
        f"Stacks {OWNER_STACK} (account {OWNER_ACCOUNT}, owns namespace corp) and {CONSUMER_STACK} "
        f"(account {CONSUMER_ACCOUNT}) running locally" in output
    )
    assert commands[0].startswith(f"AWS_ACCESS_KEY_ID=LOCAL{OWNER_ACCOUNT} AWS_SECRET_ACCESS_KEY=testing ")
    assert commands[1].startswith(f"AWS_ACCESS_KEY_ID=LOCAL{CONSUMER_ACCOUNT} AWS_SECRET_ACCESS_KEY=testing ")
    assert commands[1].endswith(f" --owner-account {OWNER_ACCOUNT}")


@pytest.mark.parametrize(("line", "account"), [(0, OWNER_ACCOUNT), (1, CONSUMER_ACCOUNT)])
def test_each_accounts_banner_command_lists_both_accounts_services_from_another_shell(
    two_apps, tmp_path, line, account
):
    command = banner_commands(two_apps)[line] + " --json"

    completed = sh(command, another_shell(tmp_path))

    assert completed.returncode == 0, completed.stderr
    listed = {service["name"]: service for service in json.loads(completed.stdout)["services"]}
    assert {name: service["created_by_account"] for name, service in listed.items()} == {
        "worker": OWNER_ACCOUNT,
        "backend": CONSUMER_ACCOUNT,
    }, account


def registered_by(demo: Demo, service: str) -> dict[str, str]:
    """Instance ID -> the account that registered it, of ``service`` in the owner's namespace."""
    owner = client_of(demo, OWNER_ACCOUNT)
    by_id = [{"Name": "NAMESPACE_ID", "Values": [demo.state["namespace"]["id"]], "Condition": "EQ"}]
    (service_id,) = [s["Id"] for s in owner.list_services(Filters=by_id)["Services"] if s["Name"] == service]
    return {i["Id"]: i["CreatedByAccount"] for i in owner.list_instances(ServiceId=service_id)["Instances"]}


def test_a_stopped_consumer_task_is_deregistered_and_replaced_by_the_consumer(two_apps):
    victim = two_apps.running_tasks("backend")[0]["task_id"]
    since = two_apps.last_seq()

    two_apps.control().request("POST", "/stop-task", {"task_id": victim})

    def replaced() -> dict[str, str] | None:
        running = {task["task_id"] for task in two_apps.running_tasks("backend") if task["registered"]}
        registered = registered_by(two_apps, "backend")
        return registered if len(running) == BACKENDS and victim not in running and set(registered) == running else None

    # The consumer's DeregisterInstance names the owner's service by ARN; by ID it would be refused
    # (and the scheduler goes on with its stop), leaving the stopped task in the registry.
    registered = wait_for(replaced, 60, "the stopped backend task was not deregistered and replaced")
    assert set(registered.values()) == {CONSUMER_ACCOUNT}
    problems = [e for e in two_apps.events(since) if e["event"] in ("registry_problem", "scheduler_error")]
    assert problems == []
    # The tasks running now, for the tests that read the state after this one.
    two_apps.state = json.loads(two_apps.state_path.read_text())
