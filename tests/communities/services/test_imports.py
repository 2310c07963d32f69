"""Bulk import: parsing, validation of every row, all-or-nothing writes, idempotency, scope,
templates, and the command, API and admin that call the one service."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from openpyxl import Workbook, load_workbook

from communities.models import Community, Post, Street
from communities.services import imports
from communities.services.imports import import_run, import_template
from config.errors import ServiceError
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    QualificationTypeFactory,
    SkillFactory,
    StreetFactory,
    TeamFactory,
    UserFactory,
    VolunteerCategoryFactory,
    VolunteerFactory,
)
from volunteers import crypto
from volunteers.idcard import make_id_number
from volunteers.models import ImportBatch, Qualification, Volunteer

pytestmark = pytest.mark.django_db

User = get_user_model()

HEADER_ZH = [
    "姓名",
    "手机号",
    "身份证号",
    "机构代码",
    "突击队",
    "政治面貌",
    "志愿者类别",
    "技能",
    "资质",
    "资质有效期至",
    "意外保险有效期至",
    "监护人同意",
]
HEADER_EN = [
    "Name",
    "Mobile",
    "ID number",
    "Organization code",
    "Team",
    "Political status",
    "Categories",
    "Skills",
    "Qualifications",
    "Qualifications valid until",
    "Insurance valid until",
    "Guardian consent",
]
# The template's columns: the ones above, then those that update and locate a volunteer.
TEMPLATE_ZH = [*HEADER_ZH, "保险公司", "保单号", "紧急联系人", "紧急联系人电话", "居住或工作区", "居住或工作街道",
               "居住或工作社区", "志愿者编号"]  # fmt: skip
TEMPLATE_EN = [*HEADER_EN, "Insurer", "Policy number", "Emergency contact", "Emergency contact phone",
               "Home or work district", "Home or work street", "Home or work community", "Volunteer number"]  # fmt: skip
ID_1 = make_id_number("320506", date(1996, 3, 8), 11)  # 17th digit 1: male
ID_2 = make_id_number("320506", date(1999, 12, 1), 22)  # 17th digit 2: female
ID_3 = make_id_number("320506", date(2001, 7, 30), 33)


def csv_file(header, *rows, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_file(header, *rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def counts(answer: dict) -> dict:
    """An import's answer without its row-by-row report and plan digest (tested on their own)."""
    return {key: value for key, value in answer.items() if key not in ("changes", "plan")}


def snapshot():
    """Everything an import can write, to prove a refused import wrote nothing."""
    return (
        list(Volunteer.objects.order_by("pk").values()),
        list(User.objects.order_by("pk").values()),
        list(Qualification.objects.order_by("pk").values()),
        list(Volunteer.skills.through.objects.order_by("pk").values()),
        list(Volunteer.categories.through.objects.order_by("pk").values()),
        list(ImportBatch.objects.order_by("pk").values()),
        list(Community.objects.order_by("pk").values()),
        list(Street.objects.order_by("pk").values()),
        list(Post.objects.order_by("pk").values()),
    )


@pytest.fixture
def world():
    committee = OrganizationFactory(code="SZJR", name="苏州金融团工委", kind="committee")
    bank = OrganizationFactory(code="BANK1", name="银行一", parent=committee)
    branch = OrganizationFactory(code="BANK1-01", name="银行一支行", parent=bank, kind="branch")
    other = OrganizationFactory(code="BANK2", name="银行二", parent=committee)
    team = TeamFactory(organization=branch, name="第一突击队")
    first_aid = SkillFactory(code="first-aid", name="急救", name_en="First aid")
    driving = SkillFactory(code="driving", name="驾驶", name_en="Driving")
    psychology = QualificationTypeFactory(code="psychology", name="心理咨询", name_en="Counselling")
    youth = VolunteerCategoryFactory(code="youth", name="青年", name_en="Youth")
    staff = OrganizationStaffFactory(organization=bank).user
    return {
        "committee": committee,
        "bank": bank,
        "branch": branch,
        "other": other,
        "team": team,
        "first_aid": first_aid,
        "driving": driving,
        "psychology": psychology,
        "youth": youth,
        "staff": staff,
    }


def good_rows():
    insured = (timezone.localdate() + timedelta(days=200)).isoformat()
    return [
        [
            "王小明",
            "13700000001",
            ID_1,
            "BANK1-01",
            "第一突击队",
            "共青团员",
            "youth",
            "first-aid；驾驶",
            "psychology",
            "2030-06-30",
            insured,
            "否",
        ],
        ["李红", "13700000002", ID_2, "BANK1", "", "", "", "", "", "", "", ""],
    ]


def test_valid_csv_imports_every_row_with_exact_values(world):
    content = csv_file(HEADER_ZH, *good_rows())

    result = import_run(kind="volunteers", file_name="名单.csv", content=content, actor=world["staff"])

    assert counts(result.as_dict()) == {
        "kind": "volunteers",
        "dry_run": False,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }
    first = Volunteer.objects.get(mobile="13700000001")
    assert first.real_name == "王小明"
    assert first.id_number == ID_1
    assert first.id_number_hash == crypto.blind_index(ID_1)
    assert first.id_number_masked == ID_1[:4] + "**********" + ID_1[-4:]
    assert first.birth_date == date(1996, 3, 8)
    assert first.gender == "male"
    assert first.organization == world["branch"]
    assert first.team == world["team"]
    assert first.political_status == "league_member"
    assert first.status == "reserve"
    assert list(first.categories.all()) == [world["youth"]]
    assert set(first.skills.all()) == {world["first_aid"], world["driving"]}
    assert [(q.qualification_type, q.valid_until) for q in first.qualifications.all()] == [
        (world["psychology"], date(2030, 6, 30))
    ]
    assert first.insurance_valid_until == timezone.localdate() + timedelta(days=200)
    assert first.guardian_consent is False
    assert first.volunteer_number.startswith("SZ") and len(first.volunteer_number) == 12
    assert first.user.username == "13700000001"
    assert first.user.first_name == "王小明"
    assert first.user.has_usable_password() is False

    second = Volunteer.objects.get(mobile="13700000002")
    assert (second.gender, second.organization, second.team, second.political_status) == (
        "female",
        world["bank"],
        None,
        "masses",
    )
    assert list(second.skills.all()) == [] and second.insurance_valid_until is None
    assert second.volunteer_number != first.volunteer_number

    batch = ImportBatch.objects.get()
    assert (batch.kind, batch.file_name, batch.created_by, batch.rows, batch.created, batch.unchanged) == (
        "volunteers",
        "名单.csv",
        world["staff"],
        2,
        2,
        0,
    )
    assert batch.sha256 == hashlib.sha256(content).hexdigest()
    assert result.batch == batch


