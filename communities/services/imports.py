"""Bulk import of volunteers, communities and posts from XLSX or CSV: the service behind the
``import_volunteers`` command, the admin import page and ``POST /api/v1/imports/``.

``import_run`` reads the file into rows of cells, maps the header (Chinese or English, whatever
the template was downloaded in) to fields, validates every row against the rest of the file and
against the database, and then writes everything in one transaction. With any bad row nothing is
written and the result lists every error with its line, column, code and reason.

Re-importing volunteers updates them: a row whose ID number (or volunteer number) is registered
changes the columns it fills, an empty cell keeps the recorded value, and only ``CLEAR_WORDS``
erase one. A dry run lists every change (before → after, personal data masked) and a digest of
them; the real run given that digest applies exactly those changes or refuses (docs/imports.md).
Each updated volunteer gets an audit entry. The mobile number (the log-in) is never changed by
an import. Communities and posts are not updated: a row that matches a unique key (community
code, post name) with different data is a ``duplicate_in_database`` error.

Speed (bench/import_volunteers.py): reference data is loaded once, existing records are looked up
in chunks, rows go in with ``bulk_create``, and every imported account gets the same unusable
password string instead of one hash per row.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from communities.models import AuditEntry, Community, District, Post, PostType, Street
from communities.services.locks import volunteer_ids as locks_volunteer_ids
from config.db import is_retryable
from config.errors import ServiceError
from config.spreadsheets import csv_text, xlsx_text
from volunteers import crypto
from volunteers.idcard import (
    id_birth_date,
    id_gender,
    make_id_number,
    mask_id_number,
    mask_mobile,
    normalize_id_number,
    validate_id_number,
    validate_mobile,
)
from volunteers.models import (
    ImportBatch,
    Organization,
    Qualification,
    QualificationType,
    Skill,
    Team,
    Volunteer,
    VolunteerCategory,
)
from volunteers.selectors import organization_subtree
from volunteers.services import volunteer_number_generate

KINDS = tuple(ImportBatch.Kind.values)
FORMATS = ("xlsx", "csv")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
MB = 1024 * 1024
# Lookups of existing rows go in chunks, so no query carries thousands of parameters.
LOOKUP_CHUNK = 900
WRITE_BATCH = 500

Progress = Callable[[str, int, int], None]

MESSAGES = {
    "file_format": _("Upload an .xlsx or .csv file."),
    "file_unreadable": _("The file could not be read as %(format)s."),
    "file_too_large": _("The file is larger than %(max)d MB."),
    "file_too_large_unpacked": _("Unpacked, the file is larger than %(max)d MB."),
    "file_empty": _("The file has no header row."),
    "no_rows": _("The file has no data rows."),
    "too_many_rows": _("A file may hold at most %(max)d rows."),
    "too_many_lines": _("A file may hold at most %(max)d rows, blank rows included."),
    "too_many_columns": _("A row may hold at most %(max)d columns."),
    "too_many_cells": _("A sheet may hold at most %(max)d cells."),
    "column_missing": _("The required column “%(column)s” is missing."),
    "column_unknown": _("Unknown column “%(column)s”."),
    "column_duplicate": _("The column “%(column)s” appears twice."),
    "required": _("This column is required."),
    "too_long": _("At most %(max)d characters."),
    "too_young": _("Volunteers must be at least %(age)d years old."),
    "duplicate_in_file": _("Same value as line %(first_line)d."),
    "duplicate_mobile": _("A volunteer with this mobile number is already registered."),
    "duplicate_id_number": _("A volunteer with this ID number is already registered."),
    "duplicate_account": _("An account with this mobile number already exists."),
    "duplicate_details": _("Already registered with different details: %(columns)s."),
    "unknown_organization": _("No organization has the code “%(value)s”."),
    "organization_not_allowed": _("You may not import volunteers into organization “%(value)s”."),
    "unknown_team": _("Organization “%(organization)s” has no team named “%(value)s”."),
    "unknown_skill": _("Unknown skill: %(value)s."),
    "unknown_qualification": _("Unknown qualification: %(value)s."),
    "unknown_category": _("Unknown volunteer category: %(value)s."),
    "choice_invalid": _("“%(value)s” is not one of: %(choices)s."),
    "date_invalid": _("“%(value)s” is not a date; write it as 2024-03-01."),
    "boolean_invalid": _("“%(value)s” is not yes or no."),
    "number_invalid": _("“%(value)s” is not a number."),
    "coordinate_invalid": _("Latitude must lie between -90 and 90, longitude between -180 and 180."),
    "coordinates_incomplete": _("Give both latitude and longitude, or neither."),
    "unknown_district": _("No district has the code or name “%(value)s”."),
    "unknown_community": _("No community has the code “%(value)s”."),
    "community_not_allowed": _("You may not add posts to community “%(value)s”."),
    "unknown_post_type": _("No post type has the code or name “%(value)s”."),
    "clear_not_allowed": _("This column cannot be cleared; leave the cell empty to keep the recorded value."),
    "unknown_volunteer": _("No volunteer has the number “%(value)s”."),
    "id_number_mismatch": _("Volunteer %(value)s is registered with a different ID number."),
    "volunteer_not_allowed": _("This volunteer belongs to an organization outside yours; they cannot be updated here."),
    "mobile_differs": _(
        "This volunteer is registered with another mobile number. The number is the log-in: the volunteer "
        "changes it themselves (verified by a text), it is not changed by an import."
    ),
    "unknown_place": _("No district, street or community is called “%(value)s”."),
    "ambiguous_place": _("More than one place is called “%(value)s”; give the district or street too."),
}


# --- Columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    field: str
    zh: str
    en: str
    help: Any
    required: bool = False
    max_length: int | None = None
    aliases: tuple[str, ...] = ()
    # Kept as text in the XLSX template: Excel would turn an 18-digit ID number into 3.2E+17.
    text: bool = False

    def header(self, language: str | None = None) -> str:
        return self.en if (language or translation.get_language() or "").startswith("en") else self.zh


LIST_HELP = _("Codes or names, separated by semicolons.")
DATE_HELP = _("A date such as 2024-03-01.")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "volunteers": (
        Column("real_name", "姓名", "Name", _("Real name."), required=True, max_length=50, aliases=("真实姓名",)),
        Column(
            "mobile",
            "手机号",
            "Mobile",
            _("11-digit mainland mobile number; it becomes the log-in name."),
            required=True,
            aliases=("手机号码", "手机", "mobile number", "phone"),
            text=True,
        ),
        Column(
            "id_number",
            "身份证号",
            "ID number",
            _("18-character resident ID number; stored encrypted."),
            required=True,
            aliases=("身份证号码", "公民身份号码", "身份证"),
            text=True,
        ),
        Column(
            "organization",
            "机构代码",
            "Organization code",
            _("Code of the volunteer's organization."),
            required=True,
            aliases=("机构", "所属机构", "organization"),
        ),
        Column("team", "突击队", "Team", _("Name of a team of that organization."), aliases=("青年突击队", "队伍")),
        Column(
            "political_status",
            "政治面貌",
            "Political status",
            _("Party member, probationary party member, league member or ordinary citizen."),
        ),
        Column("categories", "志愿者类别", "Categories", LIST_HELP, aliases=("类别",)),
        Column("skills", "技能", "Skills", LIST_HELP, aliases=("专业技能",)),
        Column("qualifications", "资质", "Qualifications", LIST_HELP, aliases=("资格证书",)),
        Column(
            "qualification_valid_until",
            "资质有效期至",
            "Qualifications valid until",
            DATE_HELP,
            aliases=("资质有效期",),
        ),
        Column(
            "insurance_valid_until",
            "意外保险有效期至",
            "Insurance valid until",
            DATE_HELP,
            aliases=("保险有效期至", "保险有效期", "insurance"),
        ),
        Column(
            "guardian_consent",
            "监护人同意",
            "Guardian consent",
            _("Yes or no; needed for volunteers under 18."),
        ),
        Column("insurer", "保险公司", "Insurer", _("Who issued the accident insurance."), max_length=100),
        Column(
            "insurance_policy_number",
            "保单号",
            "Policy number",
            _("The accident insurance policy number."),
            max_length=64,
            aliases=("保险单号",),
            text=True,
        ),
        Column("emergency_contact_name", "紧急联系人", "Emergency contact", _("Name."), max_length=50),
        Column(
            "emergency_contact_mobile",
            "紧急联系人电话",
            "Emergency contact phone",
            _("The emergency contact's 11-digit mobile number."),
            aliases=("紧急联系电话",),
            text=True,
        ),
        Column(
            "residence_district",
            "居住或工作区",
            "Home or work district",
            _("Name of the district the volunteer lives or works in (dispatch prefers nearby volunteers)."),
            aliases=("居住区",),
        ),
        Column(
            "residence_street",
            "居住或工作街道",
            "Home or work street",
            _("Name of the street; its district follows from it."),
            aliases=("居住街道",),
        ),
        Column(
            "residence_community",
            "居住或工作社区",
            "Home or work community",
            _("Name or code of the community; its street and district follow from it."),
            aliases=("居住社区",),
        ),
        Column(
            "volunteer_number",
            "志愿者编号",
            "Volunteer number",
            _("Only to update a registered volunteer: their volunteer number. Empty: matched by ID number."),
            aliases=("编号",),
            text=True,
        ),
    ),
    "communities": (
        Column("district", "区", "District", _("Code or name of an existing district."), required=True),
        Column(
            "street",
            "街道",
            "Street",
            _("Street name; a new street is added to the district."),
            required=True,
            max_length=100,
        ),
        Column("code", "社区代码", "Community code", _("Unique community code."), required=True, max_length=32),
        Column(
            "name",
            "社区名称",
            "Community name",
            _("Name of the community."),
            required=True,
            max_length=100,
            aliases=("社区",),
        ),
        Column("name_en", "英文名称", "English name", _("Optional English name."), max_length=100),
        Column("address", "地址", "Address", _("Street address."), max_length=200),
        Column("latitude", "纬度", "Latitude", _("Decimal degrees, for example 31.299"), aliases=("lat",)),
        Column("longitude", "经度", "Longitude", _("Decimal degrees, for example 120.585"), aliases=("lng", "lon")),
    ),
    "posts": (
        Column("community", "社区代码", "Community code", _("Code of an existing community."), required=True),
        Column(
            "post_type",
            "岗位类型",
            "Post type",
            _("Code or name of a post type."),
            required=True,
            aliases=("岗位类型代码", "post type code"),
        ),
        Column("name", "岗位名称", "Post name", _("Unique within the community."), required=True, max_length=100),
        Column("location", "位置", "Location", _("Where the post is."), max_length=200),
    ),
}


def _norm_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value or "")).strip().casefold()
    text = re.sub(r"\s*\(.*\)\s*$", "", text).rstrip("*").strip()
    return re.sub(r"[\s_\-]+", " ", text)


def _header_lookup(kind: str) -> dict[str, Column]:
    lookup = {}
    for column in COLUMNS[kind]:
        for name in (column.field, column.zh, column.en, *column.aliases):
            lookup[_norm_header(name)] = column
    return lookup


# --- Results ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    kind: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    plan: str = ""
    batch: ImportBatch | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "changes": self.changes,
            "plan": self.plan,
        }


@dataclass
class Row:
    line: int
    values: dict[str, Any]
    ok: bool = True
    clean: dict[str, Any] = field(default_factory=dict)


class Errors:
    """Collects errors; a column is named as the file names it, so the reader finds it."""

    def __init__(self, kind: str, headers: dict[str, str] | None = None):
        self.kind = kind
        self.headers = headers or {}
        self.items: list[dict] = []

    def column_label(self, field_name: str) -> str:
        if not field_name:
            return ""
        if field_name in self.headers:
            return self.headers[field_name]
        column = next((c for c in COLUMNS[self.kind] if c.field == field_name), None)
        return column.header() if column else field_name

    def add(
        self, line: int, field_name: str, code: str, message_key: str | None = None, *, label=None, **params
    ) -> None:
        message = MESSAGES[message_key or code]
        self.items.append(
            {
                "line": line,
                "column": label if label is not None else self.column_label(field_name),
                "code": code,
                "message": str(message) % params if params else str(message),
            }
        )

    def row(self, row: Row, field_name: str, code: str, message_key: str | None = None, **params) -> None:
        row.ok = False
        self.add(row.line, field_name, code, message_key, **params)

    def sorted(self) -> list[dict]:
        return sorted(self.items, key=lambda e: e["line"])


# --- Reading files ------------------------------------------------------------------------

# Every stage of reading is bounded by what it reads, not by what it keeps: a file of blank rows
# keeps nothing and could otherwise be read for minutes. The bounds (config/settings/base.py):
#   IMPORT_MAX_BYTES           the file as uploaded (read at most one byte past it)
#   IMPORT_MAX_UNPACKED_BYTES  an XLSX's parts once inflated: a zip of a few kilobytes can
#                              inflate to gigabytes, and the declared sizes bind (zipfile stops at
#                              them and refuses the part if its data runs longer)
#   IMPORT_MAX_LINES           rows read, blank ones included, the header too
#   IMPORT_MAX_COLUMNS         columns read in a row; a value further right is refused, and in
#                              an XLSX so is a cell further right whatever it holds
#   IMPORT_MAX_CELLS           cells in a sheet, strings in its string table, and elements of any
#                              part beyond three per cell
#   IMPORT_MAX_ROWS            data rows kept
# The XLSX parts are counted before openpyxl parses them (regular expressions over the XML, about
# twenty times faster than openpyxl's parsing of it); openpyxl then reads at most
# IMPORT_MAX_COLUMNS + 1 columns, and the empty rows it yields for a gap between row numbers
# count as rows read.


@dataclass(frozen=True)
class Limits:
    bytes: int
    unpacked_bytes: int
    lines: int
    columns: int
    cells: int
    rows: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            bytes=settings.IMPORT_MAX_BYTES,
            unpacked_bytes=settings.IMPORT_MAX_UNPACKED_BYTES,
            lines=settings.IMPORT_MAX_LINES,
            columns=settings.IMPORT_MAX_COLUMNS,
            cells=settings.IMPORT_MAX_CELLS,
            rows=settings.IMPORT_MAX_ROWS,
        )


class FileProblem(Exception):
    def __init__(self, code: str, message_key: str | None = None, **params):
        self.code, self.message_key, self.params = code, message_key, params
        super().__init__(code)


def file_format(file_name: str, content: bytes) -> str:
    name = (file_name or "").lower()
    if name.endswith(".xlsx"):
        return "xlsx"
    if name.endswith(".csv") or name.endswith(".txt"):
        return "csv"
    if content[:4] == b"PK\x03\x04":
        return "xlsx"
    raise FileProblem("file_format")


def read_content(content: bytes | IO[bytes], limits: Limits) -> bytes:
    """The file's bytes, reading at most one past the limit: an upload larger than that is refused
    without being held in memory (Django keeps uploads over FILE_UPLOAD_MAX_MEMORY_SIZE on disk)."""
    data = content if isinstance(content, bytes) else content.read(limits.bytes + 1)
    if len(data) > limits.bytes:
        raise FileProblem("file_too_large", max=limits.bytes // MB)
    return data


# Start tags of rows, cells and shared strings, counted on the raw XML (in C: a small fraction of
# openpyxl's parsing of the same sheet). Inside text "<" is always escaped, so only comments could
# add matches, which errs on the safe side. Elements may carry a namespace prefix the part
# declares; the patterns are built for the prefixes each part declares.
_PREFIX_DECLARATION = re.compile(rb"xmlns:([^\s=/<>]+)\s*=")
# A cell's column letters when the reference comes first, as every spreadsheet writes it.
_CELL_REFERENCE = rb"\s+r\s*=\s*[\"']\$?([A-Za-z]+)"
_ATTRIBUTE_REFERENCE = re.compile(rb"\sr\s*=\s*[\"']\$?([A-Za-z]+)")
# A cell takes two or three elements (<c><v>, <c><is><t>); anything far beyond that is padding.
_ELEMENTS_PER_CELL = 3


def _tag_patterns(xml: bytes) -> tuple[re.Pattern, ...]:
    prefixes = sorted({re.escape(prefix) for prefix in _PREFIX_DECLARATION.findall(xml)})
    start = rb"<(?:(?:" + b"|".join(prefixes) + rb"):)?" if prefixes else b"<"
    return (
        re.compile(start + rb"row[\s/>]"),
        re.compile(start + rb"si[\s/>]"),
        re.compile(start + rb"c[\s/>]"),
        re.compile(start + rb"c" + _CELL_REFERENCE),
        re.compile(start + rb"(row|c)[\s/>]"),
    )


def _check_xlsx(content: bytes, limits: Limits) -> None:
    """Refuse an XLSX whose parts inflate past the limit or hold too many rows, columns or cells,
    before openpyxl parses any of it."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            if sum(member.file_size for member in members) > limits.unpacked_bytes:
                raise FileProblem("file_too_large", "file_too_large_unpacked", max=limits.unpacked_bytes // MB)
            for member in members:
                _check_xlsx_part(archive.read(member), limits)
    except FileProblem:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError):
        raise FileProblem("file_unreadable", format="XLSX") from None


