"""Plain-Python checks shared by every construct.

Each check raises :class:`ValidationError` naming the parameter, a short form of the value and
what is allowed, and lets unresolved CDK tokens through: their value is only known at deploy
time. Every pattern is matched against the whole value (``re.fullmatch``), so a trailing
newline is never part of a valid name.
"""

from __future__ import annotations

import functools
import math
import re
import reprlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_cdk import Duration, Token
from constructs import Construct

from ecs_service_discovery.errors import ValidationError

if TYPE_CHECKING:
    from ecs_service_discovery.constructs.options import ServiceScaling

_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# ECS passes variables to the container runtime as NAME=value; names that a POSIX shell can use.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_ENV_NAME_LENGTH = 255

# Valid Fargate task sizes: CPU units -> memory (MiB) choices, from the ECS
# developer guide's "Task CPU and memory" table. aws-cdk-lib does not check
# these, and ECS only rejects a bad pair at deploy time.
FARGATE_CPU_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

MAX_TASKS_PER_SERVICE = 1000
#: The largest signed 32-bit integer: the upper limit of the AWS API fields this library checks
#: (Cloud Map record and SOA TTLs, ECS Service Connect timeouts, ECS grace periods).
MAX_INT32 = 2147483647
MAX_DNS_TTL_SECONDS = MAX_INT32

# --- Stopping a task: the limits the construct and the apps in services/ share ------------------
# The apps cannot import this library (their images do not contain it), so
# services/common/graceful_stop.py states the same two facts (MAX_STOP_SECONDS,
# DEFAULT_FINISH_SECONDS); tests/unit/test_drain_limit.py imports both and fails when they differ,
# and checks every drain the construct can set against the apps' own start-up check.

#: Fargate sends SIGKILL at most this many seconds after SIGTERM (ContainerDefinition.stopTimeout).
MAX_STOP_TIMEOUT_SECONDS = 120
#: What the apps give in-flight requests after the drain (``GUNICORN_GRACEFUL_TIMEOUT``'s default).
APP_FINISH_SECONDS = 20
#: After a task leaves DNS, how long a caller may take to notice once its cached answer expires:
#: a new lookup and one connection attempt (the discovery client's 0.5 s connect timeout, with room).
DRAIN_MARGIN_SECONDS = 5
#: The longest ``STOP_DRAIN_SECONDS`` the apps accept: the drain and the finish together must end
#: before Fargate's SIGKILL (graceful_stop.stop_seconds: drain + finish < 120), so 99 s.
MAX_DRAIN_SECONDS = MAX_STOP_TIMEOUT_SECONDS - APP_FINISH_SECONDS - 1
#: The longest ``dns_ttl`` whose whole drain (``dns_ttl`` + 5 s) fits in :data:`MAX_DRAIN_SECONDS`: 94 s.
MAX_DRAINED_DNS_TTL_SECONDS = MAX_DRAIN_SECONDS - DRAIN_MARGIN_SECONDS

#: Variables the library sets in every container, or the ECS agent sets in every Fargate task:
#: ``environment`` and ``secrets`` may not override them, and ``connect_to`` never writes them.
RESERVED_VARIABLES: dict[str, str] = {
    "SERVICE_NAME": "set by the library to the service's name",
    "NAMESPACE": "set by the library to the namespace's name",
    "STOP_DRAIN_SECONDS": "set by the library to how long a stopping task keeps serving (dns_ttl + 5 s, at most 99 s)",
    "NAMESPACE_ID": "set by the library for a discovery read grant",
    "NAMESPACE_OWNER_ACCOUNT": (
        "set by the library for a discovery read of a shared namespace (DiscoverInstances' OwnerAccount)"
    ),
    "AWS_REGION": "set by the library for a discovery read grant (and by ECS)",
    "AWS_DEFAULT_REGION": "set by ECS in every Fargate task",
    "AWS_EXECUTION_ENV": "set by ECS in every Fargate task",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "set by ECS for the task role's credentials",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "used by the AWS SDKs for container credentials",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": "used by the AWS SDKs for container credentials",
    "ECS_CONTAINER_METADATA_URI": "set by ECS (task metadata endpoint)",
    "ECS_CONTAINER_METADATA_URI_V4": "set by ECS (task metadata endpoint)",
}

