"""Writes about shifts and assignments: sign-up, cancellation, waitlist promotion, capacity.

Concurrency (docs/concurrency.md): every lock is taken through ``communities.services.locks``, in its one
order: the shift row first, then assignments, then volunteer rows, each kind in ascending id order
(never a shift while holding a volunteer). The shift lock serialises its counters and waitlist tickets; the volunteer lock
serialises the overlap, rest and daily-limit checks across that volunteer's shifts. The counters
themselves are changed by conditional UPDATEs, and the database's check constraint
(``confirmed_count <= capacity``) and partial unique index back both locks.

The rules (window, one live place, eligibility, overlap, rest, daily limit) are not here: every
path asks the database functions built from communities/sql/ (``communities.rules.eligibility``,
docs/rules.md).
"""

from __future__ import annotations

import functools
from datetime import datetime
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Assignment, Community, Post, PostType, Shift
from communities.notifications import outbox
from communities.rules.eligibility import (
    NOTHING_TO_PREFETCH,
    PROMOTION,
    overridable,
    refusal,
    refusal_error,
    rule_parameters,
)
from communities.services import live, locks
from config.db import retry_on_conflict
from config.errors import ServiceError
from volunteers.models import Volunteer

Status = Assignment.Status


# --- Rules about time -----------------------------------------------------------------------


def _cancel_cutoff(shift: Shift) -> datetime:
    return shift.cancel_cutoff_at or (shift.starts_at - settings.RULES["DEFAULT_CANCEL_CUTOFF_BEFORE"])


# --- Counters (conditional updates: the database refuses what the locks should prevent) -----


def _take_place(shift: Shift) -> bool:
    taken = Shift.objects.filter(pk=shift.pk, confirmed_count__lt=F("capacity")).update(
        confirmed_count=F("confirmed_count") + 1
    )
    if taken:
        shift.confirmed_count += 1
    return bool(taken)


def _free_place(shift: Shift) -> None:
    Shift.objects.filter(pk=shift.pk, confirmed_count__gt=0).update(confirmed_count=F("confirmed_count") - 1)
    shift.confirmed_count -= 1


def _take_ticket(shift: Shift) -> int:
    Shift.objects.filter(pk=shift.pk).update(waitlist_count=F("waitlist_count") + 1, waitlist_seq=F("waitlist_seq") + 1)
    shift.waitlist_count += 1
    shift.waitlist_seq += 1
    return shift.waitlist_seq


def _leave_waitlist(shift: Shift) -> None:
    Shift.objects.filter(pk=shift.pk, waitlist_count__gt=0).update(waitlist_count=F("waitlist_count") - 1)
    shift.waitlist_count -= 1


# --- Operations -----------------------------------------------------------------------------


def _after_commit(event: str, assignment: Assignment, *, loaded: bool = False, now: datetime | None = None) -> None:
    """Create the notifications for ``event`` in this transaction; they are sent after it commits.

    ``loaded``: the assignment holds its shift (post, community) and volunteer, so the rows are
    built from them instead of reading the assignment again.
    """
    if loaded:
        outbox.assignment_event(event, assignment=assignment, now=now)
    else:
        outbox.assignment_event(event, assignment_id=assignment.pk, now=now)


def shift_sign_up(
    *,
    shift_id: int,
    volunteer: Volunteer | None = None,
    user=None,
    source: str = Assignment.Source.SELF,
    actor=None,
    override_reason: str = "",
    now: datetime | None = None,
) -> Assignment:
    """Give ``volunteer`` (or ``user``'s own volunteer profile) a confirmed place on the shift, or
    a waitlist ticket when it is full.

    A coordinator (``source=coordinator``) may override an eligibility rule by giving a reason;
    time windows, capacity and schedule conflicts are never overridden.

    A volunteer's own sign-up is one call of the database function ``communities_self_sign_up``
    (``_sign_up_in_database``); a coordinator's assignment, and a sign-up that finds people
    waiting for a free place, run as a transaction here (``_sign_up_locked``). Both ask the same
    rule function (``communities_sign_up_refusal``).
    """
    if source == Assignment.Source.SELF and signs_up_in_database():
        return _sign_up_in_database(shift_id=shift_id, volunteer=volunteer, user=user, now=now)
    return _sign_up_locked(
        shift_id=shift_id,
        volunteer=volunteer,
        user=user,
        source=source,
        actor=actor,
        override_reason=override_reason,
        now=now,
    )


