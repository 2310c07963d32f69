"""config/prepared.py: queries compiled once give the ORM's answers; models built from a row are
the ORM's models; the session store and the user lookup built on them answer as Django's do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from communities.models import Notification
from communities.selectors.shifts import notification_unread_count
from config.prepared import Columns, Compiled, column, table
from config.sessions import SessionStore
from tests.factories import TeamFactory, UserFactory, VolunteerFactory
from volunteers.auth import user_with_volunteer
from volunteers.models import Team, Volunteer

pytestmark = pytest.mark.django_db


def test_compiled_runs_with_each_calls_values_and_matches_the_orm():
    leader, other = VolunteerFactory(), VolunteerFactory()
    TeamFactory(leader=leader)
    compiled = Compiled(
        lambda volunteer_id: Team.objects.filter(leader_id=volunteer_id).values_list("leader_id"), "volunteer_id"
    )
    assert compiled.rows(volunteer_id=leader.pk) == [(leader.pk,)]
    assert compiled.rows(volunteer_id=other.pk) == []
    # None is sent as NULL: ``leader_id = NULL`` matches nothing, as "no volunteer, no team".
    assert compiled.rows(volunteer_id=None) == []
    # The SQL is written once: a second call does not compile again.
    sql = compiled.prepared().sql
    compiled.rows(volunteer_id=other.pk)
    assert compiled.prepared().sql is sql


def test_compiled_applies_the_orms_converters():
    user = UserFactory()
    counting = Compiled(
        lambda user_id: (
            Notification.objects.filter(recipient_id=user_id)
            .order_by()
            .values("recipient_id")
            .annotate(n=Count("id"))
            .values_list("n", "recipient_id")
        ),
        "user_id",
    )
    assert counting.rows(user_id=user.pk) == []
    joined = Compiled(lambda user_id: get_user_model().objects.filter(pk=user_id).values_list("date_joined"), "user_id")
    (when,) = joined.row(user_id=user.pk)
    assert when == get_user_model().objects.get(pk=user.pk).date_joined
    assert timezone.is_aware(when)


def test_compiled_refuses_a_value_that_does_not_reach_the_query():
    ignored = Compiled(lambda volunteer_id: Team.objects.values_list("pk"), "volunteer_id")
    with pytest.raises(ValueError, match="volunteer_id"):
        ignored.rows(volunteer_id=1)


def test_columns_build_the_orms_instance_and_none_for_the_empty_side_of_a_join():
    volunteer = VolunteerFactory()
    columns = Columns.of(Volunteer, "v")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns.sql} FROM {table(Volunteer)} v WHERE v.{column(Volunteer, 'id')} = %s",  # noqa: S608
            [volunteer.pk],
        )
        built = columns.build(cursor.fetchone())
    loaded = Volunteer.objects.get(pk=volunteer.pk)
    for field in Volunteer._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(loaded, field.attname), field.name
    assert built._state.adding is False and built._state.db == "default"
    assert columns.build([None] * columns.width) is None


def test_the_user_comes_with_the_volunteer_record_or_knows_there_is_none(django_assert_num_queries):
    volunteer = VolunteerFactory()
    plain = UserFactory()
    with django_assert_num_queries(1):
        user = user_with_volunteer(str(volunteer.user.pk))  # the session keeps the id as text
    with django_assert_num_queries(0):
        assert user.volunteer.pk == volunteer.pk
        assert user.volunteer.user is user
    with django_assert_num_queries(1):
        alone = user_with_volunteer(plain.pk)
    with django_assert_num_queries(0), pytest.raises(Volunteer.DoesNotExist):
        alone.volunteer  # noqa: B018
    assert user_with_volunteer(10**9) is None
    assert user_with_volunteer("not a number") is None


def test_an_inactive_user_is_nobody_to_either_backend():
    from volunteers.auth import LockoutModelBackend
    from volunteers.login_codes import LoginCodeBackend

    volunteer = VolunteerFactory(user__is_active=False)
    assert LockoutModelBackend().get_user(volunteer.user.pk) is None
    assert LoginCodeBackend().get_user(volunteer.user.pk) is None


def test_the_session_store_reads_what_djangos_wrote_in_one_query(django_assert_num_queries):
    written = DjangoSessionStore()
    written["answer"] = 42
    written.create()
    with django_assert_num_queries(1):
        assert SessionStore(written.session_key).load() == {"answer": 42}
    ours = SessionStore(written.session_key)
    assert ours.get("answer") == 42 and ours.session_key == written.session_key


def test_an_expired_or_unknown_session_is_a_new_empty_one():
    store = SessionStore()
    store["answer"] = 42
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    stale = SessionStore(store.session_key)
    assert stale.load() == {} and stale.session_key is None
    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None


def test_a_signed_in_page_knows_its_user_and_a_signed_out_one_does_not(client):
    volunteer = VolunteerFactory()
    client.force_login(volunteer.user)
    response = client.get(reverse("profile"))
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == volunteer.user.pk
    client.logout()
    assert client.get(reverse("profile")).status_code == 302


def test_roles_and_unread_count_match_their_orm_definitions():
    leader = VolunteerFactory()
    TeamFactory(leader=leader)
    user = user_with_volunteer(leader.user.pk)
    from volunteers import selectors

    assert selectors.user_roles(user) == [selectors.ROLE_VOLUNTEER, selectors.ROLE_TEAM_LEADER]
    assert notification_unread_count(user) == 0
    for n in range(3):
        Notification.objects.create(
            recipient=user, channel=Notification.Channel.INAPP, kind="x", body="b", key=f"unread-{n}"
        )
    Notification.objects.create(recipient=user, channel=Notification.Channel.SMS, kind="x", body="b", key="sms")
    Notification.objects.filter(key="unread-0").update(read_at=timezone.now())
    assert notification_unread_count(user) == 2
