# pyright: strict, reportMissingTypeStubs=false
"""The AWS side of the Cloud Map reader: a boto3 client from the usual AWS configuration, checked
before use, and every botocore failure mapped to one :class:`CloudMapError` with a ``kind``."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config

from ecs_discovery_client.cloudmap._model import mapping_of, printable

#: Attempts per call (first try included) allowed from AWS_MAX_ATTEMPTS / the profile's max_attempts.
MAX_ATTEMPTS_LIMIT = 10

_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
_NOT_FOUND_CODES = frozenset({"NamespaceNotFound", "ServiceNotFound", "InstanceNotFound"})
# botocore's own check of a region name (botocore.utils.validate_region_name), as a full match.
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")


# -- errors ------------------------------------------------------------------------------


class CloudMapError(Exception):
    """A Cloud Map API call failed. ``kind`` says how, for callers that branch on it:

    ``credentials`` (none, incomplete or rejected), ``access_denied``, ``throttled`` (after the
    retries), ``not_found``, ``endpoint`` (unreachable, timed out), ``ambiguous`` (a name that
    matches several namespaces), ``truncated`` (more pages than allowed), ``aws`` (any other).
    ``message`` is one line, with AWS's own text passed through :func:`printable`.
    """

    def __init__(self, kind: str, message: str, *, operation: str = "", code: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.operation = operation
        self.code = code


class CloudMapConfigError(CloudMapError):
    """The AWS configuration cannot make a client: endpoint URL, region, profile, AWS_* settings."""

    def __init__(self, message: str) -> None:
        super().__init__("config", message)


# -- the client ------------------------------------------------------------------------------


def make_client(
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    max_attempts: int | None = None,
    user_agent_extra: str = "ecs-discovery",
) -> Any:
    """A boto3 Cloud Map client from the usual AWS configuration, checked before it is used.

    ``None`` arguments fall back to the environment and the profile: AWS_PROFILE, AWS_REGION /
    AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_SERVICEDISCOVERY / AWS_ENDPOINT_URL, AWS_MAX_ATTEMPTS
    (1-10; retries use botocore's standard mode). Anything malformed there, or a malformed
    ``endpoint_url``, raises :class:`CloudMapConfigError` with one line naming the setting,
    never ValueError or a botocore traceback.

    With a configured endpoint (a local stand-in, a proxy), every operation goes to that URL:
    the ``data-`` host prefix of DiscoverInstances is not added to it.
    """
    if endpoint_url is not None:
        endpoint_url = _checked_endpoint(endpoint_url, "--endpoint-url")
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() != "true":
        for variable in ("AWS_ENDPOINT_URL_SERVICEDISCOVERY", "AWS_ENDPOINT_URL"):
            if os.environ.get(variable):
                _checked_endpoint(os.environ[variable], variable)
    if region is not None and not _REGION.fullmatch(region):
        raise CloudMapConfigError(f"region {printable(region, 64)!s} is not a region name such as eu-west-1")
    try:
        # boto3 and botocore ship no type information: their objects are Any here.
        core: Any = cast(Any, botocore.session).get_session()
        session: Any = cast(Any, boto3).Session(botocore_session=core, profile_name=profile, region_name=region)
        configured_region: str | None = session.region_name or _environ_region()
        if configured_region is None:
            raise CloudMapConfigError(
                "no AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile"
            )
        if not _REGION.fullmatch(configured_region):
            raise CloudMapConfigError(
                f"AWS region {printable(configured_region, 64)} (AWS_REGION / AWS_DEFAULT_REGION / profile) "
                "is not a region name such as eu-west-1"
            )
        attempts = max_attempts if max_attempts is not None else _configured_max_attempts(core)
        config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra=user_agent_extra,
        )
        client: Any = session.client(
            "servicediscovery", region_name=configured_region, endpoint_url=endpoint_url, config=config
        )
        resolved = cast(str, client.meta.endpoint_url)
        _checked_endpoint(resolved, "AWS_ENDPOINT_URL_SERVICEDISCOVERY / AWS_ENDPOINT_URL / profile endpoint_url")
        if endpoint_url is not None or _is_configured_endpoint(session, configured_region, resolved):
            client.meta.config.inject_host_prefix = False
        return client
    except CloudMapConfigError:
        raise
    except botocore.exceptions.ProfileNotFound as error:
        details: object = cast(Any, error).kwargs
        shown = mapping_of(details).get("profile", profile)
        raise CloudMapConfigError(f"AWS profile not found: {printable(shown)}") from None
    except botocore.exceptions.NoRegionError:
        raise CloudMapConfigError(
            "no AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile"
        ) from None
    except (botocore.exceptions.BotoCoreError, ValueError, TypeError) as error:
        # ValueError: botocore's int() of a setting, an endpoint it cannot parse.
        raise CloudMapConfigError(f"AWS configuration error: {printable(error)}") from None


def _environ_region() -> str | None:
    # botocore reads AWS_DEFAULT_REGION; the other SDKs (and ECS, Lambda) set AWS_REGION.
    return os.environ.get("AWS_REGION") or None


def _configured_max_attempts(core: Any) -> int:
    try:
        configured: object = core.get_config_variable("max_attempts")
    except ValueError:
        raw = os.environ.get("AWS_MAX_ATTEMPTS", "(profile max_attempts)")
        raise CloudMapConfigError(
            f"AWS_MAX_ATTEMPTS / max_attempts {printable(raw, 40)} is not a whole number "
            f"(allowed: 1-{MAX_ATTEMPTS_LIMIT})"
        ) from None
    if configured is None:
        return 3  # botocore's standard mode default
    attempts = int(cast(int, configured))
    if not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
        raise CloudMapConfigError(
            f"AWS_MAX_ATTEMPTS / max_attempts {attempts} is out of range (allowed: 1-{MAX_ATTEMPTS_LIMIT})"
        )
    return attempts


def _checked_endpoint(url: str, setting: str) -> str:
    problem = None
    if not url.isascii() or not url.isprintable() or any(char.isspace() for char in url):
        problem = "has spaces, control or non-ASCII characters"
    else:
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError when out of range or not a number
        except ValueError as error:
            problem = str(error)
        else:
            if parts.scheme not in ("http", "https"):
                problem = "must start with http:// or https://"
            elif not parts.hostname:
                problem = "has no host"
            elif port == 0:
                problem = "port must be 1-65535"
    if problem:
        raise CloudMapConfigError(
            f"{setting} {printable(url, 80)} is not a valid endpoint URL ({problem}); "
            "expected e.g. https://servicediscovery.eu-west-1.amazonaws.com or http://127.0.0.1:5000"
        )
    return url


def _is_configured_endpoint(session: Any, region: str, resolved: str) -> bool:
    # The URL AWS's endpoint rules give when no endpoint is configured; any other one was configured.
    standard: Any = session.client(
        "servicediscovery", region_name=region, config=Config(ignore_configured_endpoint_urls=True)
    )
    return cast(str, standard.meta.endpoint_url) != resolved


# -- calls and errors -----------------------------------------------------------------------


def call_api(operation: str, function: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return function(**kwargs)
    except botocore.exceptions.NoCredentialsError:
        raise CloudMapError(
            "credentials",
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or sign in (aws sso login)",
            operation=operation,
        ) from None
    except botocore.exceptions.PartialCredentialsError as error:
        raise CloudMapError(
            "credentials", f"incomplete AWS credentials: {printable(error)}", operation=operation
        ) from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as error:
        raise CloudMapError(
            "endpoint", f"cannot reach the Cloud Map API ({operation}): {printable(error)}", operation=operation
        ) from None
    except botocore.exceptions.ReadTimeoutError as error:
        raise CloudMapError(
            "endpoint", f"the Cloud Map API did not answer {operation} in time: {printable(error)}", operation=operation
        ) from None
    except botocore.exceptions.ClientError as error:
        raise _client_error(operation, error) from None
    except botocore.exceptions.BotoCoreError as error:
        raise CloudMapError("aws", f"Cloud Map {operation} failed: {printable(error)}", operation=operation) from None
    except ValueError as error:
        # urllib3 refusing a URL botocore built; the endpoint is checked first, so this is a last resort.
        raise CloudMapError(
            "endpoint", f"Cloud Map {operation} failed: {printable(error)}", operation=operation
        ) from None


def _client_error(operation: str, error: botocore.exceptions.ClientError) -> CloudMapError:
    response: Mapping[str, Any] = cast(Mapping[str, Any], error.response)
    details: Mapping[str, Any] = response.get("Error") or {}
    code = printable(details.get("Code") or "Unknown", 64)
    message = printable(details.get("Message") or "", 300)
    if code in _THROTTLING_CODES:
        metadata: Mapping[str, Any] = response.get("ResponseMetadata") or {}
        attempts = int(metadata.get("RetryAttempts", 0)) + 1
        return CloudMapError(
            "throttled",
            f"throttled by the Cloud Map API ({operation}, {code}) after {attempts} attempts; "
            "try again later or raise AWS_MAX_ATTEMPTS",
            operation=operation,
            code=code,
        )
    if code in _CREDENTIAL_CODES:
        return CloudMapError(
            "credentials", f"AWS rejected the credentials ({code}): {message}", operation=operation, code=code
        )
    if code in _ACCESS_DENIED_CODES:
        return CloudMapError(
            "access_denied", f"access denied to servicediscovery:{operation}: {message}", operation=operation, code=code
        )
    if code in _NOT_FOUND_CODES:
        return CloudMapError("not_found", f"{code}: {message}", operation=operation, code=code)
    return CloudMapError("aws", f"Cloud Map {operation} failed ({code}): {message}", operation=operation, code=code)
