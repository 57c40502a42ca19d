"""Schemathesis hooks for Writers (loaded through SCHEMATHESIS_HOOKS).

- Pattern mutations that Schemathesis leaves valid are completed (see the function's doc).
- Refresh runs with a fresh user's refresh token per case; the shared identity that every other
  operation uses signs in again after a fuzzed logout ends its session (schemathesis.toml).
- Fuzzed logins never name the shared identity with a wrong password (`spare_the_shared_identity`).
- A task's file and result are asked for, in half the positive cases, of a task that has them
  (FUZZ_TASK_ID, made by the harness); see `point_at_a_processed_task`. The same half of the
  positive cases that edit, delete, restore or add a draft to a task name a task of the shared
  identity made for that case (`point_at_a_task_of_ones_own`).
- What acts on the caller's own account (edit it, delete it, change its password, end its
  sessions) runs as a user registered for the case, never as the shared identity; the positive
  cases send that user's real password (`act_on_an_account_of_its_own`).
- Every other administrator case runs as the administrator the harness promoted
  (FUZZ_ADMIN_TOKEN), and changes no account but FUZZ_ADMIN_TARGET_ID (`act_as_the_administrator`).
- The first positive confirmations of a password reset spend the real tokens the harness read
  from LocalStack's mail (FUZZ_RESET_TOKENS); see `spend_a_reset_token`.
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


FRESH_PASSWORD = "fuzzing password"


def fresh_user() -> tuple[str, str, str]:
    """Registers a new user and returns its email, access token and refresh token."""
    tag = uuid.uuid4().hex[:12]
    email = f"fuzz-{tag}@example.com"
    body = json.dumps({"email": email, "username": f"fuzz_{tag}", "password": FRESH_PASSWORD}).encode()
    request = urllib.request.Request(
        f"{BASE_URL}/auth/register", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        jar = http.cookies.SimpleCookie()
        for header in response.headers.get_all("set-cookie") or []:
            jar.load(header)
    return email, jar["access_token"].value, jar["refresh_token"].value


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


def valid_draft_form(body) -> bool:
    """The multipart draft form's rules: one non-empty `file`, nothing else."""
    if not isinstance(body, dict) or set(body) != {"file"}:
        return False
    return isinstance(body["file"], (bytes, str)) and len(body["file"]) > 0


def on_the_wire(body):
    """The form as multipart serialisation sends it: a member whose value is null or a nested
    object or list travels as no part at all (seen: a draft form with an extra member reached the
    server as the file alone, and was accepted as the valid form it had become)."""
    if not isinstance(body, dict):
        return body
    return {k: v for k, v in body.items() if isinstance(v, (str, bytes, int, float, bool))}


def ensure_negative_multipart_is_invalid(case):
    """A negative multipart case that is still valid on the wire is made invalid by the document's
    own rules: an invalid title for the task form, an empty file for the draft form.

    Whatever Schemathesis' mutation meant (an extra member, dropping a required field, a type, a
    pattern), multipart serialisation can undo it, and the server is then judged for accepting
    valid data.
    """
    mode = getattr(getattr(getattr(case, "meta", None), "generation", None), "mode", None)
    negative = str(getattr(mode, "value", mode)).lower() == "negative"
    if not negative or not (case.media_type or "").startswith("multipart/form-data"):
        return
    if valid_task_form(on_the_wire(case.body)):
        case.body["title"] = UNTYPED_INVALID["title"]
    elif valid_draft_form(on_the_wire(case.body)):
        case.body["file"] = UNTYPED_INVALID["file"]


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


