"""The CLI against moto as a real server on loopback, run as a user runs it, and every AWS
failure: no credentials, no region, throttling, access denied, endpoint unreachable."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import pytest

from ecs_discovery_tools.cli import ExitCode
from tests.cli.conftest import (
    DUMMY_CREDENTIALS,
    REGION,
    clean_aws_environ,
    run_cli,
    run_cli_process,
)
from tests.fakes import LoopbackHttpServer, Request, Responder, Response


def test_module_entry_point_reads_the_endpoint_from_the_environment(moto_server, tmp_path):
    env = clean_aws_environ(tmp_path, **DUMMY_CREDENTIALS, AWS_ENDPOINT_URL_SERVICEDISCOVERY=moto_server)

    result = run_cli_process(["services", "--namespace", "corp", "--json"], env)

    assert result.code == ExitCode.OK, result.err
    assert [service["name"] for service in json.loads(result.out)["services"]] == [
        "backend",
        "legacy",
        "mesh",
        "worker",
    ]


def test_console_script_with_endpoint_region_and_profile_options(moto_server, tmp_path):
    config = tmp_path / "aws-config"
    config.write_text("[profile demo]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = clean_aws_environ(tmp_path, AWS_CONFIG_FILE=str(config))

    result = run_cli_process(
        [
            "instances",
            "worker",
            "-n",
            "corp",
            "--healthy",
            "--profile",
            "demo",
            "--region",
            REGION,
            "--endpoint-url",
            moto_server,
        ],
        env,
        script=True,
    )

    assert result.code == ExitCode.OK, result.err
    assert [line.split()[1] for line in result.out.splitlines()[1:]] == ["10.0.1.10", "10.0.2.20"]


def test_exit_code_reaches_the_shell(moto_server, tmp_path):
    env = clean_aws_environ(tmp_path, **DUMMY_CREDENTIALS, AWS_ENDPOINT_URL_SERVICEDISCOVERY=moto_server)

    result = run_cli_process(["instances", "nobody", "-n", "corp"], env)

    assert result.code == ExitCode.NOT_FOUND
    assert result.err.startswith("ecs-discovery: error: service 'nobody' not found") and result.err.count("\n") == 1


def _use_environ(monkeypatch, env: dict[str, str]) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_no_credentials(moto_server, tmp_path, monkeypatch):
    _use_environ(
        monkeypatch, clean_aws_environ(tmp_path, AWS_REGION=REGION, AWS_ENDPOINT_URL_SERVICEDISCOVERY=moto_server)
    )

    result = run_cli("namespaces")

    assert result.code == ExitCode.AWS == 3
    assert result.err.startswith("ecs-discovery: error: no AWS credentials found") and result.err.count("\n") == 1


def test_no_region(moto_server, tmp_path, monkeypatch):
    _use_environ(monkeypatch, clean_aws_environ(tmp_path, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"))

    result = run_cli("namespaces")

    assert result.code == ExitCode.AWS
    assert "no AWS region: pass --region" in result.err


def test_unknown_profile(tmp_path, monkeypatch):
    _use_environ(monkeypatch, clean_aws_environ(tmp_path, AWS_REGION=REGION))

    result = run_cli("namespaces", "--profile", "nobody")

    assert result.code == ExitCode.AWS
    assert result.err == "ecs-discovery: error: AWS profile not found: nobody\n"


def aws_error(status: int, code: str, message: str) -> Responder:
    """A stand-in Cloud Map endpoint's answer to every call: one AWS JSON-protocol error."""
    body = json.dumps({"__type": code, "message": message}).encode()

    def respond(request: Request) -> Response:
        if request.method != "POST":
            return Response(501, b"POST only")
        return Response(status, body, "application/x-amz-json-1.1", {"x-amzn-ErrorType": code})

    return respond


@pytest.fixture
def error_endpoint(request, aws_env, monkeypatch) -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer(aws_error(*request.param)) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICEDISCOVERY", endpoint.url)
        yield endpoint


