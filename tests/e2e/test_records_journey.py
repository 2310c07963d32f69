"""Records that stay current, in a real browser: a committee member finds the volunteers whose
insurance has expired and records a renewal, after which the volunteer can take a checkpoint
shift; a volunteer submits a first-aid certificate with a photo, staff approve it, and the
volunteer can take a first-aid post; a volunteer unticks a skill their coming shift needs, sees
that shift named with why, and gives it up to the next person waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Notification
from communities.services.signup import shift_sign_up
from tests.e2e.conftest import axe_violations
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    QualificationTypeFactory,
    ShiftFactory,
    SkillFactory,
    VolunteerFactory,
)
from volunteers.models import ChangeRequest, Qualification

pytestmark = pytest.mark.django_db(transaction=True)

# A real (tiny) JPEG: what a phone's camera gives, as far as the magic bytes go.
JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f"
    "141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100"
    "ffc4001f0000010501010101010100000000000000000102030405060708090a0bffda0008010100003f00d2cf20ffd9"
)


def _shift(post_type, community, days=3):
    starts = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return ShiftFactory(
        post=PostFactory(post_type=post_type, community=community),
        starts_at=starts,
        ends_at=starts + timedelta(hours=4),
    )


def test_committee_renews_an_expired_insurance_and_the_volunteer_takes_a_checkpoint(
    browser, page, live_server, login, capture
):
    organization = OrganizationFactory(name="苏州银行", name_en="Bank of Suzhou")
    staff = OrganizationStaffFactory(organization=organization).user
    today = timezone.localdate()
    volunteer = VolunteerFactory(
        organization=organization, real_name="王保险", insurance_valid_until=today - timedelta(days=3)
    )
    VolunteerFactory(organization=organization, real_name="钱有效")
    checkpoint = PostTypeFactory(name="封控点执勤", name_en="Checkpoint duty", requires_insurance=True)
    shift = _shift(checkpoint, CommunityFactory(name="三香社区", name_en="Sanxiang Community"))

    login(page, staff.username)
    page.goto(f"{live_server.url}/records/volunteers/")
    capture(page, "records-volunteers")
    page.locator("input[name=insurance_before]").fill(today.isoformat())
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_load_state()
    rows = page.locator("tr[data-volunteer]")
    assert rows.count() == 1
    assert "王保险" in rows.first.inner_text()
    capture(page, "records-volunteers-expired")

    page.locator(f"a[href='/records/volunteers/{volunteer.pk}/']").click()
    page.wait_for_load_state()
    capture(page, "records-volunteer-edit")
    renewed = today + timedelta(days=365)
    page.locator("input[name=insurance_valid_until]").fill(renewed.isoformat())
    page.locator("input[name=insurer]").fill("中国平安")
    page.locator("input[name=insurance_policy_number]").fill("PA-2026-0001")
    page.locator("form.card button[type=submit]").first.click()
    page.wait_for_load_state()
    volunteer.refresh_from_db()
    assert (volunteer.insurance_valid_until, volunteer.insurer) == (renewed, "中国平安")
    capture(page, "records-volunteer-saved")

    page.locator("header form.lang button[value=en]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    capture(page, "records-volunteer-edit-en")
    page.goto(f"{live_server.url}/records/volunteers/")
    capture(page, "records-volunteers-en")

    # The volunteer, in a fresh browser, can now take the checkpoint shift.
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(120_000)
    mine = context.new_page()
    login(mine, volunteer.user.username)
    mine.goto(f"{live_server.url}/shifts/{shift.pk}/")
    mine.locator(f"form[action='/shifts/{shift.pk}/sign-up/'] button").click()
    mine.wait_for_load_state()
    assert Assignment.objects.get(shift=shift, volunteer=volunteer).status == "confirmed"
    context.close()


def test_volunteer_submits_a_first_aid_certificate_staff_approve_and_the_volunteer_takes_the_post(
    browser, page, live_server, login, capture, tmp_path
):
    organization = OrganizationFactory(name="苏州银行", name_en="Bank of Suzhou")
    staff = OrganizationStaffFactory(organization=organization).user
    first_aid = QualificationTypeFactory(code="first_aid", name="急救员证", name_en="First-aid certificate")
    volunteer = VolunteerFactory(organization=organization, real_name="李急救")
    post_type = PostTypeFactory(name="医疗救护", name_en="First aid")
    post_type.required_qualifications.add(first_aid)
    shift = _shift(post_type, CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community"))
    photo = tmp_path / "certificate.jpg"
    photo.write_bytes(JPEG)

    login(page, volunteer.user.username)
    page.goto(f"{live_server.url}/me/profile/")
    capture(page, "profile")
    page.locator("a[href='/me/records/']").click()
    page.wait_for_load_state()
    page.locator("select[name=kind]").select_option("qualification")
    page.locator("select[name=qualification_type]").select_option("first_aid")
    page.locator("input[name=valid_until]").fill((timezone.localdate() + timedelta(days=730)).isoformat())
    page.locator("input[name=certificate_number]").fill("HJ-2026-88")
    page.locator("input[name=proof]").set_input_files(str(photo))
    capture(page, "my-records-form")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()
    request = ChangeRequest.objects.get(volunteer=volunteer)
    assert request.state == "pending"
    assert page.locator(f"li[data-request='{request.pk}'] .badge").inner_text() == "待审核"
    capture(page, "my-records-pending")

    # Staff, in their own browser, see the queue, open the proof and approve.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(120_000)
    desk = context.new_page()
    login(desk, staff.username)
    desk.goto(f"{live_server.url}/records/requests/")
    assert "李急救" in desk.content()
    capture(desk, "records-requests")
    proof = desk.request.get(f"{live_server.url}/records/proofs/request/{request.pk}/")
    assert (proof.status, proof.headers["content-type"], proof.body()) == (200, "image/jpeg", JPEG)
    desk.locator(f"form[action='/records/requests/{request.pk}/approve/'] button").click()
    desk.wait_for_load_state()
    desk.locator("header form.lang button[value=en]").click()
    desk.wait_for_load_state()
    capture(desk, "records-requests-en")
    context.close()

    assert Qualification.objects.filter(volunteer=volunteer, qualification_type=first_aid).exists()
    assert Notification.objects.filter(recipient=volunteer.user, kind="change_approved", channel="inapp").exists()
    page.goto(f"{live_server.url}/me/records/")
    assert page.locator(f"li[data-request='{request.pk}'] .badge").inner_text() == "已通过"
    page.goto(f"{live_server.url}/shifts/{shift.pk}/")
    page.locator(f"form[action='/shifts/{shift.pk}/sign-up/'] button").click()
    page.wait_for_load_state()
    assert Assignment.objects.get(shift=shift, volunteer=volunteer).status == "confirmed"
    page.goto(f"{live_server.url}/inbox/")
    capture(page, "inbox-change-approved")
    page.locator("header form.lang button[value=en]").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/me/records/")
    capture(page, "my-records-en")
    page.goto(f"{live_server.url}/me/profile/")
    capture(page, "profile-en")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_volunteer_unticking_a_skill_their_shift_needs_sees_it_then_gives_it_up(
    page, live_server, login, capture, axe_source, language
):
    skill = SkillFactory(code="first_aid", name="急救", name_en="First aid")
    post_type = PostTypeFactory(name="急救点值守", name_en="First-aid post")
    post_type.required_skills.add(skill)
    shift = _shift(post_type, CommunityFactory(name="三香社区", name_en="Sanxiang Community"), days=2)
    volunteer, waiting = VolunteerFactory(real_name="蒋急救"), VolunteerFactory(real_name="严候补")
    for person in (volunteer, waiting):
        person.skills.set([skill])
    shift.capacity = 1
    shift.save(update_fields=["capacity"])
    place = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    behind = shift_sign_up(shift_id=shift.pk, volunteer=waiting, user=waiting.user)
    assert (place.status, behind.status) == ("confirmed", "waitlisted")

    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    login(page, volunteer.user.username)
    page.goto(f"{live_server.url}/me/contact/")
    assert page.locator("input[name=release_places]").count() == 0  # nothing to give up yet
    page.locator("input[name=skills][value=first_aid]").uncheck()
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()
    places = page.locator("#upcoming-places")
    assert "三香社区" in places.inner_text() or "Sanxiang" in places.inner_text()
    assert Assignment.objects.get(pk=place.pk).status == "confirmed"  # refused: nothing changed
    assert axe_violations(page, axe_source) == []
    capture(page, f"contact-skill-places-{language}")

    page.locator("input[name=skills][value=first_aid]").uncheck()
    page.locator("input[name=release_places]").check()
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.url.endswith("/me/profile/")
    capture(page, f"contact-skill-given-up-{language}")
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"
    assert Assignment.objects.get(pk=behind.pk).status == "confirmed"
    assert list(volunteer.skills.all()) == []
