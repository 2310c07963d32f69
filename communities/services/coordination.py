"""Coordinator and committee writes: rotas, shift changes, assignment by hand, dispatch and recall.

These build on the sign-up services (``signup.shift_sign_up`` and the same locks), so a
coordinator's assignment obeys the same capacity, overlap and eligibility rules as a volunteer's
own sign-up; only an eligibility rule may be overridden, and only with a recorded reason.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import MAX_SHIFT_LENGTH, Assignment, AuditEntry, Community, Dispatch, Post, Recall, Shift
from communities.notifications import outbox
from communities.rules.eligibility import HOLDER, NOTHING_TO_PREFETCH, refusal
from communities.selectors import dispatch as selectors_dispatch
from communities.selectors.shifts import cancel_checks_out, shift_attendance_count
from communities.services import attendance, live, locks, signup
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
        worked = shift_attendance_count(shift)
        if worked:
            raise ServiceError("shift_has_attendance", {"assignments": worked})
        shift.starts_at, shift.ends_at = new_start, new_end
        # The new times are written first, so the rules read them; a conflict rolls them back.
        Shift.objects.filter(pk=shift.pk).update(starts_at=new_start, ends_at=new_end)
        holders = sorted(
            Assignment.objects.filter(shift=shift, status=Status.CONFIRMED).values_list("volunteer_id", flat=True)
        )
        conflicts = []
        # The holders and whoever waits (the promotion below locks them) in one statement, in
        # ascending id order: locking the holders first, then the waiting, would not be that order.
        volunteers = locks.volunteers([*holders, *signup.waiting_volunteer_ids(shift)], NOTHING_TO_PREFETCH)
        for volunteer_id in holders:
            problem = refusal(shift_id=shift.pk, volunteer_id=volunteer_id, now=now or timezone.now(), check=HOLDER)
            if problem:
                conflicts.append(
                    {
                        "volunteer": volunteers[volunteer_id].volunteer_number,
                        "code": problem.code,
                        "details": problem.details,
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
    """Cancel a shift: every confirmed and waitlisted volunteer is released and told. Under way,
    those checked in are checked out instead (``attendance.shift_checked_in_close``): the time
    they served is credited, and they are not told to stay away from the post they are at."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required")
    now = now or timezone.now()
    shift = locks.shift(shift_id)
    if shift.status == Shift.Status.CANCELLED:
        raise ServiceError("shift_cancelled")
    if shift.ends_at <= now:
        raise ServiceError("shift_over")
    ids = locks.assignments(
        Assignment.objects.filter(shift=shift, status__in=(Status.CONFIRMED, Status.WAITLISTED)).values_list(
            "pk", flat=True
        )
    )
    served = 0
    if cancel_checks_out(shift, now=now):
        served = attendance.shift_checked_in_close(shift, assignment_ids=ids, actor=actor, reason=reason, now=now)
    affected = list(Assignment.objects.filter(pk__in=ids, status__in=(Status.CONFIRMED, Status.WAITLISTED)))
    Assignment.objects.filter(pk__in=[a.pk for a in affected]).update(
        status=Status.CANCELLED, cancelled_at=now, waitlist_order=None, updated_at=now
    )
    released = sum(1 for a in affected if a.status == Status.CONFIRMED)
    # Those checked in early for a shift not yet started leave the live board's count with their places.
    live.shift_attendance_add(shift, checked_in=-sum(1 for a in affected if a.checked_in_at is not None))
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
        before={"status": "open", "assignments": len(affected) + served},
        after={"status": "cancelled", "checked_out": served} if served else {"status": "cancelled"},
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
    report_at: datetime | None = None,
    now: datetime | None = None,
) -> Dispatch:
    """Deploy a team, or ``count`` reserve volunteers matching categories and skills, to a community.

    ``organizations`` is the caller's scope: only volunteers of those organizations are sent.
    Reserve volunteers are picked in ``reserve_ranked`` order (near the community, holding the
    skills its posts need, fewest recent hours), and why each was picked is kept with the
    dispatch. Each volunteer is told where to report, from when and whom to contact; the
    community's coordinators who is coming. Audited per volunteer. A request that cannot be
    filled in full is refused and changes nothing.

    Team members deployed to another community leave it: their places there on shifts not yet
    started are released as a recall releases them (``signup.places_release``: the waitlist
    promoted, each told by the cancellation's message), and that community's coordinators are told
    who has left.
    """
    now = now or timezone.now()
    report_at = report_at or now
    released: dict[int, int] = {}
    moved: dict[int, list[Volunteer]] = {}  # the community they leave -> who
    if (team_id is None) == (count is None):
        raise ServiceError("invalid", {"non_field_errors": [_("Give either a team or a number of volunteers.")]})
    picked: dict[str, dict] = {}
    if team_id is not None:
        team = Team.objects.filter(pk=team_id, organization__in=organizations).first()
        if team is None:
            raise ServiceError("not_found", {"team": team_id})
        members = Volunteer.objects.filter(team=team, anonymised_at__isnull=True).exclude(
            status=Volunteer.Status.SUSPENDED
        )
        member_ids = sorted(members.values_list("pk", flat=True))
        leaving = members.exclude(deployed_community=None).exclude(deployed_community=community)
        # The places first, as a recall takes them: shifts, places, then the members with whoever
        # waits on those shifts, in one statement (``places_release`` locks them all).
        released = signup.places_release(
            places=selectors_dispatch.coming_places(volunteer_ids=list(leaving.values_list("pk", flat=True)), now=now),
            volunteer_ids=member_ids,
            now=now,
        )
        chosen = list(members.select_related("user").order_by("pk"))  # read again under the locks
        for volunteer in chosen:
            if volunteer.deployed_community_id not in (None, community.pk):
                moved.setdefault(volunteer.deployed_community_id, []).append(volunteer)
        if not chosen:
            raise ServiceError("not_enough_volunteers", {"requested": 0, "available": 0})
    else:
        if count < 1:
            raise ServiceError("invalid", {"count": [_("Ensure this value is greater than or equal to 1.")]})
        pool = selectors_dispatch.reserve_ranked(
            community=community, organizations=organizations, categories=categories, skills=skills, now=now
        )
        chosen = list(locks.volunteers_unclaimed(pool.select_related("user"))[:count])
        if len(chosen) < count:
            raise ServiceError("not_enough_volunteers", {"requested": count, "available": len(chosen)})
        picked = {str(v.pk): selectors_dispatch.pick_reason(v) for v in chosen}
    before = {v.pk: (v.status, v.deployed_community_id) for v in chosen}
    Volunteer.objects.filter(pk__in=[v.pk for v in chosen]).update(
        status=Volunteer.Status.ACTIVE, deployed_community=community, deployed_at=now
    )
    dispatch = Dispatch.objects.create(
        community=community,
        team_id=team_id,
        requested=len(chosen) if team_id else count,
        criteria={"categories": categories or [], "skills": skills or [], "picked": picked},
        created_by=actor,
        created_at=now,
        report_at=report_at,
        note=note,
    )
    dispatch.volunteers.set(chosen)
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                action=Action.DISPATCHED,
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                volunteer_id=v.pk,
                before={"status": before[v.pk][0], "deployed_community": before[v.pk][1]},
                after={
                    "status": Volunteer.Status.ACTIVE,
                    "deployed_community": community.pk,
                    "dispatch": dispatch.pk,
                    **({"places_released": released.get(v.pk, 0)} if before[v.pk][1] in moved else {}),
                },
                reason=note,
                created_at=now,
            )
            for v in chosen
        ]
    )
    outbox.dispatch_announce(dispatch=dispatch, volunteers=chosen, now=now)
    if moved:
        outbox.moved_away_announce(dispatch=dispatch, moved=moved, now=now)
    return dispatch


