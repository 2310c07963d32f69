"""Text written into spreadsheets for download: whatever a spreadsheet would run stays text.

A name typed as ``=HYPERLINK("http://…", "点击")`` by one person must not become a live formula in
the file another person opens (OWASP, "CSV injection"). Spreadsheets start a formula at ``=``,
``+``, ``-`` or ``@``, and some skip a leading tab or carriage return before looking. Every XLSX
and CSV the application writes (communities.render.exports, communities.services.imports templates) passes its
text through here: in XLSX such a cell is a string cell formatted as text, in CSV the text gets
a leading apostrophe, which spreadsheets read as "this is text".

Only text is touched: numbers and dates are written as numbers and dates, so a negative number
stays a number.
"""

from __future__ import annotations

from typing import Any

# The control characters an XLSX cannot hold: a name holding one makes openpyxl refuse the cell,
# and with it the whole workbook.
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as XLSX_ILLEGAL

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TEXT_FORMAT = "@"


def formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def csv_text(value: str) -> str:
    return "'" + value if formula_like(value) else value


def xlsx_value(value: Any) -> Any:
    """A value an XLSX can hold: text without the control characters the format forbids."""
    if isinstance(value, str) and XLSX_ILLEGAL.search(value):
        return XLSX_ILLEGAL.sub("", value)
    return value


def xlsx_text(cell):
    """The openpyxl cell (normal or write-only) with formula-like text kept as a text cell."""
    if formula_like(cell.value):
        # openpyxl types any string starting with "=" as a formula; a string cell is never run,
        # and the text format keeps Excel from turning it into one when the cell is edited.
        cell.data_type = "s"
        cell.number_format = TEXT_FORMAT
    return cell
