"""Nothing personal reaches the logs: a journey through the API with every logger at DEBUG (SQL
included) leaves no mobile or ID number in any record, formatted or not, nor on the console."""

from __future__ import annotations

import io
import json
import logging
from datetime import date

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.logging import RedactPersonalData, redact
from tests.factories import OrganizationStaffFactory, ShiftFactory, VolunteerFactory
from volunteers.idcard import make_id_number

pytestmark = pytest.mark.django_db

MOBILE = "13912340001"
ID_NUMBER = make_id_number("320505", date(1994, 2, 3), 77)
STRANGER_MOBILE = "18800001111"
STRANGER_ID = make_id_number("110105", date(1980, 9, 9), 5)
IMPORTED_MOBILE = "13612345678"
SECRETS = [MOBILE, ID_NUMBER, STRANGER_MOBILE, STRANGER_ID, IMPORTED_MOBILE]


def _console_handler() -> logging.Handler:
    return next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactPersonalData) for f in handler.filters)
    )


def _record_text(record: logging.LogRecord, formatters) -> str:
    parts = [formatter.format(record) for formatter in formatters]
    parts += [repr(value) for key, value in vars(record).items() if key not in ("request",)]
    return "\n".join(parts)


def test_a_journey_leaves_no_personal_data_in_the_logs(api_client, caplog):
    cache.clear()
    volunteer = VolunteerFactory(mobile=MOBILE, id_number=ID_NUMBER)
    shift = ShiftFactory()
    staff = OrganizationStaffFactory(organization=volunteer.organization).user
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    console = _console_handler()
    stream = io.StringIO()
    previous_stream = console.setStream(stream)
    try:
        with CaptureQueriesContext(connection):  # SQL with its parameters is logged at DEBUG too
            response = api_client.post(
                "/api/v1/auth/token/", {"username": MOBILE, "password": "pass-Word-123"}, format="json"
            )
            assert response.status_code == 200
            api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
            assert api_client.get("/api/v1/me/").status_code == 200
            signup = api_client.post(f"/api/v1/shifts/{shift.pk}/signup/")
            assert signup.status_code == 201
            assert api_client.post(f"/api/v1/assignments/{signup.json()['id']}/cancel/").status_code == 200
            assert api_client.post("/api/v1/me/id-number/").json() == {"id_number": ID_NUMBER}
            assert api_client.get("/api/v1/me/export/").status_code == 200

            api_client.credentials()
            for _ in range(6):  # five failures, then locked
                response = api_client.post(
                    "/api/v1/auth/token/", {"username": STRANGER_MOBILE, "password": "guess"}, format="json"
                )
            assert response.status_code == 429
            bad = api_client.post("/api/v1/auth/token/", {"username": STRANGER_ID, "password": ""}, format="json")
            assert bad.status_code == 400

            api_client.force_authenticate(staff)
            assert api_client.get(f"/api/v1/shifts/{STRANGER_ID}/?mobile={STRANGER_MOBILE}").status_code == 404
            rows = f"姓名,手机号,身份证号,机构代码\n张三,{IMPORTED_MOBILE},{STRANGER_ID[:17]}0,NOPE\n"
            upload = SimpleUploadedFile("list.csv", rows.encode(), content_type="text/csv")
            assert api_client.post("/api/v1/imports/", {"file": upload}, format="multipart").status_code == 400
            logging.getLogger("volunteers").warning("careless: %s / %s", MOBILE, ID_NUMBER, extra={"who": MOBILE})
    finally:
        console.setStream(previous_stream)
        cache.clear()

    records = caplog.records
    assert len(records) > 50
    names = {record.name for record in records}
    assert {"django.request", "django.db.backends", "volunteers"} <= names
    # The 404 path carried an ID number: it was logged, masked.
    not_found = [r.getMessage() for r in records if r.getMessage().startswith("Not Found:")]
    assert not_found == [f"Not Found: /api/v1/shifts/{STRANGER_ID[:4]}**********{STRANGER_ID[-4:]}/"]
    careless = next(r for r in records if r.getMessage().startswith("careless"))
    assert careless.getMessage() == f"careless: 139****0001 / {ID_NUMBER[:4]}**********{ID_NUMBER[-4:]}"
    assert careless.who == "139****0001"

    formatters = [caplog.handler.formatter, console.formatter]
    for record in records:
        text = _record_text(record, formatters)
        for secret in SECRETS:
            assert secret not in text, (record.name, record.getMessage()[:200])
    console_output = stream.getvalue()
    assert "Not Found: /api/v1/shifts/" in console_output
    for secret in SECRETS:
        assert secret not in console_output
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 13912345678 now", "call 139****5678 now"),
        ("+8613912345678", "139****5678"),
        ("tel:139-1234-5678", "tel:139****5678"),
        ("id=11010519491231002X;", "id=1101**********002X;"),
        ("x11010519491231002x", "x1101**********002x"),
        ("order 12345678901234567890 and 2024-03-01", "order 12345678901234567890 and 2024-03-01"),
        ("'13912345678'", "'139****5678'"),
        ("10012345678 is not a mobile", "10012345678 is not a mobile"),
        # ID numbers written with spaces or dashes, as people type them
        ("id 110105 19491231 002X.", "id 1101**********002X."),
        ("id 110105-19491231-002x", "id 1101**********002x"),
        ("1101 0519 4912 3100 2X", "1101**********002X"),
        ("1234 5678 9012 3456 7890 is longer", "1234 5678 9012 3456 7890 is longer"),
        # query strings: every value, whatever it holds (names, numbers, percent-encoded)
        (
            '"GET /shifts/?q=%E5%BC%A0%E4%B8%89&page=2 HTTP/1.1" 200 512',
            '"GET /shifts/?q=*&page=* HTTP/1.1" 200 512',
        ),
        ("Not Found: /verify/?number=张三+110105+19491231+002X", "Not Found: /verify/?number=*"),
        ("https://x.example/me/calendar.ics?token=abc#top", "https://x.example/me/calendar.ics?token=*#top"),
        ("a=b and c=d", "a=b and c=d"),
        ("/me/?", "/me/?"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_the_filter_masks_arguments_tracebacks_and_extras():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "user %s id %s", (MOBILE, ID_NUMBER), None)
    try:
        raise ValueError(f"bad {ID_NUMBER}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    record.params = (MOBILE, 3)
    record.payload = {"mobile": MOBILE}
    RedactPersonalData().filter(record)
    formatted = logging.Formatter("%(message)s %(params)s %(payload)s").format(record)
    assert MOBILE not in formatted and ID_NUMBER not in formatted
    assert record.args is None
    assert record.params == ("139****0001", 3)
    assert json.dumps(record.payload) == json.dumps({"mobile": "139****0001"})
    assert f"ValueError: bad {ID_NUMBER[:4]}**********{ID_NUMBER[-4:]}" in formatted


def test_records_are_masked_when_created_even_off_the_root_handler():
    logger = logging.getLogger("tests.isolated")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("mobile %s", MOBILE)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert stream.getvalue() == "mobile 139****0001\n"


def test_json_formatter_writes_one_redacted_object_per_line():
    import json
    import logging
    import sys

    from config.jsonlog import JsonFormatter
    from config.logging import RedactPersonalData

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "call %s failed", ("13812345678",), None)
    try:
        raise ValueError("id 11010519491231002X")
    except ValueError:
        record.exc_info = sys.exc_info()
    RedactPersonalData().filter(record)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert "13812345678" not in line
    assert "11010519491231002X" not in line
    assert "ValueError" in entry["exception"]