def signs_up_in_database() -> bool:
    return settings.SIGN_UP_IN_DATABASE


@retry_on_conflict
@transaction.atomic
def _sign_up_locked(
    *,
    shift_id: int,
    volunteer: Volunteer | None,
    user,
    source: str,
    actor,
    override_reason: str,
    now: datetime | None,
) -> Assignment:
    now = now or timezone.now()
    shift = locks.shift(shift_id)
    if shift.waitlist_count and shift.confirmed_count < shift.capacity:
        # A place is free while people wait (someone was passed over for a clash that has gone
        # since): the line is offered it first, and only what is left goes to the newcomer.
        waitlist_promote(shift=shift, now=now, newcomer=_volunteer_id(volunteer, user))
    volunteer = locks.volunteer(volunteer.pk if volunteer is not None else None, NOTHING_TO_PREFETCH, user=user)

    problem = refusal(shift_id=shift.pk, volunteer_id=volunteer.pk, now=now)
    waived = bool(
        problem and source == Assignment.Source.COORDINATOR and override_reason.strip() and overridable(problem)
    )
    if waived:
        problem = refusal(shift_id=shift.pk, volunteer_id=volunteer.pk, now=now, waive=True)
    if problem:
        raise problem

    assignment = Assignment(
        shift=shift,
        volunteer=volunteer,
        source=source,
        assigned_by=actor if source != Assignment.Source.SELF else None,
        override_reason=override_reason.strip() if waived else "",
    )
    # The counter was read under the shift lock, so a full shift goes straight to the waitlist;
    # the conditional update (and the check constraint) still guard the place taken.
    if shift.confirmed_count < shift.capacity and _take_place(shift):
        assignment.status, assignment.confirmed_at = Status.CONFIRMED, now
    else:
        assignment.status, assignment.waitlist_order = Status.WAITLISTED, _take_ticket(shift)
        # Under the shift lock every other ticket holder came earlier, so this one is last in line.
        assignment.waitlist_position = shift.waitlist_count
    # No savepoint: a duplicate refuses the whole sign-up, so the error rolls back the enclosing
    # transaction (or, when nested, its savepoint) anyway, and a savepoint would cost two round trips.
    try:
        with transaction.atomic(savepoint=False):
            assignment.save()
    except IntegrityError:
        raise ServiceError("already_signed_up") from None
    event = "confirmed" if assignment.status == Status.CONFIRMED else "waitlisted"
    _after_commit(event, assignment, loaded=True, now=now)
    return assignment


def _volunteer_id(volunteer: Volunteer | None, user) -> int:
    """The id of the volunteer signing up (the user's own profile first, as ``locks.volunteer``)."""
    if user is not None:
        volunteer_id = Volunteer.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
        if volunteer_id is None:
            raise ServiceError("not_a_volunteer")
        return volunteer_id
    if volunteer is None:
        raise ServiceError("not_found")
    return volunteer.pk


