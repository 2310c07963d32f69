"""Daily reports (日报): figures per organization, zero reports, idempotence, the task, beat, the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from communities import tasks
from communities.models import DailyReport, Notification
from communities.services import reports
from tests.communities.selectors import test_stats
from tests.communities.selectors.test_stats import at
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

# The statistics tests' small world and API client, shared.
world = test_stats.world
api = test_stats.api


def nudge(assignment, *, channel="sms", state=Notification.State.SENT, sent_at=None, kind="checkin_nudge"):
    return Notification.objects.create(
        key=f"{assignment.pk}:{kind}:{channel}",
        kind=kind,
        channel=channel,
        recipient=assignment.volunteer.user,
        assignment=assignment,
        shift=assignment.shift,
        body="…",
        state=state,
        sent_at=sent_at,
    )


def test_report_figures_per_organization(world):
    today_c1 = world.va1.assignments.get(shift__starts_at__date__gte=world.today, status="confirmed")
    vb1_today = world.vb1.assignments.get(status="confirmed")
    now = at(world.today, 8, 12)
    nudge(vb1_today, channel="sms", sent_at=now)
    nudge(vb1_today, channel="inapp", sent_at=now)  # the same nudge on two channels counts once
    nudge(today_c1, channel="sms", state=Notification.State.PENDING)  # not sent: not counted
    nudge(today_c1, channel="inapp", kind="reminder_2h", sent_at=now)  # not a nudge

    written = reports.daily_report_write(day=world.today)
    assert [r.organization_id for r in written] == [world.root.pk, world.a.pk, world.a1.pk, world.b.pk]
    data = {r.organization_id: r.data for r in written}
    root = data[world.root.pk]
    assert {k: root[k] for k in reports.FIGURES} == {
        "volunteers": 5,
        "deployed": 3,
        "suspended": 1,
        "communities_covered": 2,
        "shifts": 2,
        "shifts_filled": 1,
        "shifts_unfilled": 1,
        "places": 5,
        "places_taken": 3,
        "active": 2,
        "minutes": 120,
        "hours": 2.0,
        "completed": 1,
        "no_shows": 0,
        "nudges": 1,
    }
    assert root["zero_report"] is False and root["date"] == world.today.isoformat()
    assert [child["id"] for child in root["by_organization"]] == [world.a.pk, world.b.pk]
    b = data[world.b.pk]
    assert (b["volunteers"], b["deployed"], b["shifts"], b["shifts_filled"], b["nudges"], b["active"]) == (
        2,
        1,
        1,
        1,
        1,
        0,
    )
    assert data[world.a.pk]["by_organization"][0]["id"] == world.a1.pk
    assert (data[world.a1.pk]["minutes"], data[world.a1.pk]["by_organization"]) == (120, [])

    yesterday = {r.organization_id: r.data for r in reports.daily_report_write(day=world.yesterday)}
    assert (yesterday[world.root.pk]["minutes"], yesterday[world.root.pk]["no_shows"]) == (240, 1)
    assert yesterday[world.b.pk]["no_shows"] == 1


def test_report_matches_the_overview(world, api):
    overview = api(world.staff_root).get("/api/v1/stats/overview/").json()
    root = {r.organization_id: r.data for r in reports.daily_report_write(day=world.today)}[world.root.pk]
    assert (root["volunteers"], root["deployed"], root["communities_covered"]) == (
        overview["volunteers"],
        overview["deployed"],
        overview["communities_covered"],
    )
    assert (root["shifts"], root["shifts_filled"], root["shifts_unfilled"], root["active"]) == (
        overview["shifts_today"],
        overview["shifts_today_filled"],
        overview["shifts_today_unfilled"],
        overview["active_today"],
    )


def test_zero_report_on_a_quiet_day(world):
    quiet = world.today - timedelta(days=30)
    data = {r.organization_id: r.data for r in reports.daily_report_write(day=quiet)}
    assert len(data) == 4
    root = data[world.root.pk]
    assert root["zero_report"] is True
    assert (root["shifts"], root["minutes"], root["no_shows"], root["nudges"], root["active"]) == (0, 0, 0, 0, 0)
    assert (root["volunteers"], root["deployed"]) == (5, 3)  # head counts as at writing


def test_zero_report_on_an_empty_database():
    root = OrganizationFactory(parent=None)
    written = reports.daily_report_write(day=timezone.localdate())
    assert [(r.organization_id, r.data["zero_report"], r.data["volunteers"]) for r in written] == [(root.pk, True, 0)]


def test_writing_twice_keeps_one_report_per_day_and_organization(world):
    first = reports.daily_report_write(day=world.today)
    world.va3.delete()
    second = reports.daily_report_write(day=world.today)
    assert DailyReport.objects.filter(date=world.today).count() == 4
    assert [r.pk for r in first] == [r.pk for r in second]
    assert DailyReport.objects.get(date=world.today, organization=world.root).data["volunteers"] == 4


def test_task_writes_todays_report_and_beat_runs_it_daily(world):
    assert tasks.daily_report_task.delay().get() == 4
    assert DailyReport.objects.filter(date=timezone.localdate()).count() == 4
    assert tasks.daily_report_task.delay(world.yesterday.isoformat()).get() == 4
    assert DailyReport.objects.filter(date=world.yesterday).count() == 4

    hour, minute = (int(part) for part in settings.DAILY_REPORT_TIME.split(":"))
    entry = settings.CELERY_BEAT_SCHEDULE["daily-report"]
    assert entry["task"] == "communities.tasks.daily_report_task"
    assert entry["schedule"] == crontab(hour=hour, minute=minute)
    recount = settings.CELERY_BEAT_SCHEDULE["tallies-recount-all"]
    assert recount["task"] == "communities.tasks.tallies_recount_all_task"
    assert "communities.services.reports" in settings.CELERY_IMPORTS
    from config.celery import app

    app.loader.import_default_modules()
    assert "communities.tasks.daily_report_task" in app.tasks


def test_api_lists_reports_in_scope_newest_first(world, api, django_assert_num_queries):
    reports.daily_report_write(day=world.yesterday)
    reports.daily_report_write(day=world.today)
    client = api(world.staff_a)
    with django_assert_num_queries(4):
        data = client.get("/api/v1/reports/daily/").json()
    assert [(row["date"], row["organization"]["id"]) for row in data["results"]] == [
        (world.today.isoformat(), world.a.pk),
        (world.today.isoformat(), world.a1.pk),
        (world.yesterday.isoformat(), world.a.pk),
        (world.yesterday.isoformat(), world.a1.pk),
    ]
    assert data["results"][0]["data"]["minutes"] == 120
    one_day = client.get(f"/api/v1/reports/daily/?date={world.yesterday}").json()
    assert {row["date"] for row in one_day["results"]} == {world.yesterday.isoformat()}
    only_a1 = client.get(f"/api/v1/reports/daily/?organization={world.a1.pk}").json()
    assert {row["organization"]["id"] for row in only_a1["results"]} == {world.a1.pk}
    assert client.get(f"/api/v1/reports/daily/?organization={world.b.pk}").status_code == 404
    assert api(UserFactory()).get("/api/v1/reports/daily/").status_code == 403