def test_xlsx_with_english_headers_numbers_and_date_cells(world):
    content = xlsx_file(
        HEADER_EN,
        ["Wang Xiaoming", 13700000001, ID_1, "BANK1-01", "第一突击队", "Communist Party member", "Youth",
         "First aid", "", None, datetime(2031, 1, 2), "yes"],
    )  # fmt: skip

    result = import_run(kind="volunteers", file_name="list.xlsx", content=content, actor=world["staff"])

    assert (result.errors, result.created) == ([], 1)
    volunteer = Volunteer.objects.get()
    assert (volunteer.mobile, volunteer.political_status, volunteer.insurance_valid_until) == (
        "13700000001",
        "party_member",
        date(2031, 1, 2),
    )
    assert (list(volunteer.skills.all()), list(volunteer.categories.all()), volunteer.guardian_consent) == (
        [world["first_aid"]],
        [world["youth"]],
        True,
    )


def test_reimporting_the_same_file_changes_nothing(world):
    content = csv_file(HEADER_ZH, *good_rows())
    import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
    before = snapshot()[:5]

    result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])

    assert counts(result.as_dict()) == {
        "kind": "volunteers",
        "dry_run": False,
        "rows": 2,
        "created": 0,
        "updated": 0,
        "unchanged": 2,
        "errors": [],
    }
    assert snapshot()[:5] == before
    assert list(ImportBatch.objects.order_by("pk").values_list("created", "unchanged")) == [(2, 0), (0, 2)]


def test_every_bad_row_is_reported_and_nothing_is_written(world):
    VolunteerFactory(mobile="13900000009")
    before = snapshot()
    bad_checksum = ID_3[:17] + ("0" if ID_3[17] != "0" else "1")
    content = csv_file(
        HEADER_ZH,
        good_rows()[0],
        ["", "1370000000", bad_checksum, "NOPE", "", "", "", "", "", "", "", ""],
        ["张三", "13700000001", ID_1, "BANK1-01", "不存在的队", "路人", "x", "飞行", "飞行执照", "明天", "2024-13-01", "也许"],
        ["赵四", "13900000009", ID_3, "BANK1", "", "", "", "", "", "", "", ""],
        ["钱五", "13700000005", make_id_number("320506", timezone.localdate() - timedelta(days=365 * 10), 1),
         "BANK1", "", "", "", "", "", "", "", ""],
    )  # fmt: skip

    with translation.override("en"):
        result = import_run(kind="volunteers", file_name="bad.csv", content=content, actor=world["staff"])

    assert (result.rows, result.created, result.unchanged) == (5, 0, 0)
    assert [(e["line"], e["column"], e["code"]) for e in result.errors] == [
        (3, "手机号", "mobile_invalid"),
        (3, "身份证号", "id_number_checksum"),
        (3, "机构代码", "unknown_organization"),
        (3, "姓名", "required"),  # what a new volunteer lacks, once the row is known to be new
        (4, "政治面貌", "choice_invalid"),
        (4, "志愿者类别", "unknown_category"),
        (4, "技能", "unknown_skill"),
        (4, "资质", "unknown_qualification"),
        (4, "资质有效期至", "date_invalid"),
        (4, "意外保险有效期至", "date_invalid"),
        (4, "监护人同意", "boolean_invalid"),
        (4, "手机号", "duplicate_in_file"),
        (4, "身份证号", "duplicate_in_file"),
        (4, "突击队", "unknown_team"),
        (5, "手机号", "duplicate_in_database"),
        (6, "身份证号", "too_young"),
    ]
    messages = {(e["line"], e["column"]): e["message"] for e in result.errors}
    assert messages[(3, "机构代码")] == "No organization has the code “NOPE”."
    assert messages[(3, "身份证号")] == "The ID number's check digit is wrong."
    assert messages[(4, "突击队")] == "Organization “BANK1-01” has no team named “不存在的队”."
    assert messages[(4, "政治面貌")] == (
        "“路人” is not one of: Communist Party member / Probationary party member / "
        "Communist Youth League member / Ordinary citizen."
    )
    assert messages[(4, "技能")] == "Unknown skill: 飞行."
    assert messages[(4, "身份证号")] == "Same value as line 2."
    assert messages[(4, "资质有效期至")] == "“明天” is not a date; write it as 2024-03-01."
    assert messages[(4, "监护人同意")] == "“也许” is not yes or no."
    assert messages[(5, "手机号")] == "A volunteer with this mobile number is already registered."
    assert messages[(6, "身份证号")] == "Volunteers must be at least 14 years old."
    assert snapshot() == before


def test_error_messages_follow_the_active_language(world):
    content = csv_file(HEADER_ZH, ["王小明", "123", ID_1, "NOPE", "", "", "", "", "", "", "", ""])
    with translation.override("zh-hans"):
        result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
    assert [e["message"] for e in result.errors] == ["请输入以1开头的11位大陆手机号。", "没有代码为“NOPE”的机构。"]