_BIGINT_MAX = 2**63 - 1
_ONE_LIVE_PLACE = "one_live_assignment_per_volunteer_and_shift"
_SIGN_UP_SQL = (
    "SELECT * FROM communities_self_sign_up(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_NO_TEXTS = [None] * 9


def _sign_up_in_database(*, shift_id: int, volunteer: Volunteer | None, user, now: datetime | None) -> Assignment:
    """A volunteer's own sign-up through ``communities_self_sign_up`` (communities/sql/): the
    same locks, rule function and writes as ``_sign_up_locked``.

    The function is given the shift's notification texts (``outbox.SignUpTexts``, kept
    per process) and writes the rows too, so the sign-up is that one statement. Where there are
    no texts (no such shift, a name holding the position mark) or they no longer match the shift,
    it runs in a transaction with the rows inserted here.
    """
    if not 0 < shift_id <= _BIGINT_MAX:  # no such row; out of bigint's range, no such function either
        raise ServiceError("not_found")
    if volunteer is None and user is None:
        raise ServiceError("not_found")
    now = now or timezone.now()
    try:
        texts = outbox.sign_up_texts_for(shift_id)
        if texts is not None:
            assignment = _sign_up_in_one_statement(shift_id, volunteer, user, now, texts)
            if assignment is not None:
                outbox.signed_up_in_database(assignment, now)
                return assignment
            outbox.sign_up_texts_forget(shift_id)
        return _sign_up_in_transaction(shift_id, volunteer, user, now)
    except _WaitlistFirst:
        # A free place with people waiting: the line is promoted first, in a transaction here.
        return _sign_up_locked(
            shift_id=shift_id,
            volunteer=volunteer,
            user=user,
            source=Assignment.Source.SELF,
            actor=None,
            override_reason="",
            now=now,
        )


class _WaitlistFirst(Exception):
    """The function found a free place while people wait; it wrote nothing."""


def _sign_up_parameters(shift_id: int, volunteer: Volunteer | None, user, now: datetime) -> list:
    return [
        shift_id,
        volunteer.pk if user is None else None,  # as locks.volunteer: the user's own profile first
        user.pk if user is not None else None,
        now,
        *rule_parameters(),
    ]


@retry_on_conflict
def _sign_up_in_one_statement(shift_id, volunteer, user, now, texts) -> Assignment | None:
    """The sign-up and its notification rows in one statement: in autocommit its own transaction,
    inside a caller's transaction a savepoint. None when the texts are stale (nothing written)."""
    params = _sign_up_parameters(shift_id, volunteer, user, now) + texts.parameters(now)
    if connection.in_atomic_block:
        with transaction.atomic():
            row = _sign_up_call(params)
    else:
        row = _sign_up_call(params)
    if row.code == "stale_texts":
        return None
    return _signed_up(row, shift_id, user, now)


@retry_on_conflict
@transaction.atomic
def _sign_up_in_transaction(shift_id, volunteer, user, now) -> Assignment:
    """The function without texts, then the notification rows from Python, in one transaction."""
    assignment = _signed_up(
        _sign_up_call(_sign_up_parameters(shift_id, volunteer, user, now) + _NO_TEXTS), shift_id, user, now
    )
    _after_commit(
        "confirmed" if assignment.status == Status.CONFIRMED else "waitlisted", assignment, loaded=True, now=now
    )
    return assignment


def _sign_up_call(params: list) -> SimpleNamespace:
    try:
        with connection.cursor() as cursor:
            cursor.execute(_SIGN_UP_SQL, params)
            names, row = _sign_up_columns(cursor), cursor.fetchone()
    except IntegrityError as error:  # a live place the locks did not see: refused like _sign_up_locked
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) != _ONE_LIVE_PLACE:
            raise
        raise ServiceError("already_signed_up") from None
    return SimpleNamespace(**dict(zip(names, row, strict=True)))


_sign_up_column_names: list[str] = []


def _sign_up_columns(cursor) -> list[str]:
    """The function's OUT columns, read from the first answer's description (fixed by the migration)."""
    if not _sign_up_column_names:
        _sign_up_column_names[:] = [column.name for column in cursor.description]
    return _sign_up_column_names


def _signed_up(row: SimpleNamespace, shift_id: int, user, now: datetime) -> Assignment:
    """The assignment the function made, with its shift (post, duty, community) and volunteer; or
    its refusal raised."""
    if row.code == "waitlist_first":
        raise _WaitlistFirst
    if row.code:
        raise refusal_error(vars(row))

    # Built with from_db (no field defaults computed), holding what the answer, the notification
    # texts and the pages read; any other field would be read from the database on access.
    shift = _loaded(
        Shift,
        id=shift_id,
        post_id=row.s_post_id,
        community_id=row.s_community_id,
        starts_at=row.s_starts_at,
        ends_at=row.s_ends_at,
        capacity=row.s_capacity,
        confirmed_count=row.s_confirmed_count,
        waitlist_count=row.s_waitlist_count,
        status=row.s_status,
    )
    shift.post = _loaded(
        Post, id=row.s_post_id, community_id=row.s_community_id, post_type_id=row.s_post_type_id, name=row.s_post_name
    )
    shift.post.post_type = _loaded(
        PostType, id=row.s_post_type_id, name=row.s_post_type_name, name_en=row.s_post_type_name_en
    )
    shift.community = _loaded(
        Community, id=row.s_community_id, name=row.s_community_name, name_en=row.s_community_name_en
    )
    if user is None or user.pk != row.v_user_id:
        user = _loaded(get_user_model(), id=row.v_user_id, email=row.v_email)
    volunteer = _loaded(
        Volunteer,
        id=row.v_id,
        user_id=row.v_user_id,
        volunteer_number=row.v_volunteer_number,
        mobile=row.v_mobile,
        anonymised_at=row.v_anonymised_at,
        notify_by_email=row.v_notify_by_email,
        notify_by_sms=row.v_notify_by_sms,
        message_language=row.v_message_language,
    )
    volunteer.user = user
    confirmed = row.a_status == Status.CONFIRMED
    assignment = _loaded(
        Assignment,
        id=row.a_id,
        shift_id=shift_id,
        volunteer_id=row.v_id,
        status=row.a_status,
        source=Assignment.Source.SELF,
        waitlist_order=row.a_waitlist_order,
        assigned_by_id=None,
        override_reason="",
        created_at=row.a_created_at,
        updated_at=row.a_created_at,
        confirmed_at=now if confirmed else None,
        cancelled_at=None,
        checked_in_at=None,
        checked_out_at=None,
        credited_minutes=None,
        hours_status=Assignment.HoursStatus.NONE,
    )
    assignment.shift, assignment.volunteer = shift, volunteer
    if row.a_status == Status.WAITLISTED:
        assignment.waitlist_position = row.a_position
    return assignment


