"""The default container health check, run for real: /bin/sh -c <the command>, as ECS (CMD-SHELL)
and Docker (HEALTHCHECK CMD in shell form) run it, against a real loopback HTTP server.

The exit code must follow the server's answer and nothing else, and no path, however hostile,
may run anything: either the path is refused at synth time with one clean line, or it reaches
the server byte for byte as data.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from subprocess import PIPE

import pytest

from ecs_service_discovery.constructs.health_check import (
    MAX_HEALTH_CHECK_PATH_LENGTH,
    check_health_check_path,
    default_health_check_command,
)
from ecs_service_discovery.errors import ValidationError
from tests.apps.harness import StaticHttpServer, free_port

# Each tool alone on PATH, so every branch of the command runs: the image has python3, another
# image may have only curl or only wget.
TOOLS = {"python3": sys.executable, "curl": shutil.which("curl"), "wget": shutil.which("wget")}

GOOD_PATHS = [
    "/health",
    "/",
    "/health?a=1&b=2",  # the query string that used to background half the command
    "/status/ready?verbose&format=json",
    "/h/x%20y?q=%2F&z=%C3%A9",  # percent-encoded space, slash and unicode
    "/a:b@c!$&'()*+,;=/~._-",  # every RFC 3986 sub-delim, the single quote included
    "/" + "a" * (MAX_HEALTH_CHECK_PATH_LENGTH - 1),
]
# Valid URL paths that are shell syntax when unquoted: each must be sent as data, run nothing.
HOSTILE_VALID_PATHS = [
    "/health;touch$IFS$9pwned;true",
    "/h$(touch$IFS$9pwned)",
    "/h';touch$IFS$9pwned;'",
    "/h'$(touch$IFS$9pwned)'",
    "/h&touch$IFS$9pwned&",
    "/health?x=1&&touch$IFS$9pwned",
    "/h'&&touch$IFS$9pwned&&'",
    "/*",
    "/h?$(touch$IFS$9pwned)=1",
]
# Not URL paths: refused before anything is synthesized.
REFUSED_PATHS = [
    "/health;touch${IFS}X;true",  # braces
    "/h`touch pwned`",  # backticks, space
    "/h$(touch pwned)",  # space
    "/health\n",  # trailing newline ($ instead of fullmatch would let it through)
    "/health\ntouch pwned",
    "/health\r",
    '/h"x',
    "/h\\x",
    "/h|id",
    "/h<x",
    "/h>x",
    "/h\tx",
    "/h\x00",
    "/h\u00e9",  # unicode must be percent-encoded
    "/h\u202ex",  # right-to-left override
    "/h\uff1btouch",  # fullwidth semicolon
    "/h#fragment",
    "/h%zz",
    "/h%",
    "//evil.example/x",
    "health",
    "",
    " /health",
    "/" + "a" * MAX_HEALTH_CHECK_PATH_LENGTH,  # one over the limit
    "/" + "a" * 2047,  # 2k characters
    None,
    b"/health",
    42,
    ["/health"],
]


@pytest.fixture(scope="module")
def tool_dirs(tmp_path_factory) -> dict[str, Path]:
    dirs = {}
    for name, target in TOOLS.items():
        assert target, f"{name} is needed to test the health check's {name} branch"
        folder = tmp_path_factory.mktemp(f"only-{name}")
        (folder / name).symlink_to(target)
        dirs[name] = folder
    return dirs


@pytest.fixture
def health_server() -> Iterator[StaticHttpServer]:
    server = StaticHttpServer("127.0.0.1", 0, 200, b'{"status":"ok"}', "application/json")
    try:
        yield server
    finally:
        server.close()


def run_probe(command: list[str], tool_dir: Path, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    kind, text = command
    assert kind == "CMD-SHELL"
    env = {
        "PATH": str(tool_dir),
        "HOME": str(cwd),
        # A proxy that does not exist: the probe of 127.0.0.1 must never use it.
        "http_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "all_proxy": "http://127.0.0.1:9",
    }
    # Own process group: a probe past its timeout is killed with everything it started, as a
    # container runtime does, and leaves no wget behind.
    with subprocess.Popen(
        ["/bin/sh", "-c", text], cwd=cwd, env=env, stdout=PIPE, stderr=PIPE, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("tool", sorted(TOOLS))
@pytest.mark.parametrize("path", GOOD_PATHS + HOSTILE_VALID_PATHS, ids=lambda path: repr(path)[:40])
def test_exit_code_follows_the_servers_answer_and_nothing_else_runs(tool, path, tool_dirs, health_server, tmp_path):
    command = default_health_check_command(health_server.port, path)

    healthy = run_probe(command, tool_dirs[tool], tmp_path)
    health_server.status = 500
    unhealthy = run_probe(command, tool_dirs[tool], tmp_path)

    assert (healthy.returncode, unhealthy.returncode) == (0, 1), (healthy.stderr, unhealthy.stderr)
    assert health_server.paths == [path, path]  # sent byte for byte, once per run
    assert list(tmp_path.iterdir()) == []  # no command of the path ran (touch pwned, a glob, ...)


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_nothing_listening_is_unhealthy(tool, tool_dirs, tmp_path):
    command = default_health_check_command(free_port(["127.0.0.1"]), "/health")
    assert run_probe(command, tool_dirs[tool], tmp_path).returncode == 1


# ECS and Docker end a check that runs past the health check timeout and count it as failed; the
# construct's default timeout is 5 s.
HEALTH_CHECK_TIMEOUT_S = 5


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_a_hanging_app_is_unhealthy(tool, tool_dirs, tmp_path, hanging_server_factory):
    port = free_port(["127.0.0.1"])
    hanging_server_factory("127.0.0.1", port)  # connects, never answers
    command = default_health_check_command(port, "/health")
    try:
        result = run_probe(command, tool_dirs[tool], tmp_path, timeout=HEALTH_CHECK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # GNU wget retries a timed-out read (busybox wget has no retries and no option to turn
        # them off, so the command cannot pass -t 1): the runner's timeout ends it, a failure.
        assert tool == "wget"
    else:
        assert result.returncode == 1  # python3 and curl stop at their own 3 s timeout


def test_the_url_keeps_its_address_literal_for_the_local_run():
    # The local run executes the template's command with 127.0.0.1:<port> replaced by a task's address.
    (_, text) = default_health_check_command(8080, "/health?a=1&b=2")
    assert text.count("127.0.0.1:8080") == 1
    assert "url='http://127.0.0.1:8080/health?a=1&b=2';" in text


def test_a_swapped_address_still_runs(tool_dirs, health_server, tmp_path):
    # What the local run does: same command, the task's loopback address instead of 127.0.0.1.
    host = "127.0.0.9"
    server = StaticHttpServer(host, 0, 200, b"ok")
    try:
        port = server.port
        (kind, text) = default_health_check_command(port, "/health")
        swapped = [kind, text.replace(f"127.0.0.1:{port}", f"{host}:{port}")]
        assert run_probe(swapped, tool_dirs["python3"], tmp_path).returncode == 0
        assert server.paths == ["/health"]
    finally:
        server.close()


@pytest.mark.parametrize("path", REFUSED_PATHS, ids=lambda path: repr(path)[:40])
def test_paths_that_are_not_url_paths_are_refused_with_one_clean_line(path):
    with pytest.raises(ValidationError) as refused:
        default_health_check_command(8080, path)
    message = str(refused.value)
    assert message.startswith("health_check_path=")
    assert "is not valid: expected a URL path starting with '/'" in message
    assert "\n" not in message and len(message) < 300  # a short form of the value, one line


@pytest.mark.parametrize("path", REFUSED_PATHS[:6], ids=lambda path: repr(path)[:40])
def test_the_check_names_the_parameter_it_is_given(path):
    with pytest.raises(ValidationError, match=r"^services\[2\]\.health_check_path="):
        check_health_check_path("services[2].health_check_path", path)


@pytest.mark.parametrize("port", [0, 65536, -1, True, "8080", 8080.0, None])
def test_bad_ports_are_refused(port):
    with pytest.raises(ValidationError, match=r"^container_port=.* is not valid"):
        default_health_check_command(port, "/health")


def test_probe_ignores_python_variables_and_the_apps_folder(tool_dirs, health_server, tmp_path):
    # python3 -I: a module in the current folder or PYTHONPATH cannot replace urllib.
    (tmp_path / "urllib").mkdir()
    (tmp_path / "urllib" / "__init__.py").write_text("raise SystemExit(0)\n")
    health_server.status = 500
    command = default_health_check_command(health_server.port, "/health")
    before = sorted(os.listdir(tmp_path))
    result = subprocess.run(
        ["/bin/sh", "-c", command[1]],
        cwd=tmp_path,
        env={"PATH": str(tool_dirs["python3"]), "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1  # the real urllib asked the server, which said 500
    assert health_server.paths == ["/health"]
    assert sorted(os.listdir(tmp_path)) == before