def test_conflicts_with_existing_volunteers_and_accounts(world):
    existing = VolunteerFactory(
        mobile="13700000001",
        id_number=ID_1,
        organization=world["branch"],
        real_name="王小明",
        team=None,
        insurance_valid_until=None,
    )
    other_id = make_id_number("320506", date(1990, 1, 1), 44)
    VolunteerFactory(mobile="13700000008", id_number=other_id)
    UserFactory(username="13700000004")  # an account that is not a volunteer
    before = snapshot()
    content = csv_file(
        HEADER_ZH,
        ["王小明", "13700000001", ID_1, "BANK1-01", "第一突击队", "", "", "", "", "", "", ""],  # same person, new team
        ["李红", "13700000008", ID_2, "BANK1", "", "", "", "", "", "", "", ""],  # mobile taken
        ["李白", "13700000003", other_id, "BANK1", "", "", "", "", "", "", "", ""],  # ID number taken
        ["杜甫", "13700000004", ID_3, "BANK1", "", "", "", "", "", "", "", ""],  # account exists
        ["王小明", "13700000001", ID_1, "BANK1-01", "第一突击队", "", "", "", "", "", "", ""],  # repeated row
    )

    with translation.override("en"):
        result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])

    # Line 2 names a registered volunteer: an update (to a new team), not an error. Line 4 names,
    # by ID number, a volunteer of an organization outside the importer's.
    assert [(e["line"], e["column"], e["code"], e["message"]) for e in result.errors] == [
        (3, "手机号", "duplicate_in_database", "A volunteer with this mobile number is already registered."),
        (
            4,
            "身份证号",
            "volunteer_not_allowed",
            "This volunteer belongs to an organization outside yours; they cannot be updated here.",
        ),
        (5, "手机号", "duplicate_in_database", "An account with this mobile number already exists."),
        (6, "手机号", "duplicate_in_file", "Same value as line 2."),
        (6, "身份证号", "duplicate_in_file", "Same value as line 2."),
    ]
    assert snapshot() == before
    existing.refresh_from_db()
    assert existing.team is None


def test_an_existing_volunteer_with_the_same_data_is_unchanged(world):
    volunteer = VolunteerFactory(
        mobile="13700000002",
        id_number=ID_2,
        real_name="李红",
        organization=world["bank"],
        political_status="masses",
        insurance_valid_until=None,
    )
    content = csv_file(HEADER_ZH, good_rows()[1])
    result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
    assert (result.errors, result.created, result.unchanged) == ([], 0, 1)
    assert Volunteer.objects.get() == volunteer


def test_dry_run_reports_what_the_import_would_do_and_writes_nothing(world):
    content = csv_file(HEADER_ZH, *good_rows())
    before = snapshot()

    dry = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"], dry_run=True)

    assert counts(dry.as_dict()) == {
        "kind": "volunteers",
        "dry_run": True,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }
    assert dry.batch is None
    assert snapshot() == before
    real = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
    assert (real.rows, real.created, real.unchanged) == (dry.rows, dry.created, dry.unchanged)
    bad = csv_file(HEADER_ZH, ["王小明", "123", ID_1, "BANK1", "", "", "", "", "", "", "", ""])
    dry_bad = import_run(kind="volunteers", file_name="b.csv", content=bad, actor=world["staff"], dry_run=True)
    real_bad = import_run(kind="volunteers", file_name="b.csv", content=bad, actor=world["staff"])
    assert dry_bad.errors == real_bad.errors != []


def test_staff_import_only_into_their_own_subtree(world):
    before = snapshot()
    content = csv_file(HEADER_ZH, ["李红", "13700000002", ID_2, "BANK2", "", "", "", "", "", "", "", ""])
    with translation.override("en"):
        result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
    assert result.errors == [
        {
            "line": 2,
            "column": "机构代码",
            "code": "organization_not_allowed",
            "message": "You may not import volunteers into organization “BANK2”.",
        }
    ]
    assert snapshot() == before
    superuser = UserFactory(is_superuser=True)
    assert import_run(kind="volunteers", file_name="a.csv", content=content, actor=superuser).created == 1


@pytest.mark.parametrize("kind", ["volunteers", "communities", "posts"])
def test_people_without_a_role_may_not_import(kind, world):
    volunteer = VolunteerFactory()
    before = snapshot()
    with pytest.raises(ServiceError) as excinfo:
        import_run(kind=kind, file_name="a.csv", content=b"x", actor=volunteer.user)
    assert excinfo.value.code == "permission_denied"
    assert snapshot() == before


def test_coordinators_import_posts_for_their_own_communities_only():
    coordinator = UserFactory()
    mine, theirs = CommunityFactory(code="C-MINE"), CommunityFactory(code="C-THEIRS")
    mine.coordinators.add(coordinator)
    PostTypeFactory(code="checkpoint", name="卡口执勤")
    header = ["社区代码", "岗位类型", "岗位名称", "位置"]

    for kind in ("volunteers", "communities"):
        with pytest.raises(ServiceError):
            import_run(kind=kind, file_name="a.csv", content=b"x", actor=coordinator)
    refused = import_run(
        kind="posts",
        file_name="p.csv",
        content=csv_file(header, ["C-MINE", "checkpoint", "北门卡口", "北门"], ["C-THEIRS", "卡口执勤", "南门", ""]),
        actor=coordinator,
    )
    assert [(e["line"], e["code"]) for e in refused.errors] == [(3, "community_not_allowed")]
    assert Post.objects.count() == 0

    result = import_run(
        kind="posts",
        file_name="p.csv",
        content=csv_file(header, ["C-MINE", "checkpoint", "北门卡口", "北门"]),
        actor=coordinator,
    )
    assert (result.errors, result.created) == ([], 1)
    post = Post.objects.get()
    assert (post.community, post.post_type.code, post.name, post.location) == (mine, "checkpoint", "北门卡口", "北门")
    assert theirs.posts.count() == 0


def test_posts_import_validates_and_is_idempotent():
    staff = OrganizationStaffFactory().user
    community = CommunityFactory(code="C1")
    PostTypeFactory(code="checkpoint", name="卡口执勤")
    PostTypeFactory(code="publicity", name="政策宣传")
    existing = PostFactory(community=community, name="东门卡口", post_type__code="checkpoint", location="东门")
    header = ["Community code", "Post type", "Post name", "Location"]
    good = [["C1", "checkpoint", "东门卡口", "东门"], ["C1", "政策宣传", "宣传点", "广场"]]

    bad = import_run(
        kind="posts",
        file_name="p.csv",
        content=csv_file(
            header,
            *good,
            ["C9", "checkpoint", "x", ""],
            ["C1", "flying", "y", ""],
            ["C1", "checkpoint", "宣传点", ""],
            ["C1", "publicity", "东门卡口", "东门"],
        ),
        actor=staff,
    )
    assert [(e["line"], e["column"], e["code"]) for e in bad.errors] == [
        (4, "Community code", "unknown_community"),
        (5, "Post type", "unknown_post_type"),
        (6, "Post name", "duplicate_in_file"),
        (7, "Post name", "duplicate_in_file"),
    ]
    assert list(Post.objects.all()) == [existing]

    result = import_run(kind="posts", file_name="p.csv", content=csv_file(header, *good), actor=staff)
    assert (result.errors, result.created, result.unchanged) == ([], 1, 1)
    again = import_run(kind="posts", file_name="p.csv", content=csv_file(header, *good), actor=staff)
    assert (again.created, again.unchanged) == (0, 2)
    moved = import_run(
        kind="posts", file_name="p.csv", content=csv_file(header, ["C1", "checkpoint", "宣传点", "广场"]), actor=staff
    )
    assert [(e["code"], e["column"]) for e in moved.errors] == [("duplicate_in_database", "Post name")]


