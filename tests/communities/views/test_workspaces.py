"""Each role lands on its own workspace (at "/" and after either log-in), can switch to another
role it holds, and finds its destinations in the phone tab bar; the check-in page focuses the
code; the roster names each shift's section once."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from communities.models import Assignment, Shift
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from tests.html import parse
from volunteers.models import StaffContact

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    community = CommunityFactory()
    coordinator = UserFactory(username="coord")
    community.coordinators.add(coordinator)
    leader = VolunteerFactory()
    TeamFactory(leader=leader)
    both = VolunteerFactory()  # a volunteer who also coordinates
    community.coordinators.add(both.user)
    return {
        "volunteer": VolunteerFactory().user,
        "team_leader": leader.user,
        "coordinator": coordinator,
        "committee": OrganizationStaffFactory().user,
        "superuser": get_user_model().objects.create_superuser("root", password="pass-Word-123"),
        "both": both.user,
        "community": community,
    }


def _page(response):
    return parse(response.content)


@pytest.mark.parametrize(
    ("who", "lands_on"),
    [
        ("team_leader", "/team/"),
        ("coordinator", "/coordinator/"),
        ("committee", "/committee/"),
        ("superuser", "/committee/"),
        ("both", "/coordinator/"),
    ],
)
def test_home_sends_each_role_to_its_workspace(client, people, who, lands_on):
    client.force_login(people[who])
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, lands_on)
    assert client.get(lands_on).status_code == 200


def test_a_volunteer_lands_on_their_own_home(client, people):
    client.force_login(people["volunteer"])
    response = client.get("/")
    assert response.status_code == 200
    assert response.templates[0].name == "volunteers/home.html"


def test_the_public_home_offers_log_in_not_the_api(client):
    page = _page(client.get("/"))
    main = page.find("main")
    assert [a["href"] for a in main.find_all("a", cls="button")] == ["/accounts/login/"]
    assert page.find_all("nav", cls="tabbar") == []


@pytest.mark.parametrize(("who", "lands_on"), [("volunteer", "/"), ("coordinator", "/coordinator/")])
def test_the_password_log_in_lands_on_the_workspace(client, people, who, lands_on):
    user = people[who]
    response = client.post("/accounts/login/", {"username": user.username, "password": "pass-Word-123"}, follow=True)
    assert response.redirect_chain[-1][0] == lands_on
    assert response.status_code == 200


def _texted_code(mobile: str, start: int) -> str:
    path = Path(settings.NOTIFICATIONS["SMS_FILE"])
    with open(path, "rb") as handle:
        handle.seek(start)
        lines = [json.loads(line) for line in handle.read().splitlines() if line.strip()]
    return [re.search(r"[0-9]{6}", line["text"]).group(0) for line in lines if line["to"] == mobile][-1]


def test_the_code_log_in_lands_on_the_workspace(client, people, django_capture_on_commit_callbacks):
    StaffContact.objects.create(user=people["coordinator"], mobile="13600000001")
    outbox = Path(settings.NOTIFICATIONS["SMS_FILE"])
    start = outbox.stat().st_size if outbox.exists() else 0
    with django_capture_on_commit_callbacks(execute=True):  # the code is texted after commit
        client.post("/accounts/login/code/", {"mobile": "13600000001", "action": "send"})
    code = _texted_code("13600000001", start)
    response = client.post(
        "/accounts/login/code/", {"mobile": "13600000001", "code": code, "action": "login"}, follow=True
    )
    assert [url for url, _status in response.redirect_chain] == ["/", "/coordinator/"]


def test_a_person_with_two_roles_switches_workspace(client, people):
    client.force_login(people["both"])
    page = _page(client.get("/coordinator/"))
    switch = page.find("form", cls="nav-switch")
    assert [b["value"] for b in switch.find_all("button")] == ["coordinator", "volunteer"]
    assert switch.find("button", aria_current="true")["value"] == "coordinator"

    response = client.post("/accounts/workspace/", {"workspace": "volunteer"})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").templates[0].name == "volunteers/home.html"
    tabs = _page(client.get("/")).find("nav", cls="tabbar").find_all("a")
    assert [a["href"] for a in tabs] == ["/", "/shifts/", "/check-in/", "/my/shifts/", "/me/profile/"]

    # A role not held is not taken.
    client.post("/accounts/workspace/", {"workspace": "committee_staff"})
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("who", "path", "hrefs", "current"),
    [
        ("volunteer", "/shifts/", ["/", "/shifts/", "/check-in/", "/my/shifts/", "/me/profile/"], "/shifts/"),
        ("volunteer", "/me/hours/", ["/", "/shifts/", "/check-in/", "/my/shifts/", "/me/profile/"], "/me/profile/"),
        ("team_leader", "/team/", ["/team/", "/shifts/", "/check-in/", "/my/shifts/", "/me/profile/"], "/team/"),
        (
            "coordinator",
            "/coordinator/hours/",
            [
                "/coordinator/",
                "/coordinator/hours/",
                "/coordinator/requests/",
                "/coordinator/messages/failed/",
                "/inbox/",
            ],
            "/coordinator/hours/",
        ),
        (
            "coordinator",
            "/coordinator/requests/",
            [
                "/coordinator/",
                "/coordinator/hours/",
                "/coordinator/requests/",
                "/coordinator/messages/failed/",
                "/inbox/",
            ],
            "/coordinator/requests/",
        ),
        # Pages below a destination mark it: the volunteer's own details and requests are "Me".
        ("volunteer", "/me/contact/", ["/", "/shifts/", "/check-in/", "/my/shifts/", "/me/profile/"], "/me/profile/"),
        ("volunteer", "/me/records/", ["/", "/shifts/", "/check-in/", "/my/shifts/", "/me/profile/"], "/me/profile/"),
        (
            "volunteer",
            "/me/hours/{record}/report/",
            ["/", "/shifts/", "/check-in/", "/my/shifts/", "/me/profile/"],
            "/me/profile/",
        ),
        (
            "committee",
            "/committee/",
            ["/committee/", "/committee/dispatch/", "/committee/reports/", "/inbox/"],
            "/committee/",
        ),
    ],
)
def test_the_tab_bar_holds_the_workspace_destinations_and_marks_the_current(client, people, who, path, hrefs, current):
    if "{record}" in path:  # a page about one place on the volunteer's record
        from datetime import timedelta

        from django.utils import timezone

        from communities.models import Assignment
        from tests.factories import ShiftFactory

        start = timezone.now() - timedelta(days=1)
        shift = ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=4))
        place = Assignment.objects.create(shift=shift, volunteer=people[who].volunteer, status="no_show")
        path = path.format(record=place.pk)
    client.force_login(people[who])
    [bar] = _page(client.get(path)).find_all("nav", cls="tabbar")
    links = bar.find_all("a")
    assert [a["href"] for a in links] == hrefs
    assert [a["href"] for a in links if a.get("aria-current") == "page"] == [current]
    assert all(a.find("svg") and a.find("span", cls="tab-label").text() for a in links)


def test_every_page_a_destination_stands_for_is_a_page():
    from django.urls import get_resolver

    from communities.views.tabs import SECTIONS, TABS

    names = {name for name in get_resolver().reverse_dict if isinstance(name, str)}
    listed = set().union(*SECTIONS.values(), *(tab.pages for tabs in TABS.values() for tab in tabs))
    assert listed - names == set()


def test_the_navigation_and_the_tab_bar_mark_a_dispatchs_page_as_dispatch(client, people):
    from communities.models import Dispatch
    from tests.factories import CommunityFactory

    dispatch = Dispatch.objects.create(community=CommunityFactory(), requested=1)
    client.force_login(people["committee"])
    page = _page(client.get(f"/committee/dispatches/{dispatch.pk}/"))
    current = [a["href"] for a in page.find_all("a") if a.get("aria-current") == "page"]
    assert set(current) == {"/committee/dispatch/"}, current
    [bar] = page.find_all("nav", cls="tabbar")
    assert [a["href"] for a in bar.find_all("a") if a.get("aria-current") == "page"] == ["/committee/dispatch/"]


def test_the_tab_bar_counts_unread_messages(client, people):
    from communities.models import Notification

    user = people["volunteer"]
    Notification.objects.create(key="n1", kind="reminder", channel="inapp", recipient=user, body="x")
    client.force_login(user)
    bar = _page(client.get("/my/shifts/")).find("nav", cls="tabbar")
    assert bar.find("a", href="/me/profile/").find("span", cls="tab-count").text() == "1 条未读"


def test_the_check_in_code_field_is_focused_and_each_shift_has_its_own_ids(client):
    volunteer = VolunteerFactory()
    now = timezone.now()
    for minutes in (10, 20):
        shift = ShiftFactory(starts_at=now + timedelta(minutes=minutes), ends_at=now + timedelta(hours=2))
        AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CONFIRMED)
    client.force_login(volunteer.user)
    main = _page(client.get("/check-in/")).find("main")
    codes = main.find_all("input", name="code")
    assert len(codes) == 2
    assert [field.has("autofocus") for field in codes] == [True, False]
    ids = [element["id"] for element in main.find_all(id=True)]
    assert len(ids) == len(set(ids))
    for field in codes:
        assert main.find("label", for_=field["id"]) is not None


def test_the_roster_names_every_shift_section_once(client, people):
    community = people["community"]
    post = PostFactory(community=community, name="北门卡口")
    today = timezone.localdate()
    night = timezone.make_aware(timezone.datetime(today.year, today.month, today.day, 22))
    # Last night's shift and tonight's share post and clock times; two shifts share both.
    for start in (night - timedelta(days=1), night, night):
        ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=8))
    assert Shift.objects.filter(community=community).count() == 3
    client.force_login(people["coordinator"])
    main = _page(client.get(f"/coordinator/communities/{community.pk}/roster/")).find("main")
    sections = main.find_all("section", aria_labelledby=True)
    names = [main.find(id=section["aria-labelledby"]).text() for section in sections]
    assert len(names) == 3
    assert len(set(names)) == 3, names
