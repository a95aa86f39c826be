"""Configuration from the environment: the names connect_to sets, and every bad value refused at start-up."""

from __future__ import annotations

import pytest

from ecs_discovery_client import (
    ConfigurationError,
    DiscoveryClient,
    DiscoverySettings,
    ServiceTarget,
    dns_name_from_env,
    env_prefix,
)


def test_defaults_and_every_variable() -> None:
    assert DiscoverySettings.from_environ({}) == DiscoverySettings()
    settings = DiscoverySettings.from_environ(
        {
            "DNS_NAMESERVERS": "127.0.0.1:5353, 10.0.0.2,[::1]:53, ::2",
            "DNS_TIMEOUT": "0.25",
            "DNS_LIFETIME": "1.5",
            "DNS_MAX_TTL": "30",
            "UPSTREAM_CONNECT_TIMEOUT": "0.2",
            "UPSTREAM_FIRST_BYTE_TIMEOUT": "0.4",
            "UPSTREAM_READ_TIMEOUT": "2",
            "UPSTREAM_MAX_ATTEMPTS": "4",
            "UPSTREAM_DEADLINE": "6",
            "UPSTREAM_POOL_MAX_AGE": "15",
            "UPSTREAM_MAX_BODY_BYTES": "1000",
        }
    )
    assert settings.nameservers == (("127.0.0.1", 5353), ("10.0.0.2", 53), ("::1", 53), ("::2", 53))
    assert (settings.dns_timeout, settings.dns_lifetime, settings.max_ttl) == (0.25, 1.5, 30.0)
    assert (settings.connect_timeout, settings.first_byte_timeout, settings.read_timeout) == (0.2, 0.4, 2.0)
    assert (settings.max_attempts, settings.deadline, settings.pool_max_age) == (4, 6.0, 15.0)
    assert settings.max_body_bytes == 1000


def test_first_byte_timeout_defaults_to_the_connect_timeout_and_never_exceeds_the_read_timeout() -> None:
    assert DiscoverySettings(connect_timeout=0.3).effective_first_byte_timeout == 0.3
    assert DiscoverySettings(first_byte_timeout=0.8).effective_first_byte_timeout == 0.8
    assert DiscoverySettings(first_byte_timeout=9, read_timeout=2).effective_first_byte_timeout == 2


NUMBER_VARIABLES = [
    "DNS_TIMEOUT",
    "DNS_LIFETIME",
    "DNS_MAX_TTL",
    "UPSTREAM_CONNECT_TIMEOUT",
    "UPSTREAM_FIRST_BYTE_TIMEOUT",
    "UPSTREAM_READ_TIMEOUT",
    "UPSTREAM_DEADLINE",
    "UPSTREAM_POOL_MAX_AGE",
]


@pytest.mark.parametrize("variable", NUMBER_VARIABLES)
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "x", "1s", "1,5", "0x10", "\x00"])
def test_bad_seconds_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings.from_environ({variable: value})
    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ")


@pytest.mark.parametrize("variable", ["UPSTREAM_MAX_ATTEMPTS", "UPSTREAM_MAX_BODY_BYTES"])
@pytest.mark.parametrize("value", ["0", "-1", "1.5", "x", "\uff13", "1e3", "9" * 5000])
def test_bad_counts_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings.from_environ({variable: value})
    assert raised.value.variable == variable
    assert len(str(raised.value)) < 300  # a huge value is shown shortened


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        # Issue 16: a lookup that may take 30 s cannot fit a 15 s call.
        ({"DNS_LIFETIME": "30", "UPSTREAM_DEADLINE": "15"}, "DNS_LIFETIME"),
        # ... nor one that leaves no time to connect.
        ({"DNS_LIFETIME": "5", "UPSTREAM_DEADLINE": "5"}, "DNS_LIFETIME"),
        ({"DNS_LIFETIME": "4.8", "UPSTREAM_CONNECT_TIMEOUT": "0.5", "UPSTREAM_DEADLINE": "5"}, "DNS_LIFETIME"),
        ({"UPSTREAM_DEADLINE": "1"}, "DNS_LIFETIME"),  # the default lifetime (2 s) cannot fit either
        ({"DNS_TIMEOUT": "3", "DNS_LIFETIME": "2"}, "DNS_TIMEOUT"),
        ({"UPSTREAM_READ_TIMEOUT": "10", "UPSTREAM_DEADLINE": "5"}, "UPSTREAM_READ_TIMEOUT"),
    ],
)
def test_settings_that_cannot_meet_the_deadline_are_refused(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings.from_environ(environ)
    assert raised.value.variable == variable
    assert "UPSTREAM_DEADLINE" in str(raised.value) or "DNS_LIFETIME" in str(raised.value)


def test_settings_made_in_code_name_their_fields() -> None:
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings(dns_lifetime=10, deadline=5)
    assert raised.value.variable == "dns_lifetime"
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings().replace(max_attempts=0)
    assert raised.value.variable == "max_attempts"
    with pytest.raises(ConfigurationError):
        DiscoverySettings(max_attempts=True)  # a bool is not a count
    with pytest.raises(ConfigurationError):
        DiscoverySettings(nameservers=(("resolver.internal", 53),))
    for bad in (("10.0.0.2",), (("10.0.0.2", 53, 1),), (("10.0.0.2", 0),)):
        with pytest.raises(ConfigurationError) as raised:
            DiscoverySettings(nameservers=bad)  # pyright: ignore[reportArgumentType]
        assert raised.value.variable == "nameservers"


@pytest.mark.parametrize("path", ["/a b", "/x\r\nHost: evil", "/\x00", "/tab\there", "/\x7f"])
def test_a_path_that_would_split_the_request_line_is_refused(path: str) -> None:
    client = DiscoveryClient("worker.corp", 8080, DiscoverySettings(nameservers=(("127.0.0.1", 9),)))
    with pytest.raises(ValueError, match="path"):
        client.call(path)
    with pytest.raises(ValueError, match="method"):
        client.request("GET /x HTTP/1.1\r\n", "/")


@pytest.mark.parametrize(
    "value",
    [
        "resolver.internal",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:x",
        "[::1]x",
        "[::1]:",
        "127.0.0.1:",
        "1.2.3",
        "10.0.0.2:5\uff13",
    ],
)
def test_bad_nameservers_are_refused(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        DiscoverySettings.from_environ({"DNS_NAMESERVERS": value})
    assert raised.value.variable == "DNS_NAMESERVERS"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"NAMESPACE": "corp"}, ("worker.corp", None)),
        ({"NAMESPACE": "corp.", "WORKER_SERVICE": "jobs", "WORKER_PORT": "8080"}, ("jobs.corp", 8080)),
        # connect_to sets <NAME>_HOST; it wins over the namespace.
        ({"NAMESPACE": "corp", "WORKER_HOST": "Worker.Other.", "WORKER_PORT": "81"}, ("worker.other", 81)),
        ({"WORKER_HOST": "worker.corp\n", "WORKER_PORT": " 80\n"}, ("worker.corp", 80)),
        ({"WORKER_HOST": "10.0.0.7", "WORKER_PORT": "80"}, ("10.0.0.7", 80)),
    ],
)
def test_service_from_the_variables_connect_to_sets(environ: dict[str, str], expected: tuple[str, int | None]) -> None:
    assert dns_name_from_env("WORKER", environ) == expected
    assert ServiceTarget.from_environ("worker", environ) == ServiceTarget(*expected)