@functools.cache
def _column_order(model, names: frozenset[str]) -> list[str]:
    ordered = [field.attname for field in model._meta.concrete_fields if field.attname in names]
    if len(ordered) != len(names):
        raise ValueError(f"not columns of {model.__name__}: {sorted(names - set(ordered))}")
    return ordered


def _loaded(model, **values):
    """An instance as if read from the database with just these columns (``Model.from_db``)."""
    names = _column_order(model, frozenset(values))
    return model.from_db(connection.alias, names, [values[name] for name in names])


@retry_on_conflict
@transaction.atomic
def assignment_cancel(*, assignment_id: int, enforce_cutoff: bool = True, now: datetime | None = None) -> Assignment:
    """Cancel a confirmed or waitlisted place; a freed place goes to the waitlist at once."""
    now = now or timezone.now()
    shift_id = Assignment.objects.filter(pk=assignment_id).values_list("shift_id", flat=True).first()
    if shift_id is None:
        raise ServiceError("not_found")
    shift = locks.shift(shift_id)
    assignment = locks.assignment(assignment_id)
    if assignment.status not in (Status.CONFIRMED, Status.WAITLISTED):
        raise ServiceError("not_cancellable", {"status": assignment.status})
    if enforce_cutoff and assignment.status == Status.CONFIRMED and now >= _cancel_cutoff(shift):
        raise ServiceError("cancel_cutoff_passed", {"cutoff": _cancel_cutoff(shift).isoformat()})

    was_confirmed = assignment.status == Status.CONFIRMED
    if assignment.checked_in_at is not None:  # the live board counts only places not cancelled
        live.shift_attendance_add(shift, checked_in=-1)
    assignment.status, assignment.cancelled_at = Status.CANCELLED, now
    assignment.waitlist_order = None
    assignment.save(update_fields=["status", "cancelled_at", "waitlist_order", "updated_at"])
    if was_confirmed:
        _free_place(shift)
        waitlist_promote(shift=shift, now=now)
    else:
        _leave_waitlist(shift)
    _after_commit("cancelled", assignment)
    return assignment


def _waiting(shift: Shift) -> list[Assignment]:
    return list(
        Assignment.objects.filter(shift=shift, status=Status.WAITLISTED)
        .order_by("waitlist_order")
        .only("id", "volunteer_id", "waitlist_order", "source", "override_reason")
    )


def waitlist_promote(*, shift: Shift, now: datetime | None = None, newcomer: int | None = None) -> list[Assignment]:
    """Fill free places from the waitlist, first come first served.

    Call with the shift locked. Every time, the whole line is offered the free places in ticket
    order, each volunteer asked the rules as a promotion (``communities_sign_up_refusal``; a
    coordinator's reason on the ticket waives eligibility as it did when the ticket was given):
    a volunteer passed over earlier (no longer eligible, or a conflicting confirmed shift) keeps
    their ticket and is offered the next free place again, once the obstacle is gone.

    The waiting volunteers are locked together, in ascending id order (``locks.volunteers``), not
    one by one in ticket order: two promotions on shifts sharing waiting volunteers in opposite
    orders would otherwise each hold one the other needs. ``newcomer``, the volunteer a sign-up is
    about to lock, is locked in the same statement for the same reason.
    """
    now = now or timezone.now()
    promoted: list[Assignment] = []
    if shift.status == Shift.Status.CANCELLED or shift.confirmed_count >= shift.capacity:
        return promoted
    waiting = _waiting(shift)
    if not waiting:
        return promoted
    locks.volunteers(
        [a.volunteer_id for a in waiting] + ([newcomer] if newcomer is not None else []), NOTHING_TO_PREFETCH
    )
    for assignment in waiting:
        if shift.confirmed_count >= shift.capacity:
            break
        problem = refusal(
            shift_id=shift.pk,
            volunteer_id=assignment.volunteer_id,
            now=now,
            check=PROMOTION,
            waive=bool(assignment.override_reason),
        )
        if problem and problem.code in _NOBODY:
            break
        if problem:
            continue
        if not _take_place(shift):
            break
        _leave_waitlist(shift)
        assignment.status, assignment.waitlist_order, assignment.confirmed_at = Status.CONFIRMED, None, now
        assignment.save(update_fields=["status", "waitlist_order", "confirmed_at", "updated_at"])
        _after_commit("promoted", assignment)
        promoted.append(assignment)
    return promoted


