"""Coordinator and committee writes: rotas, shift changes, assignment by hand, dispatch.

These build on the sign-up services (``signup.shift_sign_up`` and the same locks), so a
coordinator's assignment obeys the same capacity, overlap and eligibility rules as a volunteer's
own sign-up; only an eligibility rule may be overridden, and only with a recorded reason.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import MAX_SHIFT_LENGTH, Assignment, AuditEntry, Community, Dispatch, Post, Shift
from communities.rules.eligibility import ineligibility, requirements_of
from communities.services import locks, signup
from communities.services.audit import audit_record
from config.db import retry_on_conflict
from config.errors import ServiceError
from volunteers.models import Team, Volunteer

Status = Assignment.Status
Action = AuditEntry.Action


# --- Shift times: the one rule every path that creates or moves a shift uses --------------


def shift_times_check(
    *,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    current: tuple[datetime, datetime] | None = None,
) -> None:
    """Refuse times a shift may not take: ending before it starts, longer than a day, or starting
    (or, when an end is moved, ending) in the past.

    ``current`` is the shift's present (start, end) when it is being edited: an unchanged start
    may lie in the past (a shift under way keeps its start), a changed one may not, and a changed
    end must lie ahead, so no edit moves any part of a shift into the past.
    """
    if ends_at <= starts_at:
        raise ServiceError("invalid", {"ends_at": [_("A shift must end after it starts.")]})
    if ends_at - starts_at > MAX_SHIFT_LENGTH:
        raise ServiceError("invalid", {"ends_at": [_("A shift lasts at most 24 hours.")]})
    if (current is None or starts_at != current[0]) and starts_at <= now:
        raise ServiceError("shift_in_past", {"starts_at": starts_at.isoformat(), "now": now.isoformat()})
    if current is not None and ends_at != current[1] and ends_at <= now:
        raise ServiceError("shift_in_past", {"ends_at": ends_at.isoformat(), "now": now.isoformat()})


# --- Rota -----------------------------------------------------------------------------------


def _rota_days(date_from: date, date_to: date, weekdays: list[int] | None) -> list[date]:
    days = []
    day = date_from
    while day <= date_to:
        if weekdays is None or day.isoweekday() in weekdays:
            days.append(day)
        day += timedelta(days=1)
    return days


def _slot_words(start: time, end: time) -> str:
    return f"{start:%H:%M}-{end:%H:%M}"


@retry_on_conflict
@transaction.atomic
def rota_create(
    *,
    actor,
    community: Community,
    post_id: int,
    date_from: date,
    date_to: date,
    slots: list[tuple[time, time]],
    capacity: int,
    weekdays: list[int] | None = None,
    notes: str = "",
    now: datetime | None = None,
) -> dict:
    """Create shifts for every day in the range × every daily slot. A slot whose end is not after
    its start runs past midnight. Shifts that already exist (same post and start) are skipped.

    Refused whole: two slots starting at the same time (``duplicate_slot``), more shifts than
    ``RULES["ROTA_MAX_SHIFTS"]`` (``rota_too_large``), or any shift starting in the past
    (``shift_in_past``)."""
    now = now or timezone.now()
    post = Post.objects.filter(pk=post_id, community=community).select_related("post_type").first()
    if post is None:
        raise ServiceError("rota_invalid", {"post": [_("This post does not belong to the community.")]})
    if date_to < date_from:
        raise ServiceError("rota_invalid", {"date_to": [_("The range ends before it starts.")]})
    if (date_to - date_from).days + 1 > settings.RULES["ROTA_MAX_DAYS"]:
        raise ServiceError(
            "rota_invalid",
            {"date_to": [_("At most %(days)s days at once.") % {"days": settings.RULES["ROTA_MAX_DAYS"]}]},
        )
    if not slots:
        raise ServiceError("rota_invalid", {"slots": [_("Give at least one time slot.")]})
    if capacity < 1:
        raise ServiceError("rota_invalid", {"capacity": [_("Capacity must be at least 1.")]})

    seen: dict[time, tuple[time, time]] = {}
    repeated = []
    for start, end in slots:
        if start in seen:
            repeated.append(_slot_words(start, end))
        seen.setdefault(start, (start, end))
    if repeated:
        raise ServiceError("duplicate_slot", {"slots": repeated})
    if date_from < timezone.localdate(now):
        raise ServiceError("shift_in_past", {"date_from": date_from.isoformat(), "now": now.isoformat()})
    days = _rota_days(date_from, date_to, weekdays)
    limit = settings.RULES["ROTA_MAX_SHIFTS"]
    if len(days) * len(slots) > limit:
        raise ServiceError("rota_too_large", {"shifts": len(days) * len(slots), "max_shifts": limit})

    wanted = []
    for day in days:
        for start, end in slots:
            starts_at = timezone.make_aware(datetime.combine(day, start))
            end_day = day if end > start else day + timedelta(days=1)
            ends_at = timezone.make_aware(datetime.combine(end_day, end))
            shift_times_check(starts_at=starts_at, ends_at=ends_at, now=now)
            wanted.append((starts_at, ends_at))
    existing = set(
        Shift.objects.filter(post=post, starts_at__in=[s for s, _e in wanted]).values_list("starts_at", flat=True)
    )
    new = [
        Shift(post=post, community=community, starts_at=s, ends_at=e, capacity=capacity, notes=notes)
        for s, e in wanted
        if s not in existing
    ]
    Shift.objects.bulk_create(new, batch_size=500)
    created = list(
        Shift.objects.filter(post=post, starts_at__in=[s.starts_at for s in new]).values_list("pk", flat=True)
    )
    audit_record(
        action=Action.SHIFT_CHANGED,
        actor=actor,
        shift=None,
        after={
            "rota": {"post": post.pk, "from": date_from.isoformat(), "to": date_to.isoformat(), "created": len(new)}
        },
    )
    return {
        "created": len(new),
        "skipped": len(wanted) - len(new),
        "shift_ids": sorted(created),
        "first_day": days[0] if days else date_from,
    }


# --- Changing and cancelling a shift ----------------------------------------------------------


@retry_on_conflict
@transaction.atomic
def shift_update(
    *,
    actor,
    shift_id: int,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    capacity: int | None = None,
    notes: str | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Shift:
    """Change a shift's time, capacity or notes.

    New times are checked against every confirmed volunteer's other shifts (overlap, rest,
    daily limit) and eligibility on the new date; any conflict refuses the whole change and
    names each volunteer affected. Lower capacity than the confirmed count is refused; a raise
    promotes from the waitlist.
    """
    shift = locks.shift(shift_id)
    if shift.status == Shift.Status.CANCELLED:
        raise ServiceError("shift_cancelled")
    before = {
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "capacity": shift.capacity,
        "notes": shift.notes,
    }
    new_start = starts_at or shift.starts_at
    new_end = ends_at or shift.ends_at
    if (new_start, new_end) != (shift.starts_at, shift.ends_at):
        shift_times_check(
            starts_at=new_start, ends_at=new_end, now=now or timezone.now(), current=(shift.starts_at, shift.ends_at)
        )
    if capacity is not None and capacity < 1:
        raise ServiceError("invalid", {"capacity": [_("Ensure this value is greater than or equal to 1.")]})
    if capacity is not None and capacity < shift.confirmed_count:
        raise ServiceError("capacity_below_confirmed", {"capacity": capacity, "confirmed_count": shift.confirmed_count})

    times_changed = (new_start, new_end) != (shift.starts_at, shift.ends_at)
    if times_changed:
        # Attendance and credited hours were measured against the old times: moving the shift
        # would leave them outside it (hours credited for a shift that has not started).
        worked = (
            Assignment.objects.filter(shift=shift)
            .filter(Q(checked_in_at__isnull=False) | Q(status__in=(Status.COMPLETED, Status.NO_SHOW)))
            .count()
        )
        if worked:
            raise ServiceError("shift_has_attendance", {"assignments": worked})
        shift.starts_at, shift.ends_at = new_start, new_end
        holders = sorted(
            Assignment.objects.filter(shift=shift, status=Status.CONFIRMED).values_list("volunteer_id", flat=True)
        )
        conflicts = []
        requirements = requirements_of(shift.post.post_type) if holders else None
        # The holders and whoever waits (the promotion below locks them) in one statement, in
        # ascending id order: locking the holders first, then the waiting, would not be that order.
        volunteers = locks.volunteers([*holders, *signup.waiting_volunteer_ids(shift)], requirements)
        for volunteer_id in holders:
            volunteer = volunteers[volunteer_id]
            problem = ineligibility(volunteer, shift, requirements=requirements)
            conflict = signup.schedule_conflict(volunteer, shift)
            if problem or conflict:
                conflicts.append(
                    {
                        "volunteer": volunteer.volunteer_number,
                        "code": conflict.code if conflict else "not_eligible",
                        "details": conflict.details if conflict else problem,
                    }
                )
        if conflicts:
            raise ServiceError("shift_change_conflicts", {"conflicts": conflicts})
    if capacity is not None:
        shift.capacity = capacity
    if notes is not None:
        shift.notes = notes
    shift.save(update_fields=["starts_at", "ends_at", "capacity", "notes", "updated_at"])
    after = {
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "capacity": shift.capacity,
        "notes": shift.notes,
    }
    audit_record(action=Action.SHIFT_CHANGED, actor=actor, shift=shift, before=before, after=after, reason=reason)
    signup.waitlist_promote(shift=shift, now=now)
    if times_changed:
        for assignment in Assignment.objects.filter(shift=shift, status__in=(Status.CONFIRMED, Status.WAITLISTED)):
            signup._after_commit("shift_changed", assignment)
    return shift


@retry_on_conflict
@transaction.atomic
def shift_cancel(*, actor, shift_id: int, reason: str, now: datetime | None = None) -> Shift:
    """Cancel a shift: every confirmed and waitlisted volunteer is released and told."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required")
    now = now or timezone.now()
    shift = locks.shift(shift_id)
    if shift.status == Shift.Status.CANCELLED:
        raise ServiceError("shift_cancelled")
    if shift.ends_at <= now:
        raise ServiceError("shift_over")
    affected = list(Assignment.objects.filter(shift=shift, status__in=(Status.CONFIRMED, Status.WAITLISTED)))
    locks.assignments(a.pk for a in affected)
    Assignment.objects.filter(pk__in=[a.pk for a in affected]).update(
        status=Status.CANCELLED, cancelled_at=now, waitlist_order=None, updated_at=now
    )
    released = sum(1 for a in affected if a.status == Status.CONFIRMED)
    Shift.objects.filter(pk=shift.pk).update(
        status=Shift.Status.CANCELLED,
        confirmed_count=shift.confirmed_count - released,
        waitlist_count=0,
        updated_at=now,
    )
    shift.refresh_from_db()
    audit_record(
        action=Action.SHIFT_CANCELLED,
        actor=actor,
        shift=shift,
        before={"status": "open", "assignments": len(affected)},
        after={"status": "cancelled"},
        reason=reason,
    )
    for assignment in affected:
        signup._after_commit("shift_cancelled", assignment)
    return shift


