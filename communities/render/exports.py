"""Tables as XLSX (openpyxl) and CSV, with headers in the request's language.

A table is a list of ``Column`` and a list of row dicts. XLSX cells carry real numbers and dates
with number formats (hours with one decimal, rates as percentages); CSV is UTF-8 with a BOM so
that Excel opens Chinese text correctly, numbers unformatted, rates as percentages.

The statistics tables (``STATS_TABLES``) and a volunteer's five-part service record
(``service_record_workbook``) are written here; the API and the pages only pick one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from config.spreadsheets import csv_text, formula_like, xlsx_text, xlsx_value

XLSX = "xlsx"
CSV = "csv"
FORMATS = (XLSX, CSV)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"

NUMBER_FORMATS = {
    "int": "#,##0",
    "hours": "#,##0.0",
    "decimal": "#,##0.00",
    "wan": "#,##0.0000",  # 万小时: hours in units of 10,000
    "rate": "0.0%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
}


@dataclass(frozen=True)
class Column:
    key: str
    header: object  # a lazy translation, rendered in the active language when written
    kind: str = "text"  # text, int, hours, decimal, wan, rate, date, datetime


@dataclass
class Sheet:
    title: object
    columns: list[Column]
    rows: list[dict]
    note: object = ""  # shown instead of rows when there are none


def _kind(row: dict, column: Column) -> str:
    # A two-column "figure, value" table gives each row's value its own kind.
    return row.get("_kind", column.kind) if column.key == "value" else column.kind


def _value(row: dict, column: Column):
    value = row.get(column.key)
    if isinstance(value, datetime):
        # Excel has no time zones: write local wall-clock time.
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return xlsx_value(value)


def _sheet_title(title) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", str(title))[:31] or "Sheet"


def _width(text: str) -> int:
    # East Asian characters are about twice as wide as Latin ones in Excel's default font.
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def xlsx_bytes(sheets: Iterable[Sheet]) -> bytes:
    """The workbook, streamed: openpyxl's write-only mode builds no grid of cell objects (a city's
    ten thousand communities are some 180,000 cells); only the rows' values are held, for widths."""
    workbook = Workbook(write_only=True)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="F2F2F2")
    header_alignment = Alignment(vertical="center", wrap_text=True)
    for sheet in sheets:
        ws = workbook.create_sheet(_sheet_title(sheet.title))
        headers = [str(column.header) for column in sheet.columns]
        table = [[_value(row, column) for column in sheet.columns] for row in sheet.rows]
        formats = [[NUMBER_FORMATS.get(_kind(row, column)) for column in sheet.columns] for row in sheet.rows]
        # Widths and the frozen header go before the first row in this mode.
        widths = [_width(h) for h in headers]
        for values in table:
            for index, value in enumerate(values):
                widths[index] = max(widths[index], _width(str(value if value is not None else "")))
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "A2"
        ws.append([_styled(ws, h, font=header_font, fill=header_fill, alignment=header_alignment) for h in headers])
        for values, row_formats in zip(table, formats, strict=True):
            ws.append(
                [_cell(ws, value, number_format) for value, number_format in zip(values, row_formats, strict=True)]
            )
        if not sheet.rows and sheet.note:
            ws.append([_styled(ws, str(sheet.note))])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(ws, value, number_format: str | None):
    # A plain value costs no cell object; only numbers with a format and formula-like text need one.
    if number_format and value is not None:
        return _styled(ws, value, number_format=number_format)
    return _styled(ws, value) if formula_like(value) else value


def _styled(ws, value, **style) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    for name, setting in style.items():
        setattr(cell, name, setting)
    return xlsx_text(cell)


def _csv_text(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "hours":
        return f"{value:.1f}"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return csv_text(str(value)) if isinstance(value, str) else str(value)


def csv_bytes(sheet: Sheet) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_text(str(column.header)) for column in sheet.columns])
    for row in sheet.rows:
        writer.writerow([_csv_text(row.get(column.key), _kind(row, column)) for column in sheet.columns])
    return out.getvalue().encode("utf-8")


