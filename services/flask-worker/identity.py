"""Who is answering: the ECS task (from the task metadata endpoint) or, off ECS, this host.

Callers show this so one can see which task of a service served a request.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any

# Task metadata endpoint v4, set by the ECS agent in every container of a task.
METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"

# The endpoint is link-local and answers in milliseconds; never make a request wait long for it.
_METADATA_TIMEOUT_S = 0.5
# After a failed fetch, answer without metadata for this long before trying again.
_METADATA_RETRY_AFTER_S = 30.0

# The metadata endpoint must be reached directly even when HTTP(S)_PROXY is set.
_direct_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _task_ip(task: Mapping[str, Any]) -> str | None:
    # In awsvpc mode every container of the task shares the task's ENI and its address.
    for container in task.get("Containers") or []:
        for network in container.get("Networks") or []:
            for address in network.get("IPv4Addresses") or []:
                return address
    return None


class TaskIdentity:
    def __init__(self, metadata_uri: str | None) -> None:
        self.metadata_uri = (metadata_uri or "").rstrip("/") or None
        self.hostname = socket.gethostname()
        self._lock = threading.Lock()
        self._task: dict | None = None  # fetched once: a task's identity never changes
        self._error: str | None = None
        self._retry_at = 0.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TaskIdentity:
        return cls(environ.get(METADATA_ENV))

    def describe(self, wsgi_environ: Mapping[str, Any]) -> dict:
        address, port = _local_address(wsgi_environ)
        identity = {
            "source": "local",
            "hostname": self.hostname,
            "address": address,
            "port": port,
            "task_arn": None,
            "availability_zone": None,
        }
        if self.metadata_uri is None:
            return identity
        task = self._task_metadata(self.metadata_uri)
        if task is None:
            identity["metadata_error"] = self._error
            return identity
        identity.update(
            source="ecs-task-metadata",
            address=_task_ip(task) or address,
            task_arn=task.get("TaskARN"),
            availability_zone=task.get("AvailabilityZone"),
        )
        return identity

    def _task_metadata(self, metadata_uri: str) -> dict | None:
        with self._lock:
            if self._task is not None or time.monotonic() < self._retry_at:
                return self._task
            try:
                with _direct_opener.open(metadata_uri + "/task", timeout=_METADATA_TIMEOUT_S) as response:
                    task = json.load(response)
                if not isinstance(task, dict):
                    raise TypeError("task metadata is not a JSON object")
            except (OSError, ValueError, TypeError) as error:
                self._error = f"task metadata unavailable: {error}"
                self._retry_at = time.monotonic() + _METADATA_RETRY_AFTER_S
                return None
            self._task = task
            self._error = None
            return task


def _local_address(wsgi_environ: Mapping[str, Any]) -> tuple[str | None, int | None]:
    # The local end of the accepted connection is the address this task was reached on,
    # even when the server listens on 0.0.0.0 or several addresses.
    sock = wsgi_environ.get("gunicorn.socket")
    if sock is not None:
        try:
            host, port = sock.getsockname()[:2]
            return host, port
        except OSError:
            pass
    server_port = wsgi_environ.get("SERVER_PORT")
    return wsgi_environ.get("SERVER_NAME"), int(server_port) if server_port else None
