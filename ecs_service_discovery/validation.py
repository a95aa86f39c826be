"""Plain-Python checks shared by every construct.

Each check raises :class:`ValidationError` naming the parameter, the value and
what is allowed, and lets unresolved CDK tokens through: their value is only
known at deploy time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from aws_cdk import Duration, Token

from ecs_service_discovery.errors import ValidationError

if TYPE_CHECKING:
    from ecs_service_discovery.constructs.options import ServiceScaling

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

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
MAX_DNS_TTL_SECONDS = 2147483647


def is_token(value: Any) -> bool:
    """True when ``value`` is an unresolved CDK token (known only at deploy)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    # aws-cdk-lib encodes number tokens as negative doubles: a number >= 0 never is one, and
    # deciding that here saves a call into Node.js per checked number.
    if not isinstance(value, str) and value >= 0:
        return False
    return Token.is_unresolved(value)


def fail(parameter: str, value: Any, allowed: str) -> ValidationError:
    return ValidationError(f"{parameter}={value!r} is not valid: {allowed}")


def implements(value: Any, interface: type) -> bool:
    """True when ``value`` is a jsii object implementing ``interface`` (e.g. ``aws_ec2.IVpc``).

    jsii interfaces are typing Protocols, so ``isinstance`` cannot check them: a
    construct lists them in ``__jsii_ifaces__``, and an imported reference (a
    dynamic proxy) holds one delegate per interface.
    """
    for klass in type(value).__mro__:
        if interface in getattr(klass, "__jsii_ifaces__", ()):
            return True
    proxy_class = interface.__jsii_proxy_class__()  # type: ignore[attr-defined]
    delegates = getattr(value, "_delegates", None) or [value]
    return any(isinstance(delegate, proxy_class) for delegate in delegates)


def require_type(parameter: str, value: Any, kind: type, allowed: str) -> None:
    """``value`` must be an instance of ``kind``, or implement it when ``kind`` is a jsii interface."""
    if getattr(kind, "_is_protocol", False):
        if not implements(value, kind):
            raise fail(parameter, value, allowed)
    elif not isinstance(value, kind):
        raise fail(parameter, value, allowed)


def check_dns_label(parameter: str, value: Any) -> None:
    """A single DNS label: 1-63 of a-z, 0-9 and '-', not starting or ending with '-'."""
    # A valid label cannot be a token ("${Token[...]}"), so the common case needs no call into Node.js.
    if isinstance(value, str) and _DNS_LABEL.match(value):
        return
    if is_token(value):
        return
    allowed = (
        "expected a DNS label of 1-63 characters from a-z, 0-9 and '-', "
        "starting and ending with a letter or digit (lower case; no dots or underscores)"
    )
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise fail(parameter, value, allowed)


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
        raise fail(parameter, value, allowed)
    if not all(_DNS_LABEL.match(label) for label in value.split(".")):
        raise fail(parameter, value, allowed)


def check_int_range(parameter: str, value: Any, low: int, high: int, what: str = "") -> None:
    if is_token(value):
        return
    allowed = f"expected a whole number from {low} to {high}{what}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(parameter, value, allowed)
    if not low <= value <= high:
        raise fail(parameter, value, allowed)


def check_port(parameter: str, value: Any) -> None:
    check_int_range(parameter, value, 1, 65535, " (a TCP port)")


def duration_seconds(parameter: str, value: Any, low: int, high: int) -> int | None:
    """Whole seconds of a Duration within [low, high]; None for a token."""
    allowed = f"expected a Duration of whole seconds from {low} to {high} seconds"
    if not isinstance(value, Duration):
        raise fail(parameter, value, allowed)
    if value.is_unresolved():
        return None
    millis = value.to_milliseconds()
    if millis % 1000:
        raise fail(parameter, value.to_human_string(), allowed)
    seconds = int(millis // 1000)
    if not low <= seconds <= high:
        # Exact seconds: the human string rounds large values ("24855 days 3 hours").
        raise fail(parameter, f"{seconds} seconds", allowed)
    return seconds


def check_fargate_size(
    cpu: Any, memory_limit_mib: Any, *, cpu_parameter: str = "cpu", memory_parameter: str = "memory_limit_mib"
) -> None:
    if is_token(cpu) or is_token(memory_limit_mib):
        return
    if cpu not in FARGATE_CPU_MEMORY or isinstance(cpu, bool):
        raise fail(cpu_parameter, cpu, f"expected one of the Fargate CPU sizes {sorted(FARGATE_CPU_MEMORY)}")
    choices = FARGATE_CPU_MEMORY[cpu]
    if memory_limit_mib not in choices or isinstance(memory_limit_mib, bool):
        ranges = "; ".join(
            f"cpu={c}: {m[0]}-{m[-1]} MiB in steps of {m[1] - m[0]}" for c, m in FARGATE_CPU_MEMORY.items()
        )
        raise fail(
            memory_parameter,
            memory_limit_mib,
            f"with cpu={cpu} Fargate accepts {', '.join(map(str, choices))} MiB (valid pairs: {ranges})",
        )


def check_environment(parameter: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise fail(parameter, value, "expected a dict of environment variable names to string values")
    variables = cast("dict[object, object]", value)
    for key, item in variables.items():
        if not isinstance(key, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise fail(f"{parameter} key", key, "expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
        if not isinstance(item, str):
            raise fail(f"{parameter}[{key!r}]", item, "expected a string value")


def check_scaling(where: str, scaling: ServiceScaling, desired_count: Any) -> None:
    """Every field of ``scaling`` (named ``<where>.<field>``); ``min_capacity`` defaults to
    ``desired_count`` and must not exceed ``max_capacity``. Tokens pass unchecked."""
    check_int_range(f"{where}.max_capacity", scaling.max_capacity, 1, MAX_TASKS_PER_SERVICE, " (tasks per service)")
    min_capacity = scaling.min_capacity if scaling.min_capacity is not None else desired_count
    check_int_range(f"{where}.min_capacity", min_capacity, 0, MAX_TASKS_PER_SERVICE, " (tasks per service)")
    if not is_token(min_capacity) and not is_token(scaling.max_capacity) and min_capacity > scaling.max_capacity:
        defaulted = " (min_capacity defaults to desired_count)" if scaling.min_capacity is None else ""
        field = where.rsplit(": ", 1)[-1]  # "scaling", without the service it belongs to
        raise fail(
            f"{where}.min_capacity",
            min_capacity,
            f"expected at most {field}.max_capacity={scaling.max_capacity}{defaulted}",
        )
    check_int_range(f"{where}.cpu_target_percent", scaling.cpu_target_percent, 1, 100, " percent")
    if scaling.memory_target_percent is not None:
        check_int_range(f"{where}.memory_target_percent", scaling.memory_target_percent, 1, 100, " percent")
    check_int_range(f"{where}.scale_in_cooldown_seconds", scaling.scale_in_cooldown_seconds, 0, 86400)
    check_int_range(f"{where}.scale_out_cooldown_seconds", scaling.scale_out_cooldown_seconds, 0, 86400)
