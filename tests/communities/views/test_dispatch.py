"""The committee's dispatch, recall and import pages: a community found by name (with and
without JavaScript), the preview with its reasons, recall after a confirmation, and the import's
per-row report and confirmation."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from communities.models import Assignment, Dispatch, Notification, Shift
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    StreetFactory,
    VolunteerFactory,
)
from tests.test_access_control import fingerprint
from volunteers.idcard import make_id_number
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client):
    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    street = StreetFactory(name="湖西街道")
    community = CommunityFactory(name="金鸡湖社区", code="SIP0001", street=street)
    CommunityFactory(name="独墅湖社区", code="SIP0002")
    client.force_login(staff)
    return {"organization": organization, "staff": staff, "community": community, "street": street}


def test_the_community_is_found_by_name_in_the_page_and_in_the_fragment(client, world):
    page = client.get("/committee/dispatch/", {"q": "金鸡"}).content.decode()
    assert 'type="radio" name="community"' in page and "金鸡湖社区" in page and "独墅湖社区" not in page
    assert 'name="community" value="SIP0001"' not in page  # chosen by id, never a code to type

    fragment = client.get("/committee/dispatch/", {"q": "墅湖", "partial": "communities"}).content.decode()
    assert "独墅湖社区" in fragment and "<html" not in fragment

    nothing = client.get("/committee/dispatch/", {"q": "不存在"}).content.decode()
    assert "没有名称包含“不存在”的社区" in nothing


def test_the_preview_shows_who_and_why_and_writes_nothing_then_the_dispatch_goes(client, world):
    near = VolunteerFactory(organization=world["organization"], status="reserve", residence_street=world["street"])
    far = VolunteerFactory(organization=world["organization"], status="reserve", real_name="远方")
    form = {"q": "金鸡", "community": world["community"].pk, "count": 1}
    before = fingerprint()

    preview = client.post("/committee/dispatch/", {**form, "action": "preview"}).content.decode()

    assert fingerprint() == before
    assert near.real_name in preview and "远方" not in preview
    assert "居住或工作在本街道" in preview and "近 7 天服务 0 小时" in preview

    response = client.post("/committee/dispatch/", {**form, "action": "dispatch"})
    dispatch = Dispatch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/committee/dispatches/{dispatch.pk}/"
    detail = client.get(response["Location"]).content.decode()
    assert near.real_name in detail and "选派原因" in detail
    far.refresh_from_db()
    assert far.status == "reserve"
    assert Notification.objects.filter(recipient=near.user, kind="dispatched", channel="inapp").exists()


def test_a_recall_asks_for_a_confirmation_then_releases_the_places(client, world):
    volunteer = VolunteerFactory(organization=world["organization"], status="reserve")
    client.post(
        "/committee/dispatch/",
        {"q": "金鸡", "community": world["community"].pk, "count": 1, "action": "dispatch"},
    )
    dispatch = Dispatch.objects.get()
    start = timezone.now() + timedelta(days=1)
    shift = ShiftFactory(
        post=PostFactory(community=world["community"]), starts_at=start, ends_at=start + timedelta(hours=4)
    )
    Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)

    page = client.get(f"/committee/dispatches/{dispatch.pk}/recall/").content.decode()
    assert volunteer.real_name in page and "将释放该社区后续班次的 1 个岗位" in page

    before = fingerprint()
    unconfirmed = client.post(f"/committee/dispatches/{dispatch.pk}/recall/", {"reason": "轮换"})
    assert unconfirmed.status_code == 200 and "请勾选以确认" in unconfirmed.content.decode()
    assert fingerprint() == before

    done = client.post(f"/committee/dispatches/{dispatch.pk}/recall/", {"reason": "轮换", "confirm": "on"})
    assert done.status_code == 302
    volunteer.refresh_from_db()
    assert (volunteer.status, volunteer.deployed_community) == ("reserve", None)
    assert Assignment.objects.get().status == "cancelled"
    detail = client.get(done["Location"]).content.decode()
    assert "已召回" in detail and "释放 1 个岗位" in detail


def people_csv(*rows) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["身份证号", "意外保险有效期至", "紧急联系人电话"])
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def test_an_import_is_checked_row_by_row_then_confirmed(client, world):
    id_number = make_id_number("320506", date(1996, 3, 8), 11)
    volunteer = VolunteerFactory(
        organization=world["organization"], id_number=id_number, insurance_valid_until=date(2020, 1, 1)
    )
    renewed = (timezone.localdate() + timedelta(days=300)).isoformat()
    upload = SimpleUploadedFile("续保.csv", people_csv([id_number, renewed, "13912345678"]))
    before = fingerprint()

    report = client.post("/committee/imports/", {"kind": "volunteers", "file": upload}).content.decode()

    assert fingerprint() == before
    assert "2020-01-01" in report and renewed in report
    assert "139****5678" in report and "13912345678" not in report  # masked
    token = report.split('name="token" value="')[1].split('"')[0]
    plan = report.split('name="plan" value="')[1].split('"')[0]

    done = client.post("/committee/imports/confirm/", {"token": token, "plan": plan})
    assert done.status_code == 302
    volunteer.refresh_from_db()
    assert volunteer.insurance_valid_until.isoformat() == renewed
    again = client.post("/committee/imports/confirm/", {"token": token, "plan": plan})  # used up
    assert again.status_code == 302
    assert Volunteer.objects.count() == 1


def test_one_volunteer_is_recalled_from_their_own_page(client, world):
    volunteer = VolunteerFactory(organization=world["organization"], status="reserve")
    client.post("/committee/dispatch/", {"q": "金鸡", "community": world["community"].pk, "count": 1})
    page = client.get(f"/committee/volunteers/{volunteer.pk}/").content.decode()
    assert f"/committee/volunteers/{volunteer.pk}/recall/" in page

    done = client.post(f"/committee/volunteers/{volunteer.pk}/recall/", {"confirm": "on"})
    assert (done.status_code, done["Location"]) == (302, f"/committee/volunteers/{volunteer.pk}/")
    volunteer.refresh_from_db()
    assert (volunteer.status, volunteer.deployed_community) == ("reserve", None)
    page = client.get(f"/committee/volunteers/{volunteer.pk}/recall/").content.decode()
    assert "这里已没有派驻人员" in page
