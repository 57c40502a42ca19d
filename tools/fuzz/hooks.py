"""Schemathesis hooks for Writers (loaded through SCHEMATHESIS_HOOKS).

- Pattern mutations that Schemathesis leaves valid are completed (see the function's doc).
- Refresh runs with a fresh user's refresh token per case; the shared identity that every other
  operation uses signs in again after a fuzzed logout ends its session (schemathesis.toml).
- Fuzzed logins never name the shared identity with a wrong password (`spare_the_shared_identity`).
- A task's file and result are asked for, in half the positive cases, of a task that has them
  (FUZZ_TASK_ID, made by the harness); see `point_at_a_processed_task`. The same half of the
  positive cases that edit, delete, restore or add a draft to a task name a task of the shared
  identity made for that case (`point_at_a_task_of_ones_own`).
- Every answer is counted per operation; at exit the counts are written to FUZZ_REPORT, and the
  harness fails the run if any operation never got a 2xx.
"""

import atexit
import collections
import http.cookies
import json
import os
import re
import urllib.parse
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


TITLE = re.compile(r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f\ufeff][^\x00-\x1f\x7f-\x9f]*$")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)


def valid_task_form(body) -> bool:
    """The multipart task form's rules, as openapi.json states them."""
    if not isinstance(body, dict) or set(body) - {"title", "description", "due_date", "file"}:
        return False
    title, description, due_date, file = (body.get(k) for k in ("title", "description", "due_date", "file"))
    return (
        isinstance(title, str) and len(title) <= 255 and bool(TITLE.match(title))
        and (description is None or (isinstance(description, str) and len(description) <= 10_000))
        and (due_date is None or (isinstance(due_date, str) and bool(DATE_TIME.match(due_date))))
        and (file is None or (isinstance(file, (bytes, str)) and len(file) > 0))
    )


def ensure_negative_multipart_is_invalid(case):
    """A negative multipart case that is still valid on the wire gets an invalid title.

    Whatever Schemathesis' mutation meant (dropping a required field, a type, a pattern), multipart
    serialisation can undo it, and the server is then judged for accepting valid data.
    """
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    negative = str(getattr(mode, "value", mode)).lower() == "negative"
    if negative and (case.media_type or "").startswith("multipart/form-data") and valid_task_form(case.body):
        case.body["title"] = UNTYPED_INVALID["title"]


PROCESSED_TASK = os.environ.get("FUZZ_TASK_ID")
SPARE_TASK = os.environ.get("FUZZ_SPARE_TASK_ID")
WITH_A_FILE_AND_RESULT = {
    "/api/v1/tasks/{task_id}/file",
    "/api/v1/tasks/{task_id}/result",
    "/api/v1/tasks/{task_id}/drafts",
    "/api/v1/tasks/{task_id}/drafts/{number}/file",
    "/api/v1/tasks/{task_id}/drafts/{number}/result",
}
TURN = collections.Counter()


def positive(case) -> bool:
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    return str(getattr(mode, "value", mode)).lower() == "positive"


def point_at_a_processed_task(case):
    """Every other positive case for a task's file or result names a task that has both.

    A generated UUID names no task (404), and a task the stateful phase has just created has no
    result until the processor finishes, a few milliseconds later (409). Those answers are judged
    too, in the other half of the cases; this half reaches the 200 the document promises.
    """
    if PROCESSED_TASK and positive(case) and case.operation.path in WITH_A_FILE_AND_RESULT:
        TURN[case.operation.path] += 1
        if TURN[case.operation.path] % 2 == 0:
            case.path_parameters = {**(case.path_parameters or {}), "task_id": PROCESSED_TASK}
            if "number" in case.path_parameters:
                case.path_parameters["number"] = 1


SHARED_TOKEN: list[str] = []


def shared_token() -> str:
    """The shared identity's access token, signed in once (Schemathesis holds its own)."""
    if not SHARED_TOKEN:
        body = f"username={urllib.parse.quote(SHARED_EMAIL)}&password={urllib.parse.quote(SHARED_PASSWORD)}"
        request = urllib.request.Request(
            f"{BASE_URL}/auth/token",
            data=body.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            SHARED_TOKEN.append(json.load(response)["access_token"])
    return SHARED_TOKEN[0]


def own_task(method: str = "POST", path: str = "/api/v1/tasks", body: dict | None = None) -> dict:
    """A request as the shared identity; returns its JSON answer (empty for a 204)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{BASE_URL}{path}",
        data=data,
        method=method,
        headers={"authorization": f"Bearer {shared_token()}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


# The operations whose positive cases, every other one, name a task made for the case: a
# generated UUID names no task (404), and one task shared by every case would be trashed, purged
# or kept busy by a draft that never arrives.
ON_A_FRESH_TASK = {
    ("PATCH", "/api/v1/tasks/{task_id}"),
    ("DELETE", "/api/v1/tasks/{task_id}"),
    ("POST", "/api/v1/tasks/{task_id}/drafts"),
    ("POST", "/api/v1/tasks/{task_id}/drafts/uploads"),
}
ON_A_TRASHED_TASK = {("POST", "/api/v1/tasks/{task_id}/restore")}
ON_A_SPARE_DRAFT = {("DELETE", "/api/v1/tasks/{task_id}/drafts/{number}")}


def point_at_a_task_of_ones_own(case):
    """Every other positive case that writes to a task names one of the shared identity's.

    Its `If-Match`, when generated, is dropped: a made-up version is a `412` by design (the tests
    cover it), not the `2xx` the document promises valid data.
    """
    operation = (case.operation.method.upper(), case.operation.path)
    if not positive(case) or operation not in ON_A_FRESH_TASK | ON_A_TRASHED_TASK | ON_A_SPARE_DRAFT:
        return
    TURN[operation] += 1
    if TURN[operation] % 2:
        return
    if operation in ON_A_SPARE_DRAFT:
        if not SPARE_TASK:
            return
        task_id, number = SPARE_TASK, 1
    else:
        task_id = own_task(body={"title": "fuzz"})["id"]
        if operation in ON_A_TRASHED_TASK:
            own_task("DELETE", f"/api/v1/tasks/{task_id}")
        number = None
    case.path_parameters = {**(case.path_parameters or {}), "task_id": task_id}
    if number is not None:
        case.path_parameters["number"] = number
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "if-match"}


SHARED_EMAIL = os.environ.get("FUZZ_EMAIL", "").lower()
SHARED_PASSWORD = os.environ.get("FUZZ_PASSWORD", "")


def spare_the_shared_identity(case):
    """A fuzzed login that names the shared identity with a wrong password names a stranger instead.

    Schemathesis reuses values it saw in responses, such as the shared identity's email from
    `GET /auth/me`, as inputs. Ten wrong passwords then lock that email out for 15 minutes, by design,
    and Schemathesis' own sign-in, repeated every 300 s, gets 429 and stops the run. The lockout has
    its own tests (tests/api/auth_login.rs); here the fuzzer must not lock out the identity it runs as.
    """
    if case.operation.method.upper() != "POST" or case.operation.path not in ("/auth/login", "/auth/token"):
        return
    if not isinstance(case.body, dict) or case.body.get("password") == SHARED_PASSWORD:
        return
    for field in ("email", "username"):
        value = case.body.get(field)
        if SHARED_EMAIL and isinstance(value, str) and value.lower() == SHARED_EMAIL:
            case.body[field] = "fuzz-stranger@example.com"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    spare_the_shared_identity(case)
    complete_naive_pattern_mutations(case)
    ensure_negative_multipart_is_invalid(case)
    point_at_a_processed_task(case)
    point_at_a_task_of_ones_own(case)
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
