"""Reads for dispatch and recall: the reserve in the order a dispatch picks it, and who is where.

``reserve_ranked`` is the one rule for "which reserve volunteers go first": the dispatch service
locks its rows in this order and the committee's preview shows the same order with its reasons.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from communities.models import Assignment, Community, Dispatch, PostType
from volunteers.models import Volunteer

# How far back "hours in the last days" looks when ranking the reserve.
RECENT_DAYS = 7

# ``near`` values: where the volunteer lives or works, relative to the community.
NEAR_STREET = 0  # the community itself or its street
NEAR_DISTRICT = 1
NEAR_NONE = 2


def needed_skill_ids(community: Community) -> list[int]:
    """The skills the post types of the community's posts require."""
    return sorted(
        set(
            PostType.required_skills.through.objects.filter(posttype__posts__community=community).values_list(
                "skill_id", flat=True
            )
        )
    )


def reserve_ranked(
    *,
    community: Community,
    organizations,
    categories: list[str] | None = None,
    skills: list[str] | None = None,
    now: datetime | None = None,
) -> QuerySet[Volunteer]:
    """Reserve volunteers of ``organizations`` matching every category and skill asked for, best
    first: living or working in the community's street (or the community), then its district;
    then holding more of the skills its posts require; then fewest credited minutes in the last
    ``RECENT_DAYS`` days; then volunteer number. Each row carries ``near``, ``skill_match`` and
    ``recent_minutes``: the reasons shown."""
    now = now or timezone.now()
    pool = Volunteer.objects.filter(
        organization__in=organizations, status=Volunteer.Status.RESERVE, anonymised_at__isnull=True
    )
    # EXISTS rather than joins: no duplicate rows, so no DISTINCT, which FOR UPDATE forbids.
    for code in categories or []:
        pool = pool.filter(
            Exists(
                Volunteer.categories.through.objects.filter(volunteer_id=OuterRef("pk"), volunteercategory__code=code)
            )
        )
    for code in skills or []:
        pool = pool.filter(
            Exists(Volunteer.skills.through.objects.filter(volunteer_id=OuterRef("pk"), skill__code=code))
        )
    street = community.street
    near = Case(
        When(Q(residence_community_id=community.pk) | Q(residence_street_id=street.pk), then=Value(NEAR_STREET)),
        When(residence_district_id=street.district_id, then=Value(NEAR_DISTRICT)),
        default=Value(NEAR_NONE),
        output_field=IntegerField(),
    )
    needed = needed_skill_ids(community)
    if needed:
        held = (
            Volunteer.skills.through.objects.filter(volunteer_id=OuterRef("pk"), skill_id__in=needed)
            .order_by()
            .values("volunteer_id")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        skill_match = Coalesce(Subquery(held, output_field=IntegerField()), Value(0))
    else:
        skill_match = Value(0, output_field=IntegerField())
    worked = (
        Assignment.objects.filter(
            volunteer_id=OuterRef("pk"),
            credited_minutes__isnull=False,
            shift__starts_at__gte=now - timedelta(days=RECENT_DAYS),
            shift__starts_at__lt=now,
        )
        .order_by()
        .values("volunteer_id")
        .annotate(m=Sum("credited_minutes"))
        .values("m")[:1]
    )
    recent = Coalesce(Subquery(worked, output_field=IntegerField()), Value(0))
    return pool.annotate(near=near, skill_match=skill_match, recent_minutes=recent).order_by(
        "near", "-skill_match", "recent_minutes", "volunteer_number"
    )


def pick_reason(volunteer: Volunteer) -> dict:
    """Why ``reserve_ranked`` put the volunteer where it did, as stored with the dispatch."""
    return {
        "near": volunteer.near,
        "skills": volunteer.skill_match,
        "minutes_7d": volunteer.recent_minutes,
    }


def dispatch_list(*, organizations) -> QuerySet[Dispatch]:
    """Dispatches that sent volunteers of ``organizations``, newest first, with their head count."""
    return (
        Dispatch.objects.filter(Exists(dispatch_members_of(organizations).filter(dispatch_id=OuterRef("pk"))))
        .select_related("community", "team", "created_by")
        .annotate(volunteer_count=Count("volunteers", distinct=True))
        .order_by("-created_at", "-pk")
    )


def dispatch_members_of(organizations) -> QuerySet:
    return Dispatch.volunteers.through.objects.filter(volunteer__organization__in=organizations)


def deployed_by(dispatch: Dispatch) -> Q:
    """Volunteers the dispatch still holds in its community: active there, not recalled from it,
    and not sent anywhere by a later dispatch."""
    later = Dispatch.volunteers.through.objects.filter(volunteer_id=OuterRef("pk"), dispatch_id__gt=dispatch.pk)
    return Q(
        dispatches=dispatch,
        status=Volunteer.Status.ACTIVE,
        deployed_community_id=dispatch.community_id,
    ) & ~Q(Exists(later))


def dispatch_members(*, dispatch: Dispatch, organizations) -> list[Volunteer]:
    """The dispatch's volunteers in ``organizations``, each with ``here`` (still deployed by it),
    ``recall`` (its recall row, if any) and ``reason`` (why the reserve pick chose them)."""
    members = list(
        Volunteer.objects.filter(dispatches=dispatch, organization__in=organizations)
        .select_related("team", "organization")
        .annotate(here=Exists(Volunteer.objects.filter(deployed_by(dispatch), pk=OuterRef("pk"))))
        .order_by("volunteer_number")
    )
    recalls = {r.volunteer_id: r for r in dispatch.recalls.select_related("recalled_by")}
    picked = (dispatch.criteria or {}).get("picked", {})
    for member in members:
        member.recall = recalls.get(member.pk)
        member.reason = picked.get(str(member.pk))
    return members


def current_dispatch(volunteer: Volunteer) -> Dispatch | None:
    """The dispatch that holds the volunteer where they are deployed, if one does."""
    if volunteer.deployed_community_id is None:
        return None
    return (
        Dispatch.objects.filter(volunteers=volunteer, community_id=volunteer.deployed_community_id)
        .order_by("-pk")
        .first()
    )


def recall_targets(
    *, organizations, dispatch: Dispatch | None = None, team_id: int | None = None, volunteer_ids=None
) -> QuerySet[Volunteer]:
    """Who a recall would return to the reserve: deployed volunteers of ``organizations`` (those
    ``dispatch`` still holds, when given), narrowed to a team and to ``volunteer_ids``."""
    targets = Volunteer.objects.filter(
        organization__in=organizations,
        status=Volunteer.Status.ACTIVE,
        deployed_community__isnull=False,
        anonymised_at__isnull=True,
    )
    if dispatch is not None:
        targets = targets.filter(deployed_by(dispatch))
    if team_id is not None:
        targets = targets.filter(team_id=team_id)
    if volunteer_ids is not None:
        targets = targets.filter(pk__in=volunteer_ids)
    return targets


def coming_places(*, volunteer_ids: list[int], now: datetime) -> QuerySet[Assignment]:
    """The confirmed and waitlisted places of shifts not yet started that the volunteers hold in
    the community they are deployed to: what a recall releases."""
    return Assignment.objects.filter(
        volunteer_id__in=volunteer_ids,
        status__in=(Assignment.Status.CONFIRMED, Assignment.Status.WAITLISTED),
        shift__starts_at__gt=now,
        shift__community_id=F("volunteer__deployed_community_id"),
    )