# --- Assignment by a coordinator --------------------------------------------------------------


def shift_assign(*, actor, shift_id: int, volunteer_ids: list[int], override_reason: str = "") -> list[dict]:
    """Assign volunteers one by one; each gets its own result, as if they had signed up."""
    results = []
    volunteers = {v.pk: v for v in Volunteer.objects.filter(pk__in=volunteer_ids)}
    for volunteer_id in dict.fromkeys(volunteer_ids):
        volunteer = volunteers.get(volunteer_id)
        if volunteer is None:
            results.append({"volunteer_id": volunteer_id, "result": "refused", "code": "not_found", "details": {}})
            continue
        try:
            assignment = _assign_one(
                actor=actor, shift_id=shift_id, volunteer=volunteer, override_reason=override_reason
            )
        except ServiceError as error:
            results.append(
                {"volunteer_id": volunteer_id, "result": "refused", "code": error.code, "details": error.details}
            )
            continue
        results.append(
            {
                "volunteer_id": volunteer_id,
                "result": assignment.status,
                "assignment_id": assignment.pk,
                "waitlist_order": assignment.waitlist_order,
                "override_reason": assignment.override_reason,
            }
        )
    return results


@retry_on_conflict
@transaction.atomic
def _assign_one(*, actor, shift_id: int, volunteer: Volunteer, override_reason: str) -> Assignment:
    """One coordinator assignment and its audit entry, retried as a whole (the sign-up's own retry
    cannot act inside this transaction)."""
    assignment = signup.shift_sign_up(
        shift_id=shift_id,
        volunteer=volunteer,
        source=Assignment.Source.COORDINATOR,
        actor=actor,
        override_reason=override_reason,
    )
    audit_record(
        action=Action.OVERRIDE if assignment.override_reason else Action.ASSIGN,
        actor=actor,
        assignment=assignment,
        after={"status": assignment.status},
        reason=assignment.override_reason,
    )
    return assignment


