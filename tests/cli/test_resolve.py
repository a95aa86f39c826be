"""resolve: A and SRV records with TTLs from a loopback DNS server standing in for Cloud Map."""

from __future__ import annotations

import pytest

from ecs_discovery_tools.cli import ExitCode
from tests.cli.conftest import run_cli


def test_resolve_table_shows_a_and_srv_records_with_ttl(dns_server):
    result = run_cli("resolve", "worker.corp", "--nameserver", f"127.0.0.1:{dns_server.port}")

    assert result.code == ExitCode.OK, result.err
    title, header, *rows = result.out.splitlines()
    assert title == f"worker.corp (nameserver: 127.0.0.1:{dns_server.port})"
    assert header.split() == ["TYPE", "TTL", "VALUE"]
    assert [row.split() for row in rows] == [
        ["A", "10", "127.0.0.2"],
        ["A", "10", "127.0.0.3"],
        ["SRV", "10", "1", "1", "8080", "task-a.worker.corp", "(127.0.0.2)"],
        ["SRV", "10", "1", "1", "8080", "task-b.worker.corp", "(127.0.0.3)"],
    ]


def test_resolve_json_shape(dns_server):
    result = run_cli("resolve", "worker.corp.", "--nameserver", f"127.0.0.1:{dns_server.port}", "--json")

    assert result.code == ExitCode.OK
    assert result.json() == {
        "name": "worker.corp",
        "nameserver": f"127.0.0.1:{dns_server.port}",
        "a": {"ttl": 10, "addresses": ["127.0.0.2", "127.0.0.3"]},
        "srv": {
            "ttl": 10,
            "records": [
                {"priority": 1, "weight": 1, "port": 8080, "target": "task-a.worker.corp", "addresses": ["127.0.0.2"]},
                {"priority": 1, "weight": 1, "port": 8080, "target": "task-b.worker.corp", "addresses": ["127.0.0.3"]},
            ],
        },
    }


def test_srv_targets_are_looked_up_when_the_answer_does_not_carry_them(dns_server):
    dns_server.srv_additional = False
    try:
        result = run_cli("resolve", "worker.corp", "--nameserver", f"127.0.0.1:{dns_server.port}", "--json")
    finally:
        dns_server.srv_additional = True

    assert result.code == ExitCode.OK
    assert [record["addresses"] for record in result.json()["srv"]["records"]] == [["127.0.0.2"], ["127.0.0.3"]]
    assert dns_server.queries("task-a.worker.corp", "A")


def test_a_name_with_only_a_records_has_no_srv(dns_server):
    result = run_cli("resolve", "only-a.corp", "--nameserver", f"127.0.0.1:{dns_server.port}", "--json")

    assert result.code == ExitCode.OK
    assert result.json()["a"] == {"ttl": 30, "addresses": ["127.0.0.9"]}
    assert result.json()["srv"] is None


def test_unknown_name_is_not_found(dns_server):
    result = run_cli("resolve", "nobody.corp", "--nameserver", f"127.0.0.1:{dns_server.port}")

    assert result.code == ExitCode.NOT_FOUND
    assert result.err == "ecs-discovery: error: nobody.corp does not exist (NXDOMAIN)\n"


def test_a_silent_dns_server_is_a_dns_failure_after_the_timeout(dns_server):
    dns_server.silent = True
    try:
        result = run_cli("resolve", "worker.corp", "--nameserver", f"127.0.0.1:{dns_server.port}", "--timeout", "0.5")
    finally:
        dns_server.silent = False

    assert result.code == ExitCode.DNS == 4
    assert "timed out" in result.err and result.err.count("\n") == 1


def test_a_nameserver_that_is_not_an_address_is_a_usage_error():
    result = run_cli("resolve", "worker.corp", "--nameserver", "dns.example:53")

    assert result.code == ExitCode.USAGE
    assert "--nameserver: 'dns.example:53' is not an IP address" in result.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4:0", "bad port"),
        ("1.2.3.4:99999", "bad port"),
        ("1.2.3.4:²", "bad port"),
        ("1.2.3.4:", "bad port"),
        ("", "expected one IP address"),
        ("1.1.1.1,2.2.2.2", "expected one IP address"),
        ("\x1b[31m10.0.0.2", "is not an IP address"),
        ("127.0.0.1:53:53", "is not an IP address"),
    ],
)
def test_malformed_nameservers_are_one_usage_line_parsed_as_the_client_parses_them(text, expected):
    result = run_cli("resolve", "worker.corp", "--nameserver", text)

    assert result.code == ExitCode.USAGE
    assert expected in result.err and result.err.count("\n") == 1 and "\x1b" not in result.err