def _check_xlsx_part(xml: bytes, limits: Limits) -> None:
    row_tag, string_tag, cell_tag, referenced_cell_tag, row_or_cell_tag = _tag_patterns(xml)
    if len(row_tag.findall(xml)) > limits.lines:
        raise FileProblem("too_many_rows", "too_many_lines", max=limits.lines)
    if len(string_tag.findall(xml)) > limits.cells:
        raise FileProblem("too_many_cells", max=limits.cells)
    cells = len(cell_tag.findall(xml))
    if cells > limits.cells or xml.count(b"<") - xml.count(b"</") > _ELEMENTS_PER_CELL * limits.cells + limits.lines:
        raise FileProblem("too_many_cells", max=limits.cells)
    # openpyxl pads a row out to its rightmost cell: a cell far to the right is refused whatever
    # it holds. When some cell's tag does not start with its reference, every cell is looked at.
    referenced = referenced_cell_tag.findall(xml)
    if len(referenced) == cells:
        widest = max((_column_number(letters) for letters in set(referenced)), default=0)
    else:
        widest = _widest_row(xml, row_or_cell_tag)
    if widest > limits.columns:
        raise FileProblem("too_many_columns", max=limits.columns)


def _column_number(letters: bytes) -> int:
    if len(letters) > 3:
        return 10**9  # past XFD, the last column a spreadsheet has
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _widest_row(xml: bytes, row_or_cell_tag: re.Pattern) -> int:
    """The rightmost column any row reaches: a cell's reference, or the next column of its row."""
    widest = column = 0
    for match in row_or_cell_tag.finditer(xml):
        if match.group(1) == b"row":
            column = 0
            continue
        end = xml.find(b">", match.start())
        reference = _ATTRIBUTE_REFERENCE.search(xml, match.start(), end if end >= 0 else len(xml))
        column = _column_number(reference.group(1)) if reference else column + 1
        widest = max(widest, column)
    return widest