def test_communities_import_adds_streets_checks_coordinates_and_is_idempotent():
    staff = OrganizationStaffFactory().user
    district = DistrictFactory(code="320508", name="姑苏区", name_en="Gusu")
    street = StreetFactory(district=district, name="双塔街道")
    header = ["区", "街道", "社区代码", "社区名称", "英文名称", "地址", "纬度", "经度"]
    good = [
        ["姑苏区", "双塔街道", "GS-001", "定慧寺巷社区", "Dinghui", "定慧寺巷1号", "31.299", "120.632"],
        ["320508", "新街道", "GS-002", "新社区", "", "", "", ""],
    ]

    bad = import_run(
        kind="communities",
        file_name="c.csv",
        content=csv_file(
            header,
            *good,
            ["不存在区", "双塔街道", "GS-003", "甲", "", "", "", ""],
            ["Gusu", "双塔街道", "GS-001", "乙", "", "", "", ""],
            ["Gusu", "双塔街道", "GS-004", "丙", "", "", "91", "120"],
            ["Gusu", "双塔街道", "GS-005", "丁", "", "", "abc", ""],
            ["Gusu", "双塔街道", "GS-006", "戊", "", "", "31.2", ""],
        ),
        actor=staff,
    )
    assert [(e["line"], e["column"], e["code"]) for e in bad.errors] == [
        (4, "区", "unknown_district"),
        (5, "社区代码", "duplicate_in_file"),
        (6, "纬度", "coordinate_invalid"),
        (7, "纬度", "number_invalid"),
        (8, "纬度", "coordinates_incomplete"),
    ]
    assert (Community.objects.count(), Street.objects.count()) == (0, 1)

    result = import_run(kind="communities", file_name="c.csv", content=csv_file(header, *good), actor=staff)
    assert (result.errors, result.created) == ([], 2)
    first = Community.objects.get(code="GS-001")
    assert (first.street, first.name, first.name_en, first.address, first.latitude, first.longitude) == (
        street,
        "定慧寺巷社区",
        "Dinghui",
        "定慧寺巷1号",
        Decimal("31.299000"),
        Decimal("120.632000"),
    )
    second = Community.objects.get(code="GS-002")
    assert (second.street.name, second.street.district, second.latitude) == ("新街道", district, None)

    again = import_run(kind="communities", file_name="c.csv", content=csv_file(header, *good), actor=staff)
    assert (again.errors, again.created, again.unchanged) == ([], 0, 2)
    renamed = import_run(
        kind="communities",
        file_name="c.csv",
        content=csv_file(
            header, ["姑苏区", "双塔街道", "GS-001", "改名社区", "Dinghui", "定慧寺巷1号", "31.299", "120.632"]
        ),
        actor=staff,
    )
    assert [(e["code"], e["message"]) for e in renamed.errors] == [
        ("duplicate_in_database", str(imports.MESSAGES["duplicate_details"]) % {"columns": "社区名称"})
    ]


def test_header_problems_are_reported_on_line_one(world):
    header = ["姓名", "手机号", "备注", "手机号码", "机构代码"]
    with translation.override("en"):
        result = import_run(
            kind="volunteers", file_name="a.csv", content=csv_file(header, ["a"] * 5), actor=world["staff"]
        )
    assert result.errors == [
        {"line": 1, "column": "备注", "code": "column_unknown", "message": "Unknown column “备注”."},
        {
            "line": 1,
            "column": "手机号码",
            "code": "column_duplicate",
            "message": "The column “手机号码” appears twice.",
        },
        {
            "line": 1,
            "column": "ID number",
            "code": "column_missing",
            "message": "The required column “ID number” is missing.",
        },
    ]


@pytest.mark.parametrize(
    ("file_name", "content", "code", "line"),
    [
        ("a.xls", b"\xd0\xcf\x11\xe0 legacy excel", "file_format", 0),
        ("a.xlsx", b"PK\x03\x04 not really a zip", "file_unreadable", 0),
        ("a.csv", b"\xff\xfe\x00\x00\x81", "file_unreadable", 0),
        ("a.csv", b"\n\n", "file_empty", 1),
        ("a.csv", "姓名,手机号,身份证号,机构代码\n,,,\n".encode(), "no_rows", 0),
    ],
)
def test_unusable_files_are_reported(file_name, content, code, line, world):
    result = import_run(kind="volunteers", file_name=file_name, content=content, actor=world["staff"])
    assert [(e["line"], e["code"]) for e in result.errors] == [(line, code)]
    assert ImportBatch.objects.count() == 0


def test_limits_on_rows_and_size(world, settings):
    settings.IMPORT_MAX_ROWS = 1
    result = import_run(
        kind="volunteers", file_name="a.csv", content=csv_file(HEADER_ZH, *good_rows()), actor=world["staff"]
    )
    assert [e["code"] for e in result.errors] == ["too_many_rows"]
    settings.IMPORT_MAX_BYTES = 10
    result = import_run(
        kind="volunteers", file_name="a.csv", content=csv_file(HEADER_ZH, *good_rows()), actor=world["staff"]
    )
    assert [e["code"] for e in result.errors] == ["file_too_large"]


# --- Bounds on the work a file can cause -----------------------------------------------------------


def file_error(result) -> list[tuple[int, str, str]]:
    return [(e["line"], e["code"], e["message"]) for e in result.errors]


def english_import(world, file_name: str, content, **kwargs):
    with translation.override("en"):
        return import_run(kind="volunteers", file_name=file_name, content=content, actor=world["staff"], **kwargs)


