"""What keeps the pages as cheap as the API (bench/pages.py): each shortcut gives the same answer
as the long way it replaces."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.template.loader import get_template
from django.urls import reverse
from django.utils import translation

from tests.factories import (
    CommunityFactory,
    OrganizationStaffFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers import selectors

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


class _Shift:
    def __init__(self, starts_at, ends_at):
        self.starts_at, self.ends_at = starts_at, ends_at


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI), datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI)),
        (datetime(2026, 12, 7, 22, 0, tzinfo=SHANGHAI), datetime(2026, 12, 8, 2, 0, tzinfo=SHANGHAI)),
    ],
)
def test_shift_time_tag_draws_what_the_partial_draws_in_each_language(language, start, end):
    shift = _Shift(start, end)
    tag = Template("{% load ui %}{% shift_time shift %}")
    with translation.override(language):
        expected = get_template("communities/_shift_time.html").render({"shift": shift})
        assert tag.render(Context({"shift": shift})) == expected
        assert tag.render(Context({"shift": shift})) == expected  # kept, and still the same
    other = "en" if language == "zh-hans" else "zh-hans"
    with translation.override(other):  # the kept text of one language never serves the other
        assert tag.render(Context({"shift": shift})) == get_template("communities/_shift_time.html").render(
            {"shift": shift}
        )


class _Roles:
    def __init__(self, **held):
        for name in ("volunteer", "team_leader", "coordinator", "committee", "superuser", "staff"):
            setattr(self, name, held.get(name, False))
        self.workspaces = held.get("workspaces", ["volunteer"])

    @property
    def render_key(self):
        return (
            self.volunteer,
            self.team_leader,
            self.coordinator,
            self.committee,
            self.superuser,
            self.staff,
            tuple(self.workspaces),
        )


NAV = (
    '{% load ui %}<a>{% render_keyed "partials/nav.html" roles=roles workspace=workspace current=current '
    "inbox_unread=inbox_unread %}</a>"
)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_render_keyed_draws_once_per_values_with_each_pages_own_token(language, monkeypatch):
    from volunteers.templatetags import ui

    monkeypatch.setattr(ui, "_KEYED", {})
    template = Template(NAV)
    values = {
        "roles": _Roles(volunteer=True, staff=True),
        "workspace": "volunteer",
        "current": "my-shifts",
        "inbox_unread": 3,
    }
    with translation.override(language):
        first = template.render(Context({**values, "csrf_token": "a" * 64}))
        second = template.render(Context({**values, "csrf_token": "b" * 64}))
    assert len(ui._KEYED) == 1
    assert "a" * 64 in first and "a" * 64 not in second and "b" * 64 in second
    assert first.replace("a" * 64, "b" * 64) == second
    assert 'aria-current="page"' in first and '<span class="count">3' in first
    with translation.override(language):
        uncached = get_template("partials/nav.html").render({**values, "csrf_token": "b" * 64})
    assert second == f"<a>{uncached}</a>"


def test_render_keyed_tells_roles_pages_and_languages_apart(monkeypatch):
    from volunteers.templatetags import ui

    monkeypatch.setattr(ui, "_KEYED", {})
    template = Template(NAV)
    base = {
        "roles": _Roles(volunteer=True),
        "workspace": "volunteer",
        "current": "home",
        "inbox_unread": 0,
        "csrf_token": "t" * 64,
    }
    volunteer = template.render(Context(base))
    coordinator = template.render(
        Context({**base, "roles": _Roles(volunteer=True, coordinator=True, workspaces=["coordinator", "volunteer"])})
    )
    other_page = template.render(Context({**base, "current": "my-shifts"}))
    unread = template.render(Context({**base, "inbox_unread": 2}))
    with translation.override("en"):
        english = template.render(Context(base))
    assert len({volunteer, coordinator, other_page, unread, english}) == 5
    assert "coordinator" in coordinator and "coordinator" not in volunteer
    assert len(ui._KEYED) == 5


def test_a_page_without_a_token_draws_the_navigation_without_one(monkeypatch):
    from volunteers.templatetags import ui

    monkeypatch.setattr(ui, "_KEYED", {})
    html = Template(NAV).render(
        Context({"roles": _Roles(volunteer=True), "workspace": "volunteer", "current": "home", "inbox_unread": 0})
    )
    assert "csrfmiddlewaretoken" not in html and "\x00" not in html
    assert ui._KEYED == {}


def test_user_roles_in_one_query(django_assert_num_queries):
    volunteer = VolunteerFactory()
    TeamFactory(leader=volunteer)
    community = CommunityFactory()
    community.coordinators.add(volunteer.user)
    OrganizationStaffFactory(user=volunteer.user)
    user = get_user_model().objects.select_related("volunteer").get(pk=volunteer.user.pk)
    with django_assert_num_queries(1):
        roles = selectors.user_roles(user)
    assert roles == [
        selectors.ROLE_VOLUNTEER,
        selectors.ROLE_TEAM_LEADER,
        selectors.ROLE_COORDINATOR,
        selectors.ROLE_COMMITTEE,
    ]
    plain = get_user_model().objects.get(pk=UserFactory().pk)
    with django_assert_num_queries(2):  # the volunteer record (none), then the roles
        assert selectors.user_roles(plain) == []


def test_a_signed_in_volunteer_comes_with_the_user(client, django_assert_num_queries):
    volunteer = VolunteerFactory()
    client.force_login(volunteer.user)
    response = client.get(reverse("shift-list"))
    assert response.status_code == 200
    user = response.wsgi_request.user
    with django_assert_num_queries(0):
        assert user.volunteer.pk == volunteer.pk


def test_the_field_tag_draws_label_control_help_and_errors():
    from django import forms

    class Form(forms.Form):
        code = forms.CharField(label="编码 <b>", help_text="6 位 & 数字", max_length=6)
        agree = forms.BooleanField(label="同意")

    template = Template("{% load ui %}{% field form.code %}|{% field form.agree %}")
    blank = template.render(Context({"form": Form()}))
    code, agree = blank.split("|")
    assert code.startswith('<div class="field">')
    assert code.index('<label for="id_code">编码 &lt;b&gt;</label>') < code.index('<input type="text" name="code"')
    assert '<span class="help" id="id_code_helptext">6 位 &amp; 数字</span>' in code
    assert agree.startswith('<div class="field field-check">')
    assert agree.index('<input type="checkbox" name="agree"') < agree.index('<label for="id_agree">同意</label>')
    bound = Form({"code": "1234567"})
    bound.is_valid()
    invalid = Template("{% load ui %}{% field form.code %}").render(Context({"form": bound}))
    assert invalid.startswith('<div class="field field-invalid">')
    assert '<ul class="errorlist" id="id_code_error"><li>' in invalid
