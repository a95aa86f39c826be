"""The integration tests' probe: a Lambda function in the VPC's private subnets that looks at the
deployed system the way any client in the VPC does, through the VPC resolver and plain HTTP.

Event (every field optional, each checked in full before anything is looked up or called)::

    {"resolve": ["worker.corp"],                 # up to 8 DNS names: their A and SRV records
     "url": "http://backend.corp:8080/",         # one GET of a service in the VPC
     "pluck": ["services.*.name"]}               # keep only these paths of the JSON answer

Answer: ``{"dns": {name: {"A": [...], "SRV": [...]}}, "call": {"status", "body"}}``. Records come
in DNS presentation format as dnspython writes them (``worker.corp. 10 IN A 10.0.1.5``), so an
assertion can check name, TTL, type and data with one pattern; a name without records gives
``"NXDOMAIN"`` or ``"NOANSWER"``. A bad event gives ``{"error": "bad_request", "detail"}``; the
probe never raises, so the assertion shows what it saw instead of a Lambda error.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import dns.exception
import dns.resolver

# A DNS name of lower-case labels (what Cloud Map namespaces and services are made of).
_NAME = re.compile(r"(?=.{1,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_URL = re.compile(r"http://(?P<host>[a-z0-9.-]{1,253}):(?P<port>[0-9]{1,5})(?P<path>/[A-Za-z0-9/_.-]{0,200})")
_PLUCK = re.compile(r"(?:[A-Za-z0-9_]{1,64}|\*)(?:\.(?:[A-Za-z0-9_]{1,64}|\*)){0,7}")
_MAX_NAMES = 8
_MAX_PLUCK = 8
_MAX_BODY_BYTES = 65536
_DNS_TIMEOUT_SECONDS = 2.0
_DNS_LIFETIME_SECONDS = 4.0
_HTTP_TIMEOUT_SECONDS = 10.0


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        names, url, pluck = _parse(event)
    except ValueError as error:
        return {"error": "bad_request", "detail": str(error)}
    answer: dict[str, Any] = {}
    if names:
        answer["dns"] = {name: _records(name) for name in names}
    if url is not None:
        answer["call"] = _get(url, pluck)
    return answer


def _parse(event: Any) -> tuple[list[str], str | None, list[str]]:
    if not isinstance(event, dict):
        raise ValueError("expected a JSON object")
    unknown = sorted(set(event) - {"resolve", "url", "pluck"})
    if unknown:
        raise ValueError(f"unknown fields {unknown[:5]!r}; expected resolve, url, pluck")
    names = _strings(event.get("resolve", []), "resolve", _NAME, _MAX_NAMES)
    pluck = _strings(event.get("pluck", []), "pluck", _PLUCK, _MAX_PLUCK)
    url = event.get("url")
    if url is not None:
        match = _URL.fullmatch(url) if isinstance(url, str) else None
        if match is None or not 1 <= int(match["port"]) <= 65535:
            raise ValueError(f"url={str(url)[:80]!r}: expected http://<host>:<port 1-65535>/<path>")
    return names, url, pluck


def _strings(value: Any, field: str, pattern: re.Pattern[str], limit: int) -> list[str]:
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError(f"{field}: expected a list of at most {limit} strings")
    for item in value:
        if not isinstance(item, str) or not pattern.fullmatch(item):
            raise ValueError(f"{field}: {str(item)[:80]!r} is not valid")
    return list(value)


def _records(name: str) -> dict[str, Any]:
    resolver = dns.resolver.Resolver()  # /etc/resolv.conf: the VPC's resolver
    resolver.timeout = _DNS_TIMEOUT_SECONDS
    resolver.lifetime = _DNS_LIFETIME_SECONDS
    records: dict[str, Any] = {}
    for rdtype in ("A", "SRV"):
        try:
            answer = resolver.resolve(name + ".", rdtype, search=False)
            rrset = answer.rrset
            records[rdtype] = sorted(rrset.to_text().splitlines()) if rrset is not None else "NOANSWER"
        except dns.resolver.NXDOMAIN:
            records[rdtype] = "NXDOMAIN"
        except dns.resolver.NoAnswer:
            records[rdtype] = "NOANSWER"
        except dns.exception.Timeout:
            records[rdtype] = "TIMEOUT"
        except dns.exception.DNSException as error:
            records[rdtype] = f"ERROR {type(error).__name__}"
    return records


def _get(url: str, pluck: list[str]) -> dict[str, Any]:
    # No proxy: the services answer only inside the VPC.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=_HTTP_TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read(_MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read(_MAX_BODY_BYTES + 1)
    except (OSError, ValueError) as error:
        return {"status": 0, "error": f"{type(error).__name__}: {str(error)[:200]}"}
    if len(raw) > _MAX_BODY_BYTES:
        return {"status": status, "error": f"answer longer than {_MAX_BODY_BYTES} bytes"}
    try:
        body = json.loads(raw)
    except ValueError:
        return {"status": status, "text": raw[:300].decode("utf-8", "replace")}
    if pluck:
        body = {path: _pluck(body, path) for path in pluck}
    return {"status": status, "body": body}


def _pluck(document: Any, path: str) -> Any:
    """The value at a dotted path; ``*`` maps over a list. A list of strings comes back sorted, so
    an expectation does not depend on the order an API listed things in."""
    values, spread = [document], False
    for part in path.split("."):
        if part == "*":
            values = [item for value in values if isinstance(value, list) for item in value]
            spread = True
        else:
            values = [value.get(part) if isinstance(value, dict) else None for value in values]
    if not spread:
        return values[0]
    strings = [value for value in values if isinstance(value, str)]
    return sorted(strings) if len(strings) == len(values) else values
