"""Reads for keeping volunteers' records current: who a staff member or team leader may see, the
searchable list, who has something expiring, and who will lose eligibility for a confirmed shift.

Scope (one rule, used by the list, the detail, the export and the proof files):

- superusers see everyone;
- league committee and organization staff see the volunteers of their organization subtree
  (``organization_subtree``) and may change them;
- a team leader sees the members of the teams they lead, read-only;
- a volunteer sees their own proof files (``proof_visible_to``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from communities.models import Assignment, PostType
from communities.selectors.people import volunteers_with_mobile_visibility
from volunteers.models import ChangeRequest, Qualification, Volunteer


def _staff_q(user) -> Q | None:
    if user.is_superuser:
        return Q(pk__isnull=False)
    paths = list(user.staff_roles.values_list("organization__path", flat=True))
    if not paths:
        return None
    query = Q(pk__in=[])
    for path in paths:
        query |= Q(organization__path__startswith=path)
    return query


def volunteers_managed_q(user) -> Q | None:
    """The volunteers ``user`` may change, as a filter; None when they may change none."""
    if not user.is_authenticated or not user.is_active:
        return None
    return _staff_q(user)


def volunteers_visible_q(user) -> Q | None:
    """The volunteers on ``user``'s list (staff scope, plus the teams they lead); None: no list."""
    if not user.is_authenticated or not user.is_active:
        return None
    staff = _staff_q(user)
    leads = user.volunteer.led_teams.exists() if hasattr(user, "volunteer") else False
    if staff is None and not leads:
        return None
    query = staff if staff is not None else Q(pk__in=[])
    if leads:
        query |= Q(team__leader__user_id=user.pk)
    return query


def may_list_volunteers(user) -> bool:
    return volunteers_visible_q(user) is not None


def may_manage_volunteers(user) -> bool:
    return volunteers_managed_q(user) is not None


@dataclass(frozen=True)
class VolunteerFilters:
    q: str = ""  # name, volunteer number or mobile
    team: int | None = None
    organization: int | None = None
    status: str = ""
    category: str = ""  # code
    skill: str = ""  # code
    insurance_before: date | None = None  # expired or expiring before this day (or none at all)
    qualification_before: date | None = None  # a qualification expiring before this day


def volunteer_list(*, user, filters: VolunteerFilters = VolunteerFilters()) -> QuerySet[Volunteer]:
    """The volunteers ``user`` may see, filtered, in volunteer-number order, with what a list row
    shows loaded (organization, team, categories, skills, qualifications) and ``mobile_visible``."""
    scope = volunteers_visible_q(user)
    if scope is None:
        return Volunteer.objects.none()
    queryset = Volunteer.objects.filter(scope, anonymised_at__isnull=True)
    text = (filters.q or "").strip()
    if text:
        match = Q(real_name__icontains=text) | Q(volunteer_number__icontains=text)
        if text.isdigit():
            match |= Q(mobile__contains=text)
        queryset = queryset.filter(match)
    if filters.team:
        queryset = queryset.filter(team_id=filters.team)
    if filters.organization:
        queryset = queryset.filter(organization_id=filters.organization)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.category:
        queryset = queryset.filter(
            Exists(
                Volunteer.categories.through.objects.filter(
                    volunteer_id=OuterRef("pk"), volunteercategory__code=filters.category
                )
            )
        )
    if filters.skill:
        queryset = queryset.filter(
            Exists(Volunteer.skills.through.objects.filter(volunteer_id=OuterRef("pk"), skill__code=filters.skill))
        )
    if filters.insurance_before:
        queryset = queryset.filter(
            Q(insurance_valid_until__isnull=True) | Q(insurance_valid_until__lt=filters.insurance_before)
        )
    if filters.qualification_before:
        queryset = queryset.filter(
            Exists(
                Qualification.objects.filter(volunteer_id=OuterRef("pk"), valid_until__lt=filters.qualification_before)
            )
        )
    queryset = (
        queryset.select_related("organization", "team")
        .prefetch_related(
            "categories",
            "skills",
            Prefetch("qualifications", Qualification.objects.select_related("qualification_type").order_by("pk")),
        )
        .order_by("volunteer_number")
    )
    return volunteers_with_mobile_visibility(queryset, user=user)