@retry_on_conflict
@transaction.atomic
def volunteers_recall(
    *,
    actor,
    organizations,
    dispatch_id: int | None = None,
    volunteer_ids: list[int] | None = None,
    team_id: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> list[Recall]:
    """Return deployed volunteers of ``organizations`` to the reserve: those a dispatch still
    holds (``dispatch_id``), narrowed to ``volunteer_ids`` or a team's members when given, or
    the volunteers named (each from wherever they are deployed).

    Their places on shifts not yet started in the community they leave are released as a
    cancellation releases them (the waitlist promoted, everyone told); each volunteer is told,
    and so are the community's coordinators; each recall is audited. Refused whole, changing
    nothing: ``not_found`` (a dispatch or team outside the scope), ``nothing_to_recall`` (no one
    named is deployed).
    """
    now = now or timezone.now()
    reason = (reason or "").strip()[:200]
    dispatch = None
    if dispatch_id is not None:
        dispatch = selectors_dispatch.dispatch_list(organizations=organizations).filter(pk=dispatch_id).first()
        if dispatch is None:
            raise ServiceError("not_found", {"dispatch": dispatch_id})
    if team_id is not None and not Team.objects.filter(pk=team_id, organization__in=organizations).exists():
        raise ServiceError("not_found", {"team": team_id})
    targets = selectors_dispatch.recall_targets(
        organizations=organizations, dispatch=dispatch, team_id=team_id, volunteer_ids=volunteer_ids
    )
    ids = sorted(targets.values_list("pk", flat=True))
    if not ids:
        raise ServiceError("nothing_to_recall")
    released = signup.places_release(
        places=selectors_dispatch.coming_places(volunteer_ids=ids, now=now), volunteer_ids=ids, now=now
    )
    # Under the locks now: whoever another writer recalled or moved meanwhile is left alone.
    leaving = list(targets.filter(pk__in=ids).select_related("user", "deployed_community__street").order_by("pk"))
    if not leaving:
        raise ServiceError("nothing_to_recall")
    recalls = [
        Recall(
            dispatch=dispatch or selectors_dispatch.current_dispatch(volunteer),
            volunteer=volunteer,
            community=volunteer.deployed_community,
            recalled_by=actor if getattr(actor, "is_authenticated", False) else None,
            recalled_at=now,
            places_released=released.get(volunteer.pk, 0),
            reason=reason,
        )
        for volunteer in leaving
    ]
    Recall.objects.bulk_create(recalls)
    Volunteer.objects.filter(pk__in=[v.pk for v in leaving]).update(
        status=Volunteer.Status.RESERVE, deployed_community=None, deployed_at=None
    )
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                action=Action.RECALLED,
                actor=recall.recalled_by,
                volunteer_id=recall.volunteer_id,
                before={"status": Volunteer.Status.ACTIVE, "deployed_community": recall.community_id},
                after={
                    "status": Volunteer.Status.RESERVE,
                    "dispatch": recall.dispatch_id,
                    "places_released": recall.places_released,
                },
                reason=reason,
                created_at=now,
            )
            for recall in recalls
        ]
    )
    outbox.recall_announce(recalls=recalls, now=now)
    return recalls
