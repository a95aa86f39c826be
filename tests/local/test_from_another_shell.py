"""What the demo's banner tells a user to run "from another shell", run from another shell: a
/bin/sh whose PATH has no virtual environment and whose environment has no AWS setting. Each
suggested command must work as printed (issue 19: `ecs-discovery local status` was
`command not found`), and interrupting `local events --follow` must leave the demo's terminal free
of tracebacks (issue 19: two BrokenPipeError tracebacks at the next event).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from tests.local.conftest import Demo, wait_for

SHELL_TIMEOUT_S = 60
# After the event that wakes an abandoned long poll, how long a traceback would take to show.
QUIET_ROUNDS = 20
PAUSE_S = 0.1


def banner_commands(demo: Demo) -> list[str]:
    """The command lines under "Try (from any shell):", as printed."""
    lines = demo.output().splitlines()
    start = lines.index("Try (from any shell):") + 1
    end = lines.index("Press Ctrl-C to stop.", start)
    return [line.strip() for line in lines[start:end]]


def another_shell(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "NO_PROXY": "127.0.0.1"}


def sh(line: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", line],
        env=env,
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_every_command_the_banner_suggests_works_from_another_shell(demo, tmp_path):
    commands = banner_commands(demo)
    env = another_shell(tmp_path)

    assert len(commands) == 6, commands
    for line in commands:
        program = next(word for word in shlex.split(line) if "=" not in word)
        assert os.path.isabs(program) and os.access(program, os.X_OK), line
    # The read-only ones run as printed; each answers from the demo.
    services, resolve, status, follow, scale, deploy = commands
    listing = sh(services, env)
    assert listing.returncode == 0, (services, listing.stderr)
    assert "worker" in listing.stdout
    answer = sh(resolve, env)
    assert answer.returncode == 0, (resolve, answer.stderr)
    assert len([row for row in answer.stdout.splitlines() if row.startswith("A ")]) >= 1
    state = sh(status, env)
    assert state.returncode == 0, (status, state.stderr)
    assert "worker: desired" in state.stdout
    # Those that change the run: the same program and --control-file, with a change that changes nothing.
    assert " local " in follow and follow.endswith(" events --follow")
    assert scale.endswith(" scale worker=5") and " deploy worker --env MESSAGE=v2" in deploy
    desired = json.loads(sh(status + " --json", env).stdout)["schedulers"]["worker"]["desired_count"]
    same = sh(scale.replace("worker=5", f"worker={desired}"), env)
    assert same.returncode == 0, same.stderr
    assert same.stdout.strip() == f"desired counts set: worker={desired}"


def test_an_interrupted_events_follow_leaves_no_traceback_in_the_demo(demo, tmp_path):
    follow = banner_commands(demo)[3]
    status = banner_commands(demo)[2]
    env = another_shell(tmp_path)
    output = tmp_path / "follow.out"
    with open(output, "wb") as sink:
        follower = subprocess.Popen(
            ["/bin/sh", "-c", "exec " + follow],
            env=env,
            stdout=sink,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
    try:
        # It has printed the log so far and waits in a long poll for the next event.
        wait_for(lambda: output.read_text().count("\n") >= 1, SHELL_TIMEOUT_S, "events --follow printed nothing")
        seen_before = demo.output().count("Traceback")
        follower.send_signal(signal.SIGINT)  # Ctrl-C
        _, err = follower.communicate(timeout=SHELL_TIMEOUT_S)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait(timeout=10)
    assert follower.returncode == 130 and b"Traceback" not in err, err

    # The next event wakes the abandoned long poll, whose answer goes to a closed connection.
    desired = json.loads(sh(status + " --json", env).stdout)["schedulers"]["worker"]["desired_count"]
    message = f"desired count changed from {desired} to {desired}."
    marker = demo.output().count(message)
    assert sh(status.replace(" status", f" scale worker={desired}"), env).returncode == 0
    wait_for(lambda: demo.output().count(message) > marker, SHELL_TIMEOUT_S, "the event did not reach the demo")
    for _ in range(QUIET_ROUNDS):
        time.sleep(PAUSE_S)
        tail = demo.output()
        assert tail.count("Traceback") == seen_before and "BrokenPipeError" not in tail, tail[-3000:]
    assert sh(status, env).returncode == 0  # and the channel still answers