def volunteer_for(*, user, pk: int) -> Volunteer | None:
    """One volunteer on ``user``'s list, or None (outside the scope reads as not found)."""
    return volunteer_list(user=user).filter(pk=pk).first()


def proof_visible_to(user, volunteer: Volunteer) -> bool:
    """Whoever may see the volunteer on a list, and the volunteer themself."""
    if not user.is_authenticated or not user.is_active:
        return False
    if volunteer.user_id == user.pk:
        return True
    scope = volunteers_visible_q(user)
    return scope is not None and Volunteer.objects.filter(scope, pk=volunteer.pk).exists()


# --- Change requests ---------------------------------------------------------------------------


def change_requests_queue(*, user, state: str = ChangeRequest.State.PENDING) -> QuerySet[ChangeRequest]:
    """Requests of the volunteers ``user`` manages, oldest first (pending ones by default)."""
    scope = volunteers_managed_q(user)
    if scope is None:
        return ChangeRequest.objects.none()
    managed = Volunteer.objects.filter(scope).values("pk")
    queryset = ChangeRequest.objects.filter(volunteer_id__in=managed)
    if state:
        queryset = queryset.filter(state=state)
    return queryset.select_related("volunteer__organization", "qualification_type", "decided_by").order_by(
        "created_at", "pk"
    )


def change_requests_of(*, volunteer: Volunteer) -> QuerySet[ChangeRequest]:
    return volunteer.change_requests.select_related("qualification_type").order_by("-created_at", "-pk")


# --- Expiry and eligibility at risk --------------------------------------------------------------


def eligibility_at_risk(*, user, now=None) -> QuerySet[Assignment]:
    """Confirmed places on shifts to come, of active volunteers ``user`` manages, whose shift
    starts after the insurance or a qualification its post type needs has run out (or that the
    volunteer no longer holds): the same rules as ``rules.eligibility``, on the shift's date."""
    scope = volunteers_managed_q(user)
    if scope is None:
        return Assignment.objects.none()
    now = now or timezone.now()
    managed = Volunteer.objects.filter(scope, status=Volunteer.Status.ACTIVE).values("pk")
    through = PostType.required_qualifications.through
    held_valid = Qualification.objects.filter(
        volunteer_id=OuterRef(OuterRef("volunteer_id")),
        qualification_type_id=OuterRef("qualificationtype_id"),
    ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=OuterRef(OuterRef("shift_day"))))
    lacking = through.objects.filter(posttype_id=OuterRef("shift__post__post_type_id")).exclude(Exists(held_valid))
    uninsured = Q(shift__post__post_type__requires_insurance=True) & (
        Q(volunteer__insurance_valid_until__isnull=True) | Q(volunteer__insurance_valid_until__lt=F("shift_day"))
    )
    return (
        Assignment.objects.filter(
            volunteer_id__in=managed, status=Assignment.Status.CONFIRMED, shift__starts_at__gt=now
        )
        .annotate(shift_day=TruncDate("shift__starts_at", tzinfo=timezone.get_current_timezone()))
        .filter(uninsured | Q(Exists(lacking)))
        .select_related("volunteer__organization", "volunteer__team", "shift__post__post_type", "shift__community")
        .order_by("shift__starts_at", "pk")
    )


def expiring_volunteers(*, user, before: date, since: date | None = None) -> QuerySet[Volunteer]:
    """Volunteers ``user`` manages whose insurance or a qualification runs out before ``before``
    (and, given ``since``, not before ``since``: still valid today)."""
    scope = volunteers_managed_q(user)
    if scope is None:
        return Volunteer.objects.none()
    insurance = Q(insurance_valid_until__lt=before)
    qualification = Qualification.objects.filter(volunteer_id=OuterRef("pk"), valid_until__lt=before)
    if since is not None:
        insurance &= Q(insurance_valid_until__gte=since)
        qualification = qualification.filter(valid_until__gte=since)
    return Volunteer.objects.filter(scope, anonymised_at__isnull=True).filter(insurance | Q(Exists(qualification)))
