"""Access control, endpoint by endpoint: every URL pattern × every role × an object inside and
outside the caller's scope, with the status each must answer, and proof that a refused write
changed nothing.

The table is checked against the URL configuration itself: a new URL pattern without a row
here fails ``test_every_url_pattern_has_a_row``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from communities.models import Assignment, CommunityRequest, Notification, Shift
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    RecruitmentCallFactory,
    ShiftFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)

ROLES = ("anonymous", "volunteer", "team_leader", "coordinator", "committee_staff", "superuser")


@dataclass
class Row:
    """One URL pattern: how to call it, and what each role gets (in scope, out of scope)."""

    route: str  # the pattern as Django spells it, e.g. "api/v1/^shifts/(?P<pk>[^/.]+)/signup/$"
    method: str
    path: str  # with {in} / {out} where the object goes; {id} when the object is the same
    expect: dict  # role -> status, or role -> (status in scope, status out of scope)
    data: dict | list = field(default_factory=dict)
    obj: str = ""  # which object kind fills {in}/{out}
    multipart: bool = False  # API uploads are multipart, not JSON


def every(status):
    return dict.fromkeys(ROLES, status)


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if getattr(pattern, "app_name", None) == "admin":
                yield prefix + str(pattern.pattern), "admin"
                continue
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def all_routes() -> set[str]:
    return {route for route, _name in walk(get_resolver().url_patterns)}


# --- The world -------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    org_a, org_b = OrganizationFactory(name="机构甲"), OrganizationFactory(name="机构乙")
    community_in, community_out = CommunityFactory(), CommunityFactory()
    coordinator = UserFactory(username="coordinator-acl")
    community_in.coordinators.add(coordinator)
    team_in, team_out = TeamFactory(organization=org_a), TeamFactory(organization=org_b)
    volunteer = VolunteerFactory(organization=org_a, team=team_in, deployed_community=community_in)
    leader = VolunteerFactory(organization=org_a, team=team_in)
    team_in.leader = leader
    team_in.save()
    other = VolunteerFactory(organization=org_b, team=team_out)
    staff = OrganizationStaffFactory(organization=org_a).user
    superuser = get_user_model().objects.create_superuser("root-acl", password="pass-Word-123")

    soon = timezone.now() + timedelta(days=2)
    shift_in = ShiftFactory(post=PostFactory(community=community_in), starts_at=soon, ends_at=soon + timedelta(hours=4))
    shift_out = ShiftFactory(
        post=PostFactory(community=community_out), starts_at=soon, ends_at=soon + timedelta(hours=4)
    )
    assignment_in = Assignment.objects.create(shift=shift_in, volunteer=volunteer, status="confirmed")
    assignment_out = Assignment.objects.create(shift=shift_out, volunteer=other, status="confirmed")
    Shift.objects.filter(pk__in=[shift_in.pk, shift_out.pk]).update(confirmed_count=1)
    note_in = Notification.objects.create(
        key="acl-in", kind="reminder", channel="inapp", recipient=volunteer.user, body="x"
    )
    note_out = Notification.objects.create(
        key="acl-out", kind="reminder", channel="inapp", recipient=other.user, body="x"
    )
    failed_in = Notification.objects.create(
        key="acl-f-in",
        kind="reminder",
        channel="sms",
        recipient=volunteer.user,
        assignment=assignment_in,
        shift=shift_in,
        body="x",
        state="failed",
    )
    failed_out = Notification.objects.create(
        key="acl-f-out",
        kind="reminder",
        channel="sms",
        recipient=other.user,
        assignment=assignment_out,
        shift=shift_out,
        body="x",
        state="failed",
    )
    from communities.services.certificates import certificate_issue

    today = timezone.localdate()
    cert_in = certificate_issue(
        volunteer=volunteer, issuer_org=org_a, actor=staff, period_start=today - timedelta(days=30), period_end=today
    )
    cert_out = certificate_issue(
        volunteer=other, issuer_org=org_b, actor=superuser, period_start=today - timedelta(days=30), period_end=today
    )
    # Records (issue 20): a change request with its proof file, and a qualification with one.
    from django.core.files.uploadedfile import SimpleUploadedFile

    from communities.services.records import change_request_submit, qualification_record
    from tests.factories import QualificationTypeFactory

    QualificationTypeFactory(code="acl-first-aid")
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    requests = [
        change_request_submit(
            user=person.user,
            kind="insurance",
            valid_until=today + timedelta(days=365),
            proof=SimpleUploadedFile("p.jpg", photo),
        )
        for person in (volunteer, other)
    ]
    qualifications = [
        qualification_record(
            actor=superuser,
            volunteer_id=person.pk,
            qualification_type_code="acl-first-aid",
            valid_until=today + timedelta(days=365),
            proof=SimpleUploadedFile("q.jpg", photo),
        )
        for person in (volunteer, other)
    ]

    from communities.models import Dispatch

    dispatch_in = Dispatch.objects.create(community=community_in, requested=1, created_by=staff)
    dispatch_in.volunteers.set([volunteer])
    dispatch_out = Dispatch.objects.create(community=community_out, requested=1, created_by=superuser)
    dispatch_out.volunteers.set([other])

    call_in = RecruitmentCallFactory(organization=org_a)
    call_out = RecruitmentCallFactory(organization=org_b)
    application_in, application_out = (_application(call_in, 1), _application(call_out, 2))

    today = timezone.localdate()
    request_in, request_out = (
        CommunityRequest.objects.create(
            community=community, wanted=2, date_from=today, date_to=today, time_from="08:00", time_to="12:00"
        )
        for community in (community_in, community_out)
    )

    # Call-outs, each in the inbox of the one person it reached (its short link /m/<id>/).
    from communities.models import Broadcast

    broadcasts = []
    for team, person in ((team_in, volunteer), (team_out, other)):
        sent = Broadcast.objects.create(sender=superuser, audience="team", team=team, subject="s", message="m")
        Notification.objects.create(
            key=f"b{sent.pk}:broadcast:inapp:u{person.user_id}",
            kind="broadcast",
            channel="inapp",
            recipient=person.user,
            subject="s",
            body="m",
            state="sent",
        )
        broadcasts.append(sent)

    # Service records (a shift a day ago): a missed place each may report, and a report waiting each.
    from communities.models import RecordCorrection

    ago = timezone.now() - timedelta(days=1)
    missed, reported = [], []
    for community, person in ((community_in, volunteer), (community_out, other)):
        past = ShiftFactory(post=PostFactory(community=community), starts_at=ago, ends_at=ago + timedelta(hours=4))
        earlier = ShiftFactory(
            post=PostFactory(community=community), starts_at=ago - timedelta(days=1), ends_at=ago - timedelta(hours=20)
        )
        missed.append(Assignment.objects.create(shift=past, volunteer=person, status="no_show", no_show_at=ago))
        held = Assignment.objects.create(shift=earlier, volunteer=person, status="no_show", no_show_at=ago)
        reported.append(RecordCorrection.objects.create(assignment=held, message="acl"))

    users = {
        "anonymous": None,
        "volunteer": volunteer.user,
        "team_leader": leader.user,
        "coordinator": coordinator,
        "committee_staff": staff,
        "superuser": superuser,
    }
    objects = {
        "community": (community_in.pk, community_out.pk),
        "shift": (shift_in.pk, shift_out.pk),
        "assignment": (assignment_in.pk, assignment_out.pk),
        "notification": (note_in.pk, note_out.pk),
        "failed": (failed_in.pk, failed_out.pk),
        "volunteer": (volunteer.pk, other.pk),
        "organization": (org_a.pk, org_b.pk),
        "team": (team_in.pk, team_out.pk),
        "certificate": (cert_in.number, cert_out.number),
        "request": (request_in.pk, request_out.pk),
        "change_request": (requests[0].pk, requests[1].pk),
        "qualification": (qualifications[0].pk, qualifications[1].pk),
        # A qualification's URL names its volunteer too: both ids, as the path has them.
        "volunteer_qualification": tuple(f"{q.volunteer_id}/qualifications/{q.pk}" for q in qualifications),
        "dispatch": (dispatch_in.pk, dispatch_out.pk),
        "call": (call_in.pk, call_out.pk),
        "call_slug": (call_in.slug, call_out.slug),
        "application": (application_in.pk, application_out.pk),
        "broadcast": (broadcasts[0].pk, broadcasts[1].pk),
        "record_place": (missed[0].pk, missed[1].pk),
        "correction": (reported[0].pk, reported[1].pk),
    }
    return {"users": users, "objects": objects}


def _application(call, n: int):
    """An answer to ``call`` from a person not yet registered."""
    from datetime import date

    from volunteers.idcard import make_id_number
    from volunteers.models import CallApplication

    application = CallApplication(
        call=call,
        agreement=call.agreements.get(),
        agreement_accepted_at=timezone.now(),
        mobile=f"1360000000{n}",
        real_name=f"报名者{n}",
        birth_date=date(1996, 1, n),
        gender="female",
        organization=call.organization,
        emergency_contact_name="家人",
        emergency_contact_mobile="13600000099",
    )
    application.set_id_number(make_id_number("320506", date(1996, 1, n), 60 + n))
    application.save()
    return application


def fingerprint() -> str:
    """Everything a refused write could have touched, as one hash (sessions and log-in times aside)."""
    from django.apps import apps

    digest = hashlib.sha256()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        if model._meta.app_label not in {"volunteers", "communities", "auth", "authtoken"}:
            continue
        if model._meta.model_name in {"loginfailure", "personaldataaccess"}:
            continue  # security records that a refused attempt is meant to leave
        rows = model.objects.order_by("pk").values()
        for row in rows:
            row.pop("last_login", None)
            digest.update(repr(sorted(row.items())).encode())
    return digest.hexdigest()


def call(world, row: Row, role: str, scope: str):
    # Each role calls with empty request limits, as its own client would (log-in codes count
    # per number in Redis: the second role asking for the same number would be refused).
    cache.clear()
    client = Client()
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    if row.obj:
        in_id, out_id = world["objects"][row.obj]
        path = row.path.format(id=in_id if scope == "in" else out_id)
    else:
        path = row.path
    method = getattr(client, row.method.lower())
    if row.method in ("POST", "PATCH", "PUT"):
        if path.startswith("/api/") and not row.multipart:
            return method(path, row.data, content_type="application/json")
        return method(path, row.data)
    return method(path, row.data)


def expected(row: Row, role: str, scope: str) -> int:
    value = row.expect[role]
    if isinstance(value, tuple):
        return value[0] if scope == "in" else value[1]
    return value


STAFF_401_200 = {
    "anonymous": 401,
    "volunteer": 403,
    "team_leader": 403,
    "coordinator": 403,
    "committee_staff": 200,
    "superuser": 200,
}
STAFF_302_200 = {**STAFF_401_200, "anonymous": 302}

ROWS = [
    Row("health/", "GET", "/health/", every(200)),
    Row(
        "admin/",
        "GET",
        "/admin/",
        {
            "anonymous": 302,
            "volunteer": 302,
            "team_leader": 302,
            "coordinator": 302,
            "committee_staff": 302,
            "superuser": 200,
        },
    ),
    Row("i18n/setlang/", "POST", "/i18n/setlang/", every(302), data={"language": "en", "next": "/"}),
    Row("api/schema/", "GET", "/api/schema/", every(200)),
    Row("api/docs/", "GET", "/api/docs/", every(200)),
    Row("api/redoc/", "GET", "/api/redoc/", every(200)),
    Row(
        "api/v1/auth/token/",
        "POST",
        "/api/v1/auth/token/",
        every(401),
        data={"username": "nobody", "password": "wrong"},
    ),
    # Any number is answered alike (an unknown one gets no text); each role's test starts with
    # empty limits.
    Row("api/v1/auth/sms-code/", "POST", "/api/v1/auth/sms-code/", every(202), data={"mobile": "13999999999"}),
    Row(
        "api/v1/auth/token/",
        "POST",
        "/api/v1/auth/token/",
        every(401),
        data={"mobile": "13999999999", "code": "000000"},
    ),
    Row(
        "api/v1/me/password/",
        "POST",
        "/api/v1/me/password/",
        {
            "anonymous": 401,
            "volunteer": 400,
            "team_leader": 400,
            "coordinator": 400,
            "committee_staff": 400,
            "superuser": 400,
        },
        data={"password": "1"},
    ),
    Row(
        "api/v1/auth/token/reset/",
        "POST",
        "/api/v1/auth/token/reset/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/me/id-number/",
        "POST",
        "/api/v1/me/id-number/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/me/export/",
        "GET",
        "/api/v1/me/export/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/me/preferences/",
        "GET",
        "/api/v1/me/preferences/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/me/preferences/",
        "PATCH",
        "/api/v1/me/preferences/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"message_language": "en"},
    ),
    Row(
        "api/v1/me/delete/",
        "POST",
        "/api/v1/me/delete/",
        {
            "anonymous": 401,
            "volunteer": 400,
            "team_leader": 400,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"password": "wrong-password"},
    ),
    Row(
        "api/v1/me/",
        "GET",
        "/api/v1/me/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row("api/v1/me/calendar.ics", "GET", "/api/v1/me/calendar.ics?token=not-a-token", every(404)),
    Row(
        "api/v1/me/calendar-link/",
        "GET",
        "/api/v1/me/calendar-link/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/imports/",
        "POST",
        "/api/v1/imports/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 400,
            "committee_staff": 400,
            "superuser": 400,
        },
        data={"kind": "volunteers"},
        multipart=True,
    ),
    Row(
        "api/v1/imports/template/",
        "GET",
        "/api/v1/imports/template/?kind=volunteers",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^communities/$",
        "GET",
        "/api/v1/communities/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^communities/(?P<pk>[^/.]+)/$",
        "GET",
        "/api/v1/communities/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (200, 200),
            "team_leader": (200, 200),
            "coordinator": (200, 200),
            "committee_staff": (200, 200),
            "superuser": (200, 200),
        },
        obj="community",
    ),
    Row(
        "api/v1/^communities/(?P<pk>[^/.]+)/roster/$",
        "GET",
        "/api/v1/communities/{id}/roster/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="community",
    ),
    Row(
        "api/v1/^communities/(?P<pk>[^/.]+)/rota/$",
        "POST",
        "/api/v1/communities/{id}/rota/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (400, 404),
            "committee_staff": (403, 403),
            "superuser": (400, 400),
        },
        data={
            "post": 999999,
            "date_from": "2030-01-01",
            "date_to": "2030-01-01",
            "slots": [{"start": "08:00", "end": "12:00"}],
            "capacity": 2,
        },
        obj="community",
    ),
    Row(
        "api/v1/^shifts/$",
        "GET",
        "/api/v1/shifts/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^shifts/(?P<pk>[^/.]+)/$",
        "PATCH",
        "/api/v1/shifts/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        data={"capacity": 7},
        obj="shift",
    ),
    Row(
        "api/v1/^shifts/(?P<pk>[^/.]+)/assign/$",
        "POST",
        "/api/v1/shifts/{id}/assign/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        data={"volunteer_ids": [999999]},
        obj="shift",
    ),
    Row(
        "api/v1/^shifts/(?P<pk>[^/.]+)/approve-hours/$",
        "POST",
        "/api/v1/shifts/{id}/approve-hours/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (409, 404),
            "committee_staff": (403, 403),
            "superuser": (409, 409),
        },
        obj="shift",
    ),
    Row(
        "api/v1/^shifts/(?P<pk>[^/.]+)/cancel/$",
        "POST",
        "/api/v1/shifts/{id}/cancel/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        data={"reason": "test"},
        obj="shift",
    ),
    Row(
        "api/v1/^shifts/(?P<pk>[^/.]+)/candidates/$",
        "GET",
        "/api/v1/shifts/{id}/candidates/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="shift",
    ),
    Row(
        "api/v1/^shifts/(?P<pk>[^/.]+)/checkin-code/$",
        "GET",
        "/api/v1/shifts/{id}/checkin-code/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="shift",
    ),
    Row(
        "api/v1/^shifts/(?P<pk>[^/.]+)/signup/$",
        "POST",
        "/api/v1/shifts/{id}/signup/",
        {
            "anonymous": (401, 401),
            "volunteer": (409, 409),
            "team_leader": (201, 201),
            "coordinator": (403, 403),
            "committee_staff": (403, 403),
            "superuser": (403, 403),
        },
        obj="shift",
    ),
    Row(
        "api/v1/^assignments/$",
        "GET",
        "/api/v1/assignments/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^assignments/(?P<pk>[^/.]+)/$",
        "GET",
        "/api/v1/assignments/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (200, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        obj="assignment",
    ),
    Row(
        "api/v1/^assignments/(?P<pk>[^/.]+)/cancel/$",
        "POST",
        "/api/v1/assignments/{id}/cancel/",
        {
            "anonymous": (401, 401),
            "volunteer": (200, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        obj="assignment",
    ),
    Row(
        "api/v1/^assignments/(?P<pk>[^/.]+)/check-in/$",
        "POST",
        "/api/v1/assignments/{id}/check-in/",
        {
            "anonymous": (401, 401),
            "volunteer": (409, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        data={"code": "000000"},
        obj="assignment",
    ),
    Row(
        "api/v1/^assignments/(?P<pk>[^/.]+)/check-out/$",
        "POST",
        "/api/v1/assignments/{id}/check-out/",
        {
            "anonymous": (401, 401),
            "volunteer": (409, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/$",
        "GET",
        "/api/v1/attendance/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 403,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/$",
        "GET",
        "/api/v1/attendance/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/adjust-hours/$",
        "POST",
        "/api/v1/attendance/{id}/adjust-hours/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (409, 404),
            "committee_staff": (403, 403),
            "superuser": (409, 409),
        },
        data={"credited_minutes": 60, "reason": "x"},
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/approve-hours/$",
        "POST",
        "/api/v1/attendance/{id}/approve-hours/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (409, 404),
            "committee_staff": (403, 403),
            "superuser": (409, 409),
        },
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/check-in/$",
        "POST",
        "/api/v1/attendance/{id}/check-in/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (400, 404),
            "committee_staff": (403, 403),
            "superuser": (400, 400),
        },
        data={"reason": "x"},
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/check-out/$",
        "POST",
        "/api/v1/attendance/{id}/check-out/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (409, 404),
            "committee_staff": (403, 403),
            "superuser": (409, 409),
        },
        data={"reason": "x"},
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/clear-no-show/$",
        "POST",
        "/api/v1/attendance/{id}/clear-no-show/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (409, 404),
            "committee_staff": (403, 403),
            "superuser": (409, 409),
        },
        data={"reason": "x"},
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/reopen/$",
        "POST",
        "/api/v1/attendance/{id}/reopen/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (409, 404),
            "committee_staff": (403, 403),
            "superuser": (409, 409),
        },
        data={"reason": "x"},
        obj="assignment",
    ),
    Row(
        "api/v1/^attendance/(?P<pk>[^/.]+)/no-show/$",
        "POST",
        "/api/v1/attendance/{id}/no-show/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (409, 404),
            "committee_staff": (403, 403),
            "superuser": (409, 409),
        },
        data={"reason": "x"},
        obj="assignment",
    ),
    Row(
        "api/v1/^audit/$",
        "GET",
        "/api/v1/audit/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^dispatches/$",
        "POST",
        "/api/v1/dispatches/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 404,
            "superuser": 404,
        },
        data={"community": 999999, "count": 1},
    ),
    Row(
        "api/v1/^assignments/(?P<pk>[^/.]+)/report-error/$",
        "POST",
        "/api/v1/assignments/{id}/report-error/",
        {
            "anonymous": (401, 401),
            "volunteer": (201, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        obj="record_place",
        data={"message": "我到岗了"},
    ),
    Row(
        "api/v1/me/record-corrections/",
        "GET",
        "/api/v1/me/record-corrections/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/^record-corrections/$",
        "GET",
        "/api/v1/record-corrections/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 403,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^record-corrections/(?P<pk>[^/.]+)/answer/$",
        "POST",
        "/api/v1/record-corrections/{id}/answer/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="correction",
        data={"decision": "corrected"},
    ),
    Row(
        "api/v1/^record-corrections/(?P<pk>[^/.]+)/correct/$",
        "POST",
        "/api/v1/record-corrections/{id}/correct/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (400, 404),
            "committee_staff": (403, 403),
            "superuser": (400, 400),
        },
        obj="correction",
        data={"attended_from": "2020-01-01T08:00:00+08:00", "attended_to": "2020-01-01T09:00:00+08:00"},
    ),
    Row(
        "api/v1/^notifications/failed/$",
        "GET",
        "/api/v1/notifications/failed/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^notifications/failed/(?P<pk>[^/.]+)/retry/$",
        "POST",
        "/api/v1/notifications/failed/{id}/retry/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="failed",
    ),
    Row(
        "api/v1/^notifications/$",
        "GET",
        "/api/v1/notifications/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^notifications/read-all/$",
        "POST",
        "/api/v1/notifications/read-all/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^notifications/(?P<pk>[^/.]+)/read/$",
        "POST",
        "/api/v1/notifications/{id}/read/",
        {
            "anonymous": (401, 401),
            "volunteer": (200, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        obj="notification",
    ),
    # Providers push receipts anonymously; the shared secret in the URL (absent here) is the
    # authentication, so every caller without it is refused, whoever they are.
    Row("api/v1/sms/receipts/aliyun/", "POST", "/api/v1/sms/receipts/aliyun/", every(403), data=[]),
    Row("api/v1/sms/receipts/tencent/", "POST", "/api/v1/sms/receipts/tencent/?token=forged", every(403), data=[]),
    Row(
        "api/v1/stats/overview/",
        "GET",
        "/api/v1/stats/overview/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/stats/organizations/",
        "GET",
        "/api/v1/stats/organizations/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/stats/communities/",
        "GET",
        "/api/v1/stats/communities/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/stats/post-types/",
        "GET",
        "/api/v1/stats/post-types/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/stats/daily/",
        "GET",
        "/api/v1/stats/daily/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/stats/leaderboard/",
        "GET",
        "/api/v1/stats/leaderboard/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/stats/stars/",
        "GET",
        "/api/v1/stats/stars/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/reports/daily/",
        "GET",
        "/api/v1/reports/daily/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/me/certificate.pdf",
        "GET",
        "/api/v1/me/certificate.pdf",
        {
            "anonymous": 401,
            "volunteer": 404,  # a read: nothing issued yet
            "team_leader": 404,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/me/certificate.pdf",
        "POST",
        "/api/v1/me/certificate.pdf",
        {
            "anonymous": 401,
            "volunteer": 201,
            "team_leader": 201,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/me/service-record.xlsx",
        "GET",
        "/api/v1/me/service-record.xlsx",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/volunteers/<int:pk>/service-record.xlsx",
        "GET",
        "/api/v1/volunteers/{id}/service-record.xlsx",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="volunteer",
    ),
    Row(
        "api/v1/certificates/",
        "GET",
        "/api/v1/certificates/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/certificates/<str:number>.pdf",
        "GET",
        "/api/v1/certificates/{id}.pdf",
        {
            "anonymous": (401, 401),
            "volunteer": (200, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="certificate",
    ),
    # "/" is the public home, a volunteer's own home, or a redirect to the caller's workspace.
    Row(
        "",
        "GET",
        "/",
        {
            "anonymous": 200,
            "volunteer": 200,
            "team_leader": 302,
            "coordinator": 302,
            "committee_staff": 302,
            "superuser": 302,
        },
    ),
    Row("accounts/workspace/", "POST", "/accounts/workspace/", every(302), data={"workspace": "volunteer"}),
    Row(
        "accounts/login/",
        "GET",
        "/accounts/login/",
        {
            "anonymous": 200,
            "volunteer": 302,
            "team_leader": 302,
            "coordinator": 302,
            "committee_staff": 302,
            "superuser": 302,
        },
    ),
    Row("accounts/logout/", "POST", "/accounts/logout/", every(302)),
    Row(
        "accounts/password/",
        "GET",
        "/accounts/password/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "accounts/login/code/",
        "POST",
        "/accounts/login/code/",
        every(200),
        data={"mobile": "13999999999", "action": "send"},
    ),
    Row(
        "accounts/password/set/",
        "GET",
        "/accounts/password/set/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "accounts/password/done/",
        "GET",
        "/accounts/password/done/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "me/profile/",
        "GET",
        "/me/profile/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "me/hours/",
        "GET",
        "/me/hours/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "me/hours/<int:assignment_id>/report/",
        "POST",
        "/me/hours/{id}/report/",
        {
            "anonymous": (302, 302),
            "volunteer": (302, 404),
            "team_leader": (404, 404),
            "coordinator": (403, 403),
            "committee_staff": (403, 403),
            "superuser": (403, 403),
        },
        obj="record_place",
        data={"message": "我到岗了"},
    ),
    Row(
        "coordinator/corrections/<int:correction_id>/answer/",
        "POST",
        "/coordinator/corrections/{id}/answer/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (302, 404),
            "committee_staff": (403, 403),
            "superuser": (302, 302),
        },
        obj="correction",
        data={"decision": "corrected"},
    ),
    Row(
        "coordinator/corrections/<int:correction_id>/correct/",
        "POST",
        "/coordinator/corrections/{id}/correct/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (302, 404),
            "committee_staff": (403, 403),
            "superuser": (302, 302),
        },
        obj="correction",
        data={"attended_from": "2020-01-01T08:00", "attended_to": "2020-01-01T09:00"},
    ),
    Row(
        "me/calendar/reset/",
        "POST",
        "/me/calendar/reset/",
        {
            "anonymous": 302,
            "volunteer": 302,
            "team_leader": 302,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "shifts/",
        "GET",
        "/shifts/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "shifts/<int:pk>/",
        "GET",
        "/shifts/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (200, 200),
            "team_leader": (200, 200),
            "coordinator": (200, 200),
            "committee_staff": (200, 200),
            "superuser": (200, 200),
        },
        obj="shift",
    ),
    Row(
        "shifts/<int:pk>/sign-up/",
        "POST",
        "/shifts/{id}/sign-up/",
        {
            "anonymous": (302, 302),
            "volunteer": (302, 302),
            "team_leader": (302, 302),
            "coordinator": (403, 403),
            "committee_staff": (403, 403),
            "superuser": (403, 403),
        },
        obj="shift",
    ),
    Row(
        "my/shifts/",
        "GET",
        "/my/shifts/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "my/week/",
        "GET",
        "/my/week/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "my/assignments/<int:pk>/cancel/",
        "POST",
        "/my/assignments/{id}/cancel/",
        {
            "anonymous": (302, 302),
            "volunteer": (302, 404),
            "team_leader": (404, 404),
            "coordinator": (403, 403),
            "committee_staff": (403, 403),
            "superuser": (403, 403),
        },
        obj="assignment",
    ),
    Row(
        "my/assignments/<int:pk>/check-out/",
        "POST",
        "/my/assignments/{id}/check-out/",
        {
            "anonymous": (302, 302),
            "volunteer": (302, 404),
            "team_leader": (404, 404),
            "coordinator": (403, 403),
            "committee_staff": (403, 403),
            "superuser": (403, 403),
        },
        obj="assignment",
    ),
    Row(
        "check-in/",
        "GET",
        "/check-in/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "inbox/",
        "GET",
        "/inbox/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "m/<int:pk>/",
        "GET",
        "/m/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (200, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        obj="broadcast",
    ),
    Row("inbox/read/", "POST", "/inbox/read/", every(302)),
    Row(
        "inbox/<int:pk>/read/",
        "POST",
        "/inbox/{id}/read/",
        {
            "anonymous": (302, 302),
            "volunteer": (302, 404),
            "team_leader": (404, 404),
            "coordinator": (404, 404),
            "committee_staff": (404, 404),
            "superuser": (404, 404),
        },
        obj="notification",
    ),
    Row(
        "coordinator/",
        "GET",
        "/coordinator/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 403,
            "superuser": 200,
        },
    ),
    Row(
        "coordinator/communities/<int:community_id>/roster/",
        "GET",
        "/coordinator/communities/{id}/roster/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="community",
    ),
    Row(
        "coordinator/communities/<int:community_id>/rota/",
        "GET",
        "/coordinator/communities/{id}/rota/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="community",
    ),
    Row(
        "coordinator/shifts/<int:shift_id>/code/",
        "GET",
        "/coordinator/shifts/{id}/code/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="shift",
    ),
    Row(
        "coordinator/shifts/<int:shift_id>/candidates/",
        "GET",
        "/coordinator/shifts/{id}/candidates/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="shift",
    ),
    Row(
        "coordinator/attendance/<int:assignment_id>/<slug:action>/",
        "POST",
        "/coordinator/attendance/{id}/no-show/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (302, 404),
            "committee_staff": (403, 403),
            "superuser": (302, 302),
        },
        data={"reason": "x"},
        obj="assignment",
    ),
    Row(
        "coordinator/hours/",
        "GET",
        "/coordinator/hours/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 403,
            "superuser": 200,
        },
    ),
    Row(
        "coordinator/hours/<int:assignment_id>/<slug:action>/",
        "POST",
        "/coordinator/hours/{id}/approve/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (302, 404),
            "committee_staff": (403, 403),
            "superuser": (302, 302),
        },
        obj="assignment",
    ),
    Row(
        "coordinator/shifts/<int:shift_id>/approve-hours/",
        "POST",
        "/coordinator/shifts/{id}/approve-hours/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (302, 404),
            "committee_staff": (403, 403),
            "superuser": (302, 302),
        },
        obj="shift",
    ),
    Row(
        "coordinator/shifts/<int:shift_id>/edit/",
        "GET",
        "/coordinator/shifts/{id}/edit/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (200, 404),
            "committee_staff": (403, 403),
            "superuser": (200, 200),
        },
        obj="shift",
    ),
    Row(
        "coordinator/shifts/<int:shift_id>/cancel/",
        "POST",
        "/coordinator/shifts/{id}/cancel/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (302, 404),
            "committee_staff": (403, 403),
            "superuser": (302, 302),
        },
        obj="shift",
    ),
    Row(
        "coordinator/messages/failed/",
        "GET",
        "/coordinator/messages/failed/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 403,
            "superuser": 200,
        },
    ),
    Row(
        "coordinator/messages/failed/<int:notification_id>/retry/",
        "POST",
        "/coordinator/messages/failed/{id}/retry/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (302, 404),
            "committee_staff": (403, 403),
            "superuser": (302, 302),
        },
        obj="failed",
    ),
    Row(
        "team/",
        "GET",
        "/team/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "committee/",
        "GET",
        "/committee/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "committee/organizations/<int:pk>/",
        "GET",
        "/committee/organizations/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="organization",
    ),
    Row(
        "committee/teams/<int:pk>/",
        "GET",
        "/committee/teams/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="team",
    ),
    Row(
        "committee/volunteers/<int:pk>/",
        "GET",
        "/committee/volunteers/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="volunteer",
    ),
    Row(
        "committee/volunteers/<int:pk>/certificate/",
        "POST",
        "/committee/volunteers/{id}/certificate/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        obj="volunteer",
    ),
    Row(
        "committee/dispatch/",
        "GET",
        "/committee/dispatch/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "committee/reports/",
        "GET",
        "/committee/reports/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    # --- The mobilisation loop (docs/mobilisation.md) ---
    Row(
        "api/v1/^community-requests/$",
        "GET",
        "/api/v1/community-requests/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^community-requests/$",
        "POST",
        "/api/v1/community-requests/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 400,
            "committee_staff": 403,
            "superuser": 400,
        },
    ),
    # Staff see every request; with no reserve volunteer to send, a fulfilment is refused whole.
    Row(
        "api/v1/^community-requests/(?P<pk>[^/.]+)/fulfil/$",
        "POST",
        "/api/v1/community-requests/{id}/fulfil/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (409, 409),
            "superuser": (409, 409),
        },
        data={"count": 1},
        obj="request",
    ),
    Row(
        "api/v1/^community-requests/(?P<pk>[^/.]+)/decline/$",
        "POST",
        "/api/v1/community-requests/{id}/decline/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 200),
            "superuser": (200, 200),
        },
        data={"reason": "x"},
        obj="request",
    ),
    Row(
        "api/v1/^broadcasts/$",
        "GET",
        "/api/v1/broadcasts/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^broadcasts/$",
        "POST",
        "/api/v1/broadcasts/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 400,
            "committee_staff": 400,
            "superuser": 400,
        },
    ),
    Row(
        "api/v1/^broadcasts/preview/$",
        "POST",
        "/api/v1/broadcasts/preview/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 400,
            "committee_staff": 400,
            "superuser": 400,
        },
    ),
    Row("api/v1/live/", "GET", "/api/v1/live/", STAFF_401_200),
    Row("api/v1/stats/people/", "GET", "/api/v1/stats/people/", STAFF_401_200),
    Row(
        "coordinator/requests/",
        "GET",
        "/coordinator/requests/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 403,
            "superuser": 200,
        },
    ),
    Row("committee/requests/", "GET", "/committee/requests/", STAFF_302_200),
    Row(
        "committee/requests/<int:pk>/fulfil/",
        "POST",
        "/committee/requests/{id}/fulfil/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 302),
            "superuser": (302, 302),
        },
        data={"count": "1"},
        obj="request",
    ),
    Row(
        "committee/requests/<int:pk>/decline/",
        "POST",
        "/committee/requests/{id}/decline/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 302),
            "superuser": (302, 302),
        },
        data={"reason": "x"},
        obj="request",
    ),
    Row(
        "broadcasts/",
        "GET",
        "/broadcasts/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "broadcasts/",
        "POST",
        "/broadcasts/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 200,
            "committee_staff": 200,
            "superuser": 200,
        },
        data={"action": "send"},
    ),
    Row("committee/live/", "GET", "/committee/live/", STAFF_302_200),
    Row("verify/", "GET", "/verify/", every(200)),
    Row("verify/<str:number>/", "GET", "/verify/{id}/", every((200, 200)), obj="certificate"),
    # Recruitment calls (docs/recruitment.md): staff within their subtree; the public page,
    # short link, posters and public API for anyone (only published calls exist there).
    Row(
        "api/v1/^calls/$",
        "GET",
        "/api/v1/calls/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^calls/$",
        "POST",
        "/api/v1/calls/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 400,
            "superuser": 400,
        },
        data={"title": ""},
    ),
    Row(
        "api/v1/^calls/(?P<pk>[^/.]+)/$",
        "GET",
        "/api/v1/calls/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="call",
    ),
    Row(
        "api/v1/^calls/(?P<pk>[^/.]+)/$",
        "PATCH",
        "/api/v1/calls/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (400, 404),
            "superuser": (400, 400),
        },
        data={"target_count": 0},
        obj="call",
    ),
    Row(
        "api/v1/^calls/(?P<pk>[^/.]+)/publish/$",
        "POST",
        "/api/v1/calls/{id}/publish/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (409, 404),
            "superuser": (409, 409),
        },
        obj="call",
    ),
    Row(
        "api/v1/^calls/(?P<pk>[^/.]+)/close/$",
        "POST",
        "/api/v1/calls/{id}/close/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="call",
    ),
    Row(
        "api/v1/^calls/(?P<pk>[^/.]+)/applications/$",
        "GET",
        "/api/v1/calls/{id}/applications/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="call",
    ),
    Row(
        "api/v1/^applications/(?P<pk>[^/.]+)/approve/$",
        "POST",
        "/api/v1/applications/{id}/approve/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="application",
    ),
    Row(
        "api/v1/^applications/(?P<pk>[^/.]+)/reject/$",
        "POST",
        "/api/v1/applications/{id}/reject/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        data={"reason": "名额已满"},
        obj="application",
    ),
    Row(
        "api/v1/^applications/approve/$",
        "POST",
        "/api/v1/applications/approve/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
        data={"ids": [999999]},
    ),
    Row("api/v1/public/calls/<slug:slug>/", "GET", "/api/v1/public/calls/{id}/", every((200, 200)), obj="call_slug"),
    Row(
        "api/v1/public/calls/<slug:slug>/code/",
        "POST",
        "/api/v1/public/calls/{id}/code/",
        every((202, 202)),
        data={"mobile": "13999999999"},
        obj="call_slug",
    ),
    Row(
        "api/v1/public/calls/<slug:slug>/apply/",
        "POST",
        "/api/v1/public/calls/{id}/apply/",
        every((400, 400)),
        data={"mobile": "13999999999"},
        obj="call_slug",
    ),
    Row("calls/<slug:slug>/", "GET", "/calls/{id}/", every((200, 200)), obj="call_slug"),
    Row(
        "calls/<slug:slug>/",
        "POST",
        "/calls/{id}/",
        every((400, 400)),
        data={"mobile": "1", "action": "apply"},
        obj="call_slug",
    ),
    Row("c/<slug:slug>/", "GET", "/c/{id}/", every((302, 302)), obj="call_slug"),
    Row("calls/<slug:slug>/poster.png", "GET", "/calls/{id}/poster.png", every((200, 200)), obj="call_slug"),
    Row("calls/<slug:slug>/poster.pdf", "GET", "/calls/{id}/poster.pdf", every((200, 200)), obj="call_slug"),
    Row(
        "committee/calls/",
        "GET",
        "/committee/calls/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "committee/calls/new/",
        "GET",
        "/committee/calls/new/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "committee/calls/new/",
        "POST",
        "/committee/calls/new/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 400,
            "superuser": 400,
        },
        data={"title": ""},
    ),
    Row(
        "committee/calls/<int:pk>/",
        "GET",
        "/committee/calls/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="call",
    ),
    Row(
        "committee/calls/<int:pk>/edit/",
        "GET",
        "/committee/calls/{id}/edit/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="call",
    ),
    Row(
        "committee/calls/<int:pk>/publish/",
        "POST",
        "/committee/calls/{id}/publish/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        obj="call",
    ),
    Row(
        "committee/calls/<int:pk>/close/",
        "POST",
        "/committee/calls/{id}/close/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        obj="call",
    ),
    Row(
        "committee/calls/<int:pk>/review/",
        "POST",
        "/committee/calls/{id}/review/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        data={"action": "approve"},
        obj="call",
    ),
    # --- Volunteers' records (issue 20) ---
    Row(
        "api/v1/^volunteers/$",
        "GET",
        "/api/v1/volunteers/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^volunteers/(?P<pk>[^/.]+)/$",
        "GET",
        "/api/v1/volunteers/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (200, 404),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="volunteer",
    ),
    Row(
        "api/v1/^volunteers/(?P<pk>[^/.]+)/$",
        "PATCH",
        "/api/v1/volunteers/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 404),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        data={"insurer": "中国平安"},
        obj="volunteer",
    ),
    Row(
        "api/v1/^volunteers/(?P<pk>[^/.]+)/qualifications/$",
        "POST",
        "/api/v1/volunteers/{id}/qualifications/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 404),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        data={"qualification_type": "acl-first-aid", "valid_until": "2099-01-01"},
        obj="volunteer",
        multipart=True,
    ),
    Row(
        "api/v1/^volunteers/(?P<pk>[^/.]+)/qualifications/(?P<qualification_id>[0-9]+)/$",
        "DELETE",
        "/api/v1/volunteers/{id}/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 404),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="volunteer_qualification",
    ),
    Row(
        "api/v1/me/change-requests/",
        "GET",
        "/api/v1/me/change-requests/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "api/v1/me/change-requests/",
        "POST",
        "/api/v1/me/change-requests/",
        {
            "anonymous": 401,
            "volunteer": 400,
            "team_leader": 400,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"kind": "insurance", "valid_until": "2099-01-01"},
        multipart=True,
    ),
    Row(
        "api/v1/^change-requests/$",
        "GET",
        "/api/v1/change-requests/",
        {
            "anonymous": 401,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "api/v1/^change-requests/(?P<pk>[^/.]+)/approve/$",
        "POST",
        "/api/v1/change-requests/{id}/approve/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="change_request",
    ),
    Row(
        "api/v1/^change-requests/(?P<pk>[^/.]+)/reject/$",
        "POST",
        "/api/v1/change-requests/{id}/reject/",
        {
            "anonymous": (401, 401),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        data={"reason": "照片不清楚"},
        obj="change_request",
    ),
    Row(
        "api/v1/me/mobile/",
        "POST",
        "/api/v1/me/mobile/",
        {
            "anonymous": 401,
            "volunteer": 202,
            "team_leader": 202,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"mobile": "13999999998"},
    ),
    Row(
        "api/v1/me/",
        "PATCH",
        "/api/v1/me/",
        {
            "anonymous": 401,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"emergency_contact_name": "李母"},
    ),
    Row(
        "records/volunteers/",
        "GET",
        "/records/volunteers/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "records/volunteers/<int:pk>/",
        "GET",
        "/records/volunteers/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="volunteer",
    ),
    Row(
        "records/volunteers/<int:pk>/",
        "POST",
        "/records/volunteers/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="volunteer",
    ),
    Row(
        "records/volunteers/<int:pk>/qualifications/",
        "POST",
        "/records/volunteers/{id}/qualifications/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        obj="volunteer",
    ),
    Row(
        "records/volunteers/<int:pk>/qualifications/<int:qualification_pk>/remove/",
        "GET",
        "/records/volunteers/{id}/remove/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="volunteer_qualification",
    ),
    Row(
        "records/volunteers/<int:pk>/qualifications/<int:qualification_pk>/remove/",
        "POST",
        "/records/volunteers/{id}/remove/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        data={"confirm": "on"},
        obj="volunteer_qualification",
    ),
    Row(
        "records/requests/",
        "GET",
        "/records/requests/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    Row(
        "records/requests/<int:pk>/approve/",
        "POST",
        "/records/requests/{id}/approve/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        obj="change_request",
    ),
    Row(
        "records/requests/<int:pk>/reject/",
        "POST",
        "/records/requests/{id}/reject/",
        {
            "anonymous": (302, 302),
            "volunteer": (403, 403),
            "team_leader": (403, 403),
            "coordinator": (403, 403),
            "committee_staff": (302, 404),
            "superuser": (302, 302),
        },
        data={"reason": "照片不清楚"},
        obj="change_request",
    ),
    Row(
        "records/at-risk/",
        "GET",
        "/records/at-risk/",
        {
            "anonymous": 302,
            "volunteer": 403,
            "team_leader": 403,
            "coordinator": 403,
            "committee_staff": 200,
            "superuser": 200,
        },
    ),
    # Proof files: the volunteer's own, their team leader's and their staff's; anyone else 404.
    Row(
        "records/proofs/<slug:kind>/<int:pk>/",
        "GET",
        "/records/proofs/request/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (200, 404),
            "team_leader": (200, 404),
            "coordinator": (404, 404),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="change_request",
    ),
    Row(
        "records/proofs/<slug:kind>/<int:pk>/",
        "GET",
        "/records/proofs/qualification/{id}/",
        {
            "anonymous": (302, 302),
            "volunteer": (200, 404),
            "team_leader": (200, 404),
            "coordinator": (404, 404),
            "committee_staff": (200, 404),
            "superuser": (200, 200),
        },
        obj="qualification",
    ),
    Row(
        "me/records/",
        "GET",
        "/me/records/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
    Row(
        "me/records/",
        "POST",
        "/me/records/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"kind": "insurance"},
    ),
    Row(
        "me/delete/",
        "POST",
        "/me/delete/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"confirm": "on", "password": "wrong"},
    ),
    Row(
        "me/contact/",
        "POST",
        "/me/contact/",
        {
            "anonymous": 302,
            "volunteer": 302,
            "team_leader": 302,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
        data={"email": "acl@example.com", "emergency_contact_name": "李母"},
    ),
    Row(
        "me/mobile/",
        "GET",
        "/me/mobile/",
        {
            "anonymous": 302,
            "volunteer": 200,
            "team_leader": 200,
            "coordinator": 403,
            "committee_staff": 403,
            "superuser": 403,
        },
    ),
]

STAFF_PAGE = {
    "anonymous": 302,
    "volunteer": 403,
    "team_leader": 403,
    "coordinator": 403,
    "committee_staff": 200,
    "superuser": 200,
}
# A committee page about one object: another organization's is 404 to staff, visible to a superuser.
STAFF_OBJECT_PAGE = {**STAFF_PAGE, "committee_staff": (200, 404), "superuser": (200, 200)}
# The recall API: the world's volunteer is deployed by the dispatch in scope (recalled: 200); the
# one outside is not deployed (a superuser is told there is nobody to recall).
RECALL_API = {
    "anonymous": 401,
    "volunteer": 403,
    "team_leader": 403,
    "coordinator": 403,
    "committee_staff": (200, 404),
    "superuser": (200, 409),
}

ROWS += [
    Row("committee/dispatches/<int:pk>/", "GET", "/committee/dispatches/{id}/", STAFF_OBJECT_PAGE, obj="dispatch"),
    Row(
        "committee/dispatches/<int:pk>/recall/",
        "GET",
        "/committee/dispatches/{id}/recall/",
        STAFF_OBJECT_PAGE,
        obj="dispatch",
    ),
    # Without the confirmation box ticked: the page asks again and changes nothing.
    Row(
        "committee/dispatches/<int:pk>/recall/",
        "POST",
        "/committee/dispatches/{id}/recall/",
        STAFF_OBJECT_PAGE,
        data={"reason": "x"},
        obj="dispatch",
    ),
    Row(
        "committee/volunteers/<int:pk>/recall/",
        "GET",
        "/committee/volunteers/{id}/recall/",
        STAFF_OBJECT_PAGE,
        obj="volunteer",
    ),
    Row(
        "committee/volunteers/<int:pk>/recall/",
        "POST",
        "/committee/volunteers/{id}/recall/",
        STAFF_OBJECT_PAGE,
        data={"reason": "x"},
        obj="volunteer",
    ),
    Row("committee/imports/", "GET", "/committee/imports/", STAFF_PAGE),
    Row("committee/imports/", "POST", "/committee/imports/", STAFF_PAGE, data={"kind": "volunteers"}),
    # A token nobody was given: staff are sent back to the upload, nothing imported.
    Row(
        "committee/imports/confirm/",
        "POST",
        "/committee/imports/confirm/",
        {**STAFF_PAGE, "committee_staff": 302, "superuser": 302},
        data={"token": "nope", "plan": "0" * 64},
    ),
    Row(
        "api/v1/^dispatches/(?P<pk>[^/.]+)/recall/$",
        "POST",
        "/api/v1/dispatches/{id}/recall/",
        RECALL_API,
        obj="dispatch",
    ),
    Row("api/v1/volunteers/<int:pk>/recall/", "POST", "/api/v1/volunteers/{id}/recall/", RECALL_API, obj="volunteer"),
]


def test_every_url_pattern_has_a_row():
    covered = {row.route for row in ROWS}
    assert sorted(all_routes() - covered) == [], "add a row to ROWS for each new URL pattern"
    assert sorted(covered - all_routes()) == [], "ROWS names a URL pattern that no longer exists"


REFUSED = {400, 401, 403, 404, 405, 409, 415, 429}


@pytest.mark.parametrize("row", ROWS, ids=[f"{row.method} {row.path}" for row in ROWS])
def test_access(world, row):
    """Each role, inside and outside its scope; a refused request leaves the data as it was."""
    mismatches = []
    for role in ROLES:
        for scope in ("in", "out") if row.obj else ("in",):
            with transaction.atomic():
                before = fingerprint()
                status = call(world, row, role, scope).status_code
                if status != expected(row, role, scope):
                    mismatches.append(f"{role}/{scope}: got {status}, expected {expected(row, role, scope)}")
                elif status in REFUSED and fingerprint() != before:
                    mismatches.append(f"{role}/{scope}: refused with {status} but changed data")
                transaction.set_rollback(True)
    assert mismatches == []


# --- The admin: every registered model's list, add, change and delete views --------------------
# label -> what a superuser may do there (add, change, delete). Every other role is sent to the
# admin's log-in. A refused POST, and a POST of an empty change form, change nothing: a field
# that carries a rule is read-only there or changed only through its service
# (tests/communities/test_admin.py holds the services' effects).
ADMIN = {
    "auth.group": (True, True, True),
    "auth.user": (True, True, True),
    "authtoken.tokenproxy": (True, True, True),
    "communities.assignment": (False, True, False),
    "communities.auditentry": (False, False, False),
    "communities.broadcast": (False, False, False),
    "communities.communityrequest": (False, False, False),
    "communities.community": (True, True, True),
    "communities.dailyreport": (False, False, False),
    "communities.dailytally": (False, False, False),
    "communities.dispatch": (False, False, False),
    "communities.district": (True, True, True),
    "communities.notification": (False, False, False),
    "communities.organizationdaytally": (False, False, False),
    "communities.post": (True, True, True),
    "communities.posttype": (True, True, True),
    "communities.recall": (False, False, False),
    "communities.recordcorrection": (False, False, False),
    "communities.shift": (False, True, False),
    "communities.shiftdaycount": (False, False, False),
    "communities.street": (True, True, True),
    "communities.volunteercount": (False, False, False),
    "volunteers.callagreement": (False, False, False),
    "volunteers.callapplication": (False, False, False),
    "volunteers.certificate": (False, False, False),
    "volunteers.importbatch": (False, False, False),
    "volunteers.loginfailure": (False, False, False),
    "volunteers.loginunlock": (False, False, False),
    "volunteers.organization": (True, True, True),
    "volunteers.organizationstaff": (True, True, True),
    "volunteers.personaldataaccess": (False, False, False),
    "volunteers.qualification": (False, False, False),
    "volunteers.qualificationtype": (True, True, True),
    "volunteers.recruitmentcall": (False, False, False),
    "volunteers.skill": (True, True, True),
    "volunteers.team": (True, True, True),
    "volunteers.volunteer": (False, True, False),
    "volunteers.volunteercategory": (True, True, True),
    "volunteers.volunteertally": (False, False, False),
}


def admin_models():
    from django.contrib import admin

    return {model._meta.label_lower: model for model in admin.site._registry}


def test_every_admin_model_has_a_row():
    assert sorted(admin_models()) == sorted(ADMIN), "add a row to ADMIN for each model registered in the admin"


@pytest.fixture
def admin_world(world):
    """One row of every model the admin shows."""
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from communities.models import AuditEntry, DailyReport, DailyTally, Dispatch, OrganizationDayTally, Recall
    from tests.factories import QualificationTypeFactory, SkillFactory, VolunteerCategoryFactory
    from volunteers.models import (
        ImportBatch,
        LoginFailure,
        LoginUnlock,
        PersonalDataAccess,
        Qualification,
        VolunteerTally,
    )

    users, objects = world["users"], world["objects"]
    shift = Shift.objects.get(pk=objects["shift"][0])
    volunteer = users["volunteer"].volunteer
    Group.objects.create(name="acl")
    Token.objects.create(user=users["volunteer"])
    AuditEntry.objects.create(action="shift_changed", shift=shift, actor=users["superuser"], reason="x")
    DailyTally.objects.create(
        date=timezone.localdate(),
        community=shift.community,
        post_type=shift.post.post_type,
        organization=volunteer.organization,
        minutes=240,
        completed=1,
    )
    OrganizationDayTally.objects.create(date=timezone.localdate(), organization=volunteer.organization, minutes=240)
    DailyReport.objects.create(date=timezone.localdate(), organization=volunteer.organization)
    dispatch = Dispatch.objects.create(community=shift.community, requested=1, created_by=users["committee_staff"])
    dispatch.volunteers.set([volunteer])
    Recall.objects.create(dispatch=dispatch, volunteer=volunteer, community=shift.community, reason="acl")
    Qualification.objects.create(volunteer=volunteer, qualification_type=QualificationTypeFactory())
    SkillFactory(), VolunteerCategoryFactory()
    VolunteerTally.objects.get_or_create(volunteer=volunteer, defaults={"total_minutes": 240})
    PersonalDataAccess.objects.create(actor=users["superuser"], volunteer=volunteer, field="id_number")
    LoginFailure.objects.create(username="someone", ip_address="127.0.0.1")
    LoginUnlock.objects.create(actor=users["superuser"], username="someone-else", failures_cleared=5)
    ImportBatch.objects.create(kind="volunteers", file_name="a.csv", sha256="0" * 64, rows=1, created=1)
    return world


@pytest.mark.parametrize("label", sorted(ADMIN))
def test_admin_views(admin_world, label):
    """Each role on the model's admin list, add, change and delete views; a refused or empty POST
    changes nothing."""
    model = admin_models()[label]
    obj = model.objects.order_by("pk").first()
    assert obj is not None, f"admin_world has no {label} row"
    may_add, may_change, may_delete = ADMIN[label]
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    change = f"{base}{obj.pk}/change/"
    delete = f"{base}{obj.pk}/delete/"
    mismatches = []
    for role in ROLES:
        client = Client()
        if admin_world["users"][role] is not None:
            client.force_login(admin_world["users"][role])
        root = role == "superuser"
        calls = [
            ("GET", base, {}, 200 if root else 302),
            ("GET", change, {}, 200 if root else 302),
            ("GET", f"{base}add/", {}, (200 if may_add else 403) if root else 302),
            ("POST", f"{base}add/", {}, (200 if may_add else 403) if root else 302),
            ("POST", change, {}, ((200, 302) if may_change else 403) if root else 302),
        ]
        if not (root and may_delete):
            calls.append(("POST", delete, {"post": "yes"}, 403 if root else 302))
        for method, path, data, wanted in calls:
            with transaction.atomic():
                before = fingerprint() if method == "POST" else None
                status = getattr(client, method.lower())(path, data).status_code
                if status not in (wanted if isinstance(wanted, tuple) else (wanted,)):
                    mismatches.append(f"{role} {method} {path}: got {status}, expected {wanted}")
                elif method == "POST" and fingerprint() != before:
                    mismatches.append(f"{role} {method} {path}: answered {status} but changed data")
                transaction.set_rollback(True)
    assert mismatches == []


def test_deleting_the_account_of_a_volunteer_in_the_admin_is_refused(admin_world):
    """Deleting the user would delete the volunteer with it, around the anonymisation service."""
    client = Client()
    client.force_login(admin_world["users"]["superuser"])
    before = fingerprint()
    # Without service records: the volunteer's admin refuses deletion, so the cascade is refused.
    leader = admin_world["users"]["team_leader"]
    assert client.post(f"/admin/auth/user/{leader.pk}/delete/", {"post": "yes"}).status_code == 403
    # With shifts and a certificate: protected, the page says so and deletes nothing.
    volunteer = admin_world["users"]["volunteer"]
    page = client.post(f"/admin/auth/user/{volunteer.pk}/delete/", {"post": "yes"})
    assert (page.status_code, bool(page.context["protected"])) == (200, True)
    assert fingerprint() == before
