"""Every row lock a writer takes, in one fixed order (docs/concurrency.md).

0. a community request (one at a time: its fulfilment then dispatches, which locks volunteers),
   or a reported error in a service record (one at a time: its answer then the place's attendance);
1. shifts, in ascending id order;
2. then assignments, in ascending id order;
3. then volunteers, in ascending id order;

A shift's check-in rollup row (``ShiftAttendance``) is updated, and so locked, last, after the
assignment it counts. Never a lock of an earlier kind while holding one of a later kind (re-locking a row already
held waits for nothing, so it is allowed). Each function takes its rows in one statement ordered
by primary key, so two writers wanting overlapping sets queue instead of deadlocking.

The locks are ``FOR NO KEY UPDATE`` (``no_key=True``): they serialise writers of the same row but
let other transactions insert rows that refer to it (an assignment, a notification, an audit
entry), which ``FOR UPDATE`` would block. Only a writer that deletes a row or changes a column a
foreign key could point at (a unique column) takes the full lock: ``volunteer_for_rekey``.

Every writer that takes these locks is wrapped in ``config.db.retry_on_conflict``.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet

from communities.models import Assignment, CommunityRequest, RecordCorrection, Shift
from communities.rules.eligibility import Requirements
from config.errors import ServiceError
from volunteers.models import Volunteer

# What the rules and the notification texts read of a volunteer; the sign-up path loads only these.
VOLUNTEER_RULE_FIELDS = (
    "id",
    "user_id",
    "volunteer_number",  # named in a shift change's list of conflicts
    "status",
    "birth_date",
    "insurance_valid_until",
    "guardian_consent",
    "mobile",
    "anonymised_at",
    "notify_by_sms",
    "notify_by_email",
    "message_language",
)


def community_request(request_id: int) -> CommunityRequest:
    """Lock one community request, with its community."""
    try:
        return (
            CommunityRequest.objects.select_for_update(no_key=True, of=("self",))
            .select_related("community")
            .get(pk=request_id)
        )
    except CommunityRequest.DoesNotExist:
        raise ServiceError("not_found") from None


def record_correction(correction_id: int, *, communities: QuerySet) -> RecordCorrection:
    """Lock one reported record error at ``communities``, with its place, shift and volunteer."""
    found = (
        RecordCorrection.objects.select_for_update(no_key=True, of=("self",))
        .select_related("assignment__shift__community", "assignment__shift__post", "assignment__volunteer__user")
        .filter(pk=correction_id, assignment__shift__community__in=communities)
        .first()
    )
    if found is None:
        raise ServiceError("not_found")
    return found


def shift(shift_id: int) -> Shift:
    """Lock one shift, with its post, duty and community."""
    try:
        return (
            Shift.objects.select_for_update(no_key=True, of=("self",))
            .select_related("post__post_type", "community")
            .get(pk=shift_id)
        )
    except Shift.DoesNotExist:
        raise ServiceError("not_found") from None


def shifts(shift_ids: Iterable[int]) -> list[int]:
    """Lock several shifts in ascending id order; return the ids locked."""
    ids = sorted(set(shift_ids))
    if not ids:
        return []
    return list(
        Shift.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )


def assignment(assignment_id: int, *, related: tuple[str, ...] = ()) -> Assignment:
    """Lock one assignment (after its shift, if the writer needs that too)."""
    try:
        return (
            Assignment.objects.select_for_update(no_key=True, of=("self",))
            .select_related(*related)
            .get(pk=assignment_id)
        )
    except Assignment.DoesNotExist:
        raise ServiceError("not_found") from None


def _volunteer_query(requirements: Requirements | None):
    """Volunteers with what ``ineligibility`` reads: given a duty's requirements, only the skills
    or qualifications it asks for are prefetched (a duty without requirements reads neither)."""
    related = ["skills", "qualifications"]
    if requirements is not None:
        related = [
            name
            for name, required in (("skills", requirements.skills), ("qualifications", requirements.qualifications))
            if required
        ]
    return (
        Volunteer.objects.select_for_update(no_key=True, of=("self",))
        .only(*VOLUNTEER_RULE_FIELDS)
        .prefetch_related(*related)
    )


def volunteers(volunteer_ids: Iterable[int], requirements: Requirements | None = None) -> dict[int, Volunteer]:
    """Lock several volunteers in one statement, in ascending id order; by id."""
    ids = sorted(set(volunteer_ids))
    if not ids:
        return {}
    return {v.pk: v for v in _volunteer_query(requirements).filter(pk__in=ids).order_by("pk")}


def volunteer(volunteer_id: int | None = None, requirements: Requirements | None = None, *, user=None) -> Volunteer:
    """Lock one volunteer (by id, or the user's own profile), with what ``ineligibility`` reads."""
    query = _volunteer_query(requirements)
    try:
        if user is not None:
            found = query.get(user_id=user.pk)
            found.user = user  # already loaded: the notification reads its e-mail address
            return found
        return query.get(pk=volunteer_id)
    except Volunteer.DoesNotExist:
        raise ServiceError("not_a_volunteer" if user is not None else "not_found") from None


def volunteer_ids(volunteer_ids: Iterable[int]) -> list[int]:
    """Lock volunteers in ascending id order when the writer needs only their ids (a dispatch)."""
    ids = sorted(set(volunteer_ids))
    if not ids:
        return []
    return list(
        Volunteer.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )


def assignments(assignment_ids: Iterable[int]) -> list[int]:
    """Lock several assignments in ascending id order; return the ids locked."""
    ids = sorted(set(assignment_ids))
    if not ids:
        return []
    return list(
        Assignment.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
    )


def volunteers_unclaimed(queryset: QuerySet[Volunteer]) -> QuerySet[Volunteer]:
    """``queryset`` locking its rows and skipping those another writer holds (a dispatch picking
    reserve volunteers): it never waits, so its order does not matter."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(no_key=True, skip_locked=True, of=("self",))
    return queryset


def rows(queryset: QuerySet) -> QuerySet:
    """Lock the rows of a kind no other writer locks with these (the kept counts a repair
    rewrites), in ascending id order."""
    return queryset.select_for_update(no_key=True).order_by("pk")


def volunteer_for_rekey(volunteer_id: int) -> Volunteer:
    """Lock a volunteer whose unique columns (mobile, ID-number hash) are about to be rewritten:
    the full ``FOR UPDATE``, which an update of such columns would take anyway."""
    try:
        return Volunteer.objects.select_for_update(of=("self",)).select_related("user").get(pk=volunteer_id)
    except Volunteer.DoesNotExist:
        raise ServiceError("not_found") from None
