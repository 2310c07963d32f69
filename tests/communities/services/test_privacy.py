"""Personal data: key rotation, who sees a mobile number, recorded ID-number displays, the data
export, and anonymisation that keeps the hours but not the person."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, time, timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities.models import Assignment, AuditEntry, DailyTally, Notification, RecordCorrection
from communities.selectors import people as people_selectors
from communities.services import privacy, recruitment
from config.errors import ServiceError
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    QualificationFactory,
    RecruitmentCallFactory,
    ShiftFactory,
    SkillFactory,
    TeamFactory,
    UserFactory,
    VolunteerCategoryFactory,
    VolunteerFactory,
)
from volunteers import crypto
from volunteers import services as volunteer_services
from volunteers.idcard import make_id_number, validate_mobile
from volunteers.models import (
    CallApplication,
    Certificate,
    LoginFailure,
    PersonalDataAccess,
    Qualification,
    RecruitmentCall,
    Volunteer,
    VolunteerTally,
)

pytestmark = pytest.mark.django_db

OLD_KEY = "hSfnH9OOfJh-yyZiWBtfDIhkTZNwddQQA3SCQ0VBFaQ="  # the test settings' key
NEW_KEY = Fernet.generate_key().decode()


# --- Key rotation ----------------------------------------------------------------------------


def test_rotate_id_keys_reencrypts_so_the_old_key_can_go(settings):
    volunteers = [VolunteerFactory() for _ in range(5)]
    numbers = {v.pk: v.id_number for v in volunteers}
    hashes = {v.pk: v.id_number_hash for v in volunteers}

    settings.ID_NUMBER_KEYS = [NEW_KEY, OLD_KEY]
    out = io.StringIO()
    call_command("rotate_id_keys", "--batch-size", "2", stdout=out)
    assert out.getvalue().splitlines() == [
        "5 volunteer(s); 2 key(s) configured.",
        "2/5 checked, 2 re-encrypted",
        "4/5 checked, 4 re-encrypted",
        "5/5 checked, 5 re-encrypted",
        "Done: 5 re-encrypted, 0 already on the newest key.",
    ]

    settings.ID_NUMBER_KEYS = [NEW_KEY]
    for volunteer in Volunteer.objects.all():
        assert volunteer.id_number == numbers[volunteer.pk]
        assert volunteer.id_number_hash == hashes[volunteer.pk]
        with pytest.raises(InvalidToken):
            Fernet(OLD_KEY.encode()).decrypt(volunteer.id_number_encrypted.encode())


def test_rotate_id_keys_is_idempotent(settings):
    VolunteerFactory()
    settings.ID_NUMBER_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_id_keys", stdout=io.StringIO())
    tokens = list(Volunteer.objects.values_list("id_number_encrypted", flat=True))
    out = io.StringIO()
    call_command("rotate_id_keys", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Done: 0 re-encrypted, 1 already on the newest key."
    assert list(Volunteer.objects.values_list("id_number_encrypted", flat=True)) == tokens


def test_rotate_id_keys_stops_without_changing_anything_when_the_old_key_is_missing(settings):
    VolunteerFactory()
    before = list(Volunteer.objects.values_list("id_number_encrypted", flat=True))
    settings.ID_NUMBER_KEYS = [NEW_KEY]
    with pytest.raises(CommandError, match="no configured key decrypts"):
        call_command("rotate_id_keys", stdout=io.StringIO())
    assert list(Volunteer.objects.values_list("id_number_encrypted", flat=True)) == before


# --- Who may see a mobile number ---------------------------------------------------------------


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


@pytest.fixture
def people():
    committee = OrganizationFactory(kind="committee")
    bank = OrganizationFactory(parent=committee)
    branch = OrganizationFactory(parent=bank, kind="branch")
    leader = VolunteerFactory(organization=branch)
    team = TeamFactory(organization=branch, leader=leader)
    volunteer = VolunteerFactory(organization=branch, team=team)
    today = timezone.localdate()

    def coordinator_with(status, day, hour=8, of_community=True):
        """A coordinator, and an assignment of the volunteer in (or not in) a community they coordinate."""
        user = UserFactory()
        coordinated, elsewhere = CommunityFactory(), CommunityFactory()
        coordinated.coordinators.add(user)
        shift = ShiftFactory(
            post__community=coordinated if of_community else elsewhere,
            starts_at=_at(day, hour),
            ends_at=_at(day, hour) + timedelta(hours=2),
        )
        AssignmentFactory(
            shift=shift, volunteer=volunteer, status=status, waitlist_order=1 if status == "waitlisted" else None
        )
        return user

    return {
        "volunteer": volunteer,
        "self": volunteer.user,
        "superuser": UserFactory(is_superuser=True),
        "committee_staff": OrganizationStaffFactory(organization=committee).user,
        "branch_staff": OrganizationStaffFactory(organization=branch).user,
        "other_staff": OrganizationStaffFactory(organization=OrganizationFactory(parent=committee)).user,
        "team_leader": leader.user,
        "other_team_leader": TeamFactory(organization=branch, leader=VolunteerFactory()).leader.user,
        "coordinator_confirmed_tomorrow": coordinator_with("confirmed", today + timedelta(days=1)),
        "coordinator_waitlisted_tomorrow": coordinator_with("waitlisted", today + timedelta(days=1)),
        "coordinator_completed_earlier_today": coordinator_with("completed", today, hour=1),
        "coordinator_no_show_today": coordinator_with("no_show", today, hour=1),
        "coordinator_completed_yesterday": coordinator_with("completed", today - timedelta(days=1)),
        "coordinator_cancelled_tomorrow": coordinator_with("cancelled", today + timedelta(days=1)),
        "coordinator_of_another_community": coordinator_with(
            "confirmed", today + timedelta(days=1), of_community=False
        ),
        "plain_user": UserFactory(),
        "other_volunteer": VolunteerFactory(organization=branch).user,
        "inactive_superuser": UserFactory(is_superuser=True, is_active=False),
    }


EXPECTED_VISIBILITY = {
    "self": True,
    "superuser": True,
    "committee_staff": True,
    "branch_staff": True,
    "other_staff": False,
    "team_leader": True,
    "other_team_leader": False,
    "coordinator_confirmed_tomorrow": True,
    "coordinator_waitlisted_tomorrow": True,
    "coordinator_completed_earlier_today": True,
    "coordinator_no_show_today": True,
    "coordinator_completed_yesterday": False,
    "coordinator_cancelled_tomorrow": False,
    "coordinator_of_another_community": False,
    "plain_user": False,
    "other_volunteer": False,
    "inactive_superuser": False,
}


@pytest.mark.parametrize(("who", "visible"), EXPECTED_VISIBILITY.items())
def test_mobile_visible_to(people, who, visible):
    volunteer = people["volunteer"]
    assert people_selectors.volunteer_mobile_visible_to(people[who], volunteer) is visible
    expected = volunteer.mobile if visible else volunteer.mobile[:3] + "****" + volunteer.mobile[-4:]
    assert people_selectors.volunteer_mobile_display(people[who], volunteer) == expected


def test_mobile_hidden_from_anonymous_users(people):
    from django.contrib.auth.models import AnonymousUser

    assert people_selectors.volunteer_mobile_visible_to(AnonymousUser(), people["volunteer"]) is False


def test_list_helper_agrees_with_the_single_check_in_one_query(people, django_assert_num_queries):
    others = [VolunteerFactory() for _ in range(3)]
    for who, visible in EXPECTED_VISIBILITY.items():
        user = people[who]
        queryset = Volunteer.objects.filter(pk__in=[people["volunteer"].pk, *[o.pk for o in others]]).order_by("pk")
        with django_assert_num_queries(1 if user.is_active and not user.is_superuser else 0):
            # Building the filter reads the caller's staff roles; superusers and inactive users need none.
            annotated = people_selectors.volunteers_with_mobile_visibility(queryset, user=user)
        with django_assert_num_queries(1):
            rows = {v.pk: v.mobile_visible for v in annotated}
        assert rows[people["volunteer"].pk] is visible, who
        assert all(rows[o.pk] is (user.is_superuser and user.is_active) for o in others), who


# --- Full ID number display --------------------------------------------------------------------


def test_the_volunteer_sees_their_own_id_number_and_it_is_recorded():
    volunteer = VolunteerFactory()
    number = volunteer_services.volunteer_id_number_reveal(
        actor=volunteer.user, volunteer=volunteer, purpose="self_view"
    )
    assert number == crypto.decrypt(volunteer.id_number_encrypted)
    access = PersonalDataAccess.objects.get()
    assert (access.actor, access.volunteer, access.field, access.purpose) == (
        volunteer.user,
        volunteer,
        "id_number",
        "self_view",
    )


def test_a_superuser_sees_an_id_number_and_it_is_recorded():
    volunteer, superuser = VolunteerFactory(), UserFactory(is_superuser=True)
    assert volunteer_services.volunteer_id_number_reveal(
        actor=superuser, volunteer=volunteer, purpose="certificate"
    ) == (volunteer.id_number)
    assert list(PersonalDataAccess.objects.values_list("actor", "field", "purpose")) == [
        (superuser.pk, "id_number", "certificate")
    ]


@pytest.mark.parametrize("who", ["staff", "coordinator", "other_volunteer", "inactive_superuser"])
def test_nobody_else_sees_an_id_number(who):
    volunteer = VolunteerFactory()
    actor = {
        "staff": lambda: OrganizationStaffFactory(organization=volunteer.organization).user,
        "coordinator": lambda: UserFactory(),
        "other_volunteer": lambda: VolunteerFactory().user,
        "inactive_superuser": lambda: UserFactory(is_superuser=True, is_active=False),
    }[who]()
    with pytest.raises(ServiceError) as excinfo:
        volunteer_services.volunteer_id_number_reveal(actor=actor, volunteer=volunteer, purpose="curious")
    assert excinfo.value.code == "permission_denied"
    assert PersonalDataAccess.objects.count() == 0


def login(api_client, user):
    token, _ = Token.objects.get_or_create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE="en")
    return api_client


def test_api_id_number_is_the_callers_own_and_recorded(api_client):
    volunteer = VolunteerFactory()
    response = login(api_client, volunteer.user).post("/api/v1/me/id-number/")
    assert response.status_code == 200
    assert response.json() == {"id_number": volunteer.id_number}
    assert response["Cache-Control"] == "no-store"
    assert list(PersonalDataAccess.objects.values_list("actor", "volunteer", "field", "purpose")) == [
        (volunteer.user.pk, volunteer.pk, "id_number", "self_view")
    ]


def test_api_id_number_needs_a_volunteer(api_client):
    response = login(api_client, UserFactory()).post("/api/v1/me/id-number/")
    assert (response.status_code, response.json()["code"]) == (403, "not_a_volunteer")
    assert PersonalDataAccess.objects.count() == 0
    api_client.credentials()
    assert api_client.post("/api/v1/me/id-number/").status_code == 401


# --- Export ------------------------------------------------------------------------------------


@pytest.fixture
def history():
    """A volunteer with a past completed shift (credited), an upcoming one, a notification and a certificate."""
    volunteer = VolunteerFactory(real_name="王小明", mobile="13912345678")
    volunteer.skills.add(SkillFactory(code="first-aid", name="急救"))
    qualification = QualificationFactory(
        volunteer=volunteer, certificate_number="PSY-001", valid_until=date(2030, 1, 1)
    )
    past_day = timezone.localdate() - timedelta(days=3)
    past = AssignmentFactory(
        volunteer=volunteer,
        shift__starts_at=_at(past_day, 8),
        shift__ends_at=_at(past_day, 12),
        status=Assignment.Status.COMPLETED,
        checked_in_at=_at(past_day, 8),
        checked_out_at=_at(past_day, 12),
        credited_minutes=240,
        hours_status=Assignment.HoursStatus.APPROVED,
    )
    upcoming = AssignmentFactory(volunteer=volunteer, status=Assignment.Status.CONFIRMED, confirmed_at=timezone.now())
    upcoming.shift.confirmed_count = 1
    upcoming.shift.save()
    Notification.objects.create(
        key="k1", kind="reminder", channel="inapp", recipient=volunteer.user, body="明天8点上岗", assignment=upcoming
    )
    certificate = Certificate.objects.create(
        number="CERT-2024-0001",
        volunteer=volunteer,
        issuer=volunteer.organization,
        period_start=past_day,
        period_end=past_day,
        total_minutes=240,
        holder_name_masked="王*明",
        content={"duties": ["卡口执勤"]},
    )
    VolunteerTally.objects.create(volunteer=volunteer, total_minutes=240, completed_shifts=1)
    RecordCorrection.objects.create(assignment=past, message="我 8 点到岗，实际服务 4 小时，王小明")
    DailyTally.objects.create(
        date=past_day,
        community=past.shift.community,
        post_type=past.shift.post.post_type,
        organization=volunteer.organization,
        minutes=240,
        completed=1,
    )
    return {
        "volunteer": volunteer,
        "qualification": qualification,
        "past": past,
        "upcoming": upcoming,
        "certificate": certificate,
    }


def test_export_holds_everything_about_the_caller_and_records_the_id_display(api_client, history):
    volunteer = history["volunteer"]
    response = login(api_client, volunteer.user).get("/api/v1/me/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="my-data-{volunteer.volunteer_number}.json"'
    data = json.loads(response.content)
    assert set(data) == {
        "exported_at",
        "account",
        "profile",
        "qualifications",
        "assignments",
        "record_corrections",
        "service_totals",
        "notifications",
        "certificates",
        "id_number_views",
    }
    assert data["account"]["username"] == "13912345678"
    profile = data["profile"]
    assert (profile["real_name"], profile["mobile"], profile["id_number"], profile["volunteer_number"]) == (
        "王小明",
        "13912345678",
        volunteer.id_number,
        volunteer.volunteer_number,
    )
    assert profile["skills"] == [{"code": "first-aid", "name": "急救"}]
    assert profile["organization"] == {"code": volunteer.organization.code, "name": volunteer.organization.name}
    assert data["qualifications"] == [
        {
            "qualification": {
                "code": history["qualification"].qualification_type.code,
                "name": history["qualification"].qualification_type.name,
            },
            "certificate_number": "PSY-001",
            "valid_until": "2030-01-01",
        }
    ]
    assert [(c["assignment"], c["status"], c["message"]) for c in data["record_corrections"]] == [
        (history["past"].pk, "pending", "我 8 点到岗，实际服务 4 小时，王小明")
    ]
    assert [(a["id"], a["status"], a["credited_minutes"]) for a in data["assignments"]] == [
        (history["past"].pk, "completed", 240),
        (history["upcoming"].pk, "confirmed", None),
    ]
    assert (
        data["assignments"][0]["shift"]["starts_at"] == timezone.localtime(history["past"].shift.starts_at).isoformat()
    )
    assert data["service_totals"] == {"credited_minutes": 240, "star_level": 0}
    assert [(n["kind"], n["body"]) for n in data["notifications"]] == [("reminder", "明天8点上岗")]
    assert [(c["number"], c["total_minutes"], c["content"]) for c in data["certificates"]] == [
        ("CERT-2024-0001", 240, {"duties": ["卡口执勤"]})
    ]
    assert [(v["purpose"], v["by_self"]) for v in data["id_number_views"]] == [("data_export", True)]
    assert list(PersonalDataAccess.objects.values_list("actor", "field", "purpose")) == [
        (volunteer.user.pk, "id_number", "data_export")
    ]


# --- Deletion (anonymisation) ----------------------------------------------------------------


def _everything_about(volunteer: Volunteer) -> str:
    volunteer = Volunteer.objects.select_related("user").get(pk=volunteer.pk)
    rows = [
        model_to_dict(volunteer),
        model_to_dict(volunteer.user),
        {"id": crypto.decrypt(volunteer.id_number_encrypted)},
    ]
    return json.dumps(rows, default=str, ensure_ascii=False)


def test_delete_with_a_wrong_password_changes_nothing(api_client, history):
    volunteer = history["volunteer"]
    before = _everything_about(volunteer)
    response = login(api_client, volunteer.user).post("/api/v1/me/delete/", {"password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "password_incorrect"
    assert _everything_about(volunteer) == before
    assert Token.objects.filter(user=volunteer.user).exists()


def test_delete_anonymises_the_person_and_keeps_the_hours(api_client, history):
    volunteer = history["volunteer"]
    original = {
        "name": volunteer.real_name,
        "mobile": volunteer.mobile,
        "id_number": volunteer.id_number,
        "id_hash": volunteer.id_number_hash,
        "calendar_token": volunteer.calendar_token,
        "birth_date": volunteer.birth_date,
    }
    LoginFailure.objects.create(username=volunteer.mobile, ip_address="10.0.0.1")
    credited_before = people_selectors.volunteer_credited_minutes(volunteer)
    daily_before = list(DailyTally.objects.values("date", "minutes", "completed"))
    tally_before = VolunteerTally.objects.filter(volunteer=volunteer).values("total_minutes").get()
    client = login(api_client, volunteer.user)

    response = client.post("/api/v1/me/delete/", {"password": "pass-Word-123"}, format="json")

    assert response.status_code == 200
    volunteer.refresh_from_db()
    assert response.json() == {
        "volunteer_number": volunteer.volunteer_number,
        "anonymised_at": volunteer.anonymised_at.isoformat(),
    }
    assert volunteer.real_name == "已注销志愿者"
    assert volunteer.mobile == f"10{volunteer.pk:09d}"
    with pytest.raises(ValidationError) as excinfo:
        validate_mobile(volunteer.mobile)
    assert excinfo.value.code == "mobile_invalid"
    assert volunteer.id_number_masked == "已注销"
    assert volunteer.id_number not in (original["id_number"], "")
    assert volunteer.id_number_hash != original["id_hash"]
    assert volunteer.calendar_token != original["calendar_token"]
    assert volunteer.birth_date == original["birth_date"].replace(month=1, day=1)
    assert (volunteer.status, volunteer.insurance_valid_until, volunteer.notify_by_sms) == ("suspended", None, False)
    assert list(volunteer.skills.all()) == [] and Qualification.objects.count() == 0
    user = get_user_model().objects.get(pk=volunteer.user_id)
    assert user.username.startswith("deleted-") and user.is_active is False
    assert user.has_usable_password() is False
    assert (user.first_name, user.last_name, user.email) == ("", "", "")
    assert not Token.objects.filter(user=user).exists()
    assert Notification.objects.filter(recipient=user).count() == 0
    assert LoginFailure.objects.count() == 0

    # No personal data left in the rows, readable or encrypted.
    everything = _everything_about(volunteer)
    for value in (original["name"], original["mobile"], original["id_number"], original["id_number"][-4:]):
        assert value not in everything

    # What was done still counts: credited minutes, tallies, the certificate; the upcoming place is freed.
    assert people_selectors.volunteer_credited_minutes(volunteer) == credited_before == 240
    assert list(DailyTally.objects.values("date", "minutes", "completed")) == daily_before
    assert VolunteerTally.objects.filter(volunteer=volunteer).values("total_minutes").get() == tally_before
    history["past"].refresh_from_db()
    assert (history["past"].status, history["past"].credited_minutes) == ("completed", 240)
    assert not RecordCorrection.objects.filter(assignment__volunteer=volunteer).exists()
    history["upcoming"].refresh_from_db()
    history["upcoming"].shift.refresh_from_db()
    assert history["upcoming"].status == "cancelled"
    assert history["upcoming"].shift.confirmed_count == 0
    certificate = Certificate.objects.get()
    assert (certificate.number, certificate.volunteer_id, certificate.holder_name_masked) == (
        "CERT-2024-0001",
        volunteer.pk,
        "王*明",
    )

    # The old token no longer works, and the account cannot log in.
    assert client.get("/api/v1/me/").status_code == 401
    api_client.credentials()
    response = api_client.post(
        "/api/v1/auth/token/", {"username": original["mobile"], "password": "pass-Word-123"}, format="json"
    )
    assert response.status_code == 401


def test_anonymise_twice_changes_nothing_more(history):
    volunteer = history["volunteer"]
    privacy.volunteer_anonymise(volunteer=volunteer, actor=volunteer.user)
    before = _everything_about(volunteer)
    superuser = UserFactory(is_superuser=True)
    privacy.volunteer_anonymise(volunteer=volunteer, actor=superuser)
    assert _everything_about(volunteer) == before


def test_only_the_volunteer_or_a_superuser_may_anonymise(history):
    volunteer = history["volunteer"]
    before = _everything_about(volunteer)
    staff = OrganizationStaffFactory(organization=volunteer.organization).user
    with pytest.raises(ServiceError) as excinfo:
        privacy.volunteer_anonymise(volunteer=volunteer, actor=staff)
    assert excinfo.value.code == "permission_denied"
    assert _everything_about(volunteer) == before


def test_an_anonymised_volunteers_id_number_is_not_shown(history):
    volunteer = history["volunteer"]
    privacy.volunteer_anonymise(volunteer=volunteer, actor=volunteer.user)
    with pytest.raises(ServiceError) as excinfo:
        volunteer_services.volunteer_id_number_reveal(
            actor=UserFactory(is_superuser=True), volunteer=Volunteer.objects.get(pk=volunteer.pk), purpose="x"
        )
    assert excinfo.value.code == "volunteer_anonymised"
    assert PersonalDataAccess.objects.count() == 0


def test_team_leadership_ends_with_anonymisation():
    leader = VolunteerFactory()
    team = TeamFactory(organization=leader.organization, leader=leader)
    privacy.volunteer_anonymise(volunteer=leader, actor=leader.user)
    team.refresh_from_db()
    assert team.leader is None


def test_api_preferences_read_and_change_only_the_fields_given(api_client):
    volunteer = VolunteerFactory()
    client = login(api_client, volunteer.user)
    assert client.get("/api/v1/me/preferences/").json() == {
        "notify_by_sms": True,
        "notify_by_email": False,
        "message_language": "zh-hans",
    }
    response = client.patch("/api/v1/me/preferences/", {"message_language": "en"}, format="json")
    assert response.json() == {"notify_by_sms": True, "notify_by_email": False, "message_language": "en"}
    volunteer.refresh_from_db()
    assert (volunteer.notify_by_sms, volunteer.message_language) == (True, "en")


def test_api_preferences_refuse_a_language_not_offered_and_change_nothing(api_client):
    volunteer = VolunteerFactory()
    response = login(api_client, volunteer.user).patch(
        "/api/v1/me/preferences/", {"notify_by_sms": False, "message_language": "fr"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["details"])) == ("invalid", ["message_language"])
    volunteer.refresh_from_db()
    assert (volunteer.notify_by_sms, volunteer.message_language) == (True, "")


def test_the_data_export_holds_the_message_language(api_client):
    volunteer = VolunteerFactory(message_language="en")
    data = login(api_client, volunteer.user).get("/api/v1/me/export/").json()
    assert data["profile"]["message_language"] == "en"


# --- Retention of answers to recruitment calls ---------------------------------------------------

_answers = iter(range(1, 10**6))


def answer(call, *, status="pending", decided_days_ago=None, minor=False, **values) -> CallApplication:
    """An answer as ``call_apply`` leaves it, reviewed ``decided_days_ago`` days ago."""
    n = next(_answers)
    community = values.pop("community", None) or CommunityFactory()
    birth = date(2010, 3, 9) if minor else date(1996, 8, 17)
    application = CallApplication(
        call=call,
        agreement=call.agreements.get(),
        agreement_accepted_at=timezone.now() - timedelta(days=90),
        mobile=f"137{n:08d}",
        real_name=f"申请人{n}",
        birth_date=birth,
        gender="female",
        organization=call.organization,
        residence_district=community.street.district,
        residence_street=community.street,
        residence_community=community,
        emergency_contact_name="紧急联系人",
        emergency_contact_mobile=f"139{n:08d}",
        guardian_name="监护人" if minor else "",
        guardian_mobile=f"136{n:08d}" if minor else "",
        guardian_consent=minor,
        status=status,
        reject_reason="名额已满" if status == "rejected" else "",
        reviewed_at=timezone.now() - timedelta(days=decided_days_ago) if decided_days_ago is not None else None,
        created_at=timezone.now() - timedelta(days=90),
        **values,
    )
    application.set_id_number(make_id_number("320506", birth, n % 900 + 10))
    application.save()
    return application


def closed_call(days_ago: int) -> RecruitmentCall:
    call = RecruitmentCallFactory(deadline=timezone.now() - timedelta(days=days_ago + 1))
    RecruitmentCall.objects.filter(pk=call.pk).update(
        status="closed", closed_at=timezone.now() - timedelta(days=days_ago)
    )
    call.refresh_from_db()
    return call


@pytest.fixture
def answers():
    open_call = RecruitmentCallFactory()
    old_closed, recently_closed = closed_call(40), closed_call(10)
    past_deadline = RecruitmentCallFactory(deadline=timezone.now() - timedelta(days=31))
    category = VolunteerCategoryFactory()
    due = {
        "rejected_long_ago": answer(open_call, status="rejected", decided_days_ago=31, minor=True),
        "pending_on_a_call_closed_long_ago": answer(old_closed),
        "pending_past_the_deadline_long_ago": answer(past_deadline),
    }
    due["rejected_long_ago"].categories.set([category])
    CallApplication.objects.filter(pk=due["rejected_long_ago"].pk).update(
        reject_reason="名额已满；请致电13912345678，证件320506201003090011不符"
    )
    kept = {
        "rejected_recently": answer(open_call, status="rejected", decided_days_ago=29),
        "pending_on_an_open_call": answer(open_call),
        "approved_long_ago": answer(open_call, status="approved", decided_days_ago=60),
        "approved_on_a_closed_call": answer(old_closed, status="approved", decided_days_ago=45),
        "pending_on_a_call_closed_recently": answer(recently_closed),
    }
    return {"due": due, "kept": kept, "category": category, "open_call": open_call, "old_closed": old_closed}


def values(queryset) -> list[dict]:
    return list(queryset.order_by("pk").values())


def test_the_retention_sweep_anonymises_exactly_the_answers_due(answers):
    due, kept = answers["due"], answers["kept"]
    kept_before = values(CallApplication.objects.filter(pk__in=[a.pk for a in kept.values()]))
    rejected = due["rejected_long_ago"]
    old_hash = rejected.id_number_hash

    assert privacy.applications_retention_sweep() == 3

    assert values(CallApplication.objects.filter(pk__in=[a.pk for a in kept.values()])) == kept_before
    assert set(CallApplication.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True)) == {
        a.pk for a in due.values()
    }
    rejected.refresh_from_db()
    # Gone: who the person was.
    assert rejected.real_name == privacy.ANONYMISED_APPLICANT_NAME
    assert rejected.mobile == f"10{rejected.pk:09d}"
    with pytest.raises(ValidationError):
        validate_mobile(rejected.mobile)
    assert rejected.id_number_masked == privacy.ANONYMISED_ID_MASK and rejected.id_number_hash != old_hash
    assert recruitment.application_id_number(rejected) != make_id_number("320506", date(2010, 3, 9), 0)
    assert (rejected.emergency_contact_name, rejected.emergency_contact_mobile) == ("", "")
    assert (rejected.guardian_name, rejected.guardian_mobile) == ("", "")
    assert (rejected.residence_street_id, rejected.residence_community_id, rejected.volunteer_id) == (None, None, None)
    # Kept: what the statistics count, and the decision.
    assert rejected.birth_date == date(2010, 1, 1)
    assert (rejected.gender, rejected.organization_id, rejected.guardian_consent) == (
        "female",
        rejected.call.organization_id,
        True,
    )
    assert rejected.residence_district_id is not None
    assert list(rejected.categories.all()) == [answers["category"]]
    # The reason stays, without the numbers typed into it.
    assert (rejected.status, rejected.reject_reason) == (
        "rejected",
        "名额已满；请致电139****5678，证件3205**********0011不符",
    )
    # Never reviewed on a closed call: lapsed, so nobody approves an answer whose data is gone.
    for name in ("pending_on_a_call_closed_long_ago", "pending_past_the_deadline_long_ago"):
        due[name].refresh_from_db()
        assert due[name].status == "lapsed"
    entries = AuditEntry.objects.filter(action="application_anonymised").order_by("pk")
    assert [(e.after["application"], e.after["status"], e.actor_id) for e in entries] == [
        (due["rejected_long_ago"].pk, "rejected", None),
        (due["pending_on_a_call_closed_long_ago"].pk, "lapsed", None),
        (due["pending_past_the_deadline_long_ago"].pk, "lapsed", None),
    ]


def test_the_retention_sweep_is_idempotent(answers):
    assert privacy.applications_retention_sweep() == 3
    after_first = (values(CallApplication.objects.all()), values(AuditEntry.objects.all()))
    assert privacy.applications_retention_sweep() == 0
    assert (values(CallApplication.objects.all()), values(AuditEntry.objects.all())) == after_first


def test_the_retention_time_is_a_setting(answers, settings):
    settings.APPLICATION_RETENTION_DAYS = 5
    # Now also the answer rejected 29 days ago and the pending one of the call closed 10 days ago.
    assert privacy.applications_retention_sweep() == 5
    assert CallApplication.objects.filter(anonymised_at__isnull=True).count() == 3  # two approved, one open


def test_a_lapsed_answer_cannot_be_approved_and_a_rejected_one_is_not_texted(answers):
    privacy.applications_retention_sweep()
    lapsed = answers["due"]["pending_on_a_call_closed_long_ago"]
    with pytest.raises(ServiceError) as refused:
        recruitment.application_approve(actor=None, application_id=lapsed.pk)
    assert refused.value.code == "application_not_pending"
    from communities.notifications import outbox

    assert outbox.rejection_text_send(application_id=answers["due"]["rejected_long_ago"].pk) is None


def test_the_daily_task_runs_the_sweep(answers, settings):
    from communities.tasks import applications_retention_sweep

    assert settings.CELERY_BEAT_SCHEDULE["applications-retention"]["task"] == (
        "communities.tasks.applications_retention_sweep"
    )
    assert applications_retention_sweep.apply().get() == 3
    assert applications_retention_sweep.apply().get() == 0


def test_the_review_queue_and_the_progress_still_read_after_the_sweep(answers, client):
    privacy.applications_retention_sweep()
    call = answers["open_call"]
    staff = OrganizationStaffFactory(organization=call.organization).user
    client.force_login(staff)
    page = client.get(f"/committee/calls/{call.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert privacy.ANONYMISED_APPLICANT_NAME in text and "Personal data deleted (retention)" in text
    progress = client.get(f"/api/v1/calls/{call.pk}/").json()["progress"]
    assert (progress["answered"], progress["approved"], progress["pending"]) == (4, 1, 1)
    minors = client.get(f"/committee/calls/{call.pk}/?minor=true")
    assert [a.pk for a in minors.context["applications"]] == [answers["due"]["rejected_long_ago"].pk]
    assert client.get("/committee/calls/").status_code == 200
    old = answers["old_closed"]
    client.force_login(OrganizationStaffFactory(organization=old.organization).user)
    queue = client.get(f"/committee/calls/{old.pk}/?status=lapsed")
    assert queue.status_code == 200
    assert [a.status for a in queue.context["applications"]] == ["lapsed"]


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_approving_while_the_sweep_runs_either_wins_or_finds_the_answer_lapsed():
    """Real threads on their own connections: for each answer exactly one of the two happens."""
    import threading

    from django.db import connections

    call = closed_call(40)
    answers_ = [answer(call) for _ in range(12)]
    ids = [a.pk for a in answers_]
    barrier = threading.Barrier(2)
    results = {}

    def run(name, job):
        try:
            barrier.wait()
            results[name] = job()
        except Exception as exc:  # asserted below
            results[name] = exc
        finally:
            connections.close_all()

    jobs = {
        "sweep": lambda: privacy.applications_retention_sweep(batch=3),
        "review": lambda: recruitment.applications_approve(actor=None, application_ids=list(reversed(ids))),
    }
    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    review = results["review"]
    assert set(review["refused"].values()) <= {"application_not_pending"}
    states = dict(CallApplication.objects.filter(pk__in=ids).values_list("pk", "status"))
    approved = {pk for pk, status in states.items() if status == "approved"}
    lapsed = {pk for pk, status in states.items() if status == "lapsed"}
    assert approved | lapsed == set(ids) and not approved & lapsed
    assert approved == set(review["approved"]) and lapsed == set(review["refused"])
    assert results["sweep"] == len(lapsed)
    assert set(CallApplication.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True)) == lapsed
    assert Volunteer.objects.filter(call_applications__pk__in=approved).count() == len(approved)
    assert AuditEntry.objects.filter(action="application_anonymised").count() == len(lapsed)