def sign_in(email: str, password: str) -> str:
    """A new session of the account, through the OAuth2 password flow; returns its access token."""
    body = f"username={urllib.parse.quote(email)}&password={urllib.parse.quote(password)}"
    request = urllib.request.Request(
        f"{BASE_URL}/auth/token",
        data=body.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def shared_token() -> str:
    """The shared identity's access token, signed in once (Schemathesis holds its own)."""
    if not SHARED_TOKEN:
        SHARED_TOKEN.append(sign_in(SHARED_EMAIL, SHARED_PASSWORD))
    return SHARED_TOKEN[0]


def request_as(token: str, method: str, path: str, body: dict | None = None) -> dict:
    """A request with `token`; returns its JSON answer (empty for a 204)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{BASE_URL}{path}",
        data=data,
        method=method,
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def own_task(method: str = "POST", path: str = "/api/v1/tasks", body: dict | None = None) -> dict:
    """A request as the shared identity; returns its JSON answer (empty for a 204)."""
    return request_as(shared_token(), method, path, body)


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


def carries_the_shared_identity(case) -> bool:
    """Whether Schemathesis signed the case in as the shared identity (not one of its auth probes)."""
    return bool(getattr(case, "_has_explicit_auth", False))


def act_as(case, token: str):
    """The case is sent with `token` in place of the shared identity's.

    Set in place, as Schemathesis set its own: the credential is no generated header, and replacing
    the container would have the case's generated headers judged again.
    """
    case.headers["Authorization"] = f"Bearer {token}"


# What a person does to their own account. Each such case runs as an account registered for it.
ON_A_FRESH_ACCOUNT = {
    ("PATCH", "/auth/me"),
    ("DELETE", "/auth/me"),
    ("POST", "/auth/password"),
    ("DELETE", "/auth/sessions"),
    ("DELETE", "/auth/sessions/{session_id}"),
}
# The member that asks for the current password, where the document requires one.
PASSWORD_MEMBER = {("DELETE", "/auth/me"): "password", ("POST", "/auth/password"): "current_password"}


def act_on_an_account_of_its_own(case):
    """A case that acts on the caller's own account runs as a user registered for it.

    As the shared identity, a generated password is wrong and counts towards the login lockout of
    its email (ten lock Schemathesis' own sign-in out); a right one would delete the identity,
    change its password or change the email it signs in with; and ending its other sessions would
    end the one these hooks make tasks with. Schemathesis' probes with missing or forged
    credentials carry no identity and are left as they are.

    Positive cases send the new user's real password wherever one is asked for, and with every new
    email, which needs it: valid data then reaches the 2xx, not the 400 of a wrong password (that
    has its own tests). A made-up time zone is no IANA name (422), so they name the document's
    example. Every other positive `DELETE /auth/sessions/{session_id}` names the user's second
    session, signed in for it; the rest name a generated id (404).
    """
    operation = (case.operation.method.upper(), case.operation.path)
    if operation not in ON_A_FRESH_ACCOUNT or not carries_the_shared_identity(case):
        return
    email, token, _ = fresh_user()
    act_as(case, token)
    if not positive(case):
        return
    body = case.body if isinstance(case.body, dict) else {}
    if PASSWORD_MEMBER.get(operation) in body:
        body[PASSWORD_MEMBER[operation]] = FRESH_PASSWORD
    if operation == ("PATCH", "/auth/me"):
        if "email" in body or "current_password" in body:
            body["current_password"] = FRESH_PASSWORD
        if "time_zone" in body:
            body["time_zone"] = "Europe/London"
    if operation == ("DELETE", "/auth/sessions/{session_id}"):
        TURN[operation] += 1
        if TURN[operation] % 2 == 0:
            sign_in(email, FRESH_PASSWORD)  # a second session: the one this case ends
            sessions = request_as(token, "GET", "/auth/sessions")["sessions"]
            other = next(session["id"] for session in sessions if not session["current"])
            case.path_parameters = {**(case.path_parameters or {}), "session_id": other}


ADMIN_TOKEN = os.environ.get("FUZZ_ADMIN_TOKEN")
ADMIN_TARGET = os.environ.get("FUZZ_ADMIN_TARGET_ID")
ADMINISTRATION = {("GET", "/admin/users"), ("PATCH", "/admin/users/{user_id}"), ("GET", "/admin/audit")}


def is_uuid(value) -> bool:
    """Whether `value` reads as a UUID: Python takes every spelling the server takes, and more."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def act_as_the_administrator(case):
    """Every other administrator case runs as the administrator, and names no account but the target.

    The shared identity is no administrator (403). As the administrator, positive cases reach the
    200 and negative ones the validation only an administrator's request gets to. Schemathesis
    reuses the ids it has seen (`GET /admin/users` lists every account's), so a well-formed user id
    is replaced by FUZZ_ADMIN_TARGET_ID's, an account registered for nothing else: a deactivated
    shared identity would end the run, and the administrator, once the target is promoted, may be
    deactivated too, which ends its sessions.
    """
    operation = (case.operation.method.upper(), case.operation.path)
    if not (ADMIN_TOKEN and ADMIN_TARGET) or operation not in ADMINISTRATION:
        return
    if not carries_the_shared_identity(case):
        return
    TURN[operation] += 1
    if TURN[operation] % 2:
        return
    act_as(case, ADMIN_TOKEN)
    if is_uuid((case.path_parameters or {}).get("user_id")):
        case.path_parameters = {**case.path_parameters, "user_id": ADMIN_TARGET}


RESET_TOKENS = [token for token in os.environ.get("FUZZ_RESET_TOKENS", "").split(",") if token]


def spend_a_reset_token(case):
    """The first positive confirmations of a password reset carry a real token, one each, while they last.

    A token travels only by email: the harness asked for one per spare user before the run and read
    them from LocalStack's SES. Each works once, and a newer request for its email voids it, so they
    are spent first. Every later case's made-up token gets the 400 the document gives a spent,
    expired or unknown one (schemathesis.toml).
    """
    operation = (case.operation.method.upper(), case.operation.path)
    confirmation = operation == ("POST", "/auth/password-reset/confirm")
    if RESET_TOKENS and confirmation and positive(case) and isinstance(case.body, dict):
        case.body["token"] = RESET_TOKENS.pop(0)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    spare_the_shared_identity(case)
    complete_naive_pattern_mutations(case)
    ensure_negative_multipart_is_invalid(case)
    point_at_a_processed_task(case)
    point_at_a_task_of_ones_own(case)
    act_on_an_account_of_its_own(case)
    act_as_the_administrator(case)
    spend_a_reset_token(case)
    # Rotating a refresh token ends its family on reuse: give each refresh a family of its own.
    if case.operation.method.upper() == "POST" and case.operation.path == "/auth/refresh":
        _, _, refresh = fresh_user()
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