#: Variables the apps in services/ read to bind their server (gunicorn.conf.py): a variable that
#: ``connect_to`` derives from a callee's name may never be one of them (a callee named ``bind``
#: would set ``BIND_HOST`` to its DNS name). A user may still set them in ``environment``.
APP_BIND_VARIABLES = ("BIND_HOST", "PORT")

#: The suffixes of the variables connect_to gives a caller for each callee.
PEER_VARIABLE_SUFFIXES = ("HOST", "SERVICE", "PORT")

# Root is UID 0 whatever it is called, and any GID with UID 0 is still root.
_ROOT_USER = re.compile(r"(?:0+|root)(?::.*)?")
_USER = re.compile(r"(?:[0-9]{1,10}|[a-z_][a-z0-9_-]{0,31})(?::(?:[0-9]{1,10}|[a-z_][a-z0-9_-]{0,31}))?")

_SHORT = reprlib.Repr()
_SHORT.maxstring = 100
_SHORT.maxother = 100
_SHORT.maxlong = 40
_SHORT.maxlist = 6
_SHORT.maxtuple = 6
_SHORT.maxdict = 6
_SHORT.maxset = 6
_SHORT.maxlevel = 3


def short(value: Any) -> str:
    """A bounded one-line form of ``value`` for an error message.

    Small values read as their ``repr``; long strings, big numbers and large or deeply nested
    lists and mappings are cut (``reprlib``), so a huge value is never rendered whole.
    """
    if isinstance(value, str) and len(value) > _SHORT.maxstring:
        return f"{_SHORT.repr(value)} ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        # repr() of a huge int is slow, and refused past 4300 digits.
        return f"an integer of {value.bit_length()} bits"
    try:
        return _SHORT.repr(value)
    except Exception:  # a foreign object whose __repr__ fails must not hide the real error
        return f"a {type(value).__name__}"


def invalid(parameter: str, value: Any, allowed: str) -> ValidationError:
    """The error for ``parameter=value``, to raise: ``raise invalid("port", port, "expected ...")``.

    Every message of the library reads ``<parameter>=<short value> is not valid: <what is allowed>``;
    the construct it belongs to is added by :func:`names_construct` (``construct_path``)."""
    return ValidationError(f"{parameter}={short(value)} is not valid: {allowed}")


_Call = TypeVar("_Call", bound=Callable[..., Any])


def names_construct(function: _Call) -> _Call:
    """Decorate a construct's ``__init__`` (or a factory taking ``scope, construct_id``) or one of its
    methods: a :class:`ValidationError` raised inside gets the path of the construct being made
    (``<scope path>/<construct_id>``) or called. Worked out only when an error is raised, so a
    valid call asks Node.js nothing more."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ValidationError as error:
            error.at(_path_of(function.__name__, args))
            raise

    return cast("_Call", wrapper)


def _path_of(name: str, args: tuple[Any, ...]) -> str:
    if name in ("__init__", "from_attributes") and len(args) >= 3:
        scope, construct_id = args[1], args[2]
        if isinstance(scope, Construct):
            return f"{scope.node.path}/{construct_id}".lstrip("/")
        return str(construct_id)
    construct = args[0] if args else None
    return construct.node.path if isinstance(construct, Construct) else ""


def is_token(value: Any) -> bool:
    """True when ``value`` is an unresolved CDK token (known only at deploy)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False  # no token is NaN or infinite, and jsii cannot send NaN: it stops the Node.js kernel
    # aws-cdk-lib encodes a string token as "${Token[...]}" inside the string and a number token as a
    # negative double (aws-cdk-lib's token encoding): a value without either form is plain, decided
    # here without a call into Node.js (topology files hold only plain values).
    if isinstance(value, str):
        return "${Token[" in value and Token.is_unresolved(value)
    if value >= 0 or (isinstance(value, int) and value.bit_length() > 1024):
        # A number beyond any double is no encoded token either; jsii could not even send it to Node.js.
        return False
    return Token.is_unresolved(value)