# Refusals about the shift itself, the same for everyone waiting.
_NOBODY = frozenset({"shift_cancelled", "shift_over", "signup_closed"})


def waiting_volunteer_ids(shift: Shift) -> list[int]:
    """Who waits on the shift: the volunteers a promotion there would lock."""
    return list(Assignment.objects.filter(shift=shift, status=Status.WAITLISTED).values_list("volunteer_id", flat=True))


@retry_on_conflict
@transaction.atomic
def shift_capacity_set(*, shift_id: int, capacity: int, now: datetime | None = None) -> Shift:
    """Change a shift's capacity. Lowering it below the confirmed count is refused; raising it promotes."""
    shift = locks.shift(shift_id)
    if capacity < 1:
        raise ServiceError("invalid", {"capacity": [_("Ensure this value is greater than or equal to 1.")]})
    if capacity < shift.confirmed_count:
        raise ServiceError("capacity_below_confirmed", {"capacity": capacity, "confirmed_count": shift.confirmed_count})
    Shift.objects.filter(pk=shift.pk).update(capacity=capacity)
    shift.capacity = capacity
    waitlist_promote(shift=shift, now=now)
    return shift


@retry_on_conflict
@transaction.atomic
def volunteer_places_release(
    *, volunteer_id: int, now: datetime | None = None, assignment_ids: list[int] | None = None
) -> int:
    """Cancel every upcoming place (confirmed or waitlisted) the volunteer holds, or only those of
    ``assignment_ids``; return how many.

    For an account being deleted, called after ``communities.services.privacy`` has suspended the
    volunteer under their lock and committed, so no new place can appear meanwhile; for a record
    edit (``communities.services.records``) after the edit committed.
    """
    now = now or timezone.now()
    places = Assignment.objects.filter(
        volunteer_id=volunteer_id, status__in=(Status.CONFIRMED, Status.WAITLISTED), shift__starts_at__gt=now
    )
    if assignment_ids is not None:
        places = places.filter(pk__in=assignment_ids)
    return sum(places_release(places=places, volunteer_ids=[volunteer_id], now=now).values())


def places_release(*, places: QuerySet[Assignment], volunteer_ids: list[int], now: datetime) -> dict[int, int]:
    """Cancel the confirmed and waitlisted places ``places`` selects, each as ``assignment_cancel``
    does (the waitlist promoted, everyone told); return how many per volunteer.

    Call inside the caller's transaction. The rows are locked in the one order before any is
    changed: the shifts, the places, then ``volunteer_ids`` with every volunteer a promotion on
    those shifts may lock, in one statement; each cancellation then re-takes locks it already
    holds. ``places`` is read again under the locks: a place may have gone meanwhile.
    """
    listed = list(places.order_by("pk").values_list("pk", "shift_id"))
    shift_ids = locks.shifts(shift_id for _pk, shift_id in listed)
    locks.assignments(pk for pk, _shift_id in listed)
    waiting = Assignment.objects.filter(shift_id__in=shift_ids, status=Status.WAITLISTED).values_list(
        "volunteer_id", flat=True
    )
    locks.volunteer_ids([*waiting, *volunteer_ids])
    live = places.filter(pk__in=[pk for pk, _shift_id in listed], status__in=(Status.CONFIRMED, Status.WAITLISTED))
    released: dict[int, int] = dict.fromkeys(volunteer_ids, 0)
    for assignment_id, volunteer_id in live.order_by("pk").values_list("pk", "volunteer_id"):
        assignment_cancel(assignment_id=assignment_id, enforce_cutoff=False, now=now)
        released[volunteer_id] = released.get(volunteer_id, 0) + 1
    return released
