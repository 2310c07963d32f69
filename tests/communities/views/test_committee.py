"""The committee dashboard and drill-down pages: access, the API's numbers, SVG charts, 360 px."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Notification
from communities.render import charts
from communities.selectors import stats
from communities.services import certificates, reports
from tests.communities.selectors import test_stats
from volunteers.models import Certificate

pytestmark = pytest.mark.django_db

# The statistics tests' small world and API client, shared.
world = test_stats.world
api = test_stats.api


@pytest.fixture
def page(client):
    def login(user, url, **params):
        client.force_login(user)
        return client.get(url, params)

    return login


def figures(html: str) -> dict:
    return {name: int(value.replace(",", "")) for name, value in re.findall(r'data-figure="(\w+)">([\d,]+)<', html)}


def test_only_committee_staff(world, page, client):
    assert page(world.outsider, "/committee/").status_code == 403
    assert page(world.va1.user, "/committee/").status_code == 403
    client.logout()
    response = client.get("/committee/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("staff", ["staff_root", "staff_a", "staff_b"])
def test_dashboard_numbers_equal_the_api(world, page, api, staff):
    user = getattr(world, staff)
    html = page(user, "/committee/").content.decode()
    shown = figures(html)
    data = api(user).get("/api/v1/stats/overview/").json()
    for name in (
        "volunteers",
        "deployed",
        "active_today",
        "communities_covered",
        "shifts_today",
        "shifts_today_filled",
    ):
        assert shown[name] == data[name], name
    assert f'data-figure="hours">{data["hours"]:.1f}<' in html
    assert f'data-figure="week_hours">{data["week_hours"]:.1f}<' in html


def test_dashboard_filters_match_the_api(world, page, api):
    day = world.yesterday.isoformat()
    html = page(
        world.staff_root, "/committee/", district=world.district2.pk, date_from=day, date_to=day
    ).content.decode()
    data = (
        api(world.staff_root)
        .get(f"/api/v1/stats/overview/?district={world.district2.pk}&date_from={day}&date_to={day}")
        .json()
    )
    assert figures(html)["volunteers"] == data["volunteers"] == 1
    assert f'data-figure="hours">{data["hours"]:.1f}<' in html
    assert page(world.staff_a, "/committee/", organization=world.b.pk).status_code == 200  # not a choice: ignored
    assert "errorlist" in page(world.staff_a, "/committee/", organization=world.b.pk).content.decode()


def test_dashboard_charts_are_inline_svg_that_fit_a_phone(world, page):
    html = page(world.staff_root, "/committee/").content.decode()
    # The charts; the tab bar's icons are decorative and sized by CSS.
    svgs = [svg for svg in re.findall(r"<svg[^>]*>", html) if 'class="icon"' not in svg]
    assert len(svgs) >= 5
    for svg in svgs:
        assert 'width="100%"' in svg and "viewBox=" in svg and 'role="img"' in svg
    assert "<title id=" in html and "<table" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "css/committee.css" in html
    assert "export=xlsx" in html and "export=csv" in html


def test_dashboard_shows_todays_report(world, page):
    html = page(world.staff_root, "/committee/").content.decode()
    assert "日报尚未生成" in html  # not written yet: the figures so far
    reports.daily_report_write(day=world.today)
    html = page(world.staff_root, "/committee/").content.decode()
    assert "日报尚未生成" not in html and "已发送签到提醒" in html


def test_drill_down_organization_team_volunteer(world, page):
    html = page(world.staff_root, f"/committee/organizations/{world.a.pk}/").content.decode()
    assert f"/committee/organizations/{world.a1.pk}/" in html and f"/committee/teams/{world.team.pk}/" in html
    html = page(world.staff_root, f"/committee/teams/{world.team.pk}/").content.decode()
    assert f"/committee/volunteers/{world.va1.pk}/" in html
    response = page(world.staff_root, f"/committee/volunteers/{world.va1.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and world.va1.real_name in html
    assert world.va1.mobile in html  # staff of the volunteer's subtree may see the number
    assert world.va1.id_number_masked in html and world.va1.id_number not in html
    assert 'data-figure="hours">4.0<' in html


def test_drill_down_is_scoped(world, page):
    assert page(world.staff_a, f"/committee/organizations/{world.b.pk}/").status_code == 404
    assert page(world.staff_b, f"/committee/teams/{world.team.pk}/").status_code == 404
    assert page(world.staff_b, f"/committee/volunteers/{world.va1.pk}/").status_code == 404
    assert page(world.staff_a, f"/committee/volunteers/{world.va2.pk}/").status_code == 200


def test_issue_a_certificate_from_the_volunteer_page(world, client):
    client.force_login(world.staff_a)
    url = f"/committee/volunteers/{world.va1.pk}/certificate/"
    response = client.post(url, {"date_from": world.yesterday, "date_to": world.today})
    assert response.status_code == 302
    certificate = Certificate.objects.get()
    assert (certificate.issuer, certificate.issued_by, certificate.total_minutes) == (world.a, world.staff_a, 240)
    html = client.get(f"/committee/volunteers/{world.va1.pk}/").content.decode()
    assert certificate.number in html
    client.force_login(world.staff_b)
    assert client.post(url, {"date_from": world.yesterday, "date_to": world.today}).status_code == 404
    assert Certificate.objects.count() == 1
    assert certificates.certificate_number_valid(certificate.number)


def test_reports_page(world, page):
    assert "暂无日报" in page(world.staff_a, "/committee/reports/").content.decode()
    reports.daily_report_write(day=world.today)
    html = page(world.staff_a, "/committee/reports/").content.decode()
    assert world.a.name in html and world.root.name not in html.split("<main", 1)[1]


def test_charts_escape_labels_and_handle_empty_data():
    svg = charts.bar_chart("c", [("<b>", 3)], title="T", empty="none")
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert "none" in charts.line_chart("l", [], title="T", empty="none")
    assert "none" in charts.donut_chart("d", [("a", 0)], title="T", empty="none")
    assert "none" in charts.lines_chart("m", [], [("a", [], "#000")], title="T", empty="none")


def _text(volunteer, number: int, state: str, created_at) -> None:
    Notification.objects.create(
        key=f"t{number}:sms:u{volunteer.user_id}",
        kind="reminder_24h",
        channel="sms",
        recipient=volunteer.user,
        body="提醒",
        state=state,
        created_at=created_at,
    )


def test_dashboard_texts_per_day_sent_delivered_failed_in_scope(world, page):
    now = timezone.now()
    for number, (volunteer, state, days_ago) in enumerate(
        [
            (world.va1, "sent", 0),
            (world.va1, "delivered", 0),
            (world.va2, "undelivered", 0),
            (world.va2, "failed", 1),
            (world.va1, "pending", 0),  # not sent yet: in no series
            (world.vb1, "delivered", 0),  # organization b
        ]
    ):
        _text(volunteer, number, state, now - timedelta(days=days_ago))
    today, yesterday = timezone.localdate(), timezone.localdate() - timedelta(days=1)

    rows = stats.stats_sms_daily(stats.stats_query(user=world.staff_a))

    assert len(rows) == stats.SMS_DAYS and rows[-1]["date"] == today
    assert rows[-1] == {"date": today, "sent": 3, "delivered": 1, "failed": 1}
    assert rows[-2] == {"date": yesterday, "sent": 0, "delivered": 0, "failed": 1}
    assert sum(row["sent"] for row in stats.stats_sms_daily(stats.stats_query(user=world.staff_b))) == 1

    html = page(world.staff_a, "/committee/").content.decode()
    assert 'id="chart-texts-t"' in html
    assert (
        f'<th scope="row">{today:%Y-%m-%d}</th><td class="num">3</td><td class="num">1</td><td class="num">1</td>'
        in html
    )


def test_dashboard_counts_by_category_and_political_status_as_the_api(world, page, api):
    html = page(world.staff_root, "/committee/").content.decode()
    rows = api(world.staff_root).get("/api/v1/stats/people/").json()["results"]
    assert 'data-testid="people"' in html
    for row in rows:
        assert f'<th scope="row">{row["name"]}</th><td class="num">{row["volunteers"]}</td>' in html
    data = api(world.staff_root).get("/api/v1/stats/overview/").json()
    assert f"{data['minutes'] / 60 / 10_000:.4f} 万小时" in html