def _read_xlsx(content: bytes, limits: Limits) -> Iterator[tuple[int, tuple]]:
    from openpyxl import load_workbook

    _check_xlsx(content, limits)
    # The file is untrusted input: whatever the parser trips over, the answer is "unreadable".
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise FileProblem("file_unreadable", format="XLSX") from None
    try:
        # One column past the limit, to tell a value there (refused) from nothing (ignored).
        rows = workbook.worksheets[0].iter_rows(max_col=limits.columns + 1, values_only=True)
        line = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception:
                raise FileProblem("file_unreadable", format="XLSX") from None
            line += 1
            yield line, values
    finally:
        workbook.close()


def _read_csv(content: bytes, limits: Limits) -> Iterator[tuple[int, tuple]]:
    # Excel on a Chinese Windows saves "CSV" in GB18030 (GBK), everything else in UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FileProblem("file_unreadable", format="CSV")
    # The reader builds a whole record before it yields it: one line of a million commas is a
    # million cells in memory, so the cells are counted first.
    if text.count(",") > limits.cells:
        raise FileProblem("too_many_cells", max=limits.cells)
    try:
        # A spreadsheet row is a CSV record, so lines count records (a cell may hold a newline).
        yield from enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
    except csv.Error:
        raise FileProblem("file_unreadable", format="CSV") from None


def _is_blank(values: Iterable) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def read_rows(kind: str, file_name: str, content: bytes, errors: Errors, limits: Limits | None = None) -> list[Row]:
    """Rows of the first sheet as ``Row(line, {field: raw value})``; header problems go to ``errors``."""
    limits = limits or Limits.from_settings()
    fmt = file_format(file_name, content)
    records = _read_xlsx(content, limits) if fmt == "xlsx" else _read_csv(content, limits)
    lookup = _header_lookup(kind)
    header: list[Column | None] = []
    rows: list[Row] = []
    for line, values in records:
        if line > limits.lines:
            raise FileProblem("too_many_rows", "too_many_lines", max=limits.lines)
        if len(values) > limits.columns:
            if not _is_blank(values[limits.columns :]):
                raise FileProblem("too_many_columns", max=limits.columns)
            values = values[: limits.columns]
        if not header:
            if _is_blank(values):
                continue
            header = _map_header(kind, values, lookup, errors, line)
            if errors.items:
                return []
            continue
        if _is_blank(values):
            continue
        if len(rows) >= limits.rows:
            raise FileProblem("too_many_rows", max=limits.rows)
        cells = {}
        for column, value in zip(header, values, strict=False):
            if column is not None:
                cells[column.field] = value
        rows.append(Row(line=line, values=cells))
    if not header:
        raise FileProblem("file_empty")
    if not rows:
        raise FileProblem("no_rows")
    return rows


def _map_header(kind: str, values: tuple, lookup: dict[str, Column], errors: Errors, line: int) -> list:
    header: list[Column | None] = []
    seen: set[str] = set()
    for value in values:
        text = "" if value is None else str(value).strip()
        if not text:
            header.append(None)
            continue
        column = lookup.get(_norm_header(text))
        if column is None:
            errors.add(line, "", "column_unknown", label=text, column=text)
            header.append(None)
            continue
        if column.field in seen:
            errors.add(line, "", "column_duplicate", label=text, column=text)
            header.append(None)
            continue
        seen.add(column.field)
        errors.headers[column.field] = text
        header.append(column)
    for column in COLUMNS[kind]:
        if kind == "volunteers":
            # A file that updates names each volunteer by ID number or volunteer number; the other
            # columns are needed only by the rows that register someone new.
            if column.field == "id_number" and not seen & {"id_number", "volunteer_number"}:
                errors.add(line, column.field, "column_missing", column=column.header())
            continue
        if column.required and column.field not in seen:
            label = column.header()
            errors.add(line, column.field, "column_missing", column=label)
    return header


# --- Cell values --------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return unicodedata.normalize("NFKC", str(value)).strip()


def _code_text(value: Any) -> str:
    """A number typed as text: drop the quote or ``="…"`` that keeps spreadsheets from converting it."""
    text = _text(value)
    if text.startswith("'"):
        text = text[1:]
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    return text.strip()


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


_TRUE = {"1", "y", "yes", "true", "是", "同意", "有"}
_FALSE = {"", "0", "n", "no", "false", "否", "不同意", "无"}


def _boolean(value: Any) -> bool:
    text = _text(value).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(text)


_LIST_SPLIT = re.compile(r"[;,|、]+")


def _items(value: Any) -> list[str]:
    return [item.strip() for item in _LIST_SPLIT.split(_text(value)) if item.strip()]


def _reference_lookup(model) -> dict[str, int]:
    """Code, name and English name (case-insensitive) → id, for small reference tables."""
    lookup: dict[str, int] = {}
    for pk, code, name, name_en in model.objects.values_list("pk", "code", "name", "name_en"):
        for key in (name_en, name, code):
            if key:
                lookup[key.casefold()] = pk
    return lookup


