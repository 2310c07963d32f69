"""The Django admin goes through the services: each rule-bearing change made in its change forms
has the service's effects (promotion, notices, caps, audit rows), a refused one changes nothing,
and what would bypass a rule (deleting shifts and assignments, editing counters) is refused."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.utils import timezone

from communities.models import Assignment, AuditEntry, Notification, Shift
from communities.services import signup
from config.errors import ServiceError
from tests.factories import QualificationTypeFactory, ShiftFactory, VolunteerFactory
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = get_user_model().objects.create_superuser("root-admin", password="pass-Word-123")
    client.force_login(user)
    client.user = user
    return client


def local(moment):
    moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S")


def shift_form(shift: Shift, **changes) -> dict:
    values = {
        "starts_at": shift.starts_at,
        "ends_at": shift.ends_at,
        "capacity": shift.capacity,
        "notes": shift.notes,
        "status": shift.status,
        "reason": "",
    }
    values.update(changes)
    data = {"capacity": values["capacity"], "notes": values["notes"], "status": values["status"]}
    data["reason"] = values["reason"]
    for name in ("starts_at", "ends_at"):
        data[f"{name}_0"], data[f"{name}_1"] = local(values[name])
    data["_save"] = "Save"
    return data


def change_url(obj) -> str:
    return f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"


def errors(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def rows(model, **filters) -> list[dict]:
    return list(model.objects.filter(**filters).order_by("pk").values())


# --- Shift ----------------------------------------------------------------------------------


def test_raising_capacity_in_the_admin_promotes_the_waitlist(root):
    shift = ShiftFactory(capacity=1)
    first = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    waiting = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    assert waiting.status == "waitlisted"
    response = root.post(change_url(shift), shift_form(shift, capacity=2, reason="more people needed"))
    assert response.status_code == 302
    assert errors(response) == []
    shift.refresh_from_db()
    assert (shift.capacity, shift.confirmed_count, shift.waitlist_count) == (2, 2, 0)
    assert dict(Assignment.objects.values_list("pk", "status")) == {first.pk: "confirmed", waiting.pk: "confirmed"}
    assert Notification.objects.filter(assignment=waiting, kind="promoted").exists()
    entry = AuditEntry.objects.get(action="shift_changed", shift=shift)
    assert (entry.actor, entry.before["capacity"], entry.after["capacity"], entry.reason) == (
        root.user,
        1,
        2,
        "more people needed",
    )


def test_cancelling_a_shift_in_the_admin_releases_and_tells_everyone(root):
    shift = ShiftFactory(capacity=1)
    first = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    waiting = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    response = root.post(change_url(shift), shift_form(shift, status="cancelled", reason="lockdown lifted"))
    assert response.status_code == 302
    shift.refresh_from_db()
    assert (shift.status, shift.confirmed_count, shift.waitlist_count) == ("cancelled", 0, 0)
    assert set(Assignment.objects.values_list("status", flat=True)) == {"cancelled"}
    told = set(Notification.objects.filter(kind="shift_cancelled").values_list("assignment_id", flat=True))
    assert told == {first.pk, waiting.pk}
    entry = AuditEntry.objects.get(action="shift_cancelled")
    assert (entry.actor, entry.reason, entry.shift_id) == (root.user, "lockdown lifted", shift.pk)


@pytest.mark.parametrize(
    "changes, code_message",
    [
        ({"status": "cancelled"}, "请填写理由，将记入审计记录。"),  # reason_required
        ({"capacity": 0}, None),
        (
            {
                "starts_at": timezone.now().replace(year=2001),
                "ends_at": timezone.now().replace(year=2001) + timedelta(hours=2),
            },
            None,
        ),
    ],
    ids=["cancel-without-reason", "capacity-below-confirmed", "moved-into-the-past"],
)
def test_a_refused_admin_change_to_a_shift_changes_nothing(root, changes, code_message):
    shift = ShiftFactory(capacity=2)
    signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    before = (rows(Shift), rows(Assignment), rows(AuditEntry), rows(Notification))
    response = root.post(change_url(shift), shift_form(shift, **changes))
    assert response.status_code == 302
    assert response.url == change_url(shift)
    assert len(errors(response)) == 1
    if code_message:
        assert errors(response)[0].startswith(code_message)
    assert (rows(Shift), rows(Assignment), rows(AuditEntry), rows(Notification)) == before
    from django.contrib.admin.models import LogEntry

    assert not LogEntry.objects.exists()


def test_moving_a_shift_in_the_admin_rechecks_and_tells_its_volunteers(root):
    shift = ShiftFactory(capacity=2)
    volunteer = VolunteerFactory()
    place = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    later = ShiftFactory(starts_at=shift.ends_at + timedelta(hours=9), ends_at=shift.ends_at + timedelta(hours=12))
    signup.shift_sign_up(shift_id=later.pk, volunteer=volunteer)
    before = rows(Shift)
    moved = {"starts_at": shift.starts_at + timedelta(hours=6), "ends_at": shift.ends_at + timedelta(hours=6)}
    response = root.post(change_url(shift), shift_form(shift, **moved), HTTP_ACCEPT_LANGUAGE="en")
    assert errors(response) == ["The change conflicts with the schedules of volunteers on this shift."]
    assert rows(Shift) == before
    shown = root.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The change conflicts with the schedules of volunteers on this shift." in shown
    moved = {"starts_at": shift.starts_at - timedelta(hours=1), "ends_at": shift.ends_at - timedelta(hours=1)}
    response = root.post(change_url(shift), shift_form(shift, **moved))
    assert errors(response) == []
    shift.refresh_from_db()
    assert (shift.starts_at, shift.ends_at) == (moved["starts_at"], moved["ends_at"])
    assert Notification.objects.filter(assignment=place, kind="shift_changed").exists()


def test_capacity_below_the_confirmed_count_is_refused_in_the_admin(root):
    shift = ShiftFactory(capacity=3)
    for _ in range(2):
        signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    before = rows(Shift)
    response = root.post(change_url(shift), shift_form(shift, capacity=1), HTTP_ACCEPT_LANGUAGE="en")
    assert errors(response) == ["Capacity cannot be lower than the number of confirmed volunteers."]
    assert rows(Shift) == before


def test_a_cancelled_shift_cannot_be_reopened_in_the_admin(root):
    shift = ShiftFactory(status="cancelled")
    before = rows(Shift)
    response = root.post(change_url(shift), shift_form(shift, status="open"), HTTP_ACCEPT_LANGUAGE="en")
    assert errors(response) == ["This shift has been cancelled."]
    assert rows(Shift) == before


def test_shift_counters_and_post_are_not_editable_in_the_admin(root):
    shift = ShiftFactory(capacity=2)
    other = ShiftFactory()
    before = rows(Shift)
    data = shift_form(shift)
    data.update({"confirmed_count": 2, "waitlist_count": 7, "post": other.post_id, "community": other.community_id})
    root.post(change_url(shift), data)
    assert rows(Shift) == before


def test_shifts_cannot_be_added_or_deleted_in_the_admin(root):
    shift = ShiftFactory()
    assert root.get("/admin/communities/shift/add/").status_code == 403
    assert root.post(f"/admin/communities/shift/{shift.pk}/delete/", {"post": "yes"}).status_code == 403
    response = root.post(
        "/admin/communities/shift/", {"action": "delete_selected", "_selected_action": [shift.pk], "post": "yes"}
    )
    assert response.status_code == 200  # the action is not offered: "No action selected."
    assert Shift.objects.filter(pk=shift.pk).exists()


# --- Assignment -----------------------------------------------------------------------------


def completed(minutes=210, hours=4):
    start = timezone.now() - timedelta(days=1)
    shift = ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=hours), capacity=3, confirmed_count=1)
    return Assignment.objects.create(
        shift=shift,
        volunteer=VolunteerFactory(),
        status="completed",
        checked_in_at=start,
        checked_out_at=start + timedelta(minutes=minutes),
        credited_minutes=minutes,
        hours_status="pending",
    )


def test_credited_minutes_beyond_the_shift_are_refused_in_the_admin(root):
    assignment = completed(minutes=210, hours=4)
    before = (rows(Assignment), rows(AuditEntry))
    response = root.post(
        change_url(assignment),
        {"credited_minutes": 600, "reason": "typo", "_save": "Save"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    assert errors(response) == ["Credited time must be between zero and the shift's length."]
    assert (rows(Assignment), rows(AuditEntry)) == before


def test_credited_minutes_need_a_reason_in_the_admin(root):
    assignment = completed()
    before = (rows(Assignment), rows(AuditEntry))
    response = root.post(change_url(assignment), {"credited_minutes": 180, "reason": "", "_save": "Save"})
    assert errors(response) == ["请填写理由，将记入审计记录。"]
    assert (rows(Assignment), rows(AuditEntry)) == before


def test_credited_minutes_adjusted_in_the_admin_are_audited_and_counted(root):
    assignment = completed(minutes=210)
    response = root.post(change_url(assignment), {"credited_minutes": 180, "reason": "left early", "_save": "Save"})
    assert errors(response) == []
    assignment.refresh_from_db()
    assert (assignment.credited_minutes, assignment.hours_status, assignment.verified_by) == (
        180,
        "approved",
        root.user,
    )
    assert assignment.tally_pending is True
    entry = AuditEntry.objects.get(action="hours_adjusted")
    assert (entry.assignment_id, entry.actor, entry.reason) == (assignment.pk, root.user, "left early")
    assert (entry.before["credited_minutes"], entry.after["credited_minutes"]) == (210, 180)


def test_assignment_status_and_attendance_are_not_editable_in_the_admin(root):
    assignment = completed()
    before = rows(Assignment)
    root.post(
        change_url(assignment),
        {
            "credited_minutes": 210,
            "reason": "",
            "status": "cancelled",
            "hours_status": "approved",
            "checked_out_at": "",
            "_save": "Save",
        },
    )
    assert rows(Assignment) == before


def test_hours_are_approved_through_the_service_from_the_admin_list(root):
    pending, other = completed(), completed()
    Assignment.objects.filter(pk=other.pk).update(hours_status="approved")
    root.post(
        "/admin/communities/assignment/",
        {"action": "approve_hours", "_selected_action": [pending.pk, other.pk], "index": 0},
    )
    pending.refresh_from_db()
    assert (pending.hours_status, pending.verified_by) == ("approved", root.user)
    assert list(AuditEntry.objects.values_list("action", "assignment_id")) == [("hours_approved", pending.pk)]


def test_assignments_cannot_be_added_or_deleted_in_the_admin(root):
    assignment = completed()
    assert root.get("/admin/communities/assignment/add/").status_code == 403
    assert root.post(f"/admin/communities/assignment/{assignment.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Assignment.objects.filter(pk=assignment.pk).exists()


# --- Volunteer ------------------------------------------------------------------------------


def test_volunteer_is_anonymised_not_deleted_from_the_admin(root):
    shift = ShiftFactory(capacity=1)
    volunteer = VolunteerFactory()
    place = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    waiting = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    assert root.post(f"/admin/volunteers/volunteer/{volunteer.pk}/delete/", {"post": "yes"}).status_code == 403
    root.post("/admin/volunteers/volunteer/", {"action": "anonymise", "_selected_action": [volunteer.pk], "index": 0})
    volunteer.refresh_from_db()
    assert volunteer.anonymised_at is not None
    assert volunteer.real_name != "" and volunteer.status == "suspended"
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"
    assert Assignment.objects.get(pk=waiting.pk).status == "confirmed"


def test_volunteer_status_mobile_and_deployment_are_not_editable_in_the_admin(root):
    volunteer = VolunteerFactory(status="reserve")
    page = root.get(change_url(volunteer))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert not {"status", "mobile", "deployed_community", "deployed_at", "volunteer_number", "user"} & set(form.fields)
    guarded = ["status", "mobile", "deployed_community", "deployed_at", "volunteer_number", "user", "anonymised_at"]
    before = list(Volunteer.objects.values(*guarded))
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"skills": [], "categories": [], "qualifications-TOTAL_FORMS": 0, "qualifications-INITIAL_FORMS": 0})
    data.update({"status": "active", "mobile": "13900000000", "deployed_community": ShiftFactory().community_id})
    data["_save"] = "Save"
    assert root.post(change_url(volunteer), data).status_code == 302
    assert list(Volunteer.objects.values(*guarded)) == before


# --- Dispatch and recall records ---------------------------------------------------------------


def test_messages_and_the_audit_trail_show_people_by_name_and_number_and_texts_masked(root):
    """A volunteer's log-in name is their mobile; a dispatch text carries the coordinators' numbers."""
    from communities.services import coordination
    from tests.factories import CommunityFactory, TeamFactory
    from volunteers.models import StaffContact
    from volunteers.selectors import organization_subtree

    team = TeamFactory()
    volunteer = VolunteerFactory(organization=team.organization, team=team, status="reserve", real_name="郑派遣")
    community = CommunityFactory(name="娄葑社区")
    coordinator = get_user_model().objects.create_user("coordinator-loufeng", first_name="王协调")
    StaffContact.objects.create(user=coordinator, mobile="13566667777")
    community.coordinators.add(coordinator)
    coordination.dispatch_create(
        actor=root.user, community=community, organizations=organization_subtree(root.user), team_id=team.pk
    )
    text = Notification.objects.get(recipient=volunteer.user, kind="dispatched", channel="inapp")
    assert "13566667777" in text.body  # the volunteer is told whom to call
    AuditEntry.objects.create(volunteer=volunteer, actor=volunteer.user, action="volunteer_changed", reason="自助修改")

    for url in ("/admin/communities/notification/", change_url(text), "/admin/communities/auditentry/"):
        html = root.get(url).content.decode()
        assert f"郑派遣 ({volunteer.volunteer_number})" in html, url
        assert volunteer.mobile not in html and "13566667777" not in html, url
    assert "135****7777" in root.get(change_url(text)).content.decode()
    entry = AuditEntry.objects.get(reason="自助修改")
    assert volunteer.mobile not in root.get(change_url(entry)).content.decode()
    found = root.get("/admin/communities/notification/", {"q": volunteer.volunteer_number})
    assert found.context["cl"].result_count == Notification.objects.filter(recipient=volunteer.user).count() > 0
    assert root.get("/admin/communities/notification/", {"q": volunteer.mobile}).context["cl"].result_count == 0
    assert root.get("/admin/communities/auditentry/", {"q": volunteer.mobile}).context["cl"].result_count == 0

    # Staff who are volunteers too log in with their mobile: the records they made name them.
    from communities.models import Dispatch

    staff_volunteer = VolunteerFactory(real_name="孙团干")
    made = Dispatch.objects.create(community=community, requested=1, created_by=staff_volunteer.user)
    for url in ("/admin/communities/dispatch/", change_url(made)):
        html = root.get(url).content.decode()
        assert f"孙团干 ({staff_volunteer.volunteer_number})" in html and staff_volunteer.mobile not in html, url


def test_recalls_and_dispatches_are_read_only_records_without_mobiles_or_id_numbers(root):
    from communities.models import Dispatch, Recall
    from communities.services import coordination
    from tests.factories import CommunityFactory, TeamFactory
    from volunteers.selectors import organization_subtree

    team = TeamFactory()
    volunteer = VolunteerFactory(organization=team.organization, team=team, status="reserve", real_name="吴召回")
    community = CommunityFactory(name="斜塘社区")
    organizations = organization_subtree(root.user)
    dispatch = coordination.dispatch_create(
        actor=root.user, community=community, organizations=organizations, team_id=team.pk
    )
    (recall,) = coordination.volunteers_recall(
        actor=root.user, organizations=organizations, dispatch_id=dispatch.pk, reason="轮换休整"
    )

    for url, named in (
        ("/admin/communities/recall/", True),
        (change_url(recall), True),
        ("/admin/communities/dispatch/", False),
        (change_url(dispatch), True),
    ):
        page = root.get(url)
        html = page.content.decode()
        assert page.status_code == 200, url
        assert not named or (volunteer.volunteer_number in html and "吴召回" in html), url
        assert volunteer.mobile not in html and volunteer.id_number not in html, url
    assert "轮换休整" in root.get("/admin/communities/recall/").content.decode()
    found = root.get("/admin/communities/recall/", {"q": volunteer.volunteer_number})
    assert list(found.context["cl"].result_list) == [recall]
    found = root.get("/admin/communities/dispatch/", {"q": volunteer.volunteer_number})
    assert list(found.context["cl"].result_list) == [dispatch]
    assert root.get("/admin/communities/recall/", {"q": volunteer.mobile}).context["cl"].result_count == 0

    before = (rows(Recall), rows(Dispatch))
    assert root.post(change_url(recall), {"reason": "改"}).status_code == 403
    assert root.post(f"/admin/communities/recall/{recall.pk}/delete/", {"post": "yes"}).status_code == 403
    assert root.get("/admin/communities/recall/add/").status_code == 403
    assert (rows(Recall), rows(Dispatch)) == before


def test_the_record_staff_keep_and_qualifications_are_not_editable_in_the_admin(root):
    """They change on the records pages, audited and checked against the volunteer's places."""
    from volunteers.models import Qualification

    volunteer = VolunteerFactory(emergency_contact_mobile="13712345678")
    qualification = Qualification.objects.create(volunteer=volunteer, qualification_type=QualificationTypeFactory())
    page = root.get(change_url(volunteer))
    form = page.context["adminform"].form
    guarded = {
        "skills",
        "categories",
        "insurance_valid_until",
        "insurer",
        "insurance_policy_number",
        "organization",
        "team",
        "birth_date",
        "guardian_consent",
        "emergency_contact_name",
        "emergency_contact_mobile",
        "suspended_reason",
    }
    assert not guarded & set(form.fields)
    html = page.content.decode()
    assert "13712345678" not in html and "137****5678" in html
    assert root.get(change_url(qualification)).status_code == 200
    assert root.post(f"/admin/volunteers/qualification/{qualification.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Qualification.objects.filter(pk=qualification.pk).exists()


# --- Recruitment, call-outs, community requests: read-only, numbers masked -------------------------


@pytest.fixture
def mobilisation_records(root):
    from datetime import date

    from communities.models import Broadcast, CommunityRequest
    from communities.services import broadcasts
    from tests.factories import CommunityFactory, RecruitmentCallFactory
    from volunteers.idcard import make_id_number
    from volunteers.models import CallApplication

    call = RecruitmentCallFactory()
    application = CallApplication(
        call=call,
        agreement=call.agreements.get(),
        agreement_accepted_at=timezone.now(),
        mobile="13712345678",
        real_name="周晓雨",
        birth_date=date(2009, 5, 4),
        gender="female",
        organization=call.organization,
        emergency_contact_name="周父",
        emergency_contact_mobile="13987654321",
        guardian_name="周母",
        guardian_mobile="13655554444",
        guardian_consent=True,
    )
    id_number = make_id_number("320506", date(2009, 5, 4), 41)
    application.set_id_number(id_number)
    application.save()
    community = CommunityFactory()
    request = CommunityRequest.objects.create(
        community=community,
        wanted=5,
        date_from=date(2026, 12, 8),
        date_to=date(2026, 12, 9),
        time_from="08:00",
        time_to="12:00",
        note="封控点增援",
    )
    VolunteerFactory(deployed_community=community, status="active")
    target = broadcasts.broadcast_target(actor=root.user, audience="community", community_id=community.pk)
    broadcast = broadcasts.broadcast_create(actor=root.user, target=target, subject="集合通知", message="明早8点集合")
    return {
        "call": call,
        "agreement": call.agreements.get(),
        "application": application,
        "id_number": id_number,
        "request": request,
        "broadcast": broadcast,
        "models": (Broadcast, CommunityRequest, CallApplication),
    }


@pytest.mark.parametrize("name", ["call", "agreement", "application", "request", "broadcast"])
def test_mobilisation_records_render_in_the_admin_read_only(root, mobilisation_records, name):
    obj = mobilisation_records[name]
    listing = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
    assert root.get(listing).status_code == 200
    assert root.get(f"{listing}?q=x").status_code == 200
    page = root.get(change_url(obj))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}  # nothing editable
    assert root.get(f"{listing}add/").status_code == 403
    assert (
        root.post(f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    before = list(type(obj).objects.values())
    root.post(change_url(obj), {"status": "closed", "subject": "changed", "wanted": 50, "_save": "Save"})
    assert list(type(obj).objects.values()) == before


def test_an_application_shows_its_numbers_masked_in_the_admin(root, mobilisation_records):
    application = mobilisation_records["application"]
    listing = root.get("/admin/volunteers/callapplication/").content.decode()
    page = root.get(change_url(application)).content.decode()
    for text in (listing, page):
        assert "137****5678" in text and "13712345678" not in text
        assert mobilisation_records["id_number"] not in text
        assert application.id_number_masked in text
        assert application.id_number_encrypted not in text and application.id_number_hash not in text
    assert "139****4321" in page and "13987654321" not in page
    assert "136****4444" in page and "13655554444" not in page
    # The number is not a search key either (it would tell a full number by its hits).
    assert "周晓雨" not in root.get("/admin/volunteers/callapplication/?q=13712345678").content.decode()


def test_applications_are_approved_through_the_service_from_the_admin(root, mobilisation_records):
    application = mobilisation_records["application"]
    root.post(
        "/admin/volunteers/callapplication/",
        {"action": "approve", "_selected_action": [application.pk], "index": 0},
    )
    application.refresh_from_db()
    assert (application.status, application.reviewed_by) == ("approved", root.user)
    volunteer = Volunteer.objects.get(pk=application.volunteer_id)
    assert (volunteer.mobile, volunteer.status) == ("13712345678", "reserve")
    assert Notification.objects.filter(kind="application_approved", recipient=volunteer.user).exists()
    # A second time: refused by the service, reported, nothing changes.
    before = list(Volunteer.objects.values())
    response = root.post(
        "/admin/volunteers/callapplication/",
        {"action": "approve", "_selected_action": [application.pk], "index": 0},
        follow=True,
    )
    warnings = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
    assert warnings == [f"{application.pk}: {ServiceError('application_not_pending').message}"]
    assert list(Volunteer.objects.values()) == before


def test_calls_are_closed_through_the_service_from_the_admin(root, mobilisation_records):
    call = mobilisation_records["call"]
    root.post(
        "/admin/volunteers/recruitmentcall/", {"action": "close_calls", "_selected_action": [call.pk], "index": 0}
    )
    call.refresh_from_db()
    assert call.status == "closed" and call.closed_at is not None
