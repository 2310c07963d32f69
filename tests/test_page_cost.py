"""What keeps the pages as cheap as the API (bench/pages.py): each shortcut gives the same answer
as the long way it replaces."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.template.loader import get_template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from communities.views.forms import PlainSelect, ShiftFilterForm
from tests.factories import (
    CommunityFactory,
    OrganizationStaffFactory,
    PostTypeFactory,
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


def test_render_once_draws_a_template_once_per_page_and_repeats_it():
    template = Template(
        '{% load ui %}<a>{% render_once "partials/messages.html" %}</a><b>{% render_once "partials/messages.html" %}</b>'
    )
    request = RequestFactory().get("/")

    class Messages(list):
        reads = 0

        def __iter__(self):
            Messages.reads += 1
            return super().__iter__()

    messages = Messages(["hello"])
    html = template.render(Context({"messages": messages, "request": request}))
    assert html.count("hello") == 2
    assert Messages.reads == 1


@pytest.mark.parametrize("data", [None, {"post_type": "chosen"}])
def test_plain_select_writes_djangos_select_markup(data):
    PostTypeFactory(name="排查登记 <b>")
    chosen = PostTypeFactory(name="秩序维护 & 巡查")
    if data:
        data = {"post_type": str(chosen.pk)}
    form = ShiftFilterForm(data)
    form.is_valid()
    assert isinstance(form.fields["post_type"].widget, PlainSelect)
    ours = str(form["post_type"])
    form.fields["post_type"].widget = forms.Select(choices=form.fields["post_type"].choices)
    assert ours == str(form["post_type"])
    assert "&lt;b&gt;" in ours and "&amp;" in ours
    if data:
        assert f'<option value="{chosen.pk}" selected>' in ours


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
