"""flask-backend under real gunicorn, finding real workers through the loopback DNS server."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator

import pytest

from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord
from tests.apps.harness import (
    DEAD_HOSTS,
    SPARE_HOSTS,
    WORKER_HOSTS,
    WORKER_NAME,
    free_port,
    run_threads,
)
from tests.fakes import LoopbackHttpServer, Request, Response


def test_calls_the_single_worker_named_by_worker_host(launcher, dns_server, workers, worker_port):
    # connect_to sets WORKER_HOST; no NAMESPACE is needed then.
    dns_server.set_records("worker.single.test", a=[WORKER_HOSTS[1]])
    backend = launcher.backend(dns_server.port, WORKER_HOST="worker.single.test", WORKER_PORT=str(worker_port))

    response = backend.get("/")

    assert response.status_code == 200
    body = response.json()
    assert body["service"] == "backend"
    worker = body["worker"]
    assert worker["dns_name"] == "worker.single.test"
    assert (worker["address"], worker["port"]) == (WORKER_HOSTS[1], worker_port)
    assert (worker["status"], worker["attempts"], worker["failed_attempts"]) == (200, 1, [])
    # The worker reports the address it was reached on: the one the backend says answered.
    assert worker["response"]["identity"]["address"] == WORKER_HOSTS[1]
    assert worker["response"]["service"] == "worker"


def test_requests_spread_over_all_three_workers(backend):
    seen = []
    for _ in range(60):
        response = backend.get("/")
        assert response.status_code == 200
        worker = response.json()["worker"]
        assert worker["dns_name"] == WORKER_NAME
        assert worker["response"]["identity"]["address"] == worker["address"]
        seen.append(worker["address"])
    # A random start address: each of three is missed 60 times in a row with probability (2/3)**60.
    assert set(seen) == set(WORKER_HOSTS)


def test_answers_are_cached_not_looked_up_per_request(backend, dns_server):
    assert backend.get("/").status_code == 200
    lookups_before = len(dns_server.queries(WORKER_NAME, "A"))
    for _ in range(20):
        assert backend.get("/").status_code == 200
    # TTL 10 s: at most one expiry can fall in these requests; a lookup per request would be 20.
    assert len(dns_server.queries(WORKER_NAME, "A")) - lookups_before <= 1


def test_request_id_is_passed_to_the_worker_and_echoed(backend):
    response = backend.get("/", headers={"X-Request-Id": "req-42.abc"})
    assert response.headers["X-Request-Id"] == "req-42.abc"
    body = response.json()
    assert body["request_id"] == "req-42.abc"
    assert body["worker"]["response"]["request_id"] == "req-42.abc"

    # Without one (or with one unsafe to log) a new id is made and still reaches the worker.
    for headers in ({}, {"X-Request-Id": "bad id\twith spaces"}):
        response = backend.get("/", headers=headers)
        generated = response.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated)
        assert response.json()["worker"]["response"]["request_id"] == generated


def test_one_json_log_line_per_request(backend):
    response = backend.get("/", headers={"X-Request-Id": "log-line-test"})
    assert response.status_code == 200
    address = response.json()["worker"]["address"]

    lines = [line for line in backend.log_lines() if line.get("request_id") == "log-line-test"]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "request"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["upstream"] == f"{address}:{response.json()['worker']['port']}"


def test_unknown_path_gives_json_404(backend):
    response = backend.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.headers["Content-Type"].startswith("application/json")


def test_all_workers_gone_gives_503_naming_the_dns_name(launcher, dns_server, worker_port):
    # Route 53 MULTIVALUE with no healthy task answers up to 8 unhealthy ones, not NXDOMAIN.
    dns_server.set_records("worker.dead.test", a=DEAD_HOSTS)
    backend = launcher.backend(dns_server.port, NAMESPACE="dead.test", WORKER_PORT=str(worker_port))

    response = backend.get("/")

    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "worker_unavailable"
    assert (body["dns_name"], body["failure"]) == ("worker.dead.test", "unreachable")
    assert "worker.dead.test" in body["detail"]
    attempts = body["failed_attempts"]
    assert len(attempts) == 3  # UPSTREAM_MAX_ATTEMPTS, although 8 addresses were offered
    assert all(attempt["error"] == "connection refused" for attempt in attempts)
    assert "Traceback" not in response.text
    assert backend.get("/health").status_code == 200  # the backend itself stays healthy


def test_nxdomain_gives_503_naming_the_dns_name(launcher, dns_server, worker_port):
    backend = launcher.backend(dns_server.port, NAMESPACE="missing.test", WORKER_PORT=str(worker_port))

    response = backend.get("/")

    assert response.status_code == 503
    body = response.json()
    assert (body["dns_name"], body["failure"]) == ("worker.missing.test", "nxdomain")
    assert "worker.missing.test" in body["detail"]
    assert body["failed_attempts"] == []


def test_silent_dns_server_gives_503_after_the_resolver_lifetime(launcher, worker_port):
    with LoopbackDnsServer() as silent_dns:
        silent_dns.set_records("worker.corp", a=[WORKER_HOSTS[0]])
        silent_dns.silent = True
        backend = launcher.backend(silent_dns.port, NAMESPACE="corp", WORKER_PORT=str(worker_port), DNS_LIFETIME="1")

        response = backend.get("/")  # bounded by CLIENT_TIMEOUT; the backend gives up after DNS_LIFETIME

        assert response.status_code == 503
        body = response.json()
        assert (body["dns_name"], body["failure"]) == ("worker.corp", "dns_timeout")
        assert silent_dns.queries("worker.corp")  # it did ask, nobody answered


def test_hanging_worker_is_skipped_after_the_read_timeout(
    launcher, dns_server, workers, worker_port, hanging_server_factory
):
    hanging_host = SPARE_HOSTS[1]
    hanging_server_factory(hanging_host, worker_port)
    dns_server.set_records("worker.hang.test", a=[hanging_host, WORKER_HOSTS[0]])
    backend = launcher.backend(dns_server.port, NAMESPACE="hang.test", WORKER_PORT=str(worker_port))

    # Until a request happens to start at the hanging address; each does with probability 1/2.
    for _ in range(30):
        response = backend.get("/")
        assert response.status_code == 200
        worker = response.json()["worker"]
        assert worker["address"] == WORKER_HOSTS[0]
        if worker["failed_attempts"]:
            break
    else:
        pytest.fail("no request started at the hanging address")
    assert worker["attempts"] == 2
    assert worker["failed_attempts"] == [{"address": hanging_host, "port": worker_port, "error": "read timeout"}]

    # From then on the hanging address is tried last, so requests no longer wait on it.
    for _ in range(10):
        assert backend.get("/").json()["worker"]["attempts"] == 1


def test_only_hanging_workers_gives_503_within_the_deadline(launcher, dns_server, worker_port, hanging_server_factory):
    hanging_server_factory(SPARE_HOSTS[2], worker_port)
    dns_server.set_records("worker.allhang.test", a=[SPARE_HOSTS[2]])
    backend = launcher.backend(
        dns_server.port, NAMESPACE="allhang.test", WORKER_PORT=str(worker_port), UPSTREAM_DEADLINE="2.5"
    )

    response = backend.get("/")  # bounded by CLIENT_TIMEOUT; the backend's own deadline is 2.5 s

    assert response.status_code == 503
    body = response.json()
    assert body["failure"] == "unreachable"
    # READ_TIMEOUT 1 s within a 2.5 s deadline: at most three attempts, each a read timeout.
    assert 1 <= len(body["failed_attempts"]) <= 3
    assert {attempt["error"] for attempt in body["failed_attempts"]} == {"read timeout"}


def test_worker_error_status_gives_502_with_what_it_said(launcher, dns_server, worker_port, static_server_factory):
    static_server_factory(SPARE_HOSTS[13], worker_port, 500, b"boom: database gone")
    dns_server.set_records("worker.broken.test", a=[SPARE_HOSTS[13]])
    backend = launcher.backend(dns_server.port, NAMESPACE="broken.test", WORKER_PORT=str(worker_port))

    response = backend.get("/")

    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "bad_gateway"
    assert (body["worker"]["address"], body["worker"]["status"]) == (SPARE_HOSTS[13], 500)
    assert body["worker"]["response"] == "boom: database gone"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "text"),  # deeper than the parser's recursion
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "text"),  # deeper than 32 levels
        (
            b'{"load": NaN, "max": Infinity, "min": -Infinity, "big": 1e999}',
            {"load": None, "max": None, "min": None, "big": None},
        ),
        (b"{not json", "text"),
        (b"\xff\xfe garbage", "text"),
    ],
    ids=["recursion", "too-deep", "non-finite", "malformed", "not-utf8"],
)
def test_a_hostile_json_answer_is_shown_not_fatal(
    launcher, dns_server, worker_port, static_server_factory, body: bytes, shown: object
):
    # GIVEN a worker answering 200 with JSON the backend cannot or must not pass on as it is
    static_server_factory(SPARE_HOSTS[12], worker_port, 200, body, "application/json")
    dns_server.set_records("worker.hostile.test", a=[SPARE_HOSTS[12]])
    backend = launcher.backend(dns_server.port, NAMESPACE="hostile.test", WORKER_PORT=str(worker_port))
    # WHEN / is called
    response = backend.get("/")
    # THEN it answers 200 with strict JSON: the answer parsed within bounds, or shown as text
    assert response.status_code == 200, response.text
    answer = json.loads(response.text, parse_constant=lambda constant: pytest.fail(f"{constant} in the JSON"))
    if shown == "text":
        assert isinstance(answer["worker"]["response"], str)
    else:
        assert answer["worker"]["response"] == shown


def test_oversized_worker_answer_is_not_read_into_memory(launcher, dns_server, worker_port, static_server_factory):
    static_server_factory(SPARE_HOSTS[14], worker_port, 200, b"x" * (2 * 1024 * 1024))  # limit: 1 MiB
    dns_server.set_records("worker.huge.test", a=[SPARE_HOSTS[14]])
    backend = launcher.backend(dns_server.port, NAMESPACE="huge.test", WORKER_PORT=str(worker_port))

    response = backend.get("/")

    assert response.status_code == 503
    errors = {attempt["error"] for attempt in response.json()["failed_attempts"]}
    assert errors == {"response larger than 1048576 bytes"}


def test_changed_dns_answer_is_used_after_the_ttl_and_not_before(launcher, dns_server, workers, worker_port):
    name, ttl = "worker.ttl.test", 2
    old_host, new_host = WORKER_HOSTS[0], WORKER_HOSTS[2]
    dns_server.set_records(name, a=[old_host], ttl=ttl)
    backend = launcher.backend(dns_server.port, NAMESPACE="ttl.test", WORKER_PORT=str(worker_port))

    assert backend.get("/").json()["worker"]["address"] == old_host
    first_lookup = dns_server.queries(name, "A")[0].received_at
    dns_server.set_records(name, a=[new_host], ttl=ttl)

    responses = []  # (started, finished, address)
    for _ in range(200):  # bounded: the new address shows up after about `ttl` seconds
        started = time.monotonic()
        address = backend.get("/").json()["worker"]["address"]
        responses.append((started, time.monotonic(), address))
        if address == new_host:
            break
        time.sleep(0.05)
    assert responses[-1][2] == new_host

    lookups = [query.received_at for query in dns_server.queries(name, "A")]
    assert len(lookups) == 2  # one lookup per TTL, not per request
    assert lookups[1] - first_lookup >= ttl  # the cached answer was not dropped early
    # Causal, not timing, checks: a response finished before the TTL ran out must come from
    # the cache (old address); one started after the second lookup must use its answer.
    before_expiry = [address for _, finished, address in responses if finished < first_lookup + ttl]
    assert before_expiry and set(before_expiry) == {old_host}
    # The loop stopped at the first new answer, whose own request made the second lookup, so the
    # calls that start after that lookup are made here.
    assert [backend.get("/").json()["worker"]["address"] for _ in range(3)] == [new_host] * 3


@pytest.mark.parametrize("srv_additional", [True, False], ids=["targets-in-additional", "targets-looked-up"])
def test_port_from_srv_records_when_worker_port_is_unset(launcher, workers, worker_port, srv_additional):
    # A second port proves the port comes from each SRV record, not from a setting.
    other_host = SPARE_HOSTS[0]
    other_port = free_port([other_host])
    launcher.worker(other_host, other_port)
    with LoopbackDnsServer(srv_additional=srv_additional) as srv_dns:
        srv_dns.set_records(
            "worker.corp",
            a=[WORKER_HOSTS[0], other_host],
            srv=[SrvRecord("task-a.worker.corp", worker_port), SrvRecord("task-b.worker.corp", other_port)],
        )
        srv_dns.set_records("task-a.worker.corp", a=[WORKER_HOSTS[0]])
        srv_dns.set_records("task-b.worker.corp", a=[other_host])
        backend = launcher.backend(srv_dns.port, NAMESPACE="corp")  # no WORKER_PORT

        seen = set()
        for _ in range(40):
            response = backend.get("/")
            assert response.status_code == 200
            worker = response.json()["worker"]
            assert worker["response"]["identity"]["port"] == worker["port"]
            seen.add((worker["address"], worker["port"]))
        assert seen == {(WORKER_HOSTS[0], worker_port), (other_host, other_port)}
        assert srv_dns.queries("worker.corp", "SRV")
        assert not srv_dns.queries("worker.corp", "A")  # addresses come from the SRV targets
        target_lookups = srv_dns.queries("task-a.worker.corp", "A")
        assert bool(target_lookups) is (not srv_additional)


def test_worker_killed_while_traffic_runs_loses_no_request(launcher, dns_server, worker_port):
    hosts = SPARE_HOSTS[3:6]
    killable = [launcher.worker(host, worker_port) for host in hosts]
    dns_server.set_records("worker.kill.test", a=hosts)
    backend = launcher.backend(dns_server.port, NAMESPACE="kill.test", WORKER_PORT=str(worker_port))

    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    killed = threading.Event()

    def client(index: int) -> None:
        for request_number in range(40):
            if index == 0 and request_number == 10:
                killable[0].process.kill()  # SIGKILL: a crashed task, its connections reset
                killed.set()
            response = backend.get("/")
            address = response.json().get("worker", {}).get("address") if response.ok else None
            with lock:
                results.append((response.status_code, address if killed.is_set() else None))

    run_threads(6, client)

    assert len(results) == 240
    assert [status for status, _ in results if status != 200] == []
    assert killed.is_set()
    # After the kill the traffic went to the two survivors.
    after_kill = {address for _, address in results[-60:]}
    assert after_kill <= set(hosts[1:])


# -- Service Connect: the alias is in the task's hosts file (ECS writes it) -------------------------


def test_service_connect_alias_in_the_hosts_file_reaches_the_proxy_although_dns_has_no_such_name(
    launcher, dns_server, tmp_path
):
    # GIVEN a real worker where Service Connect's proxy would listen (a 127.255.x.x address in the
    # task), the alias only in the hosts file, and DNS answering NXDOMAIN for it
    proxy_host = "127.255.0.9"
    port = free_port([proxy_host])
    launcher.worker(proxy_host, port)
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{proxy_host}\tworker.sc.test # Service Connect alias\n")
    dns_server.remove("worker.sc.test")
    backend = launcher.backend(
        dns_server.port,
        WORKER_HOST="worker.sc.test",
        WORKER_PORT=str(port),
        DNS_HOSTS_FILE=str(hosts),
        UPSTREAM_ALLOW_LOOPBACK="false",  # as with the VPC resolver: loopback only from the hosts file
    )

    response = backend.get("/")

    # THEN the call went to the proxy's address (before: 503 nxdomain)
    assert response.status_code == 200, response.text
    worker = response.json()["worker"]
    assert (worker["address"], worker["port"]) == (proxy_host, port)
    assert worker["response"]["identity"]["address"] == proxy_host
    assert dns_server.queries("worker.sc.test") == []


# -- blue/green test traffic (issue 24) ----------------------------------------------------------------


def _echo_worker(host: str, port: int) -> LoopbackHttpServer:
    """A worker that answers with the headers it was sent, as JSON."""

    def respond(request: Request) -> Response:
        body = json.dumps(
            {"service": "worker", "headers": {key.lower(): value for key, value in request.headers.items()}}
        )
        return Response(200, body.encode(), "application/json")

    return LoopbackHttpServer(respond, host=host, port=port).start()


@pytest.fixture
def echo_worker(dns_server) -> Iterator[tuple[LoopbackHttpServer, str]]:
    host = "127.0.0.31"
    server = _echo_worker(host, free_port([host]))
    dns_server.set_records("worker.bluegreen.test", a=[host], ttl=30)
    try:
        yield server, "worker.bluegreen.test"
    finally:
        server.close()


def test_the_test_traffic_header_is_passed_on_to_the_worker_value_and_all(launcher, dns_server, echo_worker):
    # GIVEN a backend calling a worker that shows what it received
    worker, name = echo_worker
    backend = launcher.backend(dns_server.port, WORKER_HOST=name, WORKER_PORT=str(worker.port))

    # WHEN a smoke test calls the backend with ECS's test header, and a user calls it without
    smoke = backend.get("/", headers={"x-amzn-ecs-blue-green-test": "smoke 42", "X-Request-Id": "smoke-1"})
    user = backend.get("/", headers={"X-Request-Id": "user-1"})

    # THEN only the smoke test's call to the worker carries it, with its value (Service Connect
    # sends that call to the green worker)
    assert smoke.status_code == user.status_code == 200
    assert smoke.json()["worker"]["response"]["headers"]["x-amzn-ecs-blue-green-test"] == "smoke 42"
    assert "x-amzn-ecs-blue-green-test" not in user.json()["worker"]["response"]["headers"]
    sent = [request.headers for request in worker.requests]
    assert [headers.get("x-amzn-ecs-blue-green-test") for headers in sent] == ["smoke 42", None]
    lines = {line["request_id"]: line for line in backend.log_lines() if line.get("event") == "request"}
    assert lines["smoke-1"]["test_traffic"] is True
    assert "test_traffic" not in lines["user-1"]


def test_a_deployment_with_its_own_test_header_is_followed(launcher, dns_server, echo_worker):
    worker, name = echo_worker
    backend = launcher.backend(
        dns_server.port, WORKER_HOST=name, WORKER_PORT=str(worker.port), TEST_TRAFFIC_HEADER="x-smoke"
    )

    response = backend.get("/", headers={"X-Smoke": "1", "x-amzn-ecs-blue-green-test": "ignored"})

    assert response.status_code == 200
    headers = response.json()["worker"]["response"]["headers"]
    assert headers["x-smoke"] == "1"
    assert "x-amzn-ecs-blue-green-test" not in headers


@pytest.mark.parametrize("value", [b"", b"caf\xc3\xa9", b"\xff", b"a" * 257, b"tab\tinside"])
def test_a_malformed_test_header_is_a_400_and_the_worker_is_not_called(launcher, dns_server, echo_worker, value):
    worker, name = echo_worker
    backend = launcher.backend(dns_server.port, WORKER_HOST=name, WORKER_PORT=str(worker.port))

    response = backend.get("/", headers={"x-amzn-ecs-blue-green-test": value})

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_request"
    assert "x-amzn-ecs-blue-green-test" in body["detail"]
    assert worker.requests == []
    assert "Traceback" not in backend.log_path.read_text(errors="replace")


def test_a_control_character_in_the_test_header_is_refused_by_gunicorn_before_the_app(
    launcher, dns_server, echo_worker
):
    worker, name = echo_worker
    backend = launcher.backend(dns_server.port, WORKER_HOST=name, WORKER_PORT=str(worker.port))

    response = backend.get("/", headers={"x-amzn-ecs-blue-green-test": b"x\x01y"})

    assert response.status_code == 400
    assert worker.requests == []
    assert backend.get("/health").status_code == 200