def xlsx_with_sheet(sheet_data: str, dimension: str = "A1") -> bytes:
    """An XLSX written by openpyxl whose sheet holds ``sheet_data`` (the <sheetData> children)
    and claims ``dimension``, as a hand-made or hostile file can."""
    import re
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_file(["姓名"]))) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text = re.sub(r"<dimension ref=\"[^\"]*\" ?/>", f'<dimension ref="{dimension}"/>', text)
                text = re.sub(r"<sheetData>.*</sheetData>|<sheetData ?/>", f"<sheetData>{sheet_data}</sheetData>", text)
                data = text.encode()
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def header_xml() -> str:
    from openpyxl.utils import get_column_letter

    cells = "".join(
        f'<c r="{get_column_letter(n)}1" t="inlineStr"><is><t>{h}</t></is></c>' for n, h in enumerate(HEADER_ZH, 1)
    )
    return f'<row r="1">{cells}</row>'


def test_blank_but_styled_rows_count_as_rows_read(world):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER_ZH)
    sheet.append(good_rows()[0])
    bold = Font(bold=True)
    for _ in range(100_000):
        cell = WriteOnlyCell(sheet, value=None)
        cell.font = bold
        sheet.append([cell])
    buffer = io.BytesIO()
    workbook.save(buffer)
    before = snapshot()
    result = english_import(world, "blank.xlsx", buffer.getvalue())
    assert file_error(result) == [(0, "too_many_rows", "A file may hold at most 25000 rows, blank rows included.")]
    assert (result.rows, result.created) == (0, 0)
    assert snapshot() == before


def test_whitespace_rows_count_as_rows_read(world, settings):
    settings.IMPORT_MAX_LINES = 100
    rows = [good_rows()[0]] + [[" ", "\t", ""]] * 99
    before = snapshot()
    for file_name, content in (("a.xlsx", xlsx_file(HEADER_ZH, *rows)), ("a.csv", csv_file(HEADER_ZH, *rows))):
        result = english_import(world, file_name, content)
        assert file_error(result) == [(0, "too_many_rows", "A file may hold at most 100 rows, blank rows included.")]
    # The header, a data row and 98 blank rows: exactly the limit, and the one volunteer goes in.
    result = english_import(world, "a.csv", csv_file(HEADER_ZH, *rows[:-1]), dry_run=True)
    assert (result.errors, result.rows, result.created) == ([], 1, 1)
    assert snapshot() == before


def test_the_rows_of_a_gap_count_as_rows_read(world):
    # Two rows in the file, the second numbered 30,000: openpyxl yields the 29,998 between them.
    sheet_data = header_xml() + '<row r="30000"><c r="A30000" t="inlineStr"><is><t>x</t></is></c></row>'
    before = snapshot()
    result = english_import(world, "gap.xlsx", xlsx_with_sheet(sheet_data, "A1:L30000"))
    assert file_error(result) == [(0, "too_many_rows", "A file may hold at most 25000 rows, blank rows included.")]
    assert snapshot() == before


def test_rows_and_cells_are_counted_before_the_sheet_is_parsed(world, settings):
    settings.IMPORT_MAX_LINES = 10
    rows = "".join(f'<row r="{n}" s="1" customFormat="1"/>' for n in range(2, 12))
    result = english_import(world, "a.xlsx", xlsx_with_sheet(header_xml() + rows))
    assert file_error(result) == [(0, "too_many_rows", "A file may hold at most 10 rows, blank rows included.")]
    # Cells written with a namespace prefix are the same cells to openpyxl: 12 + 30 of them.
    settings.IMPORT_MAX_LINES, settings.IMPORT_MAX_CELLS = 25000, 30
    main = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    cell = '<x:c t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c>'
    rows = "".join(f'<x:row r="{n}">{cell * 5}</x:row>' for n in range(2, 8))
    prefixed = xlsx_with_sheet(header_xml() + rows)
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(prefixed)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(main, main + b" " + main.replace(b"xmlns=", b"xmlns:x="), 1)
            target.writestr(info, data)
    result = english_import(world, "a.xlsx", out.getvalue())
    assert file_error(result) == [(0, "too_many_cells", "A sheet may hold at most 30 cells.")]

    settings.IMPORT_MAX_LINES, settings.IMPORT_MAX_CELLS = 25000, 20
    before = snapshot()
    for file_name, content in (
        ("a.xlsx", xlsx_file(HEADER_ZH, *good_rows())),  # 36 cells
        ("a.csv", csv_file(HEADER_ZH, *good_rows())),  # 33 commas
    ):
        result = english_import(world, file_name, content)
        assert file_error(result) == [(0, "too_many_cells", "A sheet may hold at most 20 cells.")]
    # Elements that are not cells (merged ranges after the rows) count too: at most three per cell.
    import zipfile

    settings.IMPORT_MAX_CELLS = 1000
    merged = "<mergeCells>" + '<mergeCell ref="A1:B1"/>' * 30_000 + "</mergeCells>"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_file(HEADER_ZH, *good_rows()))) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"</sheetData>" + merged.encode())
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    result = english_import(world, "a.xlsx", out.getvalue())
    assert file_error(result) == [(0, "too_many_cells", "A sheet may hold at most 1000 cells.")]
    assert snapshot() == before


def test_a_value_beyond_the_column_limit_is_refused(world, settings):
    settings.IMPORT_MAX_COLUMNS = 12
    before = snapshot()
    wide = [*good_rows()[1], "备注"]
    for file_name, content in (("a.xlsx", xlsx_file(HEADER_ZH, wide)), ("a.csv", csv_file(HEADER_ZH, wide))):
        result = english_import(world, file_name, content)
        assert file_error(result) == [(0, "too_many_columns", "A row may hold at most 12 columns.")]
    # A cell far to the right, whatever it holds, and a row of more cells than columns allowed.
    far = header_xml() + '<row r="2"><c r="XFD2" s="1"/></row>'
    many = header_xml() + '<row r="2">' + '<c s="1"/>' * 13 + "</row>"
    for sheet_data, dimension in ((far, "A1:XFD2"), (many, "A1:M2")):
        result = english_import(world, "a.xlsx", xlsx_with_sheet(sheet_data, dimension))
        assert file_error(result) == [(0, "too_many_columns", "A row may hold at most 12 columns.")]
    assert snapshot() == before
    # Blank cells past the last column of a CSV are ignored.
    result = english_import(world, "a.csv", csv_file(HEADER_ZH, [*good_rows()[1], "", " "]), dry_run=True)
    assert (result.errors, result.created) == ([], 1)