def implements(value: Any, interface: type) -> bool:
    """True when ``value`` is a jsii object implementing ``interface`` (e.g. ``aws_ec2.IVpc``).

    jsii interfaces are typing Protocols, so ``isinstance`` cannot check them: a
    construct lists them in ``__jsii_ifaces__``, and an imported reference (a
    dynamic proxy) holds one delegate per interface.
    """
    for klass in type(value).__mro__:
        # A listed interface may extend ``interface`` (an IRole is an IGrantable).
        if any(interface in getattr(iface, "__mro__", ()) for iface in getattr(klass, "__jsii_ifaces__", ())):
            return True
    proxy_class = interface.__jsii_proxy_class__()  # type: ignore[attr-defined]
    delegates = getattr(value, "_delegates", None) or [value]
    return any(isinstance(delegate, proxy_class) for delegate in delegates)


def require_type(parameter: str, value: Any, kind: type, allowed: str) -> None:
    """``value`` must be an instance of ``kind``, or implement it when ``kind`` is a jsii interface."""
    if getattr(kind, "_is_protocol", False):
        if not implements(value, kind):
            raise invalid(parameter, value, allowed)
    elif not isinstance(value, kind):
        raise invalid(parameter, value, allowed)


def check_dns_label(parameter: str, value: Any) -> None:
    """A single DNS label: 1-63 of a-z, 0-9 and '-', not starting or ending with '-'."""
    if isinstance(value, str) and _DNS_LABEL.fullmatch(value):
        return
    if is_token(value):
        return
    raise invalid(
        parameter,
        value,
        "expected a DNS label of 1-63 characters from a-z, 0-9 and '-', "
        "starting and ending with a letter or digit (lower case; no dots or underscores)",
    )


def check_dns_name(parameter: str, value: Any) -> None:
    """A namespace name: dot-separated DNS labels, at most 253 characters, no trailing dot."""
    if is_token(value):
        return
    allowed = (
        "expected a DNS name of at most 253 characters made of dot-separated labels of "
        "1-63 characters from a-z, 0-9 and '-', each starting and ending with a letter "
        "or digit, in lower case, without a trailing dot (for example 'corp' or 'prod.internal')"
    )
    if not isinstance(value, str) or not value or len(value) > 253:
        raise invalid(parameter, value, allowed)
    if not all(_DNS_LABEL.fullmatch(label) for label in value.split(".")):
        raise invalid(parameter, value, allowed)


def check_int_range(parameter: str, value: Any, low: int, high: int, what: str = "") -> None:
    if is_token(value):
        return
    allowed = f"expected a whole number from {low} to {high}{what}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(parameter, value, allowed)
    if not low <= value <= high:
        raise invalid(parameter, value, allowed)


def check_port(parameter: str, value: Any) -> None:
    check_int_range(parameter, value, 1, 65535, " (a TCP port)")