def test_a_request_line_with_a_query_string_is_masked_in_the_server_log():
    """Django's development server logs the whole request line, query string included."""
    logger = logging.getLogger("django.server")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactPersonalData())
    logger.addHandler(handler)
    try:
        # As django.core.servers.basehttp.WSGIRequestHandler.log_message calls it.
        logger.warning('"%s" %s %s', "GET /coordinator/?q=张三&date=110105%2019491231%20002X HTTP/1.1", "404", "0")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == '"GET /coordinator/?q=*&date=* HTTP/1.1" 404 0\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"mobile": "13912345678", "code": "482913"}', '{"mobile": "139****5678", "code": "******"}'),
        ("{'code': '482913'}", "{'code': '******'}"),
        (
            # A query string loses every value, the code's among them.
            "POST /api/v1/auth/token/?mobile=13912345678&code=482913",
            "POST /api/v1/auth/token/?mobile=*&code=*",
        ),
        ("您的登录验证码为482913，5分钟内有效。", "您的登录验证码为******，5分钟内有效。"),
        ("Your log-in code is 482913, valid for 5 minutes.", "Your log-in code is ******, valid for 5 minutes."),
        # Other six-digit numbers stay: ids, postcodes, counts.
        ("shift 482913 moved; postcode 215000", "shift 482913 moved; postcode 215000"),
        ("Log-in code 482913 issued for 139****5678.", "Log-in code 482913 issued for 139****5678."),
    ],
)
def test_log_in_codes_are_masked_in_their_contexts_only(text, expected):
    assert redact(text) == expected


def test_a_code_in_extras_is_masked():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "body", (), None)
    record.data = {"mobile": MOBILE, "code": "482913", "shift": 482913}
    RedactPersonalData().filter(record)
    assert record.data == {"mobile": "139****0001", "code": "******", "shift": 482913}
