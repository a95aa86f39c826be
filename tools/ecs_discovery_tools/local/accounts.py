"""AWS accounts on this machine: which account a request to the local Cloud Map comes from.

In AWS an account is known by the credentials a request is signed with. The local run gives each
app's tasks and clients credentials whose access key ID names the account (``LOCAL`` and the 12
digits; the secret is never checked), so one stand-in can tell the namespace owner's requests from
those of an account the namespace is shared with. A request signed with any other key (the
``testing`` key the single-account run hands out) is the stand-in's own account's.
"""

from __future__ import annotations

import re

__all__ = ["ACCOUNT", "access_key_id", "arn_parts", "check_account", "credentials_of", "request_account"]

#: An AWS account ID (botocore's model: AWSAccountId, fixed length 12; AWS issues digits only).
ACCOUNT = re.compile(r"[0-9]{12}")
_ACCESS_KEY = re.compile(r"LOCAL(?P<account>[0-9]{12})")
# SigV4: "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=..., ..."
_CREDENTIAL = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]{1,128})/[0-9]{8}/[a-z0-9-]{1,40}/"
    r"(?P<service>[a-z0-9-]{1,40})/aws4_request,.*",
    re.DOTALL,
)
# arn:<partition>:servicediscovery:<region>:<account>:<kind>/<id>
_ARN = re.compile(
    r"arn:[a-z-]{3,20}:servicediscovery:(?P<region>[a-z0-9-]{1,40}):(?P<account>[0-9]{12}):"
    r"(?P<kind>namespace|service)/(?P<id>(?:ns|srv)-[A-Za-z0-9]{1,64})"
)
_SECRET = "testing"


def check_account(text: str, option: str) -> str:
    """``text`` when it is an account ID; ValueError naming ``option`` otherwise."""
    if not isinstance(text, str) or not ACCOUNT.fullmatch(text):
        raise ValueError(f"{option} {text!r:.40} is not an AWS account ID: expected 12 digits, such as 111111111111")
    return text


def access_key_id(account: str) -> str:
    return f"LOCAL{check_account(account, 'account')}"


def credentials_of(account: str) -> dict[str, str]:
    """The credentials the local run signs ``account``'s requests with (AWS_* variables)."""
    return {"AWS_ACCESS_KEY_ID": access_key_id(account), "AWS_SECRET_ACCESS_KEY": _SECRET}


def request_account(authorization: object, *, default: str) -> tuple[str, str]:
    """(account, signing service) of a request from its ``Authorization`` header: the account its access
    key names, else ``default``; the service from the credential scope ("" when unsigned or unreadable)."""
    found = _CREDENTIAL.fullmatch(authorization) if isinstance(authorization, str) else None
    if found is None:
        return default, ""
    named = _ACCESS_KEY.fullmatch(found["key"])
    return (named["account"] if named else default), found["service"]


def arn_parts(text: object, kind: str) -> tuple[str, str, str] | None:
    """(region, account, ID) of a Cloud Map ``kind`` ARN (``namespace`` or ``service``); None otherwise."""
    found = _ARN.fullmatch(text) if isinstance(text, str) else None
    if found is None or found["kind"] != kind:
        return None
    return found["region"], found["account"], found["id"]