# --- Dispatch by the league committee ---------------------------------------------------------


@retry_on_conflict
@transaction.atomic
def dispatch_create(
    *,
    actor,
    community: Community,
    organizations,
    team_id: int | None = None,
    count: int | None = None,
    categories: list[str] | None = None,
    skills: list[str] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Dispatch:
    """Deploy a team, or ``count`` reserve volunteers matching categories and skills, to a community.

    ``organizations`` is the caller's scope: only volunteers of those organizations are sent.
    A request that cannot be filled in full is refused and changes nothing.
    """
    now = now or timezone.now()
    if (team_id is None) == (count is None):
        raise ServiceError("invalid", {"non_field_errors": [_("Give either a team or a number of volunteers.")]})
    if team_id is not None:
        team = Team.objects.filter(pk=team_id, organization__in=organizations).first()
        if team is None:
            raise ServiceError("not_found", {"team": team_id})
        members = Volunteer.objects.filter(team=team, anonymised_at__isnull=True).exclude(
            status=Volunteer.Status.SUSPENDED
        )
        locks.volunteer_ids(members.values_list("pk", flat=True))
        chosen = list(members.order_by("pk"))  # read again under the locks
        if not chosen:
            raise ServiceError("not_enough_volunteers", {"requested": 0, "available": 0})
    else:
        if count < 1:
            raise ServiceError("invalid", {"count": [_("Ensure this value is greater than or equal to 1.")]})
        pool = Volunteer.objects.filter(
            organization__in=organizations, status=Volunteer.Status.RESERVE, anonymised_at__isnull=True
        )
        # EXISTS rather than joins: no duplicate rows, so no DISTINCT, which FOR UPDATE forbids.
        for code in categories or []:
            pool = pool.filter(
                Exists(
                    Volunteer.categories.through.objects.filter(
                        volunteer_id=OuterRef("pk"), volunteercategory__code=code
                    )
                )
            )
        for code in skills or []:
            pool = pool.filter(
                Exists(Volunteer.skills.through.objects.filter(volunteer_id=OuterRef("pk"), skill__code=code))
            )
        pool = pool.order_by("volunteer_number")
        pool = locks.volunteers_unclaimed(pool)
        chosen = list(pool[:count])
        if len(chosen) < count:
            raise ServiceError("not_enough_volunteers", {"requested": count, "available": len(chosen)})
    Volunteer.objects.filter(pk__in=[v.pk for v in chosen]).update(
        status=Volunteer.Status.ACTIVE, deployed_community=community, deployed_at=now
    )
    dispatch = Dispatch.objects.create(
        community=community,
        team_id=team_id,
        requested=len(chosen) if team_id else count,
        criteria={"categories": categories or [], "skills": skills or []},
        created_by=actor,
        note=note,
    )
    dispatch.volunteers.set(chosen)
    return dispatch