def _chunks(values: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _required_text(row: Row, errors: Errors, name: str, *, max_length: int | None = None, code=False) -> str:
    value = (_code_text if code else _text)(row.values.get(name))
    if not value:
        errors.row(row, name, "required")
    elif max_length and len(value) > max_length:
        errors.row(row, name, "too_long", max=max_length)
    return value


def _optional_text(row: Row, errors: Errors, name: str, *, max_length: int | None = None) -> str:
    value = _text(row.values.get(name))
    if max_length and len(value) > max_length:
        errors.row(row, name, "too_long", max=max_length)
    return value


def _optional_date(row: Row, errors: Errors, name: str) -> date | None:
    raw = row.values.get(name)
    if not _text(raw):
        return None
    try:
        return _date(raw)
    except ValueError:
        errors.row(row, name, "date_invalid", value=_text(raw))
        return None


def _differences(errors: Errors, pairs: dict[str, tuple]) -> list[str]:
    return [errors.column_label(name) for name, (mine, theirs) in pairs.items() if mine != theirs]


# --- Volunteers ---------------------------------------------------------------------------


def _political_statuses() -> dict[str, str]:
    lookup = {
        "党员": "party_member",
        "中共党员": "party_member",
        "预备党员": "probationary",
        "中共预备党员": "probationary",
        "团员": "league_member",
        "共青团员": "league_member",
        "群众": "masses",
    }
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for value, label in Volunteer.PoliticalStatus.choices:
                lookup[str(label).casefold()] = value
    for value in Volunteer.PoliticalStatus.values:
        lookup[value] = value
    return lookup


class VolunteerImport:
    """Volunteers: a row whose ID number (or volunteer number) is unknown creates a volunteer; one
    that names an existing volunteer updates the columns it fills. An empty cell keeps what is
    recorded; ``CLEAR_WORDS`` in a cell of a ``CLEARABLE`` column erases it."""

    kind = "volunteers"

    def __init__(self, actor):
        self.actor = actor
        self.to_create: list[Row] = []
        self.to_update: list[Row] = []
        self.unchanged = 0
        self.reason = ""  # the audit entries' reason: which file

    # --- Reading each row -------------------------------------------------------------------

    def validate(self, rows: list[Row], errors: Errors, progress: Progress) -> None:
        skills, qualifications, categories = (
            _reference_lookup(Skill),
            _reference_lookup(QualificationType),
            _reference_lookup(VolunteerCategory),
        )
        statuses = _political_statuses()
        self.min_age = settings.RULES["MIN_VOLUNTEER_AGE"]
        self.today = timezone.localdate()

        codes = {_text(r.values.get("organization")) for r in rows} - {""}
        self.organizations = {o.code: o for o in Organization.objects.filter(code__in=codes)}
        self.allowed = self._allowed_organizations()
        self.teams: dict[tuple[int, str], int] = {}
        self.places = _Places() if any(r.values.get(c) for r in rows for c in _Places.COLUMNS) else None

        for index, row in enumerate(rows, start=1):
            self._read_row(row, errors, statuses, skills, qualifications, categories)
            if index % 1000 == 0:
                progress("validate", index, len(rows))

        self._match(rows, errors)
        progress("validate", len(rows), len(rows))

    def _allowed_organizations(self) -> set[int] | None:
        """Organizations the actor may import into or update (``None``: any, at the command line)."""
        if self.actor is None:
            return None
        return set(organization_subtree(self.actor).values_list("pk", flat=True))

    def _read_row(self, row, errors, statuses, skills, qualifications, categories) -> None:
        clean = row.clean
        values = row.values
        given: dict[str, Any] = {}  # field -> value the row sets (``None``/empty when cleared)
        clean["given"] = given
        for name in values:
            if _cleared(values.get(name)) and name not in CLEARABLE:
                errors.row(row, name, "clear_not_allowed")

        name = _text(values.get("real_name"))
        if name and not _cleared(name):
            if len(name) > 50:
                errors.row(row, "real_name", "too_long", max=50)
            given["real_name"] = name

        mobile = re.sub(r"[\s\-]", "", _code_text(values.get("mobile")))
        clean["mobile"] = mobile
        if mobile and not _cleared(mobile):
            try:
                validate_mobile(mobile)
            except ValidationError as error:
                self._validation_error(row, errors, "mobile", error)

        clean["volunteer_number"] = _code_text(values.get("volunteer_number"))
        id_number = normalize_id_number(_code_text(values.get("id_number")))
        clean["id_number"] = id_number
        if id_number and not _cleared(id_number):
            try:
                validate_id_number(id_number)
            except ValidationError as error:
                self._validation_error(row, errors, "id_number", error)
            else:
                clean["id_hash"] = crypto.blind_index(id_number)
                clean["birth_date"] = id_birth_date(id_number)
                clean["gender"] = id_gender(id_number)
                if _age_on(clean["birth_date"], self.today) < self.min_age:
                    errors.row(row, "id_number", "too_young", age=self.min_age)
        elif not clean["volunteer_number"]:
            errors.row(row, "id_number", "required")

        code = _text(values.get("organization"))
        if code and not _cleared(code):
            organization = self.organizations.get(code)
            if organization is None:
                errors.row(row, "organization", "unknown_organization", value=code)
            elif self.allowed is not None and organization.pk not in self.allowed:
                errors.row(row, "organization", "organization_not_allowed", value=code)
            else:
                given["organization_id"] = organization.pk

        team_name = _text(values.get("team"))
        if _cleared(team_name):
            given["team_id"] = None
        elif team_name:
            clean["team_name"] = team_name  # resolved once the organization is known (``_match``)

        status_text = _text(values.get("political_status"))
        if status_text and not _cleared(status_text):
            status = statuses.get(status_text.casefold())
            if status is None:
                choices = " / ".join(str(label) for label in Volunteer.PoliticalStatus.labels)
                errors.row(row, "political_status", "choice_invalid", value=status_text, choices=choices)
            else:
                given["political_status"] = status

        for field_name, lookup, code_ in (
            ("categories", categories, "unknown_category"),
            ("skills", skills, "unknown_skill"),
            ("qualifications", qualifications, "unknown_qualification"),
        ):
            raw = values.get(field_name)
            if _cleared(raw):
                given[field_name] = frozenset()
            elif _text(raw):
                given[field_name] = self._references(row, errors, field_name, lookup, code_)
        raw = values.get("qualification_valid_until")
        if _cleared(raw):
            given["qualification_valid_until"] = None
        elif _text(raw):
            given["qualification_valid_until"] = _optional_date(row, errors, "qualification_valid_until")

        raw = values.get("insurance_valid_until")
        if _cleared(raw):
            given["insurance_valid_until"] = None
        elif _text(raw):
            given["insurance_valid_until"] = _optional_date(row, errors, "insurance_valid_until")

        for field_name, max_length in TEXT_FIELDS.items():
            raw = values.get(field_name)
            if _cleared(raw):
                given[field_name] = ""
                continue
            text = _code_text(raw) if field_name in CODE_TEXT_FIELDS else _text(raw)
            if field_name == "emergency_contact_mobile":
                text = re.sub(r"[\s\-]", "", text)
            if not text:
                continue
            if field_name == "emergency_contact_mobile":
                try:
                    validate_mobile(text)
                except ValidationError as error:
                    self._validation_error(row, errors, field_name, error)
                    continue
            if len(text) > max_length:
                errors.row(row, field_name, "too_long", max=max_length)
            else:
                given[field_name] = text

        consent = values.get("guardian_consent")
        if _text(consent) and not _cleared(consent):
            try:
                given["guardian_consent"] = _boolean(consent)
            except ValueError:
                errors.row(row, "guardian_consent", "boolean_invalid", value=_text(consent))

        if self.places is not None:
            self.places.read(row, errors, given)

    @staticmethod
    def _validation_error(row: Row, errors: Errors, name: str, error: ValidationError) -> None:
        row.ok = False
        errors.items.append(
            {"line": row.line, "column": errors.column_label(name), "code": error.code, "message": error.messages[0]}
        )

    @staticmethod
    def _references(row: Row, errors: Errors, name: str, lookup: dict[str, int], code: str) -> frozenset[int]:
        found = set()
        for item in _items(row.values.get(name)):
            pk = lookup.get(item.casefold())
            if pk is None:
                errors.row(row, name, code, value=item)
            else:
                found.add(pk)
        return frozenset(found)

    # --- Matching rows to volunteers ---------------------------------------------------------

    def _match(self, rows: list[Row], errors: Errors) -> None:
        first: dict[tuple[str, str], int] = {}
        for row in rows:
            for field_name, key in (
                ("mobile", row.clean.get("mobile")),
                ("id_number", row.clean.get("id_hash")),
                ("volunteer_number", row.clean.get("volunteer_number")),
            ):
                if not key:
                    continue
                if (field_name, key) in first:
                    errors.row(row, field_name, "duplicate_in_file", first_line=first[(field_name, key)])
                else:
                    first[(field_name, key)] = row.line

        mobiles = [key for (name, key) in first if name == "mobile"]
        hashes = [key for (name, key) in first if name == "id_number"]
        numbers = [key for (name, key) in first if name == "volunteer_number"]
        existing: dict[int, dict] = {}
        for lookup, keys in (
            ("mobile__in", mobiles),
            ("id_number_hash__in", hashes),
            ("volunteer_number__in", numbers),
        ):
            for chunk in _chunks(keys):
                existing.update(
                    {v["pk"]: v for v in Volunteer.objects.filter(**{lookup: chunk}).values(*EXISTING_FIELDS)}
                )
        by_mobile = {v["mobile"]: v for v in existing.values()}
        by_hash = {v["id_number_hash"]: v for v in existing.values()}
        by_number = {v["volunteer_number"]: v for v in existing.values()}
        self.relations = self._relations(list(existing))
        accounts: set[str] = set()
        user_model = get_user_model()
        for chunk in _chunks(mobiles):
            accounts.update(
                user_model.objects.filter(username__in=chunk)
                .exclude(pk__in=[v["user_id"] for v in existing.values()])
                .values_list("username", flat=True)
            )
        organization_ids = {v["organization_id"] for v in existing.values()}
        organization_ids |= {r.clean["given"].get("organization_id") for r in rows} - {None}
        for pk, organization_id, name in Team.objects.filter(organization_id__in=organization_ids).values_list(
            "pk", "organization_id", "name"
        ):
            self.teams[(organization_id, name)] = pk

        for row in rows:
            clean = row.clean
            number, id_hash, mobile = clean["volunteer_number"], clean.get("id_hash"), clean["mobile"]
            if not row.ok:
                # Every problem of the row at once: what a new volunteer lacks, an unknown team.
                known = by_number.get(number) if number else by_hash.get(id_hash)
                if not number and known is None:
                    self._required_for_new(row, errors)
                organization_id = clean["given"].get("organization_id") or (known or {}).get("organization_id")
                if organization_id is not None:
                    self._resolve_team(row, errors, organization_id)
                continue
            target = None
            if number:
                target = by_number.get(number)
                if target is None:
                    errors.row(row, "volunteer_number", "unknown_volunteer", value=number)
                    continue
                if id_hash and target["id_number_hash"] != id_hash:
                    errors.row(row, "id_number", "duplicate_in_database", "id_number_mismatch", value=number)
                    continue
            elif id_hash:
                target = by_hash.get(id_hash)
            if target is None:
                self._check_new(row, errors, mobile, by_mobile, accounts)
                continue
            if self.allowed is not None and target["organization_id"] not in self.allowed:
                errors.row(row, "volunteer_number" if number else "id_number", "volunteer_not_allowed")
                continue
            if mobile and mobile != target["mobile"]:
                errors.row(row, "mobile", "mobile_differs", "mobile_differs")
                continue
            clean["pk"] = target["pk"]
            self._resolve_team(row, errors, clean["given"].get("organization_id", target["organization_id"]))
            if not row.ok:
                continue
            changes = self._changes(clean["given"], target)
            if changes:
                clean["before"], clean["changes"] = target, changes
                self.to_update.append(row)
            else:
                self.unchanged += 1

    @staticmethod
    def _relations(volunteer_ids: list[int]) -> dict[int, dict]:
        return _volunteer_relations(volunteer_ids)

    @staticmethod
    def _required_for_new(row: Row, errors: Errors) -> None:
        """A volunteer not yet registered needs a name, a mobile number and an organization."""
        for name in ("real_name", "mobile", "organization"):
            if not _text(row.values.get(name)):
                errors.row(row, name, "required")

    def _check_new(self, row: Row, errors: Errors, mobile: str, by_mobile: dict, accounts: set[str]) -> None:
        self._required_for_new(row, errors)
        if mobile in by_mobile:
            errors.row(row, "mobile", "duplicate_in_database", "duplicate_mobile")
        elif mobile in accounts:
            errors.row(row, "mobile", "duplicate_in_database", "duplicate_account")
        if row.ok:
            self._resolve_team(row, errors, row.clean["given"]["organization_id"])
        if row.ok:
            self.to_create.append(row)

    def _resolve_team(self, row: Row, errors: Errors, organization_id: int) -> None:
        given = row.clean["given"]
        name = row.clean.get("team_name")
        if name:
            given["team_id"] = self.teams.get((organization_id, name))
            if given["team_id"] is None:
                code = next((o.code for o in self.organizations.values() if o.pk == organization_id), "")
                errors.row(row, "team", "unknown_team", organization=code, value=name)

    def _changes(self, given: dict, existing: dict) -> dict[str, tuple]:
        """``{field: (before, after)}`` for every field the row sets to something new."""
        related = self.relations[existing["pk"]]
        changes: dict[str, tuple] = {}
        for field_name in SCALAR_FIELDS:
            if field_name in given and given[field_name] != existing[field_name]:
                changes[field_name] = (existing[field_name], given[field_name])
        if "organization_id" in changes and "team_id" not in given and existing["team_id"] is not None:
            changes["team_id"] = (existing["team_id"], None)  # a team belongs to one organization
        for field_name in ("categories", "skills"):
            if field_name in given and set(given[field_name]) != related[field_name]:
                changes[field_name] = (frozenset(related[field_name]), given[field_name])
        if "qualifications" in given or "qualification_valid_until" in given:
            before = dict(related["qualifications"])
            types = given.get("qualifications", frozenset(before))
            after = {
                pk: given["qualification_valid_until"] if "qualification_valid_until" in given else before.get(pk)
                for pk in types
            }
            if after != before:
                changes["qualifications"] = (before, after)
        return changes

    # --- Writing ----------------------------------------------------------------------------

    def plan(self) -> list:
        """What a real run writes, as plain values: a dry run's plan equals the real run's."""
        plan: list = [[row.line, "create", row.clean["id_hash"]] for row in self.to_create]
        for row in self.to_update:
            plan.append([row.line, row.clean["pk"], sorted((k, repr(v)) for k, v in row.clean["changes"].items())])
        return sorted(plan, key=lambda item: item[0])

    def write(self, progress: Progress) -> int:
        self._update(progress)
        return self._create(progress)

    def _update(self, progress: Progress) -> None:
        rows = self.to_update
        if not rows:
            return
        locks_volunteer_ids([row.clean["pk"] for row in rows])
        now = timezone.now()
        entries = []
        for row in rows:
            pk, changes = row.clean["pk"], row.clean["changes"]
            scalar = {name: after for name, (_before, after) in changes.items() if name in SCALAR_FIELDS}
            if scalar:
                Volunteer.objects.filter(pk=pk).update(**scalar, updated_at=now)
            if "categories" in changes:
                Volunteer.categories.through.objects.filter(volunteer_id=pk).delete()
                Volunteer.categories.through.objects.bulk_create(
                    [
                        Volunteer.categories.through(volunteer_id=pk, volunteercategory_id=c)
                        for c in changes["categories"][1]
                    ]
                )
            if "skills" in changes:
                Volunteer.skills.through.objects.filter(volunteer_id=pk).delete()
                Volunteer.skills.through.objects.bulk_create(
                    [Volunteer.skills.through(volunteer_id=pk, skill_id=s) for s in changes["skills"][1]]
                )
            if "qualifications" in changes:
                after = changes["qualifications"][1]
                Qualification.objects.filter(volunteer_id=pk).exclude(qualification_type_id__in=list(after)).delete()
                for type_id, valid_until in after.items():
                    Qualification.objects.update_or_create(
                        volunteer_id=pk, qualification_type_id=type_id, defaults={"valid_until": valid_until}
                    )
            entries.append(
                audit_entry(
                    volunteer_id=pk,
                    actor=self.actor,
                    before={name: _plain(before) for name, (before, _after) in changes.items()},
                    after={name: _plain(after) for name, (_before, after) in changes.items()},
                    reason=self.reason,
                    now=now,
                )
            )
        AuditEntry.objects.bulk_create(entries)
        progress("write", len(rows), len(rows) + len(self.to_create))

    def _create(self, progress: Progress) -> int:
        rows = self.to_create
        if not rows:
            return 0
        user_model = get_user_model()
        # Imported volunteers log in only after setting a password, so one unusable value serves all.
        password = make_password(None)
        now = timezone.now()
        users = [
            user_model(username=row.clean["mobile"], first_name=row.clean["given"]["real_name"], password=password)
            for row in rows
        ]
        user_model.objects.bulk_create(users, batch_size=WRITE_BATCH)
        progress("write", len(rows) // 4, len(rows))

        numbers = _free_volunteer_numbers(len(rows))
        volunteers = []
        for row, user, number in zip(rows, users, numbers, strict=True):
            clean, given = row.clean, row.clean["given"]
            volunteer = Volunteer(
                user_id=user.pk,
                volunteer_number=number,
                gender=clean["gender"],
                mobile=clean["mobile"],
                birth_date=clean["birth_date"],
                political_status=given.get("political_status", Volunteer.PoliticalStatus.MASSES),
                created_at=now,
                **{name: given[name] for name in SCALAR_FIELDS if name in given and name != "political_status"},
            )
            volunteer.id_number_encrypted = crypto.encrypt(clean["id_number"])
            volunteer.id_number_hash = clean["id_hash"]
            volunteer.id_number_masked = mask_id_number(clean["id_number"])
            volunteers.append(volunteer)
        progress("write", len(rows) // 2, len(rows))
        Volunteer.objects.bulk_create(volunteers, batch_size=WRITE_BATCH)
        progress("write", 3 * len(rows) // 4, len(rows))

        skill_links, category_links, qualifications = [], [], []
        for row, volunteer in zip(rows, volunteers, strict=True):
            given = row.clean["given"]
            skill_links += [
                Volunteer.skills.through(volunteer_id=volunteer.pk, skill_id=pk) for pk in given.get("skills", ())
            ]
            category_links += [
                Volunteer.categories.through(volunteer_id=volunteer.pk, volunteercategory_id=pk)
                for pk in given.get("categories", ())
            ]
            qualifications += [
                Qualification(
                    volunteer_id=volunteer.pk,
                    qualification_type_id=pk,
                    valid_until=given.get("qualification_valid_until"),
                )
                for pk in given.get("qualifications", ())
            ]
        Volunteer.skills.through.objects.bulk_create(skill_links, batch_size=WRITE_BATCH)
        Volunteer.categories.through.objects.bulk_create(category_links, batch_size=WRITE_BATCH)
        Qualification.objects.bulk_create(qualifications, batch_size=WRITE_BATCH)
        progress("write", len(rows), len(rows))
        return len(rows)

    # --- The report ---------------------------------------------------------------------------

    def report(self, errors: Errors) -> list[dict]:
        """Row by row, what the import does: each new volunteer, and each update's changes as
        before → after in words, personal data masked."""
        names = _Names(self)
        report = []
        for row in self.to_create:
            given = row.clean["given"]
            report.append(
                {
                    "line": row.line,
                    "action": "create",
                    "volunteer_number": "",
                    "name": given["real_name"],
                    "changes": [
                        {
                            "column": errors.column_label("mobile"),
                            "before": "",
                            "after": mask_mobile(row.clean["mobile"]),
                        }
                    ],
                }
            )
        for row in self.to_update:
            before = row.clean["before"]
            report.append(
                {
                    "line": row.line,
                    "action": "update",
                    "volunteer_number": before["volunteer_number"],
                    "name": before["real_name"],
                    "changes": [
                        {
                            "column": errors.column_label(COLUMN_OF.get(name, name)),
                            "before": names.say(name, old),
                            "after": names.say(name, new),
                        }
                        for name, (old, new) in row.clean["changes"].items()
                    ],
                }
            )
        return sorted(report, key=lambda item: item["line"])


# --- Updating volunteers: what a cell may say, and how a change is shown ---------------------

# A cell holding one of these erases the recorded value (an empty cell keeps it): documented in
# the template's instructions and docs/imports.md.
CLEAR_WORDS = frozenset({"清空", "(清空)", "(clear)", "clear"})
CLEARABLE = frozenset(
    {
        "team",
        "categories",
        "skills",
        "qualifications",
        "qualification_valid_until",
        "insurance_valid_until",
        "insurer",
        "insurance_policy_number",
        "emergency_contact_name",
        "emergency_contact_mobile",
        "residence_district",
        "residence_street",
        "residence_community",
    }
)
# Free text the row may set, with its length limit.
TEXT_FIELDS = {
    "insurer": 100,
    "insurance_policy_number": 64,
    "emergency_contact_name": 50,
    "emergency_contact_mobile": 11,
}
CODE_TEXT_FIELDS = frozenset({"insurance_policy_number", "emergency_contact_mobile"})
# Volunteer columns an import writes directly (the rest are relations).
SCALAR_FIELDS = (
    "real_name",
    "organization_id",
    "team_id",
    "political_status",
    "insurance_valid_until",
    "insurer",
    "insurance_policy_number",
    "emergency_contact_name",
    "emergency_contact_mobile",
    "guardian_consent",
    "residence_district_id",
    "residence_street_id",
    "residence_community_id",
)
EXISTING_FIELDS = ("pk", "user_id", "mobile", "id_number_hash", "volunteer_number", *SCALAR_FIELDS)
COLUMN_OF = {
    "organization_id": "organization",
    "team_id": "team",
    "residence_district_id": "residence_district",
    "residence_street_id": "residence_street",
    "residence_community_id": "residence_community",
}


def _cleared(value: Any) -> bool:
    return _text(value).casefold() in CLEAR_WORDS


def _plain(value: Any) -> Any:
    """A value as the audit trail's JSON keeps it."""
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, date):
        return value.isoformat()
    return value


def _volunteer_relations(volunteer_ids: list[int]) -> dict[int, dict]:
    relations: dict[int, dict] = {
        pk: {"skills": set(), "categories": set(), "qualifications": {}} for pk in volunteer_ids
    }
    for chunk in _chunks(volunteer_ids):
        for volunteer_id, skill_id in Volunteer.skills.through.objects.filter(volunteer_id__in=chunk).values_list(
            "volunteer_id", "skill_id"
        ):
            relations[volunteer_id]["skills"].add(skill_id)
        for volunteer_id, category_id in Volunteer.categories.through.objects.filter(
            volunteer_id__in=chunk
        ).values_list("volunteer_id", "volunteercategory_id"):
            relations[volunteer_id]["categories"].add(category_id)
        for volunteer_id, type_id, valid_until in Qualification.objects.filter(volunteer_id__in=chunk).values_list(
            "volunteer_id", "qualification_type_id", "valid_until"
        ):
            relations[volunteer_id]["qualifications"][type_id] = valid_until
    return relations


def _masked_text(value: str) -> str:
    """A number staff need not read in full in a report: its last four characters."""
    return "*" * max(len(value) - 4, 2) + value[-4:] if len(value) > 4 else "*" * len(value)


class _Places:
    """Where a volunteer lives or works, by name: a community (code or name), else a street, else
    a district; the wider places follow from the narrower one. Clearing any clears all three."""

    COLUMNS = ("residence_district", "residence_street", "residence_community")

    def __init__(self):
        self.districts: dict[str, int] = {}
        for pk, code, name, name_en in District.objects.values_list("pk", "code", "name", "name_en"):
            for key in (code, name, name_en):
                if key:
                    self.districts[key.casefold()] = pk
        self.streets: dict[str, list[tuple[int, int]]] = {}
        for pk, district_id, name, name_en in Street.objects.values_list("pk", "district_id", "name", "name_en"):
            for key in {name, name_en} - {""}:
                self.streets.setdefault(key.casefold(), []).append((pk, district_id))
        self.communities: dict[str, list[tuple[int, int, int]]] = {}
        for pk, code, name, name_en, street_id, district_id in Community.objects.values_list(
            "pk", "code", "name", "name_en", "street_id", "street__district_id"
        ):
            for key in {code, name, name_en} - {""}:
                self.communities.setdefault(key.casefold(), []).append((pk, street_id, district_id))

    def read(self, row: Row, errors: Errors, given: dict) -> None:
        cells = {name: _text(row.values.get(name)) for name in self.COLUMNS}
        if not any(cells.values()):
            return
        if any(_cleared(value) for value in cells.values()):
            given.update(residence_district_id=None, residence_street_id=None, residence_community_id=None)
            return
        district = street = community = None
        if cells["residence_district"]:
            district = self.districts.get(cells["residence_district"].casefold())
            if district is None:
                errors.row(row, "residence_district", "unknown_place", value=cells["residence_district"])
                return
        if cells["residence_street"]:
            found = [s for s in self.streets.get(cells["residence_street"].casefold(), []) if district in (None, s[1])]
            if len(found) != 1:
                errors.row(
                    row,
                    "residence_street",
                    "unknown_place" if not found else "ambiguous_place",
                    value=cells["residence_street"],
                )
                return
            street, district = found[0]
        if cells["residence_community"]:
            found = [
                c
                for c in self.communities.get(cells["residence_community"].casefold(), [])
                if street in (None, c[1]) and district in (None, c[2])
            ]
            if len(found) != 1:
                errors.row(
                    row,
                    "residence_community",
                    "unknown_place" if not found else "ambiguous_place",
                    value=cells["residence_community"],
                )
                return
            community, street, district = found[0]
        given.update(residence_district_id=district, residence_street_id=street, residence_community_id=community)


class _Names:
    """Values of a change in words: names for ids, masked numbers, yes/no."""

    def __init__(self, importer: VolunteerImport):
        ids: dict[str, set] = {}
        for row in importer.to_update:
            for name, (before, after) in row.clean["changes"].items():
                for value in (before, after):
                    if isinstance(value, (dict, set, frozenset)):
                        ids.setdefault(name, set()).update(value)
                    elif value is not None:
                        ids.setdefault(name, set()).add(value)
        models = {
            "organization_id": Organization,
            "team_id": Team,
            "categories": VolunteerCategory,
            "skills": Skill,
            "qualifications": QualificationType,
            "residence_district_id": District,
            "residence_street_id": Street,
            "residence_community_id": Community,
        }
        self.labels: dict[str, dict] = {}
        for name, model in models.items():
            if ids.get(name):
                self.labels[name] = {
                    item.pk: (item.display_name if hasattr(item, "display_name") else item.name)
                    for item in model.objects.filter(pk__in=ids[name])
                }
        self.statuses = dict(Volunteer.PoliticalStatus.choices)

    def say(self, name: str, value: Any) -> str:
        if value is None or value == "" or value == frozenset() or value == {}:
            return "—"
        labels = self.labels.get(name, {})
        if name == "qualifications":
            return "、".join(
                f"{labels.get(pk, pk)}" + (f" ({until.isoformat()})" if until else "")
                for pk, until in sorted(value.items())
            )
        if isinstance(value, (set, frozenset)):
            return "、".join(sorted(str(labels.get(pk, pk)) for pk in value))
        if name in self.labels:
            return str(labels.get(value, value))
        if name == "political_status":
            return str(self.statuses.get(value, value))
        if name == "guardian_consent":
            return str(_("yes") if value else _("no"))
        if name == "emergency_contact_mobile":
            return mask_mobile(value)
        if name == "insurance_policy_number":
            return _masked_text(value)
        if isinstance(value, date):
            return value.isoformat()
        return str(value)


def audit_entry(*, volunteer_id: int, actor, before: dict, after: dict, reason: str, now) -> AuditEntry:
    return AuditEntry(
        action=AuditEntry.Action.VOLUNTEER_IMPORTED,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        volunteer_id=volunteer_id,
        before=before,
        after=after,
        reason=reason[:200],
        created_at=now,
    )


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _free_volunteer_numbers(count: int) -> list[str]:
    """``count`` distinct volunteer numbers that no volunteer holds yet."""
    numbers: set[str] = set()
    while len(numbers) < count:
        fresh = set()
        while len(numbers) + len(fresh) < count:
            number = volunteer_number_generate()
            if number not in numbers:
                fresh.add(number)
        taken = set()
        for chunk in _chunks(list(fresh)):
            taken.update(
                Volunteer.objects.filter(volunteer_number__in=chunk).values_list("volunteer_number", flat=True)
            )
        numbers |= fresh - taken
    return list(numbers)


# --- Communities --------------------------------------------------------------------------


def _coordinate(row: Row, errors: Errors, name: str) -> Decimal | None:
    text = _text(row.values.get(name))
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.row(row, name, "number_invalid", value=text)
        return None
    if not value.is_finite():
        errors.row(row, name, "number_invalid", value=text)
        return None
    limit = 90 if name == "latitude" else 180
    if not -limit <= value <= limit:
        errors.row(row, name, "coordinate_invalid")
        return None
    return value.quantize(Decimal("0.000001"))


class CommunityImport:
    kind = "communities"

    def __init__(self, actor):
        self.actor = actor
        self.to_create: list[Row] = []
        self.unchanged = 0

    def validate(self, rows: list[Row], errors: Errors, progress: Progress) -> None:
        districts: dict[str, int] = {}
        for pk, code, name, name_en in District.objects.values_list("pk", "code", "name", "name_en"):
            for key in (name_en, name, code):
                if key:
                    districts[key.casefold()] = pk
        codes = [_text(r.values.get("code")) for r in rows]
        existing = {
            c.code: c
            for chunk in _chunks(codes)
            for c in Community.objects.filter(code__in=chunk).select_related("street")
        }
        first_line: dict[str, int] = {}
        for row in rows:
            clean = row.clean
            district = _required_text(row, errors, "district")
            clean["district_id"] = districts.get(district.casefold())
            if district and clean["district_id"] is None:
                errors.row(row, "district", "unknown_district", value=district)
            clean["street"] = _required_text(row, errors, "street", max_length=100)
            clean["code"] = code = _required_text(row, errors, "code", max_length=32)
            clean["name"] = _required_text(row, errors, "name", max_length=100)
            clean["name_en"] = _optional_text(row, errors, "name_en", max_length=100)
            clean["address"] = _optional_text(row, errors, "address", max_length=200)
            clean["latitude"] = _coordinate(row, errors, "latitude")
            clean["longitude"] = _coordinate(row, errors, "longitude")
            if row.ok and (clean["latitude"] is None) != (clean["longitude"] is None):
                errors.row(row, "latitude", "coordinates_incomplete")
            if code in first_line:
                errors.row(row, "code", "duplicate_in_file", first_line=first_line[code])
            elif code:
                first_line[code] = row.line
            if not row.ok:
                continue
            community = existing.get(code)
            if community is None:
                self.to_create.append(row)
                continue
            differences = _differences(
                errors,
                {
                    "district": (clean["district_id"], community.street.district_id),
                    "street": (clean["street"], community.street.name),
                    "name": (clean["name"], community.name),
                    "name_en": (clean["name_en"], community.name_en),
                    "address": (clean["address"], community.address),
                    "latitude": (clean["latitude"], community.latitude),
                    "longitude": (clean["longitude"], community.longitude),
                },
            )
            if differences:
                errors.row(row, "code", "duplicate_in_database", "duplicate_details", columns=", ".join(differences))
            else:
                self.unchanged += 1
        progress("validate", len(rows), len(rows))

    def write(self, progress: Progress) -> int:
        if not self.to_create:
            return 0
        streets = {
            (district_id, name): pk
            for pk, district_id, name in Street.objects.filter(
                district_id__in={r.clean["district_id"] for r in self.to_create}
            ).values_list("pk", "district_id", "name")
        }
        for row in self.to_create:
            key = (row.clean["district_id"], row.clean["street"])
            if key not in streets:
                streets[key] = Street.objects.create(district_id=key[0], name=key[1]).pk
        Community.objects.bulk_create(
            [
                Community(
                    street_id=streets[(row.clean["district_id"], row.clean["street"])],
                    code=row.clean["code"],
                    name=row.clean["name"],
                    name_en=row.clean["name_en"],
                    address=row.clean["address"],
                    latitude=row.clean["latitude"],
                    longitude=row.clean["longitude"],
                )
                for row in self.to_create
            ],
            batch_size=WRITE_BATCH,
        )
        progress("write", len(self.to_create), len(self.to_create))
        return len(self.to_create)


# --- Posts --------------------------------------------------------------------------------


class PostImport:
    kind = "posts"

    def __init__(self, actor):
        self.actor = actor
        self.to_create: list[Row] = []
        self.unchanged = 0

    def _allowed_communities(self, communities: Iterable[Community]) -> set[int]:
        ids = {c.pk for c in communities}
        actor = self.actor
        if actor is None or actor.is_superuser or actor.staff_roles.exists():
            return ids
        return set(actor.coordinated_communities.filter(pk__in=ids).values_list("pk", flat=True))

    def validate(self, rows: list[Row], errors: Errors, progress: Progress) -> None:
        post_types: dict[str, int] = _reference_lookup(PostType)
        codes = list({_text(r.values.get("community")) for r in rows})
        communities = {c.code: c for chunk in _chunks(codes) for c in Community.objects.filter(code__in=chunk)}
        allowed = self._allowed_communities(communities.values())
        existing = {
            (p.community_id, p.name): p
            for chunk in _chunks([c.pk for c in communities.values()])
            for p in Post.objects.filter(community_id__in=chunk)
        }
        first_line: dict[tuple, int] = {}
        for row in rows:
            clean = row.clean
            code = _required_text(row, errors, "community")
            community = communities.get(code)
            clean["community_id"] = community.pk if community else None
            if code and community is None:
                errors.row(row, "community", "unknown_community", value=code)
            elif community is not None and community.pk not in allowed:
                errors.row(row, "community", "community_not_allowed", value=code)
            post_type = _required_text(row, errors, "post_type")
            clean["post_type_id"] = post_types.get(post_type.casefold())
            if post_type and clean["post_type_id"] is None:
                errors.row(row, "post_type", "unknown_post_type", value=post_type)
            clean["name"] = name = _required_text(row, errors, "name", max_length=100)
            clean["location"] = _optional_text(row, errors, "location", max_length=200)
            key = (code, name)
            if name and key in first_line:
                errors.row(row, "name", "duplicate_in_file", first_line=first_line[key])
            elif name:
                first_line[key] = row.line
            if not row.ok:
                continue
            post = existing.get((clean["community_id"], name))
            if post is None:
                self.to_create.append(row)
                continue
            differences = _differences(
                errors,
                {
                    "post_type": (clean["post_type_id"], post.post_type_id),
                    "location": (clean["location"], post.location),
                },
            )
            if differences:
                errors.row(row, "name", "duplicate_in_database", "duplicate_details", columns=", ".join(differences))
            else:
                self.unchanged += 1
        progress("validate", len(rows), len(rows))

    def write(self, progress: Progress) -> int:
        Post.objects.bulk_create(
            [
                Post(
                    community_id=row.clean["community_id"],
                    post_type_id=row.clean["post_type_id"],
                    name=row.clean["name"],
                    location=row.clean["location"],
                )
                for row in self.to_create
            ],
            batch_size=WRITE_BATCH,
        )
        progress("write", len(self.to_create), len(self.to_create))
        return len(self.to_create)


IMPORTERS = {"volunteers": VolunteerImport, "communities": CommunityImport, "posts": PostImport}


# --- The service --------------------------------------------------------------------------


def import_allowed(*, actor, kind: str) -> bool:
    """Who may import what: staff and superusers everything, coordinators posts (for their communities).

    ``actor=None`` is an operator at the command line, who may import anything.
    """
    if actor is None or actor.is_superuser:
        return True
    if not actor.is_active:
        return False
    if actor.staff_roles.exists():
        return True
    return kind == "posts" and actor.coordinated_communities.exists()


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def import_run(
    *,
    kind: str,
    file_name: str,
    content: bytes | IO[bytes],
    actor,
    dry_run: bool = False,
    expected_plan: str = "",
    progress: Progress | None = None,
) -> ImportResult:
    """Validate every row of the file and, when all are good and this is no dry run, write them.

    A dry run reports row by row what a real run would do (``changes``) and a digest of it
    (``plan``). A real run given that digest as ``expected_plan`` writes only if it would do
    exactly the same, else it is refused with ``import_plan_changed`` and writes nothing: what
    the person confirmed is what is applied.

    ``content`` is the file's bytes or a file to read them from (an upload: at most one byte past
    ``IMPORT_MAX_BYTES`` is read). Returns the counts and every error; raises
    ``ServiceError("permission_denied")`` when the actor may not import this kind at all. A dry
    run reports exactly what a real run would.

    The file is read and parsed, within its bounds, before any transaction opens: a large or
    hostile file costs the parsing only, never a transaction held open while it is read.
    """
    if kind not in IMPORTERS:
        raise ServiceError("invalid", {"kind": [f"Choose one of: {', '.join(KINDS)}."]})
    if not import_allowed(actor=actor, kind=kind):
        raise ServiceError("permission_denied")
    progress = progress or _no_progress
    result = ImportResult(kind=kind, dry_run=dry_run)
    errors = Errors(kind)
    progress("read", 0, 0)
    try:
        data = read_content(content, Limits.from_settings())
        rows = read_rows(kind, file_name, data, errors)
    except FileProblem as problem:
        line = 1 if problem.code == "file_empty" else 0
        errors.add(line, "", problem.code, problem.message_key, **problem.params)
        rows = []
    result.rows = len(rows)
    if errors.items:
        result.errors = errors.sorted()
        return result
    progress("read", len(rows), len(rows))
    sha256 = hashlib.sha256(data).hexdigest()

    def attempt() -> ImportResult:
        # Validation marks the rows it reads; each attempt starts from the rows as read.
        fresh = [Row(line=row.line, values=row.values) for row in rows]
        attempt_errors = Errors(kind, headers=dict(errors.headers))
        return _validate_and_write(
            kind, file_name, fresh, attempt_errors, actor, dry_run, sha256, progress, expected_plan
        )

    if dry_run:
        with _one_snapshot():
            return attempt()

    # A concurrent import of the same people can pass validation alongside this one; the unique
    # constraints then refuse one of them, and validating again finds those rows unchanged. An
    # update of a volunteer changed since the snapshot is a serialization failure: read again.
    for attempt_number in range(3):
        try:
            with _one_snapshot():
                result = attempt()
                if result.errors:
                    transaction.set_rollback(True)
                return result
        except IntegrityError:
            if attempt_number == 2:
                raise
        except DatabaseError as error:
            if attempt_number == 2 or not is_retryable(error):
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _one_snapshot() -> Iterator[None]:
    """The import's transaction, its reads all seeing the database as of one moment.

    Validation reads volunteers by mobile, then by ID number, then accounts by username. Under
    READ COMMITTED each statement sees the commits made before it, so an import of the same
    people committing between two of them would make this one see a volunteer by ID number but
    not by mobile, or an account without its volunteer, and refuse rows that are in fact
    unchanged. REPEATABLE READ reads one snapshot; the inserts still meet the rows committed
    after it through the unique constraints, which raise IntegrityError and start a new attempt.
    Only a transaction's first statement can choose its isolation, so this runs only when the
    import opens the transaction.
    """
    connection = transaction.get_connection()
    opens = not connection.in_atomic_block
    with transaction.atomic():
        if opens:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _plan_digest(importer) -> str:
    plan = importer.plan() if hasattr(importer, "plan") else [[row.line, "create"] for row in importer.to_create]
    return hashlib.sha256(json.dumps(plan, default=str, ensure_ascii=False).encode()).hexdigest()


def _validate_and_write(
    kind, file_name, rows, errors, actor, dry_run, sha256, progress, expected_plan=""
) -> ImportResult:
    result = ImportResult(kind=kind, dry_run=dry_run, rows=len(rows))
    progress("validate", 0, len(rows))
    importer = IMPORTERS[kind](actor)
    importer.validate(rows, errors, progress)
    if errors.items:
        result.errors = errors.sorted()
        return result
    result.unchanged = importer.unchanged
    result.updated = len(getattr(importer, "to_update", ()))
    result.changes = importer.report(errors) if hasattr(importer, "report") else []
    result.plan = _plan_digest(importer)
    if dry_run:
        result.created = len(importer.to_create)
        return result
    if expected_plan and expected_plan != result.plan:
        raise ServiceError("import_plan_changed", {"changes": result.changes})
    importer.reason = f"import {file_name or ''}"
    progress("write", 0, len(importer.to_create))
    result.created = importer.write(progress)
    result.batch = ImportBatch.objects.create(
        kind=kind,
        file_name=(file_name or "")[:200],
        sha256=sha256,
        created_by=actor,
        rows=result.rows,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
    )
    return result


# --- Templates ----------------------------------------------------------------------------

VOLUNTEER_NOTES = (
    _(
        "A row whose ID number (or volunteer number) is already registered updates that volunteer: "
        "only the columns it fills change; an empty cell keeps what is recorded."
    ),
    _(
        "To erase a recorded value, write 清空 (or “(clear)”) in the cell. Allowed in: team, categories, "
        "skills, qualifications and their date, insurance date, insurer, policy number, emergency contact "
        "and the home or work district, street and community."
    ),
    _("Name, mobile number and organization are required only for a volunteer not yet registered."),
    _("Check the file with a dry run first: it lists, row by row, what would change (before → after)."),
)


def _examples(kind: str, language: str) -> dict[str, str]:
    english = language.startswith("en")
    if kind == "volunteers":
        today = timezone.localdate()
        return {
            "real_name": "Zhang San" if english else "张三",
            "mobile": "13800138000",
            "id_number": make_id_number("320505", date(1998, 5, 20), 123),
            "organization": "ORG001",
            "team": "Team 1" if english else "第一突击队",
            "political_status": str(Volunteer.PoliticalStatus.LEAGUE_MEMBER.label),
            "categories": "youth",
            "skills": "first-aid; driving",
            "qualifications": "",
            "qualification_valid_until": "",
            "insurance_valid_until": (today + timedelta(days=365)).isoformat(),
            "guardian_consent": "no" if english else "否",
        }
    if kind == "communities":
        return {
            "district": "320508",
            "street": "Shuangta Street" if english else "双塔街道",
            "code": "320508001001",
            "name": "Dinghui Temple Lane Community" if english else "定慧寺巷社区",
            "name_en": "Dinghui Temple Lane Community",
            "address": "1 Dinghui Temple Lane" if english else "定慧寺巷1号",
            "latitude": "31.299",
            "longitude": "120.632",
        }
    return {
        "community": "320508001001",
        "post_type": "checkpoint",
        "name": "North gate checkpoint" if english else "北门卡口",
        "location": "North gate" if english else "小区北门",
    }


def import_template(*, kind: str, file_format: str, language: str | None = None) -> tuple[bytes, str, str]:
    """An empty import file with headers in ``language`` and one example row: (content, type, name)."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        columns = COLUMNS[kind]
        examples = _examples(kind, language)
        headers = [column.header(language) for column in columns]
        example_row = [examples.get(column.field, "") for column in columns]
        base_name = f"import-{kind}-template"
        if file_format == "csv":
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer)
            writer.writerow([csv_text(text) for text in headers])
            writer.writerow([csv_text(text) for text in example_row])
            # The byte-order mark lets Excel open a UTF-8 file with Chinese text correctly.
            return buffer.getvalue().encode("utf-8-sig"), CSV_CONTENT_TYPE, f"{base_name}.csv"
        return _xlsx_template(kind, columns, headers, example_row, language), XLSX_CONTENT_TYPE, f"{base_name}.xlsx"


def _xlsx_template(kind: str, columns, headers: list[str], example_row: list[str], language: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(ImportBatch.Kind(kind).label)[:31]
    sheet.append(headers)
    sheet.append(example_row)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font, cell.fill = bold, fill
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(14, len(headers[index - 1]) * 2 + 4)
        if column.text:
            for row in range(2, 1002):
                sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"

    notes = workbook.create_sheet(str(_("Instructions"))[:31])
    notes.append([str(_("Column")), str(_("Required")), str(_("What to write"))])
    for cell in notes[1]:
        cell.font = bold
    for column, header in zip(columns, headers, strict=True):
        notes.append([header, str(_("yes")) if column.required else "", str(column.help)])
    notes.append([])
    notes.append(
        [
            str(
                _(
                    "Delete the example row before importing. Every row is checked first; with any error nothing is imported."
                )
            )
        ]
    )
    if kind == "volunteers":
        for line in VOLUNTEER_NOTES:
            notes.append([str(line)])
    notes.column_dimensions["A"].width = 24
    notes.column_dimensions["C"].width = 70
    for worksheet in (sheet, notes):
        for row in worksheet.iter_rows():
            for cell in row:
                xlsx_text(cell)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
