"""Schemathesis hooks for Writers (loaded through SCHEMATHESIS_HOOKS).

- Pattern mutations that Schemathesis leaves valid are completed (see the function's doc).
- Refresh runs with a fresh user's refresh token per case; the shared identity that every other
  operation uses signs in again after a fuzzed logout ends its session (schemathesis.toml).
- Every answer is counted per operation; at exit the counts are written to FUZZ_REPORT, and the
  harness fails the run if any operation never got a 2xx.
"""

import atexit
import collections
import http.cookies
import json
import os
import urllib.request
import uuid

import schemathesis

BASE_URL = os.environ["FUZZ_BASE_URL"]
COUNTS: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def fresh_user() -> tuple[str, str]:
    """Registers a new user and returns its access and refresh tokens."""
    tag = uuid.uuid4().hex[:12]
    body = json.dumps(
        {"email": f"fuzz-{tag}@example.com", "username": f"fuzz_{tag}", "password": "fuzzing password"}
    ).encode()
    request = urllib.request.Request(
        f"{BASE_URL}/auth/register", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        jar = http.cookies.SimpleCookie()
        for header in response.headers.get_all("set-cookie") or []:
            jar.load(header)
    return jar["access_token"].value, jar["refresh_token"].value


# For each field of the multipart task form, a value the document rules out.
UNTYPED_INVALID = {
    "title": "a title with a NUL \x00",  # pattern: no control characters
    "description": "d" * 10_001,  # maxLength 10000
    "due_date": "not a date",  # format: date-time
    "file": b"",  # minLength 1
}


def complete_naive_pattern_mutations(case):
    """Make Schemathesis' negative cases actually invalid on the wire.

    Schemathesis 4.32.5 breaks a `pattern` by appending "*" without checking the result
    (`violate_pattern` in specs/openapi/negative/value_channel.py: "naive but effective for typical
    patterns"). Our patterns exclude control characters and accept "*", so that "negative" case is
    valid data, and a server that accepts it was reported as accepting invalid data. Appending a NUL,
    which every pattern in the document excludes, completes the mutation as it was meant: the case
    stays negative and the server is still judged on it.
    """
    data = getattr(getattr(getattr(case, "meta", None), "phase", None), "data", None)
    for mutation in getattr(data, "mutations", ()) or ():
        naive = (
            "pattern" in mutation.keywords
            and isinstance(mutation.original_value, str)
            and mutation.new_value == mutation.original_value + "*"
        )
        field = mutation.schema_pointer.rsplit("/", 1)[-1]
        if naive and isinstance(case.body, dict) and case.body.get(field) == mutation.new_value:
            case.body[field] = mutation.new_value + "\x00"
        # multipart/form-data carries no types: a boolean title travels as the text "true", a valid
        # title. Made invalid the way each form field can be, by the document's own rules.
        untyped = "type" in mutation.keywords and (case.media_type or "").startswith("multipart/form-data")
        if untyped and isinstance(case.body, dict) and field in UNTYPED_INVALID:
            case.body[field] = UNTYPED_INVALID[field]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    complete_naive_pattern_mutations(case)
    # Rotating a refresh token ends its family on reuse: give each refresh a family of its own.
    if case.operation.method.upper() == "POST" and case.operation.path == "/auth/refresh":
        _, refresh = fresh_user()
        case.cookies = {**(case.cookies or {}), "refresh_token": refresh}
        # A real credential, as a registered auth provider would mark it: the auth checks then probe
        # with it removed or replaced, instead of judging it a generated value that was accepted.
        case._has_explicit_auth = True


@schemathesis.hook
def after_call(ctx, case, response):
    COUNTS[f"{case.operation.method.upper()} {case.operation.path}"][response.status_code] += 1


@atexit.register
def write_report():
    report = {op: dict(sorted(statuses.items())) for op, statuses in sorted(COUNTS.items())}
    with open(os.environ["FUZZ_REPORT"], "w") as out:
        json.dump(report, out, indent=2)
