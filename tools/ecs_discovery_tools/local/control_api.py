"""What both ends of the local run's control channel agree on: where the control file is, the
errors, and the checks of every value a request carries (the client checks before sending, the
server again before use). The server is :mod:`.control_server`, the client :mod:`.control`."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ecs_discovery_tools.local.limits import MAX_TASKS_PER_SERVICE

__all__ = [
    "MAX_BODY_BYTES",
    "TASK_ID",
    "ControlError",
    "Refused",
    "check_counts",
    "check_service",
    "check_task_id",
    "default_control_file",
    "private_directory",
    "short",
]

MAX_BODY_BYTES = 16 * 1024
MAX_LONG_POLL_S = 30
_MAX_SCALED_SERVICES = 100
SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,126}")
TASK_ID = re.compile(r"[0-9a-f]{32}")


class ControlError(Exception):
    """The control channel cannot be used: no local run, a bad token, a refused request."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Refused(Exception):
    """An operation the local run cannot do now (an unknown service, a template it cannot use): 409."""


def default_control_file() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    base = Path(runtime) if runtime and Path(runtime).is_dir() else Path.home() / ".cache"
    return base / "ecs-discovery" / "local-control.json"


def private_directory(path: Path) -> None:
    """Create ``path`` (0700) or accept it only if this user owns it and nobody else can enter it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise ControlError(f"{path} must belong to you and be closed to others (chmod 700 {path})")


def short(value: object) -> str:
    """``repr(value)`` cut to 60 characters: what an error message shows of a value it refuses."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict) or not value:
        raise ValueError(f"counts {short(value)} is not a non-empty object of service: count")
    items: dict[object, object] = value  # pyright: ignore[reportUnknownVariableType]
    if len(items) > _MAX_SCALED_SERVICES:
        raise ValueError(f"counts names more than {_MAX_SCALED_SERVICES} services")
    checked: dict[str, int] = {}
    for name, count in items.items():
        if not isinstance(name, str) or not SERVICE_NAME.fullmatch(name):
            raise ValueError(f"service name {short(name)} is not valid")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_TASKS_PER_SERVICE:
            raise ValueError(f"count of {name} is {short(count)}; expected an integer 0-{MAX_TASKS_PER_SERVICE}")
        checked[name] = count
    return checked


def check_service(value: object) -> str:
    if not isinstance(value, str) or not SERVICE_NAME.fullmatch(value):
        raise ValueError(f"service {short(value)} is not a service name")
    return value


def check_task_id(value: object) -> str:
    if not isinstance(value, str) or not TASK_ID.fullmatch(value):
        raise ValueError(f"task_id {short(value)} is not a task ID (32 hex digits)")
    return value