def test_prefix_of_a_hyphenated_service() -> None:
    assert env_prefix("user-service") == "USER_SERVICE"
    environ = {"USER_SERVICE_HOST": "user-service.social", "USER_SERVICE_PORT": "8080"}
    assert ServiceTarget.from_environ("user-service", environ) == ServiceTarget("user-service.social", 8080)
    assert ServiceTarget.from_environ("USER_SERVICE", {"NAMESPACE": "social"}).dns_name == "user-service.social"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "WORKER_HOST"),
        ({"NAMESPACE": "corp", "WORKER_PORT": "0"}, "WORKER_PORT"),
        ({"WORKER_HOST": "w", "WORKER_PORT": "x"}, "WORKER_PORT"),
        ({"WORKER_HOST": "w", "WORKER_PORT": "65536"}, "WORKER_PORT"),
        ({"WORKER_HOST": "w", "WORKER_PORT": "\uff18\uff10"}, "WORKER_PORT"),
        ({"WORKER_HOST": "w", "WORKER_PORT": "-80"}, "WORKER_PORT"),
        ({"WORKER_HOST": "worker..corp"}, "WORKER_HOST"),
        ({"WORKER_HOST": "-worker.corp"}, "WORKER_HOST"),
        ({"WORKER_HOST": "worker corp"}, "WORKER_HOST"),
        ({"WORKER_HOST": "worker.corp;touch x"}, "WORKER_HOST"),
        ({"WORKER_HOST": "worker.corp\nevil"}, "WORKER_HOST"),
        ({"WORKER_HOST": "a" * 64 + ".corp"}, "WORKER_HOST"),
        ({"WORKER_HOST": ".".join(["a" * 60] * 5)}, "WORKER_HOST"),
        ({"WORKER_HOST": "http://worker.corp"}, "WORKER_HOST"),
        ({"NAMESPACE": "corp", "WORKER_SERVICE": "jobs.x/y"}, "WORKER_SERVICE"),
        ({"NAMESPACE": "co rp"}, "NAMESPACE"),
    ],
)
def test_bad_service_variables_are_refused_naming_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        ServiceTarget.from_environ("worker", environ)
    assert raised.value.variable == variable
    with pytest.raises(ConfigurationError):
        DiscoveryClient.from_environ("worker", environ)


def test_client_from_environ_takes_both_the_service_and_the_settings() -> None:
    client = DiscoveryClient.from_environ(
        "worker", {"WORKER_HOST": "worker.corp", "WORKER_PORT": "8080", "UPSTREAM_MAX_ATTEMPTS": "5"}
    )
    assert (client.dns_name, client.port, client.settings.max_attempts) == ("worker.corp", 8080, 5)
    with pytest.raises(ConfigurationError) as raised:
        DiscoveryClient.from_environ("worker", {"WORKER_HOST": "worker.corp", "DNS_LIFETIME": "30"})
    assert raised.value.variable == "DNS_LIFETIME"


@pytest.mark.parametrize(
    "name",
    [
        "worker",
        "user-service",
        "USER_SERVICE",
        "a-b-c-9",
        " worker",  # the client once stripped, the library did not
        "worker\n",
        "\tflask-worker ",
        "straße",  # upper() makes SS in both
        "ﬁle",  # a ligature that upper() expands
        "-",
        "",
        "x" * 63,
    ],
)
def test_env_prefix_agrees_with_the_librarys(name: str) -> None:
    # connect_to (the library) names a peer's variables with its env_prefix; the client reads them
    # with its own (it must not import the library). They must agree for every name.
    from ecs_service_discovery.validation import env_prefix as library_env_prefix

    assert env_prefix(name) == library_env_prefix(name)


def test_service_target_still_takes_a_name_with_spaces_around_it() -> None:
    assert ServiceTarget.from_environ(" worker\n", {"WORKER_HOST": "worker.corp"}).dns_name == "worker.corp"
