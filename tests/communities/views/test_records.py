"""The records pages: the staff's list, edit and queue; the volunteer's requests; proof files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from communities.models import Assignment, AuditEntry
from communities.services import records
from tests.factories import (
    OrganizationFactory,
    OrganizationStaffFactory,
    QualificationTypeFactory,
    ShiftFactory,
    TeamFactory,
    VolunteerFactory,
)
from tests.test_access_control import fingerprint
from volunteers.models import ChangeRequest, Volunteer

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world():
    org = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=org).user
    volunteer = VolunteerFactory(organization=org, team=TeamFactory(organization=org), real_name="周志愿")
    outsider = VolunteerFactory(organization=OrganizationFactory(), real_name="吴外部")
    return {"org": org, "staff": staff, "volunteer": volunteer, "outsider": outsider}


def test_the_list_shows_only_the_scope_and_masks_id_numbers(world):
    page = logged_in(world["staff"]).get("/records/volunteers/")
    text = page.content.decode()
    assert "周志愿" in text and "吴外部" not in text
    assert world["volunteer"].id_number_masked not in text or "*" in world["volunteer"].id_number_masked


def test_the_edit_page_suspends_and_offers_to_release_upcoming_places(world):
    volunteer = world["volunteer"]
    starts = timezone.now() + timedelta(days=2)
    shift = ShiftFactory(starts_at=starts, ends_at=starts + timedelta(hours=3))
    place = Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    client = logged_in(world["staff"])
    url = f"/records/volunteers/{volunteer.pk}/"
    form = {
        "mobile": volunteer.mobile,
        "organization": world["org"].pk,
        "team": volunteer.team_id,
        "status": "suspended",
        "suspended_reason": "健康原因",
    }
    before = fingerprint()
    page = client.post(url, form)
    assert page.status_code == 200
    assert 'id="upcoming-places"' in page.content.decode()
    assert fingerprint() == before
    page = client.post(url, {**form, "release_places": "on"})
    assert page.status_code == 302
    volunteer.refresh_from_db()
    assert (volunteer.status, Assignment.objects.get(pk=place.pk).status) == ("suspended", "cancelled")


def test_team_leaders_and_outsiders_cannot_edit(world):
    leader = VolunteerFactory(organization=world["org"], team=world["volunteer"].team)
    Volunteer.objects.get(pk=leader.pk).team.__class__.objects.filter(pk=leader.team_id).update(leader=leader)
    assert logged_in(leader.user).get("/records/volunteers/").status_code == 200
    assert logged_in(leader.user).get(f"/records/volunteers/{world['volunteer'].pk}/").status_code == 403
    assert logged_in(world["staff"]).get(f"/records/volunteers/{world['outsider'].pk}/").status_code == 404


def test_proof_files_are_served_only_in_scope_and_never_cached(world):
    QualificationTypeFactory(code="first_aid")
    request = records.change_request_submit(
        user=world["volunteer"].user,
        kind="qualification",
        qualification_type_code="first_aid",
        valid_until=timezone.localdate() + timedelta(days=30),
        proof=SimpleUploadedFile("x.jpg", JPEG),
    )
    url = f"/records/proofs/request/{request.pk}/"
    response = logged_in(world["staff"]).get(url)
    assert (response.status_code, response["Content-Type"], response["Cache-Control"]) == (
        200,
        "image/jpeg",
        "private, no-store",
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert logged_in(world["volunteer"].user).get(url).status_code == 200
    assert logged_in(world["outsider"].user).get(url).status_code == 404
    outside_staff = OrganizationStaffFactory(organization=OrganizationFactory()).user
    assert logged_in(outside_staff).get(url).status_code == 404
    assert Client().get(url).status_code == 302
    assert logged_in(world["staff"]).get("/records/proofs/other/1/").status_code == 404


def test_the_volunteer_submits_and_sees_the_state_and_staff_approve_from_the_queue(world):
    QualificationTypeFactory(code="first_aid")
    mine = logged_in(world["volunteer"].user)
    page = mine.post(
        "/me/records/",
        {
            "kind": "qualification",
            "qualification_type": "first_aid",
            "valid_until": (timezone.localdate() + timedelta(days=365)).isoformat(),
            "proof": SimpleUploadedFile("cert.jpg", JPEG, content_type="image/jpeg"),
        },
    )
    assert page.status_code == 302
    request = ChangeRequest.objects.get(volunteer=world["volunteer"])
    assert "待审核" in mine.get("/me/records/").content.decode()
    desk = logged_in(world["staff"])
    assert "周志愿" in desk.get("/records/requests/").content.decode()
    assert desk.post(f"/records/requests/{request.pk}/reject/", {"reason": ""}).status_code == 302
    assert ChangeRequest.objects.get(pk=request.pk).state == "pending"
    assert desk.post(f"/records/requests/{request.pk}/approve/").status_code == 302
    assert ChangeRequest.objects.get(pk=request.pk).state == "approved"
    assert "已通过" in mine.get("/me/records/").content.decode()
    assert AuditEntry.objects.filter(volunteer=world["volunteer"], action="change_approved").count() == 1


def test_the_at_risk_page_lists_a_checkpoint_after_the_insurance_ends(world):
    from tests.factories import PostFactory, PostTypeFactory

    volunteer = world["volunteer"]
    Volunteer.objects.filter(pk=volunteer.pk).update(insurance_valid_until=timezone.localdate() + timedelta(days=3))
    checkpoint = PostTypeFactory(requires_insurance=True, name="封控点执勤")
    later = timezone.now() + timedelta(days=10)
    shift = ShiftFactory(post=PostFactory(post_type=checkpoint), starts_at=later, ends_at=later + timedelta(hours=4))
    Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    sooner = timezone.now() + timedelta(days=1)
    fine = ShiftFactory(post=PostFactory(post_type=checkpoint), starts_at=sooner, ends_at=sooner + timedelta(hours=4))
    Assignment.objects.create(shift=fine, volunteer=volunteer, status="confirmed")
    rows = list(records_at_risk(world["staff"]))
    assert [row.shift_id for row in rows] == [shift.pk]
    assert "封控点执勤" in logged_in(world["staff"]).get("/records/at-risk/").content.decode()


def records_at_risk(user):
    from communities.selectors.records import eligibility_at_risk

    return eligibility_at_risk(user=user)


def test_account_deletion_asks_for_confirmation(world):
    mine = logged_in(world["volunteer"].user)
    before = fingerprint()
    assert mine.post("/me/delete/", {}).status_code == 200
    assert mine.post("/me/delete/", {"confirm": "on", "password": "wrong"}).status_code == 200
    assert fingerprint() == before
    assert mine.post("/me/delete/", {"confirm": "on", "password": "pass-Word-123"}).status_code == 302
    assert Volunteer.objects.get(pk=world["volunteer"].pk).anonymised_at is not None


def test_the_edit_page_offers_to_remove_a_qualification_behind_a_confirmation(world):
    from tests.factories import QualificationFactory
    from volunteers.models import Qualification

    volunteer = world["volunteer"]
    qualification = QualificationFactory(volunteer=volunteer, certificate_number="JJ-3")
    client = logged_in(world["staff"])
    url = f"/records/volunteers/{volunteer.pk}/qualifications/{qualification.pk}/remove/"
    assert url in client.get(f"/records/volunteers/{volunteer.pk}/").content.decode()

    page = client.get(url)
    assert page.status_code == 200 and "JJ-3" in page.content.decode()
    before = fingerprint()
    page = client.post(url, {})  # not confirmed
    assert page.status_code == 200
    assert fingerprint() == before

    page = client.post(url, {"confirm": "on"})
    assert (page.status_code, page["Location"]) == (302, f"/records/volunteers/{volunteer.pk}/")
    assert not Qualification.objects.filter(pk=qualification.pk).exists()
    assert AuditEntry.objects.filter(volunteer=volunteer, action="qualification_changed").count() == 1
    assert client.get(url).status_code == 404


def test_removing_a_qualification_a_confirmed_shift_needs_shows_the_place_before_releasing_it(world):
    from communities.services.signup import shift_sign_up
    from tests.factories import PostFactory, PostTypeFactory, QualificationFactory

    volunteer = world["volunteer"]
    qualification = QualificationFactory(volunteer=volunteer, valid_until=None)
    post_type = PostTypeFactory(name="心理援助")
    post_type.required_qualifications.add(qualification.qualification_type)
    starts = timezone.now() + timedelta(days=2)
    shift = ShiftFactory(post=PostFactory(post_type=post_type), starts_at=starts, ends_at=starts + timedelta(hours=3))
    place = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    client = logged_in(world["staff"])
    url = f"/records/volunteers/{volunteer.pk}/qualifications/{qualification.pk}/remove/"

    assert 'name="release_places"' not in client.get(url).content.decode()
    before = fingerprint()
    page = client.post(url, {"confirm": "on"})
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="upcoming-places"' in text and "心理援助" in text and 'name="release_places"' in text
    assert fingerprint() == before

    page = client.post(url, {"confirm": "on", "release_places": "on"})
    assert page.status_code == 302
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"


def placed_needing_a_skill(volunteer, **skill):
    """``volunteer`` with a skill and confirmed on a shift in two days whose post needs it."""
    from communities.services.signup import shift_sign_up
    from tests.factories import PostFactory, PostTypeFactory, SkillFactory

    skill = SkillFactory(**skill)
    volunteer.skills.set([skill])
    post_type = PostTypeFactory()
    post_type.required_skills.add(skill)
    starts = timezone.now() + timedelta(days=2)
    shift = ShiftFactory(post=PostFactory(post_type=post_type), starts_at=starts, ends_at=starts + timedelta(hours=3))
    return shift, shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)


def test_the_edit_page_shows_the_places_a_removed_skill_takes_away_with_the_reason(world):
    volunteer = world["volunteer"]
    _shift, place = placed_needing_a_skill(volunteer, name="急救")
    client = logged_in(world["staff"])
    url = f"/records/volunteers/{volunteer.pk}/"
    assert 'name="release_places"' not in client.get(url).content.decode()
    form = {"mobile": volunteer.mobile, "organization": world["org"].pk, "team": volunteer.team_id, "status": "active"}
    before = fingerprint()
    page = client.post(url, form)  # no skills ticked: the skill is removed
    text = page.content.decode()
    assert 'id="upcoming-places"' in text and "急救" in text and 'name="release_places"' in text
    assert fingerprint() == before
    assert client.post(url, {**form, "release_places": "on"}).status_code == 302
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"
    assert list(volunteer.skills.all()) == []


def test_a_qualification_saved_with_an_earlier_end_shows_the_places_it_costs_before_releasing_them(world):
    from communities.services.signup import shift_sign_up
    from tests.factories import PostFactory, PostTypeFactory, QualificationFactory

    volunteer = world["volunteer"]
    qualification = QualificationFactory(volunteer=volunteer, valid_until=None)
    post_type = PostTypeFactory(name="心理疏导")
    post_type.required_qualifications.add(qualification.qualification_type)
    starts = timezone.now() + timedelta(days=5)
    shift = ShiftFactory(post=PostFactory(post_type=post_type), starts_at=starts, ends_at=starts + timedelta(hours=3))
    place = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    client = logged_in(world["staff"])
    url = f"/records/volunteers/{volunteer.pk}/qualifications/"
    form = {
        "qualification_type": qualification.qualification_type.code,
        "valid_until": (timezone.localdate() + timedelta(days=1)).isoformat(),
    }
    before = fingerprint()
    page = client.post(url, form)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="upcoming-places"' in text and "心理疏导" in text
    assert 'name="release_places"' in text
    assert fingerprint() == before

    assert client.post(url, {**form, "release_places": "on"}).status_code == 302
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"


def test_approving_a_request_that_costs_places_asks_again_on_a_page_listing_them(world):
    from communities.services.signup import shift_sign_up
    from tests.factories import PostFactory, PostTypeFactory

    volunteer = world["volunteer"]
    Volunteer.objects.filter(pk=volunteer.pk).update(insurance_valid_until=timezone.localdate() + timedelta(days=60))
    post_type = PostTypeFactory(name="卡口执勤", requires_insurance=True)
    starts = timezone.now() + timedelta(days=5)
    shift = ShiftFactory(post=PostFactory(post_type=post_type), starts_at=starts, ends_at=starts + timedelta(hours=3))
    place = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    change = records.change_request_submit(
        user=volunteer.user,
        kind="insurance",
        valid_until=timezone.localdate() + timedelta(days=1),
        proof=SimpleUploadedFile("x.jpg", JPEG),
    )
    client = logged_in(world["staff"])
    url = f"/records/requests/{change.pk}/approve/"
    before = fingerprint()
    page = client.post(url)
    text = page.content.decode()
    assert page.status_code == 200 and "卡口执勤" in text and 'name="release_places"' in text
    assert fingerprint() == before

    assert client.post(url, {"release_places": "on"}).status_code == 302
    assert ChangeRequest.objects.get(pk=change.pk).state == "approved"
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"


def test_a_volunteer_removing_a_skill_sees_the_places_it_costs_then_gives_them_up(world):
    volunteer = world["volunteer"]
    shift, place = placed_needing_a_skill(volunteer, name="急救", code="first_aid")
    client = logged_in(volunteer.user)
    page = client.get("/me/contact/")
    assert page.status_code == 200 and 'name="release_places"' not in page.content.decode()
    form = {"emergency_contact_name": "李母"}  # no skills ticked: the skill is removed
    before = fingerprint()
    page = client.post("/me/contact/", form, HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="upcoming-places"' in text and shift.community.name in text and 'name="release_places"' in text
    assert "release_places=true" not in text  # the API's hint is not the page's
    assert fingerprint() == before
    page = client.post("/me/contact/", {**form, "release_places": "on"})
    assert (page.status_code, page["Location"]) == (302, "/me/profile/")
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"
    volunteer.refresh_from_db()
    assert (list(volunteer.skills.all()), volunteer.emergency_contact_name) == ([], "李母")
    assert AuditEntry.objects.filter(volunteer=volunteer, action="volunteer_changed", actor=volunteer.user).exists()


def test_a_volunteers_contact_page_shows_a_bad_value_on_its_field_and_keeps_the_rest(world):
    volunteer = world["volunteer"]
    client = logged_in(volunteer.user)
    before = fingerprint()
    page = client.post("/me/contact/", {"emergency_contact_mobile": "123", "emergency_contact_name": "李母"})
    assert page.status_code == 200
    assert page.context["form"].errors["emergency_contact_mobile"]
    assert fingerprint() == before
