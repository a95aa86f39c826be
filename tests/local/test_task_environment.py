"""Container variables a user adds to a local run (``deploy --env``, ``--task-env``) may not change
where a task binds or how many processes it runs (issue 20: GUNICORN_CMD_ARGS="--bind 0.0.0.0:8080"
moved a task off loopback, GUNICORN_WORKERS=100000 got round the tasks-per-service limit).

The list is checked against what the apps' shared gunicorn.conf.py reads, so that a setting added
there is classified here. (The server's refusal: test_control_channel.py.)"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_discovery_tools.cli.main import main as cli_main
from ecs_discovery_tools.local.task_environment import (
    ALLOWED_GUNICORN_VARIABLES,
    CONTROLLED_VARIABLES,
    check_environment,
    controlled_reason,
)
from tests.local.conftest import REPO_ROOT

GUNICORN_CONF = REPO_ROOT / "services" / "common" / "gunicorn.conf.py"
# Read by services/common/graceful_stop.py (through gunicorn.conf.py): how long a stopping task drains.
GRACEFUL_STOP_VARIABLES = {"STOP_DRAIN_SECONDS", "GUNICORN_GRACEFUL_TIMEOUT"}
REFUSED = [
    ("GUNICORN_CMD_ARGS", "--bind 0.0.0.0:8080"),
    ("GUNICORN_CMD_ARGS", "--workers 64"),
    ("GUNICORN_WORKERS", "100000"),
    ("GUNICORN_THREADS", "100000"),
    ("GUNICORN_FD", "3"),
    ("GUNICORN_PID", "1"),
    ("GUNICORN_NOT_YET_INVENTED", "1"),
    ("WEB_CONCURRENCY", "100000"),
    ("BIND_HOST", "0.0.0.0"),
    ("PORT", "80"),
    ("LISTEN_FDS", "1"),
    ("LISTEN_PID", "1"),
]


def _variables_read(tree: ast.AST) -> dict[str, set[str]]:
    """Setting name (the assignment's target, or '' for a bare read) -> variables its value reads:
    ``_int("NAME", ...)`` and ``os.environ.get("NAME", ...)`` calls."""
    read: dict[str, set[str]] = {}
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.Assign):
            continue
        targets = [target.id for target in statement.targets if isinstance(target, ast.Name)]
        for node in ast.walk(statement.value):
            if (
                isinstance(node, ast.Call)
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and (
                    (isinstance(node.func, ast.Name) and node.func.id == "_int")
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "get")
                )
            ):
                for target in targets or [""]:
                    read.setdefault(target, set()).add(node.args[0].value)
    return read


def test_every_variable_gunicorn_conf_reads_is_classified():
    read = _variables_read(ast.parse(GUNICORN_CONF.read_text()))
    everything = set().union(*read.values()) | GRACEFUL_STOP_VARIABLES

    assert {"bind", "workers", "threads"} <= set(read), read  # the parse found the settings
    # What decides where a task binds and how many processes and threads it runs is refused...
    for setting in ("bind", "workers", "threads"):
        for name in read[setting]:
            assert name in CONTROLLED_VARIABLES, (setting, name)
    # ...every other GUNICORN_* it reads is a tunable a user may set, and the allowlist names nothing else.
    gunicorn = {name for name in everything if name.startswith("GUNICORN_")}
    assert gunicorn - set(CONTROLLED_VARIABLES) == ALLOWED_GUNICORN_VARIABLES
    for name in everything - set(CONTROLLED_VARIABLES):
        assert controlled_reason(name) is None, name


@pytest.mark.parametrize(("name", "value"), REFUSED)
def test_check_environment_refuses_with_one_line_naming_the_variable(name, value):
    with pytest.raises(ValueError, match=f"^environment variable {name} is one the local run controls: ") as raised:
        check_environment({"MESSAGE": "v2", name: value})
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "name", ["MESSAGE", "STOP_DRAIN_SECONDS", "GUNICORN_TIMEOUT", "GUNICORN_LOG_LEVEL", "gunicorn_workers"]
)
def test_what_a_user_may_still_set(name):
    assert check_environment({name: "1"}) == {name: "1"}


@pytest.mark.parametrize(("name", "value"), REFUSED[:4] + REFUSED[-4:])
def test_deploy_env_is_refused_by_the_cli_before_any_request(tmp_path, name, value):
    out, err = io.StringIO(), io.StringIO()
    control_file = tmp_path / "none.json"  # no run: a request would fail with 'no local run is up'

    code = cli_main(
        ["local", "--control-file", str(control_file), "deploy", "worker", "--env", f"{name}={value}"], out=out, err=err
    )

    assert code == 2, err.getvalue()
    assert err.getvalue().count("\n") == 1 and f"environment variable {name} is one the local run controls" in (
        err.getvalue()
    )


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--task-env", "GUNICORN_CMD_ARGS=--bind 0.0.0.0:8080"], 1, "environment variable GUNICORN_CMD_ARGS"),
        (["--task-env", "BIND_HOST=0.0.0.0"], 1, "environment variable BIND_HOST"),
        (["--task-env", "GUNICORN_WORKERS=100000"], 1, "environment variable GUNICORN_WORKERS"),
        (["--gunicorn-workers", "100000"], 2, "--gunicorn-workers: expected 1-8"),
        (["--gunicorn-workers", "0"], 2, "--gunicorn-workers: expected 1-8"),
        (["--workers", "51"], 1, "--workers 51 is not valid: expected 1-50"),
        (["--tasks", "worker=100000"], 1, "expected NAME=COUNT with 1 <= COUNT <= 50"),
    ],
)
def test_the_demo_refuses_before_it_starts_anything(tmp_path, argv, code, message):
    log_dir = tmp_path / "logs"
    demo = [sys.executable, "-m", "ecs_discovery_tools.local.demo", "--assembly", str(tmp_path / "no-assembly")]
    completed = subprocess.run(
        [*demo, "--log-dir", str(log_dir), "--no-control", *argv],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    assert completed.returncode == code, completed.stderr
    assert message in completed.stderr and "Traceback" not in completed.stderr
    assert not Path(log_dir).exists()  # nothing was started, not even the log folder