def test_an_xlsx_that_inflates_past_the_limit_is_refused_unparsed(world, settings):
    import zipfile

    settings.IMPORT_MAX_UNPACKED_BYTES = 1024 * 1024
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_file(HEADER_ZH, *good_rows()))) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (2 * 1024 * 1024))
            target.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    content = out.getvalue()
    assert len(content) < 20_000
    before = snapshot()
    result = english_import(world, "bomb.xlsx", content)
    assert file_error(result) == [(0, "file_too_large", "Unpacked, the file is larger than 1 MB.")]
    assert snapshot() == before


def test_entities_that_expand_without_bound_are_unreadable(world):
    # "Billion laughs": ten levels of ten references, 10**10 characters from a few hundred bytes.
    # The XML parser (expat 2.4 and later) refuses the amplification; this guards that it still does.
    import re
    import zipfile

    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9)
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx_file(HEADER_ZH, ["x"]))) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                xml = re.sub(r"^<\?xml[^>]*\?>", "", data.decode())
                data = (f"<!DOCTYPE worksheet [{entities}]>" + xml.replace(">x<", ">&j;<")).encode()
            target.writestr(info, data)
    result = english_import(world, "laughs.xlsx", out.getvalue())
    assert file_error(result) == [(0, "file_unreadable", "The file could not be read as XLSX.")]


