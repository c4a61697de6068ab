"""Schemathesis hooks for tests/test_fuzz.py, loaded by `st` through SCHEMATHESIS_HOOKS."""

import os

import httpx
import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    """A client changes what it has read: where a generated update or void sends If-Match
    FUZZ_READ_VERSION ("the version I read"), GET the record first and send its ETag
    instead, so that the request gets past the precondition (If-Match: * is refused with
    428) to the code behind it."""
    if (case.headers or {}).get("If-Match") != os.environ["FUZZ_READ_VERSION"]:
        return
    headers = {"X-Forwarded-Proto": "https"}
    if os.environ.get("FUZZ_AUTHORIZATION"):
        headers["Authorization"] = os.environ["FUZZ_AUTHORIZATION"]
    response = httpx.get(os.environ["FUZZ_BASE_URL"] + case.formatted_path, headers=headers,
                         timeout=30)
    if response.status_code == 200:
        case.headers["If-Match"] = response.headers["ETag"]
