"""A volunteer's places are read on a queryset built once per thread, never shared between the
threads of a threaded server (gunicorn's gthread workers): compiling a copy adjusts the shared
subquery's alias counts for a moment, and two threads doing it at once wrote each other's SQL
(seen as rare 500s on the home page under load)."""

from __future__ import annotations

import sys
import threading

import pytest

from communities.selectors import shifts as shift_selectors
from tests.factories import VolunteerFactory

pytestmark = pytest.mark.django_db


def _in_thread(function):
    found = []
    thread = threading.Thread(target=lambda: found.append(function()))
    thread.start()
    thread.join()
    return found[0]


def test_each_thread_builds_its_own_base_and_keeps_it():
    here = shift_selectors._mine_base()
    assert shift_selectors._mine_base() is here
    elsewhere = _in_thread(shift_selectors._mine_base)
    assert elsewhere is not here
    assert str(elsewhere.query) == str(here.query)


def test_threads_compiling_a_volunteers_places_at_once_each_get_their_own_sql():
    volunteers = [VolunteerFactory() for _ in range(6)]

    def compiled(volunteer):
        queryset = shift_selectors.volunteer_upcoming_assignments(volunteer=volunteer)
        return queryset.query.get_compiler("default").as_sql()[0]  # the text; the parameters hold "now"

    expected = {volunteer.pk: compiled(volunteer) for volunteer in volunteers}
    wrong, errors = [], []
    start = threading.Barrier(len(volunteers))

    def work(volunteer):
        start.wait()
        for _ in range(400):
            try:
                if compiled(volunteer) != expected[volunteer.pk]:
                    wrong.append(volunteer.pk)
            except Exception as error:
                errors.append(repr(error))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race needs a switch mid-compile
    try:
        threads = [threading.Thread(target=work, args=(volunteer,)) for volunteer in volunteers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert wrong == []
