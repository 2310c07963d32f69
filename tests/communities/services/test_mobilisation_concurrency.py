"""Races of the mobilisation loop, with real threads and their own connections: two workers (or
two beats) sending one call-out at once, and two staff fulfilling one request at once."""

from __future__ import annotations

import json
import threading
from datetime import time, timedelta
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from communities.models import CommunityRequest, Dispatch, Notification
from communities.notifications import outbox
from communities.services import broadcasts, community_requests
from config.errors import ServiceError
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.models import Organization

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_together(jobs):
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def worker(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # collected and asserted on by the caller
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.fixture
def conf(settings, tmp_path):
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "SMS_BACKEND": "config.sms.backends.FileSmsBackend",
        "SMS_FILE": str(tmp_path / "sms.jsonl"),
        "SMS_FILE_DELAY": 0,
        "SMS_FILE_FSYNC": False,
        "QUIET_HOURS_START": "",
        "QUIET_HOURS_END": "",
        "QUEUE": None,
        "BATCH_SIZE": 7,  # several claims per sender, so the two senders interleave
    }
    return settings.NOTIFICATIONS


def test_a_call_out_sent_by_two_workers_at_once_reaches_each_member_once(conf, monkeypatch):
    # The broker is away: nothing writes the call-out out at commit; the two workers below do.
    monkeypatch.setattr(broadcasts, "_enqueue_fan_out", lambda broadcast_id: None)
    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    team = TeamFactory(organization=organization)
    members = [VolunteerFactory(organization=organization, team=team) for _ in range(40)]
    target = broadcasts.broadcast_target(actor=staff, audience="team", team_id=team.pk)
    sent = broadcasts.broadcast_create(actor=staff, target=target, subject="集合", message="今晚8点集合", by_sms=True)

    def worker():
        # What the task and the beat's sweep each do: write the call-out out, then send what is due.
        written = broadcasts.broadcast_fan_out(broadcast_id=sent.pk)
        sent_out, _finished = outbox.drain(seconds=30)
        return written, sent_out.sent

    for _round in range(2):  # and once more after both finished: a late duplicate task
        results = run_together([worker, worker])
        assert not [r for r in results if isinstance(r, Exception)], results

    inbox = list(Notification.objects.filter(kind="broadcast", channel="inapp").values_list("recipient_id", flat=True))
    assert sorted(inbox) == sorted(v.user_id for v in members)
    texts = Notification.objects.filter(kind="broadcast", channel="sms")
    assert texts.count() == 40 and set(texts.values_list("state", flat=True)) == {"sent"}
    path = Path(conf["SMS_FILE"])
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert sorted(line["to"] for line in lines) == sorted(v.mobile for v in members)  # one text each
    duplicates = path.with_name(path.name + ".duplicates")
    assert not duplicates.exists() or duplicates.read_text() == ""  # and none handed over twice


def test_two_staff_fulfilling_one_request_at_once_send_no_more_than_was_missing():
    organization = OrganizationFactory()
    community = CommunityFactory()
    coordinator = UserFactory()
    community.coordinators.add(coordinator)
    staff = [OrganizationStaffFactory(organization=organization).user for _ in range(2)]
    for _ in range(10):
        VolunteerFactory(organization=organization, status="reserve")
    today = timezone.localdate()
    request = community_requests.community_request_create(
        actor=coordinator,
        community_id=community.pk,
        wanted=4,
        date_from=today,
        date_to=today + timedelta(days=1),
        time_from=time(8),
        time_to=time(12),
    )
    organizations = Organization.objects.filter(pk=organization.pk)
    results = run_together(
        [
            lambda user=user: community_requests.community_request_fulfil(
                actor=user, request_id=request.pk, organizations=organizations, count=4
            )
            for user in staff
        ]
    )
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(refused) == 1 and refused[0].code == "request_closed"
    request.refresh_from_db()
    assert (request.dispatched, request.status) == (4, CommunityRequest.Status.FULFILLED)
    assert Dispatch.objects.get(request=request).volunteers.count() == 4
