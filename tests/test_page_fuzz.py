"""Bad values in every query parameter and form field a page or an endpoint reads: never a 500.

Every URL of the access-control table (tests/test_access_control.py) is called by the first role
allowed there, and by a superuser and an anonymous caller where they are allowed too, with
each bad value below in every parameter the site reads: as a query string (GET) and as a form
(POST; a page that takes no POST answers 405). Under /api/ every refusal is JSON in the error
shape; pages answer their own error pages.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.test_access_control import ROLES, ROWS, expected, world  # noqa: F401 (a fixture used below)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# Each one broke a page or an endpoint once, or is the kind of value that does.
BAD_VALUES = [
    "²",  # str.isdigit() is true, int() refuses it
    "①",
    "٣",  # an Arabic-Indic digit: int() takes it
    "2027-02-30",  # well formed, no such day
    "2027-13-45T25:61",
    "9" * 30,  # beyond any 64-bit id
    "-1",
    "1e309",
    "x" * 5000,
    "a\x00b",  # PostgreSQL refuses NUL in text
    "a/b",
    "//evil.example/",
    "<script>",
    " ",
]
# Sent alone in each parameter a view reads straight from the URL, not through a form or a
# serializer (which checks every field together), so none hides behind another's refusal: each
# kind of parameter with the values that break its kind.
_ID = ["²", "9" * 30]
_TEXT = ["a\x00b", "a/b"]
READ_ALONE = {
    "date": ["2027-02-30"],
    "week": ["2027-02-30"],
    "page": _ID,
    "shift": _ID,
    "organization": _ID,
    "district": _ID,
    "street": _ID,
    "post_type": _ID,
    "community": _ID + _TEXT,
    "q": _TEXT,
    "code": _TEXT,
    "number": _TEXT,
    "next": [*_TEXT, "²"],
}
# Read besides the filter serializers.
READ_ALONE_API = {name: READ_ALONE[name] for name in ("page", "date", "district", "street", "post_type")}

# Every query parameter and form field any page or endpoint reads (grep request.GET,
# query_params and the forms); test_every_parameter_a_page_reads_is_fuzzed keeps it complete.
PARAMETERS = [
    # pages: filters, paging, check-in links, verification
    "date", "week", "q", "page", "code", "shift", "number", "community", "post_type", "has_space",
    "eligible", "organization", "district", "date_from", "date_to", "next", "order",
    # forms
    "assignment", "latitude", "longitude", "post", "slots", "capacity", "weekdays", "reason",
    "hours", "volunteer_ids", "volunteer_number", "override_reason", "team", "count", "categories",
    "skills", "note", "username", "password", "notify_by_sms", "notify_by_email", "message_language",
    "old_password", "new_password1", "new_password2", "language", "workspace",
    # API query parameters
    "street", "status", "by", "limit", "export", "from", "to", "kind", "state", "action", "actor",
    "volunteer", "token", "page_size", "format",
    # volunteer records: the staff's filters and edit form, change requests, the volunteer's own
    "category", "skill", "insurance_before", "qualification_before", "mobile", "email",
    "emergency_contact_name", "emergency_contact_mobile", "insurance_valid_until", "insurer",
    "insurance_policy_number", "suspended_reason", "release_places", "qualification_type",
    "valid_until", "certificate_number", "policy_number", "proof", "confirm",
    # the dispatch page's search-as-you-type list of communities
    "partial",
]  # fmt: skip

NOT_FUZZED = (
    "admin/",
    "api/schema/",
    "api/docs/",
    "api/redoc/",
)  # the admin; the schema and its two pages take no input


def _callers(row) -> list[tuple[str, str]]:
    """Who calls ``row``: the first role let in (an anonymous caller where anyone is)."""
    allowed = [role for role in ROLES if expected(row, role, "in") in (200, 201, 204, 302)]
    if allowed[:1] == ["anonymous"] and expected(row, "anonymous", "in") == 302:
        allowed = allowed[1:]  # a 302 for an anonymous caller is the log-in page
    return [(role, "in") for role in allowed[:1]]


CASES = [
    pytest.param(row, role, scope, id=f"{row.method} {row.path} as {role}")
    for row in ROWS
    if not row.route.startswith(NOT_FUZZED)
    for role, scope in _callers(row)
]


def _client(people, role: str) -> Client:
    client = Client(raise_request_exception=False)
    user = people["users"][role]
    if user is not None:
        client.force_login(user)
    return client


def _path(people, row, scope: str) -> str:
    if not row.obj:
        return row.path
    in_id, out_id = people["objects"][row.obj]
    return row.path.format(id=in_id if scope == "in" else out_id)


def _check(response, method: str, path: str, value: str) -> str | None:
    where = f"{method} {path} with {value[:30]!r}: {response.status_code}"
    if response.status_code >= 500:
        return where
    if path.startswith("/api/") and response.status_code >= 400:
        if response.get("Content-Type") != "application/json":
            return f"{where} answered {response.get('Content-Type')}"
        if set(response.json()) != {"code", "message", "details"}:
            return f"{where} answered {response.json()}"
    return None


@pytest.mark.parametrize(("row", "role", "scope"), CASES)
def test_bad_values_never_make_a_server_error(world, row, role, scope):  # noqa: F811 (the fixture)
    client = _client(world, role)
    path = _path(world, row, scope)
    failures = []
    api = path.startswith("/api/")
    for value in BAD_VALUES:
        params = dict.fromkeys(PARAMETERS, value)
        if row.method == "GET":
            failures.append(_check(client.get(path, params), "GET", path, value))
        if api and row.method != "GET":
            response = client.generic(row.method, path, json.dumps(params), "application/json")
            failures.append(_check(response, f"{row.method} json", path, value))
        elif not api:
            # Every page's form, and a POST to a page that only reads (405), gets the same values.
            failures.append(_check(client.post(path, params), "POST", path, value))
    if row.method == "GET":
        for name, values in (READ_ALONE_API if api else READ_ALONE).items():
            for value in values:
                failures.append(_check(client.get(path, {name: value}), "GET", f"{path}?{name}=", value))
    assert [failure for failure in failures if failure] == []


def test_every_parameter_a_page_reads_is_fuzzed():
    """A parameter read in the code but missing from PARAMETERS fails here."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    read = set()
    for source in [*root.glob("communities/**/*.py"), *root.glob("volunteers/**/*.py")]:
        text = source.read_text()
        read |= set(re.findall(r"request\.(?:GET|POST|query_params|data)\.get\(\s*\"(\w+)\"", text))
        read |= set(re.findall(r"request\.(?:GET|POST|query_params)\[\"(\w+)\"\]", text))
    assert read - set(PARAMETERS) == set()
