# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""The default container health check: one HTTP GET from inside the container, as a command in
which the user's path is data, never shell syntax.

The same command is the images' Dockerfile ``HEALTHCHECK`` (services/*/Dockerfile) and the task
definition's health check, and the local run executes it with the address swapped.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from ecs_service_discovery.validation import invalid

__all__ = ["MAX_HEALTH_CHECK_PATH_LENGTH", "check_health_check_path", "default_health_check_command"]

#: The longest path (query included) the default health check accepts.
MAX_HEALTH_CHECK_PATH_LENGTH = 1024

# RFC 3986: path-absolute ("/" not followed by "/") of pchar segments, then an optional query of
# pchar, "/" and "?". pchar = unreserved / pct-encoded / sub-delims / ":" / "@", ASCII only.
# Sub-delims such as ; $ & ' ( ) are valid URL characters, so the path is also quoted below:
# the pattern keeps the value a URL, the quoting keeps it data.
_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
_PATH = re.compile(rf"/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?(?:\?(?:{_PCHAR}|[/?])*)?")

# Runs under /bin/sh -c (ECS CMD-SHELL, Dockerfile HEALTHCHECK CMD in shell form). Proxy variables
# are dropped: a probe of 127.0.0.1 must never go through a proxy. The first tool the image has
# makes one GET; any failure exits 1, the code Docker and ECS read as "unhealthy".
# python3 -I: no directory of the image's app or PYTHON* variable can change what runs.
_PROBE = (
    "unset http_proxy HTTP_PROXY all_proxy ALL_PROXY; url={url}; "
    "if command -v python3 >/dev/null 2>&1; then "
    "python3 -I -c 'import sys, urllib.request as r; "
    'r.build_opener(r.ProxyHandler({{}})).open(sys.argv[1], timeout=3)\' "$url"; '
    'elif command -v curl >/dev/null 2>&1; then curl -fsSg --max-time 3 -o /dev/null "$url"; '
    'else wget -q -T 3 -O /dev/null "$url"; fi || exit 1'
)


def check_health_check_path(parameter: str, value: Any) -> None:
    """``value`` must be a URL path (RFC 3986, ASCII, percent-encoded otherwise) starting with
    ``/``, with an optional ``?query``, at most :data:`MAX_HEALTH_CHECK_PATH_LENGTH` characters."""
    allowed = (
        f"expected a URL path starting with '/' (RFC 3986 characters, others percent-encoded; "
        f"an optional ?query; at most {MAX_HEALTH_CHECK_PATH_LENGTH} characters)"
    )
    if not isinstance(value, str) or len(value) > MAX_HEALTH_CHECK_PATH_LENGTH or not _PATH.fullmatch(value):
        raise invalid(parameter, value, allowed)


def default_health_check_command(port: int, path: str) -> list[str]:
    """The ECS ``CMD-SHELL`` health check that GETs ``http://127.0.0.1:<port><path>`` from inside
    the container with python3, else curl, else wget: healthy when the answer's status is below 400.

    The URL is one single-quoted shell word (``shlex.quote``) assigned to a variable, and the tools
    get it as an argument: no character of ``path`` can end the word or start a command. The URL's
    ``127.0.0.1:<port>`` stays literal, so that the local run can point the same command elsewhere.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise invalid("container_port", port, "expected a whole number from 1 to 65535")
    check_health_check_path("health_check_path", path)
    url = shlex.quote(f"http://127.0.0.1:{port}{path}")
    # Always one quoted word, even where shlex leaves a plain URL bare: the URL reads the same way
    # (between single quotes) in every command, for people and for tools that swap its address.
    if not url.startswith("'"):
        url = f"'{url}'"
    return ["CMD-SHELL", _PROBE.format(url=url)]
