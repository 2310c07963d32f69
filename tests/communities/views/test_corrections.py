"""Reported errors in service records on the pages: the volunteer's hours page and report page,
the coordinators' hours page and answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, RecordCorrection
from tests.communities.services import test_corrections as test_corrections_services
from tests.communities.views.test_records import logged_in
from tests.factories import CommunityFactory, ShiftFactory, UserFactory, VolunteerFactory
from tests.test_access_control import fingerprint

pytestmark = pytest.mark.django_db


# The services tests' scene: a coordinator's community, a volunteer marked absent there yesterday.
scene = test_corrections_services.scene


def test_a_volunteer_reports_from_the_hours_page_and_sees_it_waiting(scene):
    volunteer, missed = scene["volunteer"], scene["missed"]
    client = logged_in(volunteer.user)
    page = client.get("/me/hours/").content.decode()
    assert "缺勤" in page and f'href="/me/hours/{missed.pk}/report/"' in page

    form = client.get(f"/me/hours/{missed.pk}/report/")
    assert "当前记录：缺勤。" in form.content.decode()
    before = fingerprint()
    refused = client.post(f"/me/hours/{missed.pk}/report/", {"message": ""})
    assert refused.status_code == 200 and refused.context["form"].errors["message"]
    assert fingerprint() == before
    response = client.post(f"/me/hours/{missed.pk}/report/", {"message": "我 8 点就到岗了"})
    assert (response.status_code, response["Location"]) == (302, "/me/hours/")
    assert RecordCorrection.objects.get(assignment=missed).message == "我 8 点就到岗了"

    page = client.get("/me/hours/").content.decode()
    assert "已反映，等待答复" in page and f'href="/me/hours/{missed.pk}/report/"' not in page
    again = client.get(f"/me/hours/{missed.pk}/report/").content.decode()
    assert "正在等待协调员答复" in again and 'name="message"' not in again
    # Someone else's place is not found.
    assert logged_in(VolunteerFactory().user).get(f"/me/hours/{missed.pk}/report/").status_code == 404


def test_the_hours_page_reads_a_fixed_number_of_queries(scene, django_assert_num_queries):
    volunteer = scene["volunteer"]
    client = logged_in(volunteer.user)
    client.get("/me/hours/")  # the session and the caches warm

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get("/me/hours/").status_code == 200
        return len(queries)

    one = count()
    for days in (2, 3, 4):
        start = timezone.now() - timedelta(days=days)
        place = Assignment.objects.create(
            shift=ShiftFactory(post=scene["post"], starts_at=start, ends_at=start + timedelta(hours=4)),
            volunteer=volunteer,
            status="completed",
            credited_minutes=240,
            hours_status="approved",
        )
        RecordCorrection.objects.create(assignment=place, message="x", status="declined", answer="核实无误")
    assert count() == one


def test_a_coordinator_answers_from_the_hours_page(scene):
    volunteer, missed = scene["volunteer"], scene["missed"]
    report = RecordCorrection.objects.create(assignment=missed, message="我 8 点就到岗了")
    client = logged_in(scene["coordinator"])
    page = client.get("/coordinator/hours/").content.decode()
    assert "1 条服务记录问题待处理" in page and "我 8 点就到岗了" in page and volunteer.volunteer_number in page

    before = fingerprint()
    refused = client.post(
        f"/coordinator/corrections/{report.pk}/answer/", {"decision": "declined", "answer": ""}, follow=True
    )
    messages = [str(m) for m in refused.context["messages"]]
    assert messages == ["不予更正时请写明理由告知志愿者。"]
    assert fingerprint() == before
    response = client.post(
        f"/coordinator/corrections/{report.pk}/answer/", {"decision": "corrected", "answer": "已撤销缺勤"}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["已答复，并已通知志愿者。"]
    report.refresh_from_db()
    assert (report.status, report.answer) == ("corrected", "已撤销缺勤")
    assert "服务记录问题待处理" not in response.content.decode()

    page = logged_in(volunteer.user).get("/me/hours/").content.decode()
    assert "您的反映已答复：已更正。" in page and "已撤销缺勤" in page
    # Another community's coordinator does not find it.
    other = UserFactory()
    CommunityFactory().coordinators.add(other)
    assert (
        logged_in(other).post(f"/coordinator/corrections/{report.pk}/answer/", {"decision": "corrected"}).status_code
        == 404
    )


def test_a_coordinator_corrects_a_wrong_no_show_from_the_page(scene):
    missed = scene["missed"]
    report = RecordCorrection.objects.create(assignment=missed, message="我到岗了")
    client = logged_in(scene["coordinator"])
    page = client.get("/coordinator/hours/").content.decode()
    assert f'action="/coordinator/corrections/{report.pk}/correct/"' in page and 'name="attended_from"' in page

    start = timezone.localtime(missed.shift.starts_at)
    end = timezone.localtime(missed.shift.ends_at)
    before = fingerprint()
    refused = client.post(
        f"/coordinator/corrections/{report.pk}/correct/",
        {"attended_from": f"{start - timedelta(hours=5):%Y-%m-%dT%H:%M}", "attended_to": f"{end:%Y-%m-%dT%H:%M}"},
        follow=True,
    )
    assert [str(m) for m in refused.context["messages"]] == ["请求包含无效数据。\n时间须在班次时段之内。"]
    assert fingerprint() == before
    response = client.post(
        f"/coordinator/corrections/{report.pk}/correct/",
        {"attended_from": f"{start:%Y-%m-%dT%H:%M}", "attended_to": f"{end:%Y-%m-%dT%H:%M}", "answer": "已补签"},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["记录已更正，并已通知志愿者。"]
    missed.refresh_from_db()
    report.refresh_from_db()
    assert (missed.status, report.status, report.answer) == ("completed", "corrected", "已补签")
    assert missed.credited_minutes == 240
