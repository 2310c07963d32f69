"""Over the demo data, every shift the "eligible for me" list offers a volunteer is one the sign-up
accepts: the list and the sign-up ask the same rule function (communities_refusal, docs/rules.md).

The demo (``demo_seed`` at a small scale) is built once for the module inside a transaction rolled
back at the end; each sign-up runs in a savepoint rolled back after its answer.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from communities.demo.builder import demo_seed
from communities.models import Assignment
from communities.services import signup
from config.errors import ServiceError
from volunteers.models import Volunteer

pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("seed_demo")]

SCALE = 0.1


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        demo_seed(seed=2022, scale=SCALE)
        connection.check_constraints()
        yield
        transaction.set_rollback(True)


def _listed_as_eligible(user) -> list[int]:
    client = APIClient()
    client.force_authenticate(user)
    shift_ids, page = [], 1
    while True:
        answer = client.get("/api/v1/shifts/", {"eligible": "true", "page_size": 100, "page": page})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        shift_ids += [shift["id"] for shift in body["results"]]
        if not body["next"]:
            return shift_ids
        page += 1


def _refusal(shift_id: int, user) -> str | None:
    try:
        with transaction.atomic():
            signup.shift_sign_up(shift_id=shift_id, user=user)
            transaction.set_rollback(True)
    except ServiceError as error:
        return f"{error.code} {error.details}"
    return None


def test_every_shift_listed_as_eligible_is_accepted_by_the_sign_up(demo):
    # The demo volunteer (a watch every morning: the overlap and rest rules bite), and volunteers
    # with the most confirmed places, whose schedules leave the least room.
    demo_volunteer = Volunteer.objects.get(user__username="13800000001")
    busiest = list(
        Volunteer.objects.filter(status=Volunteer.Status.ACTIVE, assignments__status=Assignment.Status.CONFIRMED)
        .exclude(pk=demo_volunteer.pk)
        .order_by("-id")
        .values_list("pk", flat=True)
        .distinct()[:4]
    )
    volunteers = [demo_volunteer, *Volunteer.objects.filter(pk__in=busiest).select_related("user")]
    checked, refused = 0, []
    for volunteer in volunteers:
        listed = _listed_as_eligible(volunteer.user)
        for shift_id in listed:
            problem = _refusal(shift_id, volunteer.user)
            if problem:
                refused.append((volunteer.volunteer_number, shift_id, problem))
        checked += len(listed)
    assert not refused, refused[:10]
    assert checked > 100, checked
