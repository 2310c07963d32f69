"""Reads about recruitment calls and their applications (docs/recruitment.md)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from communities.models import Community, District, Street
from volunteers.models import (
    CallAgreement,
    CallApplication,
    Organization,
    RecruitmentCall,
    Team,
)
from volunteers.selectors import organization_subtree

Status = CallApplication.Status


def calls_with_progress(queryset: QuerySet) -> QuerySet:
    """``answered``, ``approved`` and ``pending`` counted in the same query as the calls."""
    return queryset.annotate(
        answered=Count("applications", distinct=True),
        approved=Count("applications", filter=Q(applications__status=Status.APPROVED), distinct=True),
        pending=Count("applications", filter=Q(applications__status=Status.PENDING), distinct=True),
    )


def calls_visible_to(user) -> QuerySet:
    """The calls of the organisations in the user's staff scope, newest first, with progress."""
    return calls_with_progress(
        RecruitmentCall.objects.filter(organization__in=organization_subtree(user)).select_related("organization")
    ).order_by("-created_at", "-id")


def call_for_staff(user, call_id: int) -> RecruitmentCall | None:
    return (
        calls_visible_to(user)
        .prefetch_related(
            "categories",
            "required_skills",
            "required_qualifications",
            Prefetch("agreements", queryset=CallAgreement.objects.order_by("-version")),
        )
        .filter(pk=call_id)
        .first()
    )


def call_in_scope(user, call_id: int) -> bool:
    return RecruitmentCall.objects.filter(pk=call_id, organization__in=organization_subtree(user)).exists()


def public_call(slug: str) -> RecruitmentCall | None:
    """A published (or closed) call by its short code, with what its page shows; never a draft."""
    return (
        calls_with_progress(
            RecruitmentCall.objects.filter(
                slug=slug, status__in=[RecruitmentCall.Status.PUBLISHED, RecruitmentCall.Status.CLOSED]
            )
        )
        .select_related("organization")
        .prefetch_related(
            "categories",
            "required_skills",
            "required_qualifications",
            Prefetch("agreements", queryset=CallAgreement.objects.order_by("-version")),
        )
        .first()
    )


def call_accepts_answers(call: RecruitmentCall) -> bool:
    return call.is_open(timezone.now())


def call_agreement(call: RecruitmentCall) -> CallAgreement:
    """The version an applicant accepts now (from the prefetch when there is one)."""
    return next(iter(call.agreements.all()))


@dataclass
class ApplicationChoices:
    organizations: list[Organization]
    teams: list[Team]
    districts: list[District]
    streets: list[Street]
    communities: list[Community]


def application_choices(call: RecruitmentCall) -> ApplicationChoices:
    """What a person answering ``call`` chooses from: the organisations of its subtree, their
    teams, and the places where they may live."""
    organizations = list(Organization.objects.filter(path__startswith=call.organization.path).order_by("path"))
    return ApplicationChoices(
        organizations=organizations,
        teams=list(Team.objects.filter(organization__in=organizations).order_by("organization_id", "name")),
        districts=list(District.objects.order_by("code")),
        streets=list(Street.objects.order_by("district_id", "name")),
        communities=list(Community.objects.order_by("street_id", "name")),
    )


APPLICATION_FILTERS = ("status", "organization", "minor", "q")


def applications_for_review(user, *, call_id: int, filters: dict | None = None) -> QuerySet:
    """A call's applications in the user's scope, oldest first (the queue), with what the review
    list shows loaded up front."""
    filters = filters or {}
    queryset = CallApplication.objects.filter(
        call_id=call_id, call__organization__in=organization_subtree(user)
    ).select_related(
        "organization",
        "team",
        "agreement",
        "volunteer",
        "residence_district",
        "residence_street",
        "residence_community",
    )
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("organization"):
        organization = Organization.objects.filter(pk=filters["organization"]).first()
        queryset = queryset.filter(organization__path__startswith=organization.path if organization else "-")
    if filters.get("minor") is not None:
        # The guardian's consent is asked of under-18s only, and survives anonymisation.
        queryset = queryset.filter(guardian_consent=bool(filters["minor"]))
    if filters.get("q"):
        queryset = queryset.filter(real_name__icontains=filters["q"])
    return queryset.prefetch_related("categories", "skills", "qualifications").order_by("created_at", "id")
