"""Bad input is a 4xx, never a 500: every request under /api/ answers JSON in the one error shape
(config/errors.py), every page its own error page."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import path as route
from rest_framework.authtoken.models import Token

from config.parsers import MAX_JSON_BYTES, MAX_JSON_DEPTH
from tests.factories import CommunityFactory, PostFactory, PostTypeFactory, ShiftFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator():
    user = UserFactory(username="errors-coordinator")
    community = CommunityFactory()
    community.coordinators.add(user)
    return user, community


@pytest.fixture
def api(coordinator):
    user, _community = coordinator
    client = Client(raise_request_exception=False)
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/communities/?district=²",
        "/api/v1/communities/?district=①",
        "/api/v1/communities/?street=²",
        "/api/v1/communities/?street=①",
        "/api/v1/communities/?street=99999999999999999999999",
        "/api/v1/shifts/?post_type=①",
        "/api/v1/shifts/?post_type=²",
    ],
)
def test_unicode_digits_in_filters_match_nothing(api, path):
    response = api.get(path)
    assert response.status_code in (200, 404), response.content[:300]
    assert response["Content-Type"] == "application/json"
    if response.status_code == 200:
        assert response.json()["results"] == []
    else:
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("value", ["²", "①"])
def test_unicode_digits_in_the_statistics_district_filter_name_no_district(value):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_superuser=True))
    assert_error(client.get(f"/api/v1/stats/overview/?district={value}"), 404, "not_found")


def test_a_community_id_that_is_not_a_number_is_not_found(api):
    for path in ("/api/v1/communities/abc/roster/", "/api/v1/communities/①/roster/", "/api/v1/communities/abc/"):
        assert_error(api.get(path), 404, "not_found")
    assert_error(api.post("/api/v1/communities/abc/rota/", {}, content_type="application/json"), 404, "not_found")


def test_an_impossible_date_is_invalid(api, coordinator):
    _user, community = coordinator
    body = assert_error(api.get(f"/api/v1/communities/{community.pk}/roster/?date=2027-02-30"), 400, "invalid")
    assert body["details"] == {"date": ["请使用 YYYY-MM-DD 格式。"]}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nonexistent/", 404, "not_found"),
        ("get", "/api/nonexistent", 404, "not_found"),
        ("post", "/api/v1/nonexistent/", 404, "not_found"),
        ("delete", "/api/v1/communities/", 405, "method_not_allowed"),
    ],
)
def test_api_errors_are_json_in_the_error_shape(api, method, path, status, code):
    assert_error(getattr(api, method)(path), status, code)


def test_an_unknown_api_path_answers_json_to_anonymous_callers_too():
    assert_error(Client().get("/api/v1/no/such/thing/"), 404, "not_found")


def test_a_page_that_is_not_found_is_the_404_page():
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "404" in response.content.decode()


def _nested(depth: int) -> str:
    return '{"username": ' + "[" * depth + "]" * depth + ', "password": "x"}'


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_refused_on_the_anonymous_token_endpoint(depth):
    response = Client(raise_request_exception=False).post(
        "/api/v1/auth/token/", _nested(depth), content_type="application/json"
    )
    body = assert_error(response, 400, "malformed_request")
    assert body["details"] == {}


def test_deeply_nested_json_is_refused_on_an_authenticated_endpoint(api, coordinator):
    _user, community = coordinator
    shift = ShiftFactory(post=PostFactory(community=community))
    payload = '{"reason": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api.post(f"/api/v1/shifts/{shift.pk}/cancel/", payload, content_type="application/json")
    assert_error(response, 400, "malformed_request")
    shift.refresh_from_db()
    assert shift.status == "open"


def test_json_nested_up_to_the_limit_is_read(api, coordinator):
    _user, community = coordinator
    shift = ShiftFactory(post=PostFactory(community=community))
    # Depth 1 is the object itself; the value is nested to the limit. The serializer refuses a
    # list as a reason, in the error shape: the parser let it through.
    depth = MAX_JSON_DEPTH - 1
    payload = '{"reason": ' + "[" * depth + "]" * depth + "}"
    response = api.post(f"/api/v1/shifts/{shift.pk}/cancel/", payload, content_type="application/json")
    assert_error(response, 400, "invalid")


def test_brackets_inside_strings_do_not_count_as_nesting(api, coordinator):
    _user, community = coordinator
    shift = ShiftFactory(post=PostFactory(community=community))
    reason = '[[{{"\\"' * 25  # 175 characters, the reason's limit is 200
    response = api.post(
        f"/api/v1/shifts/{shift.pk}/cancel/", json.dumps({"reason": reason}), content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]
    shift.refresh_from_db()
    assert shift.status == "cancelled"


def test_a_json_body_over_the_size_limit_is_refused():
    payload = '{"username": "' + "x" * MAX_JSON_BYTES + '", "password": "x"}'
    response = Client(raise_request_exception=False).post(
        "/api/v1/auth/token/", payload, content_type="application/json"
    )
    assert_error(response, 413, "request_too_large")


def test_post_type_filter_with_unicode_digits_on_the_browse_page(coordinator):
    PostTypeFactory()
    user, _community = coordinator
    client = Client(raise_request_exception=False)
    client.force_login(user)
    for value in ("²", "①"):
        assert client.get(f"/shifts/?community={value}&post_type={value}").status_code == 200


def test_too_many_form_fields_on_the_api_is_json_in_the_error_shape(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"field{n}": "x" for n in range(20)}
    response = Client(raise_request_exception=False).post("/api/v1/auth/token/", fields)
    assert_error(response, 400, "malformed_request")


def test_too_many_form_fields_on_a_page_is_the_400_page(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"field{n}": "x" for n in range(20)}
    response = Client(raise_request_exception=False).post("/accounts/login/", fields)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "400" in response.content.decode()


def _detail_rows():
    from tests.test_access_control import ROWS

    return [row for row in ROWS if row.path.startswith("/api/") and "{id}" in row.path]


@pytest.mark.parametrize("row", _detail_rows(), ids=lambda row: f"{row.method} {row.path}")
def test_an_api_object_id_that_is_no_id_names_nothing(row):
    """Every detail route under /api/, with an id that is text, a unicode digit, or past 64 bits."""
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_superuser=True))
    for bad in ("abc", "①", "²", "9" * 30, "0", "-1"):
        path = row.path.format(id=bad)
        response = client.generic(row.method, path, json.dumps(row.data), "application/json")
        assert response.status_code in (400, 404, 405), (path, response.status_code, response.content[:200])
        assert response["Content-Type"] == "application/json", path
        assert set(response.json()) == {"code", "message", "details"}


@pytest.mark.parametrize("query", ["q=a%00b", "a%00=1", "date=%00"])
def test_a_nul_byte_in_a_query_string_is_a_bad_request(coordinator, query):
    """PostgreSQL refuses NUL in text: the coordinator page's search box answered 500 there."""
    user, _community = coordinator
    client = Client(raise_request_exception=False)
    client.force_login(user)
    page = client.get(f"/coordinator/?{query}")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
    assert_error(client.get(f"/api/v1/communities/?{query}"), 400, "malformed_request")


# A URL configuration with one view that fails, under /api/ and as a page, and the project's
# handlers: an error no view caught is still JSON in the error shape under /api/.
def _broken(request):
    raise RuntimeError("a fault no handler expected")


urlpatterns = [
    route("api/v1/broken/", _broken),
    route("broken/", _broken),
]
handler500 = "config.error_views.server_error"


@pytest.mark.urls("tests.test_errors")
def test_an_uncaught_error_under_the_api_is_json_in_the_error_shape():
    client = Client(raise_request_exception=False)
    body = assert_error(client.get("/api/v1/broken/"), 500, "server_error")
    assert "fault" not in body["message"]
    page = client.get("/broken/")
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")
