"""The tally task retries only what can succeed later."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from communities import tasks
from communities.services import tallies

pytestmark = pytest.mark.django_db


@pytest.fixture
def recount_failing(monkeypatch):
    """Make the recount fail with ``error`` the first ``times`` calls; count the calls."""
    calls = []
    # Results are looked at, not raised, so that an eager retry runs again in place.
    monkeypatch.setitem(tasks.tally_assignment_task.app.conf, "task_eager_propagates", False)

    def arm(error: Exception, times: int):
        def recount(assignment_id):
            calls.append(assignment_id)
            if len(calls) <= times:
                raise error
            return True

        monkeypatch.setattr(tallies, "tally_assignment", recount)
        return calls

    return arm


def test_a_bug_is_not_retried(recount_failing):
    calls = recount_failing(ValueError("bad data"), times=10)
    result = tasks.tally_assignment_task.apply(args=[7])
    assert (result.state, type(result.result).__name__) == ("FAILURE", "ValueError")
    assert calls == [7]


def test_a_database_outage_or_lost_race_is_retried(recount_failing):
    calls = recount_failing(OperationalError("deadlock detected"), times=2)
    result = tasks.tally_assignment_task.apply(args=[7])
    assert (result.state, result.result) == ("SUCCESS", True)
    assert calls == [7, 7, 7]
