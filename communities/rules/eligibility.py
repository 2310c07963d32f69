"""Who may take which shift: one set of rules, in forms that must agree.

``ineligibility`` checks one volunteer against one shift in Python (the sign-up service uses it,
under locks). ``eligible_shifts_q`` expresses the same rules as a filter on shifts, so the shift
list can offer "eligible for me" without loading every shift, and ``eligible_volunteers_q`` as a
filter on volunteers, for a coordinator's candidates. tests/communities/rules/test_eligibility.py checks
that the three agree on generated cases (every rule at its edges, 29 February included). On
PostgreSQL a volunteer's own sign-up checks the same rules inside the database function
``communities_self_sign_up`` (migrations 0011, 0012, 0014); tests/communities/services/test_sign_up_function.py
checks that one against ``ineligibility``.

Rules (domain page, 《志愿服务条例》): the volunteer is active; holds the post type's skills and
its qualifications, unexpired on the shift's date; has accident insurance valid on that date when
the post type needs it; is old enough on that date; and has a guardian's consent when under 18.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from communities.models import PostType, Shift
from volunteers.models import Qualification, QualificationType, Skill, Volunteer


def _local_date(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _birthday(volunteer: Volunteer, age: int) -> date:
    born = volunteer.birth_date
    try:
        return born.replace(year=born.year + age)
    except ValueError:  # born on 29 February
        return born.replace(year=born.year + age, day=28) + timedelta(days=1)


@dataclass(frozen=True)
class Requirements:
    """What a post type asks of a volunteer beyond its own columns: skill and qualification type ids."""

    skills: frozenset[int]
    qualifications: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.skills or self.qualifications)


def requirements_of(post_type: PostType) -> Requirements:
    """The post type's required skills and qualifications: from its prefetch cache, else one query.

    The query is written out over this app's two link tables: as an ORM ``union`` it cost 1 ms of
    CPU on every sign-up, written out 0.1 ms (docs/performance.md).
    """
    cached = getattr(post_type, "_prefetched_objects_cache", {})
    if "required_skills" in cached and "required_qualifications" in cached:
        return Requirements(
            frozenset(skill.pk for skill in post_type.required_skills.all()),
            frozenset(qual.pk for qual in post_type.required_qualifications.all()),
        )
    with connection.cursor() as cursor:
        cursor.execute(_requirements_sql(), [post_type.pk, post_type.pk])
        rows = cursor.fetchall()
    return Requirements(
        frozenset(pk for kind, pk in rows if kind == 0),
        frozenset(pk for kind, pk in rows if kind == 1),
    )


@functools.cache
def _requirements_sql() -> str:
    quote = connection.ops.quote_name
    parts = []
    for kind, through, column in (
        (0, PostType.required_skills.through, "skill_id"),
        (1, PostType.required_qualifications.through, "qualificationtype_id"),
    ):
        table, target, owner = (
            quote(through._meta.db_table),
            quote(through._meta.get_field(column.removesuffix("_id")).column),
            quote(through._meta.get_field("posttype").column),
        )
        parts.append(f"SELECT {kind}, {target} FROM {table} WHERE {owner} = %s")  # noqa: S608 - quoted names only
    return " UNION ALL ".join(parts)


def requirements_for(post_type_ids) -> dict[int, Requirements]:
    """Each post type's requirements, for a list of shifts: one query for all of them."""
    ids = sorted(set(post_type_ids))
    found: dict[int, tuple[set, set]] = {pk: (set(), set()) for pk in ids}
    if ids:
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            cursor.execute(_requirements_of_many_sql().format(marks=marks), ids + ids)
            for kind, pk, owner in cursor.fetchall():
                found[owner][kind].add(pk)
    return {pk: Requirements(frozenset(skills), frozenset(quals)) for pk, (skills, quals) in found.items()}


@functools.cache
def _requirements_of_many_sql() -> str:
    quote = connection.ops.quote_name
    parts = []
    for kind, through, column in (
        (0, PostType.required_skills.through, "skill_id"),
        (1, PostType.required_qualifications.through, "qualificationtype_id"),
    ):
        table, target, owner = (
            quote(through._meta.db_table),
            quote(through._meta.get_field(column.removesuffix("_id")).column),
            quote(through._meta.get_field("posttype").column),
        )
        parts.append(f"SELECT {kind}, {target}, {owner} FROM {table} WHERE {owner} IN ({{marks}})")  # noqa: S608
    return " UNION ALL ".join(parts)


def _codes(model, ids, known: dict | None = None) -> list[str]:
    """The codes of skills or qualification types a refusal names, in order: from ``known``
    (model → {id: code}, for a list of shifts) when given, else one query."""
    if known is not None and model in known:
        return sorted(known[model][pk] for pk in ids)
    return sorted(model.objects.filter(pk__in=ids).values_list("code", flat=True))


