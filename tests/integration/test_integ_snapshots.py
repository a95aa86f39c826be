"""The integration tests offline (docs/integration-tests.md): every app under integ/ synthesizes to
its snapshot; a changed template fails with the command that updates it, an edit of app code (an
image's new hash) does not; the assertions' expectations pass and fail as intended when run
through integ-tests-alpha's own assertion handler; make integ without credentials stops in one line
before any request."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INTEG = REPO / "integ"
NODE = REPO / ".venv" / "bin" / "node"


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("integ_run", INTEG / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load_runner()
TESTS = sorted(path.stem for path in INTEG.glob("integ_*.py"))


def test_every_integ_app_has_a_snapshot() -> None:
    assert len(TESTS) == 4, TESTS
    for name in TESTS:
        assert (INTEG / f"{name}.py.snapshot" / "integ.json").is_file(), name


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each app synthesized once, as integ-runner runs it."""
    return {name: run.synth(INTEG / f"{name}.py", tmp_path_factory.mktemp(name)) for name in TESTS}


@pytest.mark.parametrize("name", TESTS)
def test_app_matches_its_snapshot(name: str, assemblies: dict[str, Path]) -> None:
    differences = run.compare(INTEG / f"{name}.py.snapshot", assemblies[name])
    assert not differences, f"{name} differs from its snapshot; if intended: {run.UPDATE_HINT}\n" + "\n".join(
        differences[:20]
    )


def _snapshot_copy(tmp_path: Path, name: str) -> Path:
    copy = tmp_path / f"{name}.py.snapshot"
    shutil.copytree(INTEG / f"{name}.py.snapshot", copy)
    return copy


def _stack_template(snapshot: Path) -> Path:
    (template,) = [path for path in snapshot.glob("*.template.json") if "DeployAssert" not in path.name]
    return template