def file_response(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def table_response(sheet: Sheet, *, name: str, fmt: str) -> HttpResponse:
    stamp = timezone.localdate().isoformat()
    if fmt == CSV:
        return file_response(csv_bytes(sheet), filename=f"{name}-{stamp}.csv", content_type=CSV_TYPE)
    return file_response(xlsx_bytes([sheet]), filename=f"{name}-{stamp}.xlsx", content_type=XLSX_TYPE)


# --- The statistics tables ------------------------------------------------------------------

HOURS = Column("hours", _("Credited hours"), "hours")
MINUTES = Column("minutes", _("Credited minutes"), "int")
COMPLETED = Column("completed", _("Shifts completed"), "int")
NO_SHOWS = Column("no_shows", _("No-shows"), "int")
SHIFT_COLUMNS = [
    Column("shifts", _("Shifts"), "int"),
    Column("shifts_filled", _("Shifts filled"), "int"),
    Column("places", _("Places"), "int"),
    Column("places_taken", _("Places taken"), "int"),
    Column("fill_rate", _("Fill rate"), "rate"),
]

# (key, label, kind) of the overview, in the order people read them.
OVERVIEW_FIGURES = [
    ("volunteers", _("Volunteers in reserve"), "int"),
    ("deployed", _("Deployed to communities"), "int"),
    ("not_deployed", _("Not yet deployed"), "int"),
    ("suspended", _("Suspended"), "int"),
    ("active_today", _("Active today"), "int"),
    ("communities_covered", _("Communities covered"), "int"),
    ("shifts_today", _("Shifts today"), "int"),
    ("shifts_today_filled", _("Shifts today filled"), "int"),
    ("shifts_today_unfilled", _("Shifts today unfilled"), "int"),
    ("places_today", _("Places today"), "int"),
    ("places_today_taken", _("Places today taken"), "int"),
    ("fill_rate_today", _("Fill rate today"), "rate"),
    ("hours", _("Credited hours"), "hours"),
    ("completed", _("Shifts completed"), "int"),
    ("no_shows", _("No-shows"), "int"),
    ("week_hours", _("Hours this week"), "hours"),
    ("week_no_shows", _("No-shows this week"), "int"),
]


def overview_sheet(data: dict) -> Sheet:
    rows = [{"figure": str(label), "value": data[key], "_kind": kind} for key, label, kind in OVERVIEW_FIGURES]
    return Sheet(_("Overview"), [Column("figure", _("Figure")), Column("value", _("Value"))], rows)


STATS_TABLES: dict[str, tuple[object, list[Column]]] = {
    "organizations": (
        _("Organizations"),
        [
            Column("level", _("Level"), "int"),
            Column("code", _("Code")),
            Column("name", _("Organization")),
            Column("volunteers", _("Volunteers"), "int"),
            Column("deployed", _("Deployed"), "int"),
            HOURS,
            MINUTES,
            COMPLETED,
            NO_SHOWS,
            Column("average_hours", _("Average hours per volunteer"), "decimal"),
        ],
    ),
    "communities": (
        _("Communities"),
        [
            Column("code", _("Code")),
            Column("name", _("Community")),
            Column("street", _("Street")),
            Column("district", _("District")),
            Column("deployed", _("Deployed"), "int"),
            HOURS,
            MINUTES,
            COMPLETED,
            NO_SHOWS,
            *SHIFT_COLUMNS,
        ],
    ),
    "post-types": (
        _("Post types"),
        [
            Column("code", _("Code")),
            Column("name", _("Post type")),
            HOURS,
            MINUTES,
            COMPLETED,
            NO_SHOWS,
            *SHIFT_COLUMNS,
        ],
    ),
    "daily": (
        _("Hours over time"),
        [Column("date", _("Date"), "date"), HOURS, MINUTES, COMPLETED, NO_SHOWS],
    ),
    "leaderboard-volunteers": (
        _("Volunteers by hours"),
        [
            Column("rank", _("Rank"), "int"),
            Column("volunteer_number", _("Volunteer number")),
            Column("name", _("Name")),
            Column("organization", _("Organization")),
            Column("team", _("Team")),
            HOURS,
            MINUTES,
            COMPLETED,
            Column("star_level", _("Star level"), "int"),
        ],
    ),
    "leaderboard-teams": (
        _("Teams by hours"),
        [
            Column("rank", _("Rank"), "int"),
            Column("name", _("Team")),
            Column("organization", _("Organization")),
            Column("members", _("Members"), "int"),
            HOURS,
            MINUTES,
            COMPLETED,
            NO_SHOWS,
        ],
    ),
    "stars": (
        _("Star levels"),
        [
            Column("level", _("Star level"), "int"),
            Column("min_hours", _("From hours"), "int"),
            Column("volunteers", _("Volunteers"), "int"),
        ],
    ),
    "people": (
        _("Volunteers by category and political status"),
        [
            Column("group_label", _("Counted by")),
            Column("name", _("Group")),
            Column("volunteers", _("Volunteers"), "int"),
            HOURS,
            Column("hours_10k", _("Hours (10,000 h)"), "wan"),
        ],
    ),
}


def stats_sheet(table: str, rows: list[dict]) -> Sheet:
    title, columns = STATS_TABLES[table]
    return Sheet(title, columns, rows)


# --- A volunteer's service record (five parts) ----------------------------------------------


def service_record_workbook(record: dict) -> bytes:
    """The national record's five parts, one sheet each: identity, service, training, awards,
    evaluations. ``record`` comes from ``communities.services.certificates.volunteer_service_record``."""
    identity = Sheet(
        _("Basic information"),
        [Column("field", _("Item")), Column("value", _("Value"))],
        [{"field": str(label), "value": value} for label, value in record["identity"]],
    )
    service = Sheet(
        _("Service records"),
        [
            Column("date", _("Date"), "date"),
            Column("starts_at", _("Start"), "datetime"),
            Column("ends_at", _("End"), "datetime"),
            Column("hours", _("Credited hours"), "hours"),
            Column("content", _("Service content")),
            Column("place", _("Place")),
            Column("organiser", _("Organiser")),
            Column("status", _("Hours")),
        ],
        record["service"],
        note=_("No service recorded."),
    )
    training = Sheet(
        _("Training"),
        [
            Column("name", _("Training or qualification")),
            Column("number", _("Certificate number")),
            Column("valid_until", _("Valid until"), "date"),
        ],
        record["training"],
        note=_("No training recorded."),
    )
    awards = Sheet(
        _("Awards"),
        [Column("name", _("Award")), Column("date", _("Date"), "date"), Column("issuer", _("Issued by"))],
        record["awards"],
        note=_("No awards recorded."),
    )
    evaluations = Sheet(
        _("Evaluations"),
        [Column("field", _("Item")), Column("value", _("Value"))],
        [{"field": str(label), "value": value} for label, value in record["evaluations"]],
        note=_("No evaluations recorded."),
    )
    return xlsx_bytes([identity, service, training, awards, evaluations])


def service_record_response(record: dict, *, volunteer_number: str) -> HttpResponse:
    return file_response(
        service_record_workbook(record),
        filename=f"service-record-{volunteer_number}.xlsx",
        content_type=XLSX_TYPE,
    )