def ineligibility(
    volunteer: Volunteer,
    shift: Shift,
    post_type: PostType | None = None,
    requirements: Requirements | None = None,
    codes: dict | None = None,
) -> dict | None:
    """Return ``{"reason": ..., ...}`` when ``volunteer`` may not take ``shift``, else None.

    Expects ``volunteer`` with prefetched ``skills`` and ``qualifications`` when called in a loop,
    the post type's requirements prefetched or given, and the codes of the skills and
    qualification types they name in ``codes`` (model → {id: code}).
    """
    post_type = post_type or shift.post.post_type
    requirements = requirements if requirements is not None else requirements_of(post_type)
    day = _local_date(shift.starts_at)
    if volunteer.status != Volunteer.Status.ACTIVE:
        return {"reason": "status", "status": volunteer.status}
    if requirements.skills:
        missing = requirements.skills - {skill.pk for skill in volunteer.skills.all()}
        if missing:
            return {"reason": "skill", "missing": _codes(Skill, missing, codes)}
    if requirements.qualifications:
        held = {
            q.qualification_type_id
            for q in volunteer.qualifications.all()
            if q.valid_until is None or q.valid_until >= day
        }
        missing = requirements.qualifications - held
        if missing:
            return {"reason": "qualification", "missing": _codes(QualificationType, missing, codes)}
    if post_type.requires_insurance and (
        volunteer.insurance_valid_until is None or volunteer.insurance_valid_until < day
    ):
        return {"reason": "insurance"}
    if day < _birthday(volunteer, post_type.min_age):
        return {"reason": "age", "min_age": post_type.min_age}
    if day < _birthday(volunteer, settings.RULES["MINOR_AGE"]) and not volunteer.guardian_consent:
        return {"reason": "guardian_consent"}
    return None


def eligible_shifts_q(volunteer: Volunteer) -> Q:
    """A filter on ``Shift`` selecting exactly the shifts ``ineligibility`` would accept."""
    if volunteer.status != Volunteer.Status.ACTIVE:
        return Q(pk__in=[])
    skill_ids = list(volunteer.skills.values_list("pk", flat=True))
    missing_skill = PostType.required_skills.through.objects.filter(posttype_id=OuterRef("post__post_type_id")).exclude(
        skill_id__in=skill_ids
    )
    q = ~Q(Exists(missing_skill))

    # A required qualification the volunteer lacks excludes the post type outright; one they hold
    # excludes shifts from the day after it expires.
    through = PostType.required_qualifications.through
    held = {qual.qualification_type_id: qual.valid_until for qual in volunteer.qualifications.all()}
    missing_qual = through.objects.filter(posttype_id=OuterRef("post__post_type_id")).exclude(
        qualificationtype_id__in=list(held)
    )
    q &= ~Q(Exists(missing_qual))
    for type_id, valid_until in held.items():
        if valid_until is not None:
            requires_it = through.objects.filter(
                posttype_id=OuterRef("post__post_type_id"), qualificationtype_id=type_id
            )
            q &= ~(Q(Exists(requires_it)) & Q(starts_at__gte=_start_of_day(valid_until + timedelta(days=1))))

    if volunteer.insurance_valid_until is None:
        q &= Q(post__post_type__requires_insurance=False)
    else:
        covered_until = _start_of_day(volunteer.insurance_valid_until + timedelta(days=1))
        q &= Q(post__post_type__requires_insurance=False) | Q(starts_at__lt=covered_until)

    ages = sorted(set(PostType.objects.values_list("min_age", flat=True)))
    old_enough = Q(pk__in=[])
    for age in ages:
        old_enough |= Q(post__post_type__min_age=age, starts_at__gte=_start_of_day(_birthday(volunteer, age)))
    q &= old_enough
    if not volunteer.guardian_consent:
        q &= Q(starts_at__gte=_start_of_day(_birthday(volunteer, settings.RULES["MINOR_AGE"])))
    return q


def eligible_volunteers_q(shift: Shift, post_type: PostType | None = None) -> Q:
    """A filter on ``Volunteer`` selecting exactly those ``ineligibility`` accepts for ``shift``."""
    post_type = post_type or shift.post.post_type
    day = _local_date(shift.starts_at)
    q = Q(status=Volunteer.Status.ACTIVE)
    for skill_id in post_type.required_skills.values_list("pk", flat=True):
        q &= Q(Exists(Volunteer.skills.through.objects.filter(volunteer_id=OuterRef("pk"), skill_id=skill_id)))
    for type_id in post_type.required_qualifications.values_list("pk", flat=True):
        valid = Qualification.objects.filter(volunteer_id=OuterRef("pk"), qualification_type_id=type_id).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=day)
        )
        q &= Q(Exists(valid))
    if post_type.requires_insurance:
        q &= Q(insurance_valid_until__gte=day)
    q &= Q(birth_date__lte=_latest_birth_date(day, post_type.min_age))
    q &= Q(guardian_consent=True) | Q(birth_date__lte=_latest_birth_date(day, settings.RULES["MINOR_AGE"]))
    return q


def _latest_birth_date(day: date, age: int) -> date:
    """The latest birth date of someone at least ``age`` years old on ``day``."""
    try:
        return day.replace(year=day.year - age)
    except ValueError:  # 29 February: a person born on 28 February (or 1 March) is that old
        return day.replace(year=day.year - age, day=28)