def test_a_changed_template_fails_and_says_how_to_update(
    tmp_path: Path, assemblies: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the dns snapshot with the worker's DesiredCount changed (a temporary copy)
    snapshot = _snapshot_copy(tmp_path, "integ_seed_dns")
    template_file = _stack_template(snapshot)
    template = json.loads(template_file.read_text())
    services = [key for key, value in template["Resources"].items() if value["Type"] == "AWS::ECS::Service"]
    assert len(services) == 2
    worker = next(key for key in services if key.startswith("Worker"))
    template["Resources"][worker]["Properties"]["DesiredCount"] = 3
    template_file.write_text(json.dumps(template))
    # WHEN the check runs against it
    monkeypatch.setattr(run, "snapshot_dir", lambda test: snapshot)
    monkeypatch.setattr(run, "synth", lambda test, outdir: assemblies["integ_seed_dns"])
    code = run.main(["check", "integ_seed_dns"])
    # THEN it fails, names the property and says how to update the snapshot
    out = capsys.readouterr().out
    assert code == 1
    assert f"/Resources/{worker}/Properties/DesiredCount: 3 -> 2" in out
    assert "make integ-snapshot" in out


def test_an_image_hash_change_is_no_difference(tmp_path: Path, assemblies: dict[str, Path]) -> None:
    # GIVEN the dns snapshot as if flask-worker's code had changed: its image asset has a new hash
    snapshot = _snapshot_copy(tmp_path, "integ_seed_dns")
    (assets_file,) = [path for path in snapshot.glob("*.assets.json") if "DeployAssert" not in path.name]
    images = list(json.loads(assets_file.read_text())["dockerImages"])
    assert len(images) == 2
    new_hash = "f" * 64
    for path in (assets_file, _stack_template(snapshot)):
        path.write_text(path.read_text().replace(images[0], new_hash))
    assert new_hash in _stack_template(snapshot).read_text()
    # WHEN compared THEN nothing differs (integ-runner's rule: asset hashes are not compared)
    assert run.compare(snapshot, assemblies["integ_seed_dns"]) == []


# --- The expectations, through integ-tests-alpha's own assertion handler ------------------------------

_HANDLER_RUNNER = """
console.log = console.info = () => {};  // the handler logs every event; only the verdicts are printed
const https = require('https');
let sent = [];
https.request = (options, callback) => ({
  on() {}, write(body) { sent.push(JSON.parse(body)); }, end() { callback({}); },
});
const { handler } = require(process.argv[1]);
(async () => {
  const results = [];
  for (const c of JSON.parse(require('fs').readFileSync(0, 'utf8'))) {
    sent = [];
    await handler({ RequestType: 'Create', ResourceType: 'Custom::DeployAssert@AssertEquals',
      ResponseURL: 'https://127.0.0.1/', StackId: 's', RequestId: 'r', LogicalResourceId: 'l',
      ResourceProperties: { actual: c.actual, expected: c.expected } }, { getRemainingTimeInMillis: () => 60000 });
    results.push(JSON.parse(sent[0].Data.assertion));
  }
  process.stdout.write(JSON.stringify(results));
})();
"""


@pytest.fixture(scope="module")
def handler_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The assertion handler integ-tests-alpha deploys (its Lambda function's code), from the package."""
    import aws_cdk.integ_tests_alpha as alpha

    (tarball,) = (Path(alpha.__file__).parent / "_jsii").glob("*.jsii.tgz")
    target = tmp_path_factory.mktemp("integ-tests-alpha")
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    bundle = target / "package/lib/assertions/providers/lambda-handler.bundle/index.js"
    assert bundle.is_file()
    return bundle


def _verdicts(bundle: Path, cases: list[tuple[str, Any]]) -> list[str]:
    payload = json.dumps([{"expected": expected, "actual": actual} for expected, actual in cases])
    result = subprocess.run(
        [str(NODE), "-e", _HANDLER_RUNNER, str(bundle)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [verdict["status"] for verdict in json.loads(result.stdout)]


def _expected_of(name: str, resource_prefix: str, service_name: str | None = None) -> list[str]:
    (template,) = (INTEG / f"{name}.py.snapshot").glob("*DeployAssert*.template.json")
    resources = json.loads(template.read_text())["Resources"]
    found = [
        resource["Properties"]["expected"]
        for key, resource in resources.items()
        if key.startswith(resource_prefix)
        and "expected" in resource["Properties"]
        and (service_name is None or f'"ServiceName":"{service_name}"' in resource["Properties"]["expected"])
    ]
    assert found, f"no {resource_prefix} assertion in {template.name}"
    return found


def _instance(service: str, address: str, port: str | None = "8080") -> dict[str, Any]:
    """A DiscoverInstances HttpInstanceSummary as the Cloud Map API reference describes it, with the
    attributes ECS registers for a task."""
    attributes = {
        "AVAILABILITY_ZONE": "eu-west-1a",
        "AWS_INIT_HEALTH_STATUS": "HEALTHY",
        "AWS_INSTANCE_IPV4": address,
        "ECS_CLUSTER_NAME": "EcsDiscoveryIntegDns-Cluster",
        "ECS_SERVICE_NAME": f"EcsDiscoveryIntegDns-{service}",
        "ECS_TASK_DEFINITION_FAMILY": f"EcsDiscoveryIntegDns{service}",
        "REGION": "eu-west-1",
    }
    if port is not None:
        attributes["AWS_INSTANCE_PORT"] = port
    return {
        "InstanceId": "0123456789abcdef0123456789abcdef",
        "NamespaceName": "corp-dns",
        "ServiceName": service,
        "HealthStatus": "HEALTHY",
        "Attributes": attributes,
    }


def test_exact_of_a_number_is_not_decoded_by_the_handler_a_literal_is(handler_bundle: Path) -> None:
    # Why harness.LiteralResult exists: ExpectedResult.exact(2) encodes {"$Exact": 2}.
    assert _verdicts(handler_bundle, [('{"$Exact": 2}', 2), ("2", 2), ("2", 3)]) == ["fail", "success", "fail"]


def test_discover_instances_expectation_wants_exactly_the_desired_healthy_tasks(handler_bundle: Path) -> None:
    (expected,) = _expected_of("integ_seed_dns", "AwsApiCallServiceDiscoverydiscoverInstances", "worker")
    two = [_instance("worker", "10.0.2.17"), _instance("worker", "10.0.3.200")]
    cases = [
        (expected, {"Instances": two, "InstancesRevision": 3}),
        (expected, {"Instances": two[:1], "InstancesRevision": 3}),  # one task short
        (expected, {"Instances": [*two, _instance("worker", "10.0.2.18")]}),  # one too many
        (expected, {"Instances": [two[0], _instance("worker", "10.0.3.200", port=None)]}),  # no SRV port
        (expected, {"Instances": [two[0], _instance("worker", "169.254.169.254")]}),  # not a task address
    ]
    assert _verdicts(handler_bundle, cases) == ["success", "fail", "fail", "fail", "fail"]


def _probe_answer(
    worker_address: str, *, namespace: str = "corp-dns", status: int = 200, a_records: int = 2
) -> dict[str, Any]:
    name = f"worker.{namespace}"
    task = "arn:aws:ecs:eu-west-1:123456789012:task/EcsDiscoveryIntegDns-Cluster/0123456789abcdef0123456789abcdef"
    return {
        "dns": {
            name: {
                "A": [f"{name}. {ttl} IN A 10.0.{ttl}.5" for ttl in (10, 7, 3)[:a_records]],
                "SRV": [
                    f"{name}. 10 IN SRV 1 1 8080 0123456789abcdef0123456789abcdef.{name}.",
                    f"{name}. 9 IN SRV 1 1 8080 fedcba9876543210fedcba9876543210.{name}.",
                ],
            }
        },
        "call": {
            "status": status,
            "body": {
                "service": "backend",
                "request_id": "r-1",
                "worker": {
                    "dns_name": name,
                    "address": worker_address,
                    "port": 8080,
                    "status": 200,
                    "attempts": 1,
                    "failed_attempts": [],
                    "response": {
                        "service": "worker",
                        "message": "Hello from worker",
                        "identity": {"source": "ecs-task-metadata", "task_arn": task, "hostname": "ip-10-0-2-17"},
                    },
                },
            },
        },
    }


def test_probe_expectation_checks_records_and_the_call_through_the_backend(handler_bundle: Path) -> None:
    (dns_mode,) = _expected_of("integ_seed_dns", "LambdaInvoke")
    (both_mode,) = _expected_of("integ_seed_both", "LambdaInvoke")

    def invoke(answer: dict[str, Any]) -> dict[str, Any]:
        # Lambda Invoke's response as the handler sees it: Payload decoded to the function's JSON text.
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": json.dumps(answer)}

    stale = _probe_answer("10.0.2.17")
    stale["dns"]["worker.corp-dns"]["A"][0] = "worker.corp-dns. 60 IN A 10.0.2.5"  # TTL above 10 s
    cases = [
        (dns_mode, invoke(_probe_answer("10.0.2.17"))),
        (dns_mode, invoke(_probe_answer("10.0.2.17", a_records=3))),
        (dns_mode, invoke(_probe_answer("10.0.2.17", status=503))),
        (dns_mode, invoke(stale)),
        # In "both" the worker must be reached through the backend's Service Connect proxy.
        (both_mode, invoke(_probe_answer("127.255.0.1", namespace="corp-both"))),
        (both_mode, invoke(_probe_answer("10.0.2.17", namespace="corp-both"))),
    ]
    assert _verdicts(handler_bundle, cases) == ["success", "fail", "fail", "fail", "success", "fail"]


# --- make integ without credentials ------------------------------------------------------------------


def test_deploy_without_credentials_fails_in_one_line_before_any_request(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in {"CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"}
    }
    env |= {
        "HOME": str(tmp_path),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "eu-west-1",
    }
    # Without a network namespace where the machine offers one: a request would fail, not pass.
    isolate = ["unshare", "-rn"] if shutil.which("unshare") and _can_unshare() else []
    result = subprocess.run(
        [*isolate, sys.executable, str(INTEG / "run.py"), "deploy"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: no AWS credentials: make integ deploys to an AWS account (see docs/integration-tests.md)"
    ]


def _can_unshare() -> bool:
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False, timeout=30).returncode == 0
