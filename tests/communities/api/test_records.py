"""The staff's volunteer list and edit, and change requests, through the API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from communities.models import AuditEntry
from tests.factories import (
    OrganizationFactory,
    OrganizationStaffFactory,
    QualificationFactory,
    QualificationTypeFactory,
    SkillFactory,
    TeamFactory,
    VolunteerCategoryFactory,
    VolunteerFactory,
)
from tests.test_access_control import fingerprint
from volunteers.models import ChangeRequest, Volunteer

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def world():
    org = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=org).user
    team = TeamFactory(organization=org)
    today = timezone.localdate()
    expired = VolunteerFactory(
        organization=org, team=team, real_name="王过期", insurance_valid_until=today - timedelta(days=2)
    )
    uninsured = VolunteerFactory(organization=org, real_name="赵无保", insurance_valid_until=None)
    fine = VolunteerFactory(organization=org, real_name="钱有效")
    outsider = VolunteerFactory(organization=OrganizationFactory(), real_name="孙外部", insurance_valid_until=None)
    leader = VolunteerFactory(organization=org, team=team)
    team.leader = leader
    team.save()
    return {
        "org": org,
        "staff": staff,
        "team": team,
        "expired": expired,
        "uninsured": uninsured,
        "fine": fine,
        "outsider": outsider,
        "leader": leader,
    }


def names(response) -> list[str]:
    return [row["real_name"] for row in response.json()["results"]]


def test_staff_find_the_volunteers_whose_insurance_has_expired(world):
    today = timezone.localdate()
    response = client_for(world["staff"]).get("/api/v1/volunteers/", {"insurance_before": today.isoformat()})
    assert response.status_code == 200
    assert sorted(names(response)) == sorted(["王过期", "赵无保"])
    row = next(r for r in response.json()["results"] if r["real_name"] == "王过期")
    assert row["mobile"] == world["expired"].mobile  # staff of the subtree see the number
    assert row["id_number_masked"] == world["expired"].id_number_masked
    assert "id_number" not in row


def test_search_filters(world):
    client = client_for(world["staff"])
    SkillFactory(code="medical").volunteer_set.add(world["fine"])
    VolunteerCategoryFactory(code="veteran").volunteer_set.add(world["uninsured"])
    QualificationFactory(volunteer=world["fine"], valid_until=timezone.localdate() + timedelta(days=10))
    assert names(client.get("/api/v1/volunteers/", {"q": "王过"})) == ["王过期"]
    assert names(client.get("/api/v1/volunteers/", {"q": world["fine"].volunteer_number})) == ["钱有效"]
    assert names(client.get("/api/v1/volunteers/", {"q": world["uninsured"].mobile[-6:]})) == ["赵无保"]
    assert sorted(names(client.get("/api/v1/volunteers/", {"team": world["team"].pk}))) == sorted(
        ["王过期", world["leader"].real_name]
    )
    assert names(client.get("/api/v1/volunteers/", {"skill": "medical"})) == ["钱有效"]
    assert names(client.get("/api/v1/volunteers/", {"category": "veteran"})) == ["赵无保"]
    soon = (timezone.localdate() + timedelta(days=30)).isoformat()
    assert names(client.get("/api/v1/volunteers/", {"qualification_before": soon})) == ["钱有效"]
    Volunteer.objects.filter(pk=world["fine"].pk).update(status="suspended")
    assert names(client.get("/api/v1/volunteers/", {"status": "suspended"})) == ["钱有效"]
    assert client.get("/api/v1/volunteers/", {"insurance_before": "2026-02-30"}).json()["code"] == "invalid"


def test_the_list_query_count_is_pinned(world, django_assert_num_queries):
    for _ in range(6):
        v = VolunteerFactory(organization=world["org"], team=world["team"])
        QualificationFactory(volunteer=v)
        SkillFactory().volunteer_set.add(v)
    client = client_for(world["staff"])
    client.get("/api/v1/volunteers/")  # the account's own profile lookup is cached after one request
    # the staff's scope (three readers of it), count, page, then one query each for categories,
    # skills and qualifications: the same for 10 rows as for 15
    with django_assert_num_queries(8):
        response = client.get("/api/v1/volunteers/")
    assert response.json()["count"] == 10
    for _ in range(5):
        v = VolunteerFactory(organization=world["org"])
        QualificationFactory(volunteer=v)
    with django_assert_num_queries(8):
        response = client.get("/api/v1/volunteers/", {"page_size": 100})
    assert response.json()["count"] == 15


def test_team_leaders_see_their_team_read_only_and_volunteers_nothing(world):
    leader = client_for(world["leader"].user)
    assert sorted(names(leader.get("/api/v1/volunteers/"))) == sorted(["王过期", world["leader"].real_name])
    before = fingerprint()
    response = leader.patch(f"/api/v1/volunteers/{world['expired'].pk}/", {"insurer": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert leader.get(f"/api/v1/volunteers/{world['fine'].pk}/").status_code == 404
    volunteer = client_for(world["fine"].user)
    assert volunteer.get("/api/v1/volunteers/").status_code == 403
    assert fingerprint() == before


def test_staff_patch_a_renewal_and_out_of_scope_is_404(world):
    client = client_for(world["staff"])
    until = timezone.localdate() + timedelta(days=365)
    response = client.patch(
        f"/api/v1/volunteers/{world['expired'].pk}/",
        {"insurance_valid_until": until.isoformat(), "insurer": "平安", "insurance_policy_number": "PA-1"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["insurance_valid_until"], body["insurer"], body["changed"], body["released"]) == (
        until.isoformat(),
        "平安",
        ["insurance_policy_number", "insurance_valid_until", "insurer"],
        0,
    )
    assert AuditEntry.objects.filter(volunteer=world["expired"], actor=world["staff"]).count() == 1
    before = fingerprint()
    assert (
        client.patch(f"/api/v1/volunteers/{world['outsider'].pk}/", {"insurer": "x"}, format="json").status_code == 404
    )
    assert client.put(f"/api/v1/volunteers/{world['expired'].pk}/", {"insurer": "x"}, format="json").status_code == 405
    assert fingerprint() == before


def test_export_has_the_same_filters_and_keeps_formulas_as_text(world):
    Volunteer.objects.filter(pk=world["expired"].pk).update(real_name='=HYPERLINK("http://x")')
    client = client_for(world["staff"])
    today = timezone.localdate().isoformat()
    response = client.get("/api/v1/volunteers/", {"insurance_before": today, "export": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 3  # header + two
    assert '\'=HYPERLINK("http://x")' in [row[1] for row in rows]
    response = client.get("/api/v1/volunteers/", {"insurance_before": today, "export": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    cells = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert sorted(cells) == sorted(['=HYPERLINK("http://x")', "赵无保"])
    assert all(row[1].data_type == "s" for row in sheet.iter_rows(min_row=2))


def test_suspension_with_upcoming_shifts_answers_409_with_the_places(world):
    from communities.models import Assignment
    from tests.factories import ShiftFactory

    shift = ShiftFactory(
        starts_at=timezone.now() + timedelta(days=2), ends_at=timezone.now() + timedelta(days=2, hours=3)
    )
    Assignment.objects.create(shift=shift, volunteer=world["fine"], status="confirmed")
    client = client_for(world["staff"])
    before = fingerprint()
    response = client.patch(
        f"/api/v1/volunteers/{world['fine'].pk}/", {"status": "suspended", "suspended_reason": "x"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "volunteer_has_upcoming_shifts")
    assert response.json()["details"]["shifts"][0]["shift"] == shift.pk
    assert fingerprint() == before
    response = client.patch(
        f"/api/v1/volunteers/{world['fine'].pk}/",
        {"status": "suspended", "suspended_reason": "x", "release_places": True},
        format="json",
    )
    assert (response.status_code, response.json()["released"], response.json()["status"]) == (200, 1, "suspended")


def test_change_requests_round_trip(world):
    QualificationTypeFactory(code="first_aid")
    volunteer = client_for(world["fine"].user)
    until = (timezone.localdate() + timedelta(days=365)).isoformat()
    photo = SimpleUploadedFile("cert.jpg", JPEG, content_type="image/jpeg")
    response = volunteer.post(
        "/api/v1/me/change-requests/",
        {"kind": "qualification", "qualification_type": "first_aid", "valid_until": until, "proof": photo},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    request_id = response.json()["id"]
    assert volunteer.get("/api/v1/me/change-requests/").json()[0]["state"] == "pending"

    staff = client_for(world["staff"])
    queue = staff.get("/api/v1/change-requests/").json()
    assert [row["id"] for row in queue["results"]] == [request_id]
    from django.test import Client

    browser = Client()
    browser.force_login(world["staff"])
    proof = browser.get(queue["results"][0]["proof_url"])
    assert (proof.status_code, proof["Content-Type"], b"".join(proof.streaming_content)) == (200, "image/jpeg", JPEG)
    assert staff.post(f"/api/v1/change-requests/{request_id}/approve/").json()["state"] == "approved"
    assert volunteer.get("/api/v1/me/change-requests/").json()[0]["state"] == "approved"
    response = staff.post(f"/api/v1/change-requests/{request_id}/reject/", {"reason": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "change_request_not_pending")
    assert ChangeRequest.objects.get(pk=request_id).state == "approved"


def test_a_disguised_file_is_refused(world):
    QualificationTypeFactory(code="first_aid")
    volunteer = client_for(world["fine"].user)
    fake = SimpleUploadedFile("cert.jpg", b"<svg onload=alert(1)>", content_type="image/jpeg")
    before = fingerprint()
    response = volunteer.post(
        "/api/v1/me/change-requests/",
        {"kind": "qualification", "qualification_type": "first_aid", "valid_until": "2099-01-01", "proof": fake},
        format="multipart",
    )
    assert (response.status_code, response.json()["code"]) == (400, "proof_invalid")
    assert fingerprint() == before


def _confirmed_on(volunteer, *, qualification_type=None, requires_insurance=False):
    """A confirmed place for ``volunteer`` on a shift in two days whose post type needs the
    qualification or the insurance."""
    from communities.services.signup import shift_sign_up
    from tests.factories import PostFactory, PostTypeFactory, ShiftFactory

    post_type = PostTypeFactory(requires_insurance=requires_insurance)
    if qualification_type is not None:
        post_type.required_qualifications.add(qualification_type)
    starts = timezone.now() + timedelta(days=2)
    shift = ShiftFactory(post=PostFactory(post_type=post_type), starts_at=starts, ends_at=starts + timedelta(hours=3))
    place = shift_sign_up(shift_id=shift.pk, volunteer=volunteer, user=volunteer.user)
    assert place.status == "confirmed"
    return shift, place


def test_staff_remove_a_qualification_it_is_audited_and_gone(world):
    from volunteers.models import Qualification

    qualification = QualificationFactory(volunteer=world["fine"], certificate_number="XL-7")
    url = f"/api/v1/volunteers/{world['fine'].pk}/qualifications/{qualification.pk}/"
    response = client_for(world["staff"]).delete(url)
    assert (response.status_code, response.json()) == (200, {"released": 0})
    assert not Qualification.objects.filter(pk=qualification.pk).exists()
    entry = AuditEntry.objects.get(volunteer=world["fine"], action="qualification_changed")
    assert (entry.actor_id, entry.before["certificate_number"], entry.after) == (world["staff"].pk, "XL-7", {})
    assert client_for(world["staff"]).delete(url).status_code == 404


def test_a_qualification_of_another_volunteer_is_not_found_and_nothing_changes(world):
    qualification = QualificationFactory(volunteer=world["outsider"])
    before = fingerprint()
    response = client_for(world["staff"]).delete(
        f"/api/v1/volunteers/{world['fine'].pk}/qualifications/{qualification.pk}/"
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert fingerprint() == before


def test_a_volunteer_cannot_remove_their_own_qualification(world):
    qualification = QualificationFactory(volunteer=world["fine"])
    before = fingerprint()
    response = client_for(world["fine"].user).delete(
        f"/api/v1/volunteers/{world['fine'].pk}/qualifications/{qualification.pk}/"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert fingerprint() == before


def test_removing_a_qualification_a_confirmed_shift_needs_answers_409_then_releases(world):
    from communities.models import Assignment

    qualification = QualificationFactory(volunteer=world["fine"], valid_until=None)
    shift, place = _confirmed_on(world["fine"], qualification_type=qualification.qualification_type)
    url = f"/api/v1/volunteers/{world['fine'].pk}/qualifications/{qualification.pk}/"
    client = client_for(world["staff"])
    before = fingerprint()
    response = client.delete(url)
    body = response.json()
    assert (response.status_code, body["code"], body["details"]["because"]) == (
        409,
        "volunteer_has_upcoming_shifts",
        "eligibility",
    )
    assert [(p["shift"], p["not_eligible"]) for p in body["details"]["shifts"]] == [
        (shift.pk, {"reason": "qualification", "missing": [qualification.qualification_type.code]})
    ]
    assert fingerprint() == before
    response = client.delete(f"{url}?release_places=true")
    assert (response.status_code, response.json()) == (200, {"released": 1})
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"


def test_removing_the_insurance_a_confirmed_checkpoint_needs_answers_409(world):
    _confirmed_on(world["fine"], requires_insurance=True)
    url = f"/api/v1/volunteers/{world['fine'].pk}/"
    client = client_for(world["staff"])
    before = fingerprint()
    response = client.patch(url, {"insurance_valid_until": None}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "volunteer_has_upcoming_shifts")
    assert response.json()["details"]["shifts"][0]["not_eligible"] == {"reason": "insurance"}
    assert fingerprint() == before
    response = client.patch(url, {"insurance_valid_until": None, "release_places": True}, format="json")
    assert (response.status_code, response.json()["released"], response.json()["insurance_valid_until"]) == (
        200,
        1,
        None,
    )


def test_approving_an_earlier_insurance_answers_409_then_releases_on_request(world):
    from communities.models import Assignment
    from communities.services import records

    _shift, place = _confirmed_on(world["fine"], requires_insurance=True)
    change = records.change_request_submit(
        user=world["fine"].user,
        kind="insurance",
        valid_until=timezone.localdate(),
        proof=SimpleUploadedFile("p.jpg", JPEG),
    )
    client = client_for(world["staff"])
    url = f"/api/v1/change-requests/{change.pk}/approve/"
    before = fingerprint()
    response = client.post(url, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "volunteer_has_upcoming_shifts")
    assert fingerprint() == before
    response = client.post(url, {"release_places": True}, format="json")
    assert (response.status_code, response.json()["state"], response.json()["released"]) == (200, "approved", 1)
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"


def test_recording_an_earlier_qualification_end_answers_409_then_releases_on_request(world):
    from communities.models import Assignment

    qualification = QualificationFactory(volunteer=world["fine"], valid_until=None)
    _shift, place = _confirmed_on(world["fine"], qualification_type=qualification.qualification_type)
    url = f"/api/v1/volunteers/{world['fine'].pk}/qualifications/"
    data = {"qualification_type": qualification.qualification_type.code, "valid_until": timezone.localdate()}
    client = client_for(world["staff"])
    before = fingerprint()
    response = client.post(url, data)
    assert (response.status_code, response.json()["code"]) == (409, "volunteer_has_upcoming_shifts")
    assert fingerprint() == before
    response = client.post(url, {**data, "release_places": "true"})
    assert (response.status_code, response.json()["released"]) == (200, 1)
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"
