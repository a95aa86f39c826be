"""requests integration: ``session.get("http://worker.corp:8080/x")`` resolved and called through the client.

Needs the ``requests`` extra: ``pip install ecs-discovery-client[requests]``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.exceptions
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from ecs_discovery_client._client import AttemptEvent, CallResult, DiscoveryClient, DiscoveryClients
from ecs_discovery_client._config import DiscoverySettings
from ecs_discovery_client._errors import DiscoveryError, ErrorCategory
from ecs_discovery_client._resolver import Deadline, Resolver

__all__ = [
    "DiscoveryAdapter",
    "DiscoveryConnectTimeout",
    "DiscoveryConnectionError",
    "DiscoveryReadTimeout",
    "DiscoveryRequestError",
    "discovery_session",
]


class DiscoveryRequestError(requests.exceptions.RequestException):
    """The service could not be resolved or reached; ``discovery_error`` says which name and addresses
    failed. Raised as one of its subclasses, each also the requests exception of the same meaning."""

    def __init__(self, error: DiscoveryError, request: PreparedRequest) -> None:
        super().__init__(str(error), request=request)
        self.discovery_error = error


class DiscoveryConnectionError(DiscoveryRequestError, requests.exceptions.ConnectionError):
    """No address could be connected to (refused, unreachable, none usable in DNS), or the connection
    failed during the answer: a ``requests.ConnectionError``, as requests raises for both."""


class DiscoveryConnectTimeout(DiscoveryRequestError, requests.exceptions.ConnectTimeout):
    """DNS or the connect ran out of time: a ``requests.ConnectTimeout`` (safe to retry)."""


class DiscoveryReadTimeout(DiscoveryRequestError, requests.exceptions.ReadTimeout):
    """The request was sent and no whole answer came before the deadline: a ``requests.ReadTimeout``."""


_RAISED: dict[ErrorCategory, type[DiscoveryRequestError]] = {
    ErrorCategory.CONNECT: DiscoveryConnectionError,
    ErrorCategory.CONNECT_TIMEOUT: DiscoveryConnectTimeout,
    ErrorCategory.READ_TIMEOUT: DiscoveryReadTimeout,
    ErrorCategory.READ: DiscoveryConnectionError,
}


class DiscoveryAdapter(requests.adapters.HTTPAdapter):
    """An ``http://`` adapter that sends each request through a :class:`DiscoveryClient` for its host.

    The URL's host is looked up as a Cloud Map name (an IP address is used as it is). With a port
    in the URL the name's A records are used with it; without one, its SRV records give the port.
    Every request gets the client's behaviour: one deadline per call (``settings.deadline``, or
    less when the request passes ``timeout=``: a number or the sum of a ``(connect, read)`` pair),
    failover, TTL-bounded caching, keep-alive connections of bounded age. The body is read whole
    within the deadline (``stream=True`` is accepted but the body is already in memory), decoded
    (gzip, deflate) and limited to ``settings.max_body_bytes`` after decoding. Proxies are not
    used: these are calls inside a VPC. Cookies a service sets are not stored in the session.

    ``response.discovery`` is the :class:`CallResult` (address, attempts, failed attempts).
    Failures raise requests' own exception types: ``ConnectTimeout``, ``ReadTimeout`` or
    ``ConnectionError`` (as :class:`DiscoveryConnectTimeout`, :class:`DiscoveryReadTimeout`,
    :class:`DiscoveryConnectionError`, each a :class:`DiscoveryRequestError` with ``discovery_error``).
    """

    def __init__(
        self,
        settings: DiscoverySettings | None = None,
        resolver: Resolver | None = None,
        *,
        on_attempt: Callable[[AttemptEvent], None] | None = None,
    ) -> None:
        super().__init__(max_retries=0)
        self._clients = DiscoveryClients(settings, resolver, on_attempt=on_attempt)
        self.settings = self._clients.settings
        self.resolver = self._clients.resolver
        self.on_attempt = on_attempt

    def client_for(self, host: str, port: int | None) -> DiscoveryClient:
        """The (shared) client for one host and port; port None: from SRV."""
        return self._clients.client_for(host, port)

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        url = urlsplit(request.url or "")
        if url.scheme != "http":
            raise requests.exceptions.InvalidURL(f"DiscoveryAdapter calls http:// URLs only, got {request.url!r}")
        try:
            port = url.port
        except ValueError:
            raise requests.exceptions.InvalidURL(f"bad port in {request.url!r}") from None
        host = url.hostname
        if not host:
            raise requests.exceptions.InvalidURL(f"no host in {request.url!r}")
        client = self.client_for(host, port)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = {str(name): str(value) for name, value in request.headers.items()}
        headers.setdefault("Host", url.netloc.rpartition("@")[2])
        deadline = Deadline(min(self.settings.deadline, _timeout_total(timeout)), clock=client.clock)
        try:
            result = client.request(
                request.method or "GET",
                path,
                headers=headers,
                body=_body_bytes(request.body),
                deadline=deadline,
                decode_content=True,  # gzip and deflate decoded, as requests does
            )
        except DiscoveryError as error:
            raise _RAISED[error.category](error, request) from error
        return self._build(request, result)

    def _build(self, request: PreparedRequest, result: CallResult) -> Response:
        # What HTTPAdapter.build_response does, with the body already read (and decoded) by the
        # client within the call's deadline: requests keeps a read body in Response._content.
        response = Response()
        response.status_code = result.status
        response.headers = CaseInsensitiveDict(result.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = result.reason
        response.url = request.url or ""
        response.request = request
        response.connection = self
        response.raw = io.BytesIO(result.body)
        setattr(response, "_content", result.body)  # noqa: B010
        setattr(response, "_content_consumed", True)  # noqa: B010
        setattr(response, "discovery", result)  # noqa: B010 (documented extra attribute)
        return response

    def close(self) -> None:
        super().close()
        self._clients.close()


def _timeout_total(timeout: object) -> float:
    """requests' ``timeout=``: a number, or ``(connect, read)``; the call's deadline is their sum
    (None in either place: no limit from that part). Anything else is a ValueError, as requests'
    own adapter refuses it."""
    parts = cast(tuple[object, ...], timeout) if isinstance(timeout, tuple) else (timeout,)
    shown = repr(parts if isinstance(timeout, tuple) else timeout)[:40]
    if len(parts) not in (1, 2):
        raise ValueError(f"timeout must be a number or a (connect, read) pair, got {shown}")
    total = 0.0
    for part in parts:
        if part is None:
            return float("inf")
        if isinstance(part, bool) or not isinstance(part, int | float) or not math.isfinite(part) or part < 0:
            raise ValueError(f"timeout must be finite numbers >= 0 (seconds) or None, got {shown}")
        total += part
    return total


def _body_bytes(body: object) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray):
        return bytes(body)
    read = getattr(body, "read", None)
    if callable(read):
        data: object = read()
        if isinstance(data, str):
            return data.encode("utf-8")
        if isinstance(data, bytes | bytearray):
            return bytes(data)
    raise TypeError(f"DiscoveryAdapter sends bytes, str or file bodies (sent again on failover), got {type(body)}")


def discovery_session(
    settings: DiscoverySettings | None = None,
    *,
    resolver: Resolver | None = None,
    on_attempt: Callable[[AttemptEvent], None] | None = None,
) -> requests.Session:
    """A ``requests.Session`` whose ``http://`` URLs go through a :class:`DiscoveryAdapter`.

    ``settings`` default: :meth:`DiscoverySettings.from_environ` of ``os.environ``. ``https://``
    URLs keep requests' own adapter. The session ignores HTTP(S)_PROXY (``trust_env = False``):
    service-to-service calls stay inside the VPC.
    """
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", DiscoveryAdapter(settings, resolver, on_attempt=on_attempt))
    return session