@pytest.mark.parametrize("error_endpoint", [(400, "ThrottlingException", "Rate exceeded")], indirect=True)
def test_throttling_is_retried_a_bounded_number_of_times_then_reported(error_endpoint):
    result = run_cli("namespaces")

    assert result.code == ExitCode.AWS
    # AWS_MAX_ATTEMPTS=2 (aws_env): one call and one retry, then a clear line.
    assert len(error_endpoint.requests) == 2
    assert "throttled by the Cloud Map API (ListNamespaces, ThrottlingException) after 2 attempts" in result.err
    assert result.err.count("\n") == 1


@pytest.mark.parametrize(
    "error_endpoint", [(400, "AccessDeniedException", "not authorized to perform: ListNamespaces")], indirect=True
)
def test_access_denied(error_endpoint):
    result = run_cli("namespaces")

    assert result.code == ExitCode.AWS
    assert len(error_endpoint.requests) == 1  # not retried
    assert "access denied to servicediscovery:ListNamespaces: not authorized" in result.err


def test_unreachable_endpoint(aws_env, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICEDISCOVERY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    result = run_cli("namespaces")

    assert result.code == ExitCode.AWS
    assert "cannot reach the Cloud Map API" in result.err and result.err.count("\n") == 1


@pytest.mark.parametrize(
    "error_endpoint", [(400, "AccessDeniedException", "denied\x1b[2J\x1b]0;owned\x07\nfake prompt $ ")], indirect=True
)
def test_aws_error_text_is_printed_escaped(error_endpoint):
    result = run_cli("namespaces")

    assert result.code == ExitCode.AWS
    assert result.err.count("\n") == 1 and "\x1b" not in result.err and "\x07" not in result.err
    assert "denied\\x1b[2J\\x1b]0;owned\\x07\\nfake prompt $" in result.err


# -- malformed configuration: one line and exit code 3, never a traceback -------------------------

BAD_ENDPOINTS = ["not a url", "http://[::1", "ftp://127.0.0.1:1", "http://", "http://127.0.0.1:99999", "http://a b"]


@pytest.mark.parametrize("url", BAD_ENDPOINTS)
def test_malformed_endpoint_url_option(aws_env, url):
    result = run_cli("namespaces", "--endpoint-url", url)

    assert result.code == ExitCode.AWS, result.err
    assert result.err.startswith("ecs-discovery: error: --endpoint-url ") and result.err.count("\n") == 1


@pytest.mark.parametrize("url", BAD_ENDPOINTS)
@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_SERVICEDISCOVERY", "AWS_ENDPOINT_URL"])
def test_malformed_endpoint_url_in_the_environment(aws_env, monkeypatch, variable, url):
    monkeypatch.setenv(variable, url)

    result = run_cli("services", "-n", "corp")

    assert result.code == ExitCode.AWS
    assert f"error: {variable} " in result.err and result.err.count("\n") == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AWS_MAX_ATTEMPTS", "abc"),
        ("AWS_MAX_ATTEMPTS", "0"),
        ("AWS_MAX_ATTEMPTS", "-1"),
        ("AWS_MAX_ATTEMPTS", "1000000"),
        ("AWS_MAX_ATTEMPTS", "2.5"),
        ("AWS_REGION", "eu-west-1\n"),
        ("AWS_REGION", "../../etc"),
        ("AWS_DEFAULTS_MODE", "fastest"),
        ("AWS_ACCOUNT_ID_ENDPOINT_MODE", "sometimes"),
        ("AWS_REQUEST_CHECKSUM_CALCULATION", "never"),
    ],
)
def test_malformed_aws_settings(aws_env, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    result = run_cli("namespaces")

    assert result.code == ExitCode.AWS, result.err
    assert result.err.startswith("ecs-discovery: error: ") and result.err.count("\n") == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"AWS_ENDPOINT_URL_SERVICEDISCOVERY": "not a url"},
        {"AWS_MAX_ATTEMPTS": "abc"},
        {"AWS_MAX_ATTEMPTS": "99999999999999999999"},
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:70000"},
    ],
)
def test_malformed_settings_reach_the_shell_as_one_line(tmp_path, extra):
    env = clean_aws_environ(tmp_path, **DUMMY_CREDENTIALS, **extra)

    result = run_cli_process(["namespaces"], env)

    assert result.code == ExitCode.AWS
    assert result.err.startswith("ecs-discovery: error: ") and result.err.count("\n") == 1
    assert "Traceback" not in result.err
