"""Resident ID-card numbers (GB 11643-1999) and mainland mobile numbers: pure functions, no database."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from volunteers.idcard import (
    id_birth_date,
    id_check_char,
    id_gender,
    id_number_error,
    make_id_number,
    mask_id_number,
    mask_mobile,
    normalize_id_number,
    validate_id_number,
    validate_mobile,
)

CLASSIC_ID = "11010519491231002X"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def reference_check_char(first17: str) -> str:
    """GB 11643-1999 written out independently: weights 2^(17-i) mod 11, check (12 - sum mod 11) mod 11."""
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(first17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _validation_code(value) -> str:
    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(value)
    return excinfo.value.code


# --- Check character ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "check"),
    [("11010519491231002X", "X"), ("440524198001010013", "3"), ("320505199001011233", "3")],
)
def test_check_char_of_known_valid_numbers(number, check):
    assert reference_check_char(number[:17]) == check
    assert id_check_char(number[:17]) == check
    assert id_number_error(number) is None
    validate_id_number(number)


def test_check_char_agrees_with_reference_for_every_possible_value():
    # Vary the sequence so each of the 11 check characters (0-9 and X) occurs.
    seen = set()
    for sequence in range(200):
        first17 = f"32050519900101{sequence:03d}"
        assert id_check_char(first17) == reference_check_char(first17)
        seen.add(id_check_char(first17))
    assert seen == set("0123456789X")


@pytest.mark.parametrize(
    ("region", "birth", "sequence", "expected"),
    [
        ("320505", date(1990, 1, 1), 123, "320505199001011233"),
        ("110105", date(1949, 12, 31), 2, "11010519491231002X"),
        ("320505", date(2000, 2, 29), 1, "320505200002290014"),
        ("320505", date(1995, 6, 15), 1007, "320505199506150079"),  # sequence wraps at 1000
    ],
)
def test_make_id_number_builds_valid_numbers(region, birth, sequence, expected):
    number = make_id_number(region, birth, sequence)
    assert number == expected
    assert number[17] == reference_check_char(number[:17])
    assert id_number_error(number) is None
    assert id_birth_date(number) == birth


def test_make_id_number_pads_short_region():
    assert make_id_number("5", date(1990, 1, 1), 1)[:6] == "000005"


# --- Validation errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "11010519491231002",  # 17 characters
        "11010519491231002X1",  # 19 characters
        "1101051949123100XX",  # X before the last place
        "X10105194912310021",
        "11010519491231A02X",
        "110105 19491231002X",
        "110105194912310024Y",
        "110105-1949-1231-002X",
    ],
)
def test_malformed_id_number_is_refused_with_format_code(value):
    assert id_number_error(value) == "format"
    assert _validation_code(value) == "id_number_format"


@pytest.mark.parametrize(
    "first17",
    [
        "11010519491331002",  # month 13
        "11010519490230002",  # 30 February
        "11010519490229002",  # 29 February in a common year
        "11010519490001002",  # month 00
        "11010519491200002",  # day 00
        "11010500001231002",  # year 0000
    ],
)
def test_impossible_birth_date_is_refused_with_birth_date_code(first17):
    value = first17 + id_check_char(first17)  # correct check character: only the date is wrong
    assert id_number_error(value) == "birth_date"
    assert _validation_code(value) == "id_number_birth_date"


def test_leap_day_birth_date_is_accepted():
    value = make_id_number("320505", date(2000, 2, 29), 5)
    assert id_number_error(value) is None
    assert id_birth_date(value) == date(2000, 2, 29)


@pytest.mark.parametrize("wrong", ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
def test_wrong_check_char_is_refused_with_checksum_code(wrong):
    value = CLASSIC_ID[:17] + wrong
    assert id_number_error(value) == "checksum"
    assert _validation_code(value) == "id_number_checksum"


def test_single_digit_typo_is_caught_by_checksum():
    typo = "11010519491231012X"  # 17th digit 0 → 1
    assert _validation_code(typo) == "id_number_checksum"


def test_validation_messages_are_the_documented_ones():
    from django.utils import translation

    with pytest.raises(ValidationError) as excinfo:
        validate_id_number(CLASSIC_ID[:17] + "1")
    with translation.override("en"):
        assert excinfo.value.messages == ["The ID number's check digit is wrong."]
    with translation.override("zh-hans"):
        assert excinfo.value.messages == ["身份证号校验位错误。"]


def test_lowercase_x_and_surrounding_spaces_are_normalised():
    assert normalize_id_number(" 11010519491231002x\n") == CLASSIC_ID
    assert normalize_id_number(None) == ""
    assert id_number_error("11010519491231002x") is None
    validate_id_number("  11010519491231002x ")


def test_id_number_with_full_width_digits_is_refused():
    """Only ASCII digits form an ID number. Python's ``\\d`` also matches full-width (and other Unicode)
    digits, so a full-width copy of a valid number passes and hashes to a different blind index:
    the same person could register twice."""
    full_width = CLASSIC_ID.translate(FULL_WIDTH)
    assert full_width != CLASSIC_ID
    assert id_number_error(full_width) == "format", "DEFECT: idcard._ID_RE accepts non-ASCII digits"


def test_id_number_with_future_birth_date_is_refused():
    """A birth date in the future is as impossible as 30 February."""
    value = make_id_number("320505", date(2999, 1, 1), 1)
    assert id_number_error(value) == "birth_date", "DEFECT: id_number_error accepts a birth date in the future"


# --- Masking, gender, birth date ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("32050519900101123X", "3205**********123X"),
        (CLASSIC_ID, "1101**********002X"),
        ("11010519491231002x", "1101**********002X"),
        ("440524188001010014", "4405**********0014"),
    ],
)
def test_mask_id_number_keeps_first_four_and_last_four(value, masked):
    result = mask_id_number(value)
    assert result == masked
    assert len(result) == 18
    assert result.count("*") == 10
    assert result[4:14] == "*" * 10


@pytest.mark.parametrize(("value", "masked"), [("1234567", "*******"), ("", ""), ("12345678", "12345678")])
def test_mask_id_number_of_short_values(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "gender"),
    [
        (CLASSIC_ID, "female"),  # 17th digit 2
        ("440524188001010014", "male"),  # 17th digit 1
        (make_id_number("320505", date(1990, 1, 1), 9), "male"),
        (make_id_number("320505", date(1990, 1, 1), 10), "female"),
    ],
)
def test_id_gender_from_parity_of_17th_digit(value, gender):
    assert id_gender(value) == gender


@pytest.mark.parametrize(
    ("value", "birth"),
    [
        (CLASSIC_ID, date(1949, 12, 31)),
        ("440524188001010014", date(1880, 1, 1)),
        ("32050520000229001" + id_check_char("32050520000229001"), date(2000, 2, 29)),
        ("11010519490230002X", None),
        ("not-an-id", None),
    ],
)
def test_id_birth_date(value, birth):
    assert id_birth_date(value) == birth


# --- Mobile numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["13812345678", "19912345678", "15000000000", "17700001111"])
def test_valid_mobile_passes(value):
    assert validate_mobile(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "12812345678",  # second digit 2
        "10812345678",
        "23812345678",  # does not start with 1
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "1381234567a",
        "abcdefghijk",
        "138 1234 5678",
        "+8613812345678",
        "",
        None,
    ],
)
def test_invalid_mobile_is_refused(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_mobile(value)
    assert excinfo.value.code == "mobile_invalid"


@pytest.mark.parametrize(
    "value",
    [
        "13812345678\n",  # ``$`` matches before a trailing newline
        "13" + "812345678".translate(FULL_WIDTH),  # ``\d`` matches full-width digits
    ],
)
def test_mobile_with_trailing_newline_or_non_ascii_digits_is_refused(value):
    """Such a value passes, then is stored as a different mobile (and username) than the real number."""
    try:
        validate_mobile(value)
    except ValidationError as error:
        assert error.code == "mobile_invalid"
    else:
        pytest.fail(f"DEFECT: idcard.MOBILE_RE accepts {value!r} (use \\Z / [0-9] or re.ASCII)")


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13812345678", "138****5678"), ("19900001111", "199****1111"), ("1381234567", "**********"), ("", "")],
)
def test_mask_mobile(value, masked):
    assert mask_mobile(value) == masked


def test_mask_mobile_of_none():
    assert mask_mobile(None) == ""


def test_birth_year_before_1900_is_refused_but_its_check_char_is_still_computed():
    assert id_check_char("44052418800101001") == "4"
    assert id_number_error("440524188001010014") == "birth_date"
