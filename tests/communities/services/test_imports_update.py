"""Imports that update: a registered volunteer named by ID number or volunteer number is updated
by the columns the row fills; the dry run shows each change; the real run applies exactly that."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.utils import timezone, translation

from communities.models import AuditEntry
from communities.services.imports import import_run
from config.errors import ServiceError
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    SkillFactory,
    StreetFactory,
    TeamFactory,
    VolunteerFactory,
)
from tests.test_access_control import fingerprint
from volunteers.idcard import make_id_number
from volunteers.models import ImportBatch, Volunteer

pytestmark = pytest.mark.django_db

ID_1 = make_id_number("320506", date(1996, 3, 8), 11)


def csv_file(header, *rows) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


@pytest.fixture
def world():
    bank = OrganizationFactory(code="BANK1", name="银行一")
    staff = OrganizationStaffFactory(organization=bank).user
    team = TeamFactory(organization=bank, name="第一突击队")
    district = DistrictFactory(code="320508", name="姑苏区")
    street = StreetFactory(district=district, name="双塔街道")
    community = CommunityFactory(street=street, name="定慧寺巷社区", code="320508001001")
    volunteer = VolunteerFactory(
        organization=bank,
        team=team,
        real_name="王小明",
        mobile="13700000001",
        id_number=ID_1,
        volunteer_number="SZT00000042",
        insurance_valid_until=timezone.localdate() - timedelta(days=3),
        insurer="平安保险",
        emergency_contact_name="王大明",
        emergency_contact_mobile="13900000002",
    )
    volunteer.skills.add(SkillFactory(code="first-aid", name="急救"))
    return {
        "bank": bank,
        "staff": staff,
        "team": team,
        "volunteer": volunteer,
        "district": district,
        "street": street,
        "community": community,
    }


HEADER = ["身份证号", "意外保险有效期至", "保险公司", "保单号", "居住或工作社区", "技能"]


def test_a_renewed_insurance_is_shown_in_the_dry_run_then_applied_exactly_and_audited(world):
    renewed = (timezone.localdate() + timedelta(days=365)).isoformat()
    content = csv_file(HEADER, [ID_1, renewed, "", "PA-2026-778899", "定慧寺巷社区", ""])
    before = fingerprint()

    with translation.override("en"):
        dry = import_run(kind="volunteers", file_name="renew.csv", content=content, actor=world["staff"], dry_run=True)

    assert fingerprint() == before
    assert (dry.errors, dry.created, dry.updated, dry.unchanged) == ([], 0, 1, 0)
    (row,) = dry.changes
    assert (row["line"], row["action"], row["volunteer_number"], row["name"]) == (2, "update", "SZT00000042", "王小明")
    changes = {change["column"]: (change["before"], change["after"]) for change in row["changes"]}
    assert changes == {
        "意外保险有效期至": ((timezone.localdate() - timedelta(days=3)).isoformat(), renewed),
        "保单号": ("—", "**********8899"),  # masked
        "居住或工作社区": ("—", "定慧寺巷社区"),
        # Not in the file: named in the reader's language.
        "Home or work district": ("—", "姑苏区"),
        "Home or work street": ("—", "双塔街道"),
    }

    real = import_run(
        kind="volunteers", file_name="renew.csv", content=content, actor=world["staff"], expected_plan=dry.plan
    )
    assert (real.errors, real.created, real.updated, real.plan) == ([], 0, 1, dry.plan)
    volunteer = Volunteer.objects.get(pk=world["volunteer"].pk)
    assert volunteer.insurance_valid_until.isoformat() == renewed
    assert volunteer.insurance_policy_number == "PA-2026-778899"
    assert volunteer.insurer == "平安保险"  # empty cell: kept
    assert list(volunteer.skills.values_list("code", flat=True)) == ["first-aid"]  # empty cell: kept
    assert (volunteer.residence_district, volunteer.residence_street, volunteer.residence_community) == (
        world["district"],
        world["street"],
        world["community"],
    )
    (entry,) = AuditEntry.objects.filter(action="volunteer_imported")
    assert (entry.volunteer_id, entry.actor, entry.reason) == (volunteer.pk, world["staff"], "import renew.csv")
    assert entry.before["insurance_valid_until"] == (timezone.localdate() - timedelta(days=3)).isoformat()
    assert entry.after["insurance_valid_until"] == renewed
    assert ImportBatch.objects.get().updated == 1

    again = import_run(kind="volunteers", file_name="renew.csv", content=content, actor=world["staff"])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_the_clear_word_erases_and_an_empty_cell_keeps(world):
    content = csv_file(
        ["志愿者编号", "突击队", "保险公司", "紧急联系人", "紧急联系人电话", "技能"],
        ["SZT00000042", "清空", "(clear)", "", "", "清空"],
    )
    result = import_run(kind="volunteers", file_name="c.csv", content=content, actor=world["staff"])
    assert (result.errors, result.updated) == ([], 1)
    volunteer = Volunteer.objects.get(pk=world["volunteer"].pk)
    assert (volunteer.team, volunteer.insurer, volunteer.emergency_contact_name) == (None, "", "王大明")
    assert volunteer.emergency_contact_mobile == "13900000002"
    assert volunteer.skills.count() == 0


def test_a_column_that_cannot_be_cleared_refuses_the_file(world):
    before = fingerprint()
    content = csv_file(["志愿者编号", "姓名"], ["SZT00000042", "清空"])
    result = import_run(kind="volunteers", file_name="c.csv", content=content, actor=world["staff"])
    assert [(e["line"], e["code"]) for e in result.errors] == [(2, "clear_not_allowed")]
    assert fingerprint() == before


def test_a_confirmation_of_a_plan_that_no_longer_holds_is_refused_and_writes_nothing(world):
    content = csv_file(["志愿者编号", "保险公司"], ["SZT00000042", "人保财险"])
    dry = import_run(kind="volunteers", file_name="c.csv", content=content, actor=world["staff"], dry_run=True)
    Volunteer.objects.filter(pk=world["volunteer"].pk).update(insurer="太平洋保险")  # changed meanwhile
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        import_run(kind="volunteers", file_name="c.csv", content=content, actor=world["staff"], expected_plan=dry.plan)
    assert refused.value.code == "import_plan_changed"
    assert refused.value.details["changes"][0]["changes"][0]["before"] == "太平洋保险"
    assert fingerprint() == before


def test_updates_are_refused_for_another_mobile_an_unknown_number_and_outside_the_scope(world):
    outsider = VolunteerFactory(organization=OrganizationFactory(code="BANK9"), volunteer_number="SZT00000099")
    content = csv_file(
        ["志愿者编号", "身份证号", "手机号", "保险公司"],
        ["SZT00000042", "", "13700000077", "人保"],
        ["SZT00000404", "", "", "人保"],
        [outsider.volunteer_number, "", "", "人保"],
        ["SZT00000042", make_id_number("320506", date(1990, 1, 1), 5), "", "人保"],
    )
    before = fingerprint()
    result = import_run(kind="volunteers", file_name="c.csv", content=content, actor=world["staff"])
    assert [(e["line"], e["code"]) for e in result.errors] == [
        (2, "mobile_differs"),
        (3, "unknown_volunteer"),
        (4, "volunteer_not_allowed"),
        (5, "duplicate_in_file"),
    ]
    assert fingerprint() == before


def test_the_template_explains_updating_and_clearing():
    from openpyxl import load_workbook

    from communities.services.imports import import_template

    content, _type, _name = import_template(kind="volunteers", file_format="xlsx", language="zh-hans")
    workbook = load_workbook(io.BytesIO(content))
    notes = " ".join(str(cell.value) for row in workbook.worksheets[1].iter_rows() for cell in row if cell.value)
    assert "清空" in notes
    headers = [cell.value for cell in workbook.worksheets[0][1]]
    assert {"志愿者编号", "保险公司", "保单号", "紧急联系人", "居住或工作社区"} <= set(headers)


def test_the_api_dry_run_answers_the_plan_and_the_import_applies_it_or_refuses(api_client, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    api_client.force_authenticate(world["staff"])
    content = csv_file(["志愿者编号", "保险公司"], ["SZT00000042", "人保财险"])

    def post(**extra):
        upload = SimpleUploadedFile("c.csv", content, content_type="text/csv")
        return api_client.post("/api/v1/imports/", {"file": upload, "kind": "volunteers", **extra}, format="multipart")

    dry = post(dry_run=True).json()
    assert (dry["updated"], dry["changes"][0]["changes"]) == (
        1,
        [{"column": "保险公司", "before": "平安保险", "after": "人保财险"}],
    )
    Volunteer.objects.filter(pk=world["volunteer"].pk).update(insurer="太平洋保险")
    before = fingerprint()
    refused = post(expected_plan=dry["plan"])
    assert (refused.status_code, refused.json()["code"]) == (409, "import_plan_changed")
    assert fingerprint() == before

    again = post(dry_run=True).json()
    done = post(expected_plan=again["plan"])
    assert (done.status_code, done.json()["updated"]) == (201, 1)
    assert Volunteer.objects.get(pk=world["volunteer"].pk).insurer == "人保财险"