def check_bool(parameter: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise invalid(parameter, value, "expected True or False")


def duration_seconds(parameter: str, value: Any, low: int, high: int) -> int | None:
    """Whole seconds of a Duration within [low, high]; None for a token."""
    allowed = f"expected a Duration of whole seconds from {low} to {high} seconds"
    if not isinstance(value, Duration):
        raise invalid(parameter, value, allowed)
    if value.is_unresolved():
        return None
    millis = value.to_milliseconds()
    if millis % 1000:
        raise invalid(parameter, value.to_human_string(), allowed)
    seconds = int(millis // 1000)
    if not low <= seconds <= high:
        # Exact seconds: the human string rounds large values ("24855 days 3 hours").
        raise invalid(parameter, f"{seconds} seconds", allowed)
    return seconds


def check_fargate_size(
    cpu: Any, memory_limit_mib: Any, *, cpu_parameter: str = "cpu", memory_parameter: str = "memory_limit_mib"
) -> None:
    if is_token(cpu) or is_token(memory_limit_mib):
        return
    if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu not in FARGATE_CPU_MEMORY:
        raise invalid(cpu_parameter, cpu, f"expected one of the Fargate CPU sizes {sorted(FARGATE_CPU_MEMORY)}")
    choices = FARGATE_CPU_MEMORY[cpu]
    if isinstance(memory_limit_mib, bool) or not isinstance(memory_limit_mib, int) or memory_limit_mib not in choices:
        ranges = "; ".join(
            f"cpu={c}: {m[0]}-{m[-1]} MiB in steps of {m[1] - m[0]}" for c, m in FARGATE_CPU_MEMORY.items()
        )
        raise invalid(
            memory_parameter,
            memory_limit_mib,
            f"with cpu={cpu} Fargate accepts {', '.join(map(str, choices))} MiB (valid pairs: {ranges})",
        )


def check_env_name(parameter: str, name: Any) -> str:
    """An environment variable name: ``[A-Za-z_][A-Za-z0-9_]*``, at most 255 characters, not reserved."""
    if not isinstance(name, str) or len(name) > MAX_ENV_NAME_LENGTH or not _ENV_NAME.fullmatch(name):
        raise invalid(
            parameter,
            name,
            f"expected a variable name of at most {MAX_ENV_NAME_LENGTH} characters: a letter or '_', "
            "then letters, digits or '_'",
        )
    if name in RESERVED_VARIABLES:
        raise invalid(parameter, name, f"the variable is {RESERVED_VARIABLES[name]}")
    return name


def check_environment(parameter: str, value: Any) -> dict[str, str]:
    """A mapping of variable names (see :func:`check_env_name`) to strings; returns a plain dict copy."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid(parameter, value, "expected a mapping of environment variable names to strings")
    variables = cast("Mapping[object, object]", value)
    checked: dict[str, str] = {}
    for key, item in variables.items():
        name = check_env_name(f"{parameter} key", key)
        if not isinstance(item, str):
            raise invalid(f"{parameter}[{short(name)}]", item, "expected a string (quote numbers and booleans)")
        checked[name] = item
    return checked


def check_user(parameter: str, value: Any) -> None:
    """A non-root ``user[:group]`` for the container, or None for the image's USER."""
    if value is None or is_token(value):
        return
    allowed = (
        "expected a non-root user as 'UID', 'UID:GID', 'name' or 'name:group' (for example '10001'), "
        "or None for the image's USER; UID 0 and 'root' are refused (the library promises non-root containers)"
    )
    if not isinstance(value, str) or not _USER.fullmatch(value) or _ROOT_USER.fullmatch(value):
        raise invalid(parameter, value, allowed)


def env_prefix(service_name: str) -> str:
    """``"flask-worker"`` -> ``"FLASK_WORKER"``: the prefix of a callee's variables in a caller."""
    return service_name.upper().replace("-", "_")


def peer_variables(prefix: str) -> list[str]:
    """The variables ``connect_to`` gives a caller for a callee whose prefix is ``prefix``."""
    return [f"{prefix}_{suffix}" for suffix in PEER_VARIABLE_SUFFIXES]


def check_scaling(where: str, scaling: ServiceScaling, desired_count: Any) -> None:
    """Every field of ``scaling`` (named ``<where>.<field>``); ``min_capacity`` defaults to
    ``desired_count`` and must not exceed ``max_capacity``. Tokens pass unchecked."""
    check_int_range(f"{where}.max_capacity", scaling.max_capacity, 1, MAX_TASKS_PER_SERVICE, " (tasks per service)")
    min_capacity = scaling.min_capacity if scaling.min_capacity is not None else desired_count
    check_int_range(f"{where}.min_capacity", min_capacity, 0, MAX_TASKS_PER_SERVICE, " (tasks per service)")
    if not is_token(min_capacity) and not is_token(scaling.max_capacity) and min_capacity > scaling.max_capacity:
        defaulted = " (min_capacity defaults to desired_count)" if scaling.min_capacity is None else ""
        field = where.rsplit(": ", 1)[-1]  # "scaling", without the service it belongs to
        raise invalid(
            f"{where}.min_capacity",
            min_capacity,
            f"expected at most {field}.max_capacity={scaling.max_capacity}{defaulted}",
        )
    check_int_range(f"{where}.cpu_target_percent", scaling.cpu_target_percent, 1, 100, " percent")
    if scaling.memory_target_percent is not None:
        check_int_range(f"{where}.memory_target_percent", scaling.memory_target_percent, 1, 100, " percent")
    check_int_range(f"{where}.scale_in_cooldown_seconds", scaling.scale_in_cooldown_seconds, 0, 86400)
    check_int_range(f"{where}.scale_out_cooldown_seconds", scaling.scale_out_cooldown_seconds, 0, 86400)