def test_a_file_is_read_no_further_than_one_byte_past_the_limit(world, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    upload_file = io.BytesIO(csv_file(HEADER_ZH, *good_rows()) + b"\n" * (3 * 1024 * 1024))
    result = english_import(world, "a.csv", upload_file)
    assert file_error(result) == [(0, "file_too_large", "The file is larger than 1 MB.")]
    assert upload_file.tell() == 1024 * 1024 + 1
    result = english_import(world, "a.csv", io.BytesIO(csv_file(HEADER_ZH, *good_rows())))
    assert (result.errors, result.created) == ([], 2)


def test_the_file_is_parsed_before_the_transaction_opens(world):
    depths: dict[str, set[int]] = {}
    outside = len(connection.atomic_blocks)

    def progress(stage, done, total):
        depths.setdefault(stage, set()).add(len(connection.atomic_blocks))

    result = import_run(
        kind="volunteers",
        file_name="a.xlsx",
        content=xlsx_file(HEADER_ZH, *good_rows()),
        actor=world["staff"],
        progress=progress,
    )
    assert result.created == 2
    assert depths == {"read": {outside}, "validate": {outside + 1}, "write": {outside + 1}}


def test_lines_count_blank_rows_and_gbk_csv_is_read(world):
    rows = good_rows()
    content = csv_file(HEADER_ZH, rows[0], [""] * 12, ["李红", "123", ID_2, "BANK1"], encoding="gb18030")
    result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
    assert [(e["line"], e["code"]) for e in result.errors] == [(4, "mobile_invalid")]
    xlsx = xlsx_file(HEADER_ZH, rows[0], [None] * 12, [None] * 12, ["李红", "123", ID_2, "BANK1"])
    result = import_run(kind="volunteers", file_name="a.xlsx", content=xlsx, actor=world["staff"])
    assert [(e["line"], e["code"]) for e in result.errors] == [(5, "mobile_invalid")]


def test_spreadsheet_text_markers_and_full_width_digits_are_normalised(world):
    content = csv_file(
        HEADER_ZH,
        ["王小明", "'137-0000-0001", f'="{ID_1}"', "BANK1", "", "", "", "", "", "", "", ""],
        ["李红", "１３７０００００００２", ID_2.lower(), "BANK1", "", "", "", "", "", "", "", ""],
    )
    result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
    assert result.errors == []
    assert set(Volunteer.objects.values_list("mobile", flat=True)) == {"13700000001", "13700000002"}


def test_volunteer_numbers_are_unique_within_the_batch_and_against_the_database(world, monkeypatch):
    VolunteerFactory(volunteer_number="SZ0000000001")
    draws = iter(["SZ0000000001", "SZ0000000002", "SZ0000000002", "SZ0000000003"])
    monkeypatch.setattr(imports, "volunteer_number_generate", lambda: next(draws))
    result = import_run(
        kind="volunteers", file_name="a.csv", content=csv_file(HEADER_ZH, *good_rows()), actor=world["staff"]
    )
    assert result.created == 2
    numbers = set(Volunteer.objects.filter(mobile__startswith="137").values_list("volunteer_number", flat=True))
    assert numbers == {"SZ0000000002", "SZ0000000003"}


def test_query_count_does_not_grow_with_the_number_of_rows(world):
    # Up to one insert batch (about 39 volunteer rows) the count is fixed.
    def queries_for(count: int, offset: int) -> int:
        rows = [
            [f"志愿者{n}", f"1370000{n:04d}", make_id_number("320507", date(1990, 1, 1), n), "BANK1-01",
             "第一突击队", "", "youth", "first-aid", "psychology", "2030-01-01", "", ""]
            for n in range(offset, offset + count)
        ]  # fmt: skip
        with CaptureQueriesContext(connection) as queries:
            result = import_run(
                kind="volunteers", file_name="a.csv", content=csv_file(HEADER_ZH, *rows), actor=world["staff"]
            )
        assert result.created == count
        return len(queries)

    assert queries_for(3, 0) == queries_for(30, 100) == 20


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
@pytest.mark.parametrize(("language", "header"), [("zh-hans", TEMPLATE_ZH), ("en", TEMPLATE_EN)])
def test_the_template_has_headers_in_the_language_and_imports_as_is(world, file_format, language, header):
    team_name = "Team 1" if language == "en" else "第一突击队"
    organization = OrganizationFactory(code="ORG001", parent=world["bank"])
    TeamFactory(organization=organization, name=team_name)
    VolunteerCategoryFactory(code="youth")

    content, content_type, file_name = import_template(kind="volunteers", file_format=file_format, language=language)

    assert file_name == f"import-volunteers-template.{file_format}"
    if file_format == "xlsx":
        assert content_type == imports.XLSX_CONTENT_TYPE
        sheet = load_workbook(io.BytesIO(content)).worksheets[0]
        assert [c.value for c in sheet[1]] == header
        assert sheet["B2"].value == "13800138000" and sheet["B2"].number_format == "@"
    else:
        assert content_type == "text/csv; charset=utf-8"
        assert content.startswith("\ufeff".encode())
        assert next(csv.reader(io.StringIO(content.decode("utf-8-sig")))) == header
    result = import_run(kind="volunteers", file_name=file_name, content=content, actor=world["staff"])
    assert (result.errors, result.created) == ([], 1)


@pytest.mark.parametrize("kind", ["communities", "posts"])
def test_templates_for_places_parse(kind):
    content, _type, file_name = import_template(kind=kind, file_format="csv", language="zh-hans")
    result = import_run(kind=kind, file_name=file_name, content=content, actor=UserFactory(is_superuser=True))
    assert (result.rows, [e["code"] for e in result.errors]) == (
        1,
        ["unknown_district"] if kind == "communities" else ["unknown_community", "unknown_post_type"],
    )


# --- API -----------------------------------------------------------------------------------


def upload(content: bytes, name: str = "list.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_api_import_writes_and_answers_201(api_client, world):
    api_client.force_authenticate(world["staff"])
    response = api_client.post(
        "/api/v1/imports/",
        {"file": upload(csv_file(HEADER_ZH, *good_rows())), "kind": "volunteers"},
        format="multipart",
    )
    assert response.status_code == 201
    assert counts(response.json()) == {
        "kind": "volunteers",
        "dry_run": False,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }
    assert Volunteer.objects.count() == 2


def test_api_dry_run_answers_200_and_writes_nothing(api_client, world):
    api_client.force_authenticate(world["staff"])
    before = snapshot()
    response = api_client.post(
        "/api/v1/imports/",
        {"file": upload(csv_file(HEADER_ZH, *good_rows())), "kind": "volunteers", "dry_run": "true"},
        format="multipart",
    )
    assert response.status_code == 200
    assert response.json()["dry_run"] is True and response.json()["created"] == 2
    assert snapshot() == before


def test_api_bad_rows_answer_400_import_invalid_with_every_error(api_client, world):
    api_client.force_authenticate(world["staff"])
    before = snapshot()
    content = csv_file(HEADER_ZH, good_rows()[0], ["李红", "123", ID_2, "BANK1", "", "", "", "", "", "", "", ""])
    response = api_client.post(
        "/api/v1/imports/", {"file": upload(content)}, format="multipart", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "import_invalid",
        "message": "The file has errors; nothing was imported.",
        "details": {
            "kind": "volunteers",
            "dry_run": False,
            "rows": 2,
            "errors": [
                {
                    "line": 3,
                    "column": "手机号",
                    "code": "mobile_invalid",
                    "message": "Enter an 11-digit mainland mobile number starting with 1.",
                }
            ],
        },
    }
    assert snapshot() == before


def test_api_answers_a_refused_file_in_the_error_shape(api_client, world, settings):
    settings.IMPORT_MAX_LINES = 10
    api_client.force_authenticate(world["staff"])
    before = snapshot()
    content = csv_file(HEADER_ZH, good_rows()[0], *[[""] * 12] * 20)
    response = api_client.post(
        "/api/v1/imports/", {"file": upload(content)}, format="multipart", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "import_invalid",
        "message": "文件有错误，未导入任何数据。",
        "details": {
            "kind": "volunteers",
            "dry_run": False,
            "rows": 0,
            "errors": [{"line": 0, "column": "", "code": "too_many_rows", "message": "一个文件最多 10 行（含空行）。"}],
        },
    }
    assert snapshot() == before


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_api_refuses_a_body_over_the_upload_limit_before_reading_it(api_client, world, settings, language):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    api_client.force_authenticate(world["staff"])
    before = snapshot()
    content = csv_file(HEADER_ZH, *good_rows()) + b"\n" * (1024 * 1024)
    response = api_client.post(
        "/api/v1/imports/", {"file": upload(content)}, format="multipart", HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 413
    assert response.json() == {
        "code": "file_too_large",
        "message": "The upload is larger than 1 MB." if language == "en" else "上传的内容超过 1 MB。",
        "details": {"max_bytes": 1024 * 1024},
    }
    assert snapshot() == before


def test_api_refuses_people_without_a_role(api_client, world):
    volunteer = VolunteerFactory()
    api_client.force_authenticate(volunteer.user)
    before = snapshot()
    response = api_client.post(
        "/api/v1/imports/", {"file": upload(csv_file(HEADER_ZH, *good_rows()))}, format="multipart"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert snapshot() == before
    api_client.force_authenticate(None)
    assert api_client.post("/api/v1/imports/", {}, format="multipart").status_code == 401


def test_api_template_download(api_client, world):
    api_client.force_authenticate(world["staff"])
    response = api_client.get(
        "/api/v1/imports/template/", {"kind": "volunteers", "format": "xlsx"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == imports.XLSX_CONTENT_TYPE
    assert response["Content-Disposition"] == 'attachment; filename="import-volunteers-template.xlsx"'
    assert [c.value for c in load_workbook(io.BytesIO(response.content)).worksheets[0][1]] == TEMPLATE_EN

    response = api_client.get("/api/v1/imports/template/?kind=posts&format=csv", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig").splitlines()[0] == "社区代码,岗位类型,岗位名称,位置"

    response = api_client.get("/api/v1/imports/template/?kind=nothing&format=pdf")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["details"]) == {"kind", "format"}


# --- Command and admin ----------------------------------------------------------------------


def test_command_imports_and_reports(tmp_path, world):
    path = tmp_path / "list.csv"
    path.write_bytes(csv_file(HEADER_ZH, *good_rows()))
    out = io.StringIO()

    call_command("import_volunteers", str(path), "--dry-run", stdout=out)
    assert "dry run: 2 row(s): 2 would be created, 0 would be updated, 0 unchanged." in out.getvalue()
    assert Volunteer.objects.count() == 0

    call_command("import_volunteers", str(path), "--user", world["staff"].username, stdout=out)
    assert "2 row(s): 2 created, 0 updated, 0 unchanged." in out.getvalue()
    assert ImportBatch.objects.get().created_by == world["staff"]

    renewal = tmp_path / "renewal.csv"
    renewal.write_bytes(csv_file(["身份证号", "保险公司"], [ID_1, "平安保险"]))
    call_command("import_volunteers", str(renewal), "--dry-run", stdout=out)
    assert "line 2 update 王小明" in out.getvalue() and "保险公司: — → 平安保险" in out.getvalue()
    assert "dry run: 1 row(s): 0 would be created, 1 would be updated, 0 unchanged." in out.getvalue()


def test_command_prints_the_error_table_and_fails(tmp_path, world):
    path = tmp_path / "list.csv"
    path.write_bytes(csv_file(HEADER_ZH, ["李红", "123", ID_2, "BANK1", "", "", "", "", "", "", "", ""]))
    out = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError) as excinfo:
        call_command("import_volunteers", str(path), stdout=out)
    assert str(excinfo.value) == "1 error(s) in 1 row(s); nothing was imported."
    lines = out.getvalue().splitlines()
    assert lines[-2].split() == ["line", "column", "code", "message"]
    assert lines[-1].split(maxsplit=3) == [
        "3" if False else "2",
        "手机号",
        "mobile_invalid",
        "Enter an 11-digit mainland mobile number starting with 1.",
    ]
    assert Volunteer.objects.count() == 0
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_volunteers", str(tmp_path / "missing.csv"))


def test_admin_import_page(client, world):
    admin_user = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin_user)
    changelist = client.get("/admin/volunteers/importbatch/")
    assert 'href="/admin/volunteers/importbatch/import/"' in changelist.content.decode()

    page = client.get("/admin/volunteers/importbatch/import/")
    assert page.status_code == 200

    bad = csv_file(HEADER_ZH, ["李红", "123", ID_2, "BANK1", "", "", "", "", "", "", "", ""])
    response = client.post(
        "/admin/volunteers/importbatch/import/",
        {"file": upload(bad), "kind": "volunteers", "dry_run": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert response.context["result"].errors[0]["code"] == "mobile_invalid"
    assert "<code>mobile_invalid</code>" in response.content.decode()

    response = client.post(
        "/admin/volunteers/importbatch/import/",
        {"file": upload(csv_file(HEADER_ZH, *good_rows())), "kind": "volunteers"},
    )
    assert response.status_code == 200
    assert response.context["result"].created == 2
    assert ImportBatch.objects.get().created_by == admin_user


def test_admin_import_page_shows_refused_files(client, world, settings):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    settings.IMPORT_MAX_COLUMNS = 12
    before = snapshot()
    wide = csv_file(HEADER_ZH, [*good_rows()[1], "备注"])
    response = client.post(
        "/admin/volunteers/importbatch/import/",
        {"file": upload(wide), "kind": "volunteers"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert [e["code"] for e in response.context["result"].errors] == ["too_many_columns"]
    page = response.content.decode()
    assert "<code>too_many_columns</code>" in page and "A row may hold at most 12 columns." in page

    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    response = client.post(
        "/admin/volunteers/importbatch/import/",
        {"file": upload(b"x" * (1024 * 1024)), "kind": "volunteers"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "The upload is larger than 1 MB." in page and "<code>file_too_large</code>" in page
    assert snapshot() == before


# --- Concurrency ----------------------------------------------------------------------------


def people_file(mobile_prefix: str, born: date, count: int) -> bytes:
    """A CSV of ``count`` volunteers of BANK1 with mobiles and ID numbers of their own."""
    rows = [
        [f"志愿者{n}", f"{mobile_prefix}{n:04d}", make_id_number("320508", born, n), "BANK1", "", "", "", "", "", "",
         "", ""]
        for n in range(count)
    ]  # fmt: skip
    return csv_file(HEADER_ZH, *rows)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_twice_at_once_creates_each_volunteer_once(world):
    """Both imports validate before either writes; the unique constraints refuse the loser, which
    validates again and finds every row unchanged."""
    import threading

    from django.db import connections

    content = people_file("1370001", date(1991, 1, 1), 40)
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(index):
        try:
            barrier.wait()
            results[index] = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])
        except Exception as exc:  # asserted on below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert all(r.errors == [] for r in results), results
    assert sorted((r.created, r.unchanged) for r in results) == [(0, 40), (40, 0)]
    assert Volunteer.objects.filter(mobile__startswith="1370001").count() == 40
    assert User.objects.filter(username__startswith="1370001").count() == 40
    assert ImportBatch.objects.count() == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("between", ["_relations", "_match"])
def test_an_import_committed_between_the_reads_of_another_leaves_it_no_false_errors(world, monkeypatch, between):
    """The same file imported by another session commits while this one is validating: after its
    volunteer lookups (``_relations`` runs between them and the account lookup), or after it read
    the reference data but before those lookups. This import must not report its rows as
    duplicates of an account: it reads one snapshot, meets the other's rows at the unique
    constraints, and validates again. (Without the snapshot the first case fails.)"""
    import threading

    from django.db import connections

    content = people_file("1370002", date(1992, 2, 2), 10)
    original = getattr(imports.VolunteerImport, between)
    main_thread = threading.current_thread()
    other: list = []

    def the_other_import():
        try:
            other.append(import_run(kind="volunteers", file_name="b.csv", content=content, actor=world["staff"]))
        except Exception as exc:  # asserted on below
            other.append(exc)
        finally:
            connections.close_all()

    def interleaved(*args, **kwargs):
        if threading.current_thread() is main_thread and not other:
            thread = threading.Thread(target=the_other_import)
            thread.start()
            thread.join(timeout=60)
        return original(*args, **kwargs)

    monkeypatch.setattr(
        imports.VolunteerImport, between, staticmethod(interleaved) if between == "_relations" else interleaved
    )
    result = import_run(kind="volunteers", file_name="a.csv", content=content, actor=world["staff"])

    assert len(other) == 1 and other[0].errors == [] and other[0].created == 10, other
    assert result.errors == [], result.errors
    assert (result.created, result.unchanged) == (0, 10)
    assert Volunteer.objects.filter(mobile__startswith="1370002").count() == 10
    assert ImportBatch.objects.count() == 2
