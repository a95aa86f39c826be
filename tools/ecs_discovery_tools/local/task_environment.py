"""Container variables a user adds to the local run's tasks (``deploy --env``, ``--task-env``), checked.

The local run decides where each task listens (its own 127.0.0.x and the container port) and how
many processes it runs (``--gunicorn-workers``, at most ``MAX_TASKS_PER_SERVICE`` tasks a service).
A variable that would change either is refused, with one line naming it: those the apps' shared
gunicorn.conf.py and gunicorn itself read to bind or to size their process and thread pools
(services/common/gunicorn.conf.py; gunicorn's ``GUNICORN_CMD_ARGS``, ``WEB_CONCURRENCY``,
``GUNICORN_FD`` and systemd's socket activation), and every other ``GUNICORN_*`` except the tunables
gunicorn.conf.py documents, so that a setting gunicorn adds later is refused until it is read here.

The construct library keeps its own list of the variables it sets (``ecs_service_discovery.validation``);
this distribution does not depend on the library (no aws-cdk-lib), so the lists are separate, and
tests/local/test_task_environment.py checks this one against what gunicorn.conf.py reads.
"""

from __future__ import annotations

import re

from ecs_discovery_tools.local.control_api import short

__all__ = ["ALLOWED_GUNICORN_VARIABLES", "CONTROLLED_VARIABLES", "check_environment"]

MAX_ENV_ENTRIES = 50
MAX_ENV_VALUE = 4096
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")

#: Variables that change where a task binds or how many processes or threads it runs, and why.
CONTROLLED_VARIABLES: dict[str, str] = {
    "BIND_HOST": "the task's address (gunicorn.conf.py's bind)",
    "PORT": "the container port (gunicorn.conf.py's bind)",
    "GUNICORN_CMD_ARGS": "gunicorn's command line, over gunicorn.conf.py (--bind, --workers, ...)",
    "GUNICORN_WORKERS": "the processes of a task (--gunicorn-workers)",
    "GUNICORN_THREADS": "the threads of each process of a task",
    "WEB_CONCURRENCY": "gunicorn's default number of processes",
    "GUNICORN_FD": "the sockets gunicorn listens on, inherited",
    "LISTEN_FDS": "the sockets gunicorn listens on (systemd socket activation)",
    "LISTEN_PID": "the sockets gunicorn listens on (systemd socket activation)",
}
#: The GUNICORN_* settings gunicorn.conf.py reads that change neither: timeouts and the log level.
ALLOWED_GUNICORN_VARIABLES = frozenset(
    {"GUNICORN_TIMEOUT", "GUNICORN_GRACEFUL_TIMEOUT", "GUNICORN_KEEPALIVE", "GUNICORN_LOG_LEVEL"}
)


def controlled_reason(name: str) -> str | None:
    """Why the local run keeps ``name`` to itself, or None when a user may set it."""
    if name in CONTROLLED_VARIABLES:
        return CONTROLLED_VARIABLES[name]
    if name.startswith("GUNICORN_") and name not in ALLOWED_GUNICORN_VARIABLES:
        return "a gunicorn setting that is not one of " + ", ".join(sorted(ALLOWED_GUNICORN_VARIABLES))
    return None


def check_environment(value: object) -> dict[str, str]:
    """``value`` as container variables a user may add: a JSON object of at most ``MAX_ENV_ENTRIES``
    ``NAME: value`` strings (values of at most ``MAX_ENV_VALUE`` characters, no NUL, no lone
    surrogate), no variable the local run controls. Raises ValueError with one line."""
    if not isinstance(value, dict):
        raise ValueError(f"environment {short(value)} is not an object of NAME: value strings")
    items: dict[object, object] = value  # pyright: ignore[reportUnknownVariableType]
    if len(items) > MAX_ENV_ENTRIES:
        raise ValueError(f"environment has {len(items)} entries; at most {MAX_ENV_ENTRIES} are allowed")
    checked: dict[str, str] = {}
    for name, text in items.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ValueError(f"environment name {short(name)} is not valid: letters, digits and _, not first a digit")
        reason = controlled_reason(name)
        if reason is not None:
            raise ValueError(f"environment variable {name} is one the local run controls: {reason}")
        if not isinstance(text, str) or len(text) > MAX_ENV_VALUE or "\x00" in text or not _encodable(text):
            raise ValueError(
                f"environment value of {name} is not a string of at most {MAX_ENV_VALUE} characters (no NUL)"
            )
        checked[name] = text
    return checked


def _encodable(text: str) -> bool:
    # A lone surrogate ("\ud800" in JSON) cannot reach a process's environment.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
