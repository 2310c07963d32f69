"""Reported errors in service records over HTTP: report, read, answer; error bodies; query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from communities.models import Assignment, RecordCorrection
from tests.communities.api.test_records import client_for
from tests.communities.services import test_corrections as test_corrections_services
from tests.factories import ShiftFactory, VolunteerFactory

pytestmark = pytest.mark.django_db


# The services tests' scene: a coordinator's community, a volunteer marked absent there yesterday.
scene = test_corrections_services.scene


def test_a_report_made_read_and_answered(scene):
    volunteer, place = scene["volunteer"], scene["missed"]
    mine = client_for(volunteer.user)
    response = mine.post(f"/api/v1/assignments/{place.pk}/report-error/", {"message": "我到岗了"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["message"], body["place_status"], body["assignment"]) == (
        "pending",
        "我到岗了",
        "no_show",
        place.pk,
    )
    assert body["shift"]["community"] == "金鸡湖社区" and body["volunteer"]["name"] == "王芳"
    response = mine.post(f"/api/v1/assignments/{place.pk}/report-error/", {"message": "再报"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "correction_pending")
    response = mine.post(f"/api/v1/assignments/{place.pk}/report-error/", {"message": ""}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")

    coordinator = client_for(scene["coordinator"])
    queue = coordinator.get("/api/v1/record-corrections/").json()
    assert [row["id"] for row in queue["results"]] == [body["id"]]
    response = coordinator.post(
        f"/api/v1/record-corrections/{body['id']}/answer/", {"decision": "declined"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    response = coordinator.post(
        f"/api/v1/record-corrections/{body['id']}/answer/",
        {"decision": "corrected", "answer": "已撤销缺勤并补签"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["answer"]) == ("corrected", "已撤销缺勤并补签")
    assert coordinator.get("/api/v1/record-corrections/").json()["results"] == []
    again = coordinator.post(
        f"/api/v1/record-corrections/{body['id']}/answer/", {"decision": "corrected"}, format="json"
    )
    assert (again.status_code, again.json()["code"]) == (409, "correction_not_pending")

    reports = mine.get("/api/v1/me/record-corrections/").json()["results"]
    assert [(r["id"], r["status"], r["answer"]) for r in reports] == [(body["id"], "corrected", "已撤销缺勤并补签")]


def test_the_queue_reads_a_fixed_number_of_queries(scene, django_assert_num_queries):
    coordinator = client_for(scene["coordinator"])
    for _ in range(3):
        place = Assignment.objects.create(
            shift=ShiftFactory(post=scene["shift"].post, starts_at=scene["shift"].starts_at - timedelta(days=2)),
            volunteer=VolunteerFactory(),
            status="completed",
        )
        RecordCorrection.objects.create(assignment=place, message="时长不足")
    with django_assert_num_queries(3):  # may coordinate, count, page
        response = coordinator.get("/api/v1/record-corrections/")
    assert response.json()["count"] == 3
