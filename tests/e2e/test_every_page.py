"""Every page of every role, on the demo data, in both languages: each must fit a 360 px phone
without sideways scrolling, and axe-core (injected from the npm package, see package.json) must
find no serious or critical accessibility violation at 360 px or at 1280 px.

Each page is saved as ``every-<role>-<page>-<language>-phone.png`` and ``-desktop.png`` in
``artifacts/screenshots/``. A new page joins by a row in ``PAGES``: its path may name the ids
that ``ids`` looks up (``{community}``, ``{shift}``, ...).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS, axe_violations, scroll_width

pytestmark = pytest.mark.django_db(transaction=True)

LANGUAGES = ("zh-hans", "en")
DEMO_PASSWORD = "demo-2022"

# role: (username of the demo log-in, [(page name, path), ...])
PAGES: dict[str, tuple[str | None, list[tuple[str, str]]]] = {
    "volunteer": (
        "13800000001",
        [
            ("home", "/"),
            ("shifts", "/shifts/"),
            ("shift", "/shifts/{shift}/"),
            ("my-shifts", "/my/shifts/"),
            ("my-week", "/my/week/"),
            ("check-in", "/check-in/"),
            ("hours", "/me/hours/"),
            ("record-report", "/me/hours/{record_place}/report/"),
            ("inbox", "/inbox/"),
            ("profile", "/me/profile/"),
            ("contact", "/me/contact/"),
            ("mobile", "/me/mobile/"),
            ("requests", "/me/records/"),
            ("password", "/accounts/password/"),
        ],
    ),
    "coordinator": (
        "coordinator",
        [
            ("home", "/"),
            ("today", "/coordinator/"),
            ("roster", "/coordinator/communities/{community}/roster/"),
            ("rota", "/coordinator/communities/{community}/rota/"),
            ("code", "/coordinator/shifts/{shift}/code/"),
            ("candidates", "/coordinator/shifts/{later_shift}/candidates/"),
            ("shift-edit", "/coordinator/shifts/{later_shift}/edit/"),
            ("hours", "/coordinator/hours/"),
            ("failed-messages", "/coordinator/messages/failed/"),
        ],
    ),
    "team-leader": ("13800000002", [("home", "/"), ("team", "/team/")]),
    "committee": (
        "tuanwei",
        [
            ("home", "/"),
            ("dashboard", "/committee/"),
            ("organization", "/committee/organizations/{organization}/"),
            ("team", "/committee/teams/{team}/"),
            ("volunteer", "/committee/volunteers/{volunteer}/"),
            ("reports", "/committee/reports/"),
            ("dispatch", "/committee/dispatch/"),
        ],
    ),
    "public": (
        None,
        [
            ("home", "/"),
            ("login", "/accounts/login/"),
            ("verify", "/verify/"),
            ("verify-genuine", "/verify/{certificate}/"),
            ("verify-not-found", "/verify/VRC-2026-AAAAAAAA-AAAAAA/"),
            ("404", "/no-such-page/"),
        ],
    ),
}


@pytest.fixture
def ids():
    """The demo at a tenth of its size, a certificate and the daily reports: every page has rows."""
    call_command("seed_demo", "--scale", "0.1", stdout=StringIO())
    from communities.models import Shift
    from communities.services import certificates, reports
    from volunteers.models import Team, Volunteer

    volunteer = Volunteer.objects.get(mobile="13800000001")
    certificate, _new = certificates.certificate_issue_for_self(volunteer=volunteer, period_start=None, period_end=None)
    today = timezone.localdate()
    reports.daily_report_write(day=today - timedelta(days=1))
    community = volunteer.user.__class__.objects.get(username="coordinator").coordinated_communities.order_by("pk")[0]
    shifts = Shift.objects.filter(community=community).order_by("starts_at")
    return {
        "volunteer": volunteer.pk,
        "certificate": certificate.number,
        "community": community.pk,
        "shift": shifts.filter(starts_at__date__gte=today).first().pk,
        "later_shift": shifts.filter(starts_at__gte=timezone.now() + timedelta(days=1)).first().pk,
        "team": Team.objects.get(leader__mobile="13800000002").pk,
        "organization": volunteer.organization_id,
        "record_place": volunteer.assignments.filter(status__in=("completed", "no_show")).order_by("pk").first().pk,
    }


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    if page.locator("details.login-password").get_attribute("open") is None:
        page.locator("details.login-password summary").click()
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("form[action='/accounts/login/'] button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, f"{username} could not log in"


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_fits_a_phone_and_passes_axe(browser, live_server, axe_source, ids, role):
    username, pages = PAGES[role]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for language in LANGUAGES:
        context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(120_000)
        context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        page = context.new_page()
        try:
            if username:
                _log_in(page, live_server.url, username)
            for name, path in pages:
                url = live_server.url + path.format(**ids)
                shot = SCREENSHOTS / f"every-{role}-{name}-{language}"
                page.set_viewport_size(PHONE)
                page.goto(url)
                assert page.locator("html").get_attribute("lang") == language, url
                width = scroll_width(page)
                if width > PHONE["width"]:
                    problems.append(f"{language} {url}: {width} px wide at 360 px")
                for size, suffix in ((PHONE, "phone"), (DESKTOP, "desktop")):
                    page.set_viewport_size(size)
                    problems += [
                        f"{language} {url} at {size['width']} px: {v}" for v in axe_violations(page, axe_source)
                    ]
                    page.screenshot(path=f"{shot}-{suffix}.png", full_page=True)
        finally:
            context.close()
    assert not problems, "\n".join(problems)
