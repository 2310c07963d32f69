"""A league committee member in a real browser: the dashboard with its charts, drill-down to an
organization, dispatch, and an export downloaded from the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from communities.models import Assignment
from communities.services import tallies
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_committee_opens_the_dashboard_and_downloads_an_export(browser, page, live_server, login, capture, tmp_path):
    organization = OrganizationFactory(name="苏州银行", name_en="Bank of Suzhou")
    staff = OrganizationStaffFactory(organization=organization).user
    community = CommunityFactory(name="金鸡湖社区", code="SIP0001")
    start = timezone.now() - timedelta(days=1)
    shift = ShiftFactory(post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=4))
    for _ in range(3):
        Assignment.objects.create(
            shift=shift,
            volunteer=VolunteerFactory(organization=organization, deployed_community=community),
            status="completed",
            credited_minutes=240,
            hours_status="approved",
            checked_in_at=start,
            checked_out_at=start + timedelta(hours=4),
        )
    VolunteerFactory(organization=organization, status="reserve")
    tallies.tallies_recount_all()

    login(page, staff.username)
    page.goto(f"{live_server.url}/committee/")
    html = page.content()
    assert "<svg" in html
    assert "苏州银行" in html
    capture(page, "committee-dashboard")

    page.locator(f"a[href*='/committee/organizations/{organization.pk}/']").first.click()
    page.wait_for_load_state()
    assert "苏州银行" in page.content()
    capture(page, "committee-organization")

    # Without JavaScript's help: the search form finds the community by name.
    page.goto(f"{live_server.url}/committee/dispatch/?q=金鸡湖")
    page.locator("input[name=community]").first.check()
    page.locator("input[name=count]").fill("1")
    capture(page, "committee-dispatch")
    page.locator("button[value=dispatch]").click()
    page.wait_for_load_state()
    assert organization.volunteers.filter(status="active").count() == 4

    page.goto(f"{live_server.url}/committee/")
    with page.expect_download() as download_info:
        page.locator(".export-list a", has_text="XLSX").first.click()
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert path.suffix == ".xlsx"
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet.max_row >= 2
    assert any(cell.value for cell in sheet[1])
