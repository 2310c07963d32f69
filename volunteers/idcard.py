"""Resident ID-card numbers (GB 11643-1999) and mainland mobile numbers.

Pure functions: validation, masking and the birth date an ID number encodes.
"""

from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# ASCII digits only: ``\d`` would also accept full-width digits, a second spelling of one number.
_ID_RE = re.compile(r"[0-9]{17}[0-9X]")
MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")


def id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalize_id_number(value: str) -> str:
    return (value or "").strip().upper()


def id_birth_date(value: str) -> date | None:
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def age_on(birth: date, day: date) -> int:
    """Full years of age on ``day`` for someone born on ``birth``."""
    years = day.year - birth.year
    if (day.month, day.day) < (birth.month, birth.day):
        years -= 1
    return years


def id_number_error(value: str) -> str | None:
    """Return why ``value`` is not a valid ID number, or None when it is."""
    value = normalize_id_number(value)
    if not _ID_RE.fullmatch(value):
        return "format"
    born = id_birth_date(value)
    if born is None or born > date.today() or born.year < 1900:
        return "birth_date"
    if id_check_char(value[:17]) != value[17]:
        return "checksum"
    return None


def validate_id_number(value: str) -> None:
    messages = {
        "format": _("An ID number has 17 digits followed by a digit or X."),
        "birth_date": _("The ID number encodes an impossible birth date."),
        "checksum": _("The ID number's check digit is wrong."),
    }
    error = id_number_error(value)
    if error:
        raise ValidationError(messages[error], code=f"id_number_{error}")


def mask_id_number(value: str) -> str:
    """``320502199001011234`` → ``3205**********1234``: region prefix and last four only."""
    value = normalize_id_number(value)
    if len(value) < 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def id_gender(value: str) -> str:
    return "male" if int(value[16]) % 2 else "female"


def validate_mobile(value: str) -> None:
    if not MOBILE_RE.fullmatch(value or ""):
        raise ValidationError(_("Enter an 11-digit mainland mobile number starting with 1."), code="mobile_invalid")


def mask_mobile(value: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if len(value or "") != 11:
        return "*" * len(value or "")
    return value[:3] + "****" + value[-4:]


def make_id_number(region: str, birth: date, sequence: int) -> str:
    """Build a well-formed ID number (for demo data and tests): region, birth date, sequence, check."""
    first17 = f"{region:0>6}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + id_check_char(first17)
