"""Who may take which shift, and when: the Python face of the sign-up rules.

The rules themselves live once, as database functions created from communities/sql/
(docs/rules.md): ``communities_refusal`` holds every rule in the one order (the window, one live
place per shift, eligibility, the schedule) over plain values, and ``communities_sign_up_refusal``
asks it about one volunteer and one shift and adds the refusal's details. Every path goes through
them: a volunteer's own sign-up (``communities_self_sign_up``), a coordinator's assignment, a
promotion from the waitlist and the re-check of a moved shift (``refusal`` below), the "eligible
for me" shift filter and a coordinator's ranked candidates (``eligible_shifts_q``,
``candidates_q``, used by communities.selectors), so a shift offered is a shift accepted.

Rules (domain page, 《志愿服务条例》): the volunteer is active; holds the post type's skills and
its qualifications, unexpired on the shift's date; has accident insurance valid on that date when
the post type needs it; is old enough on that date; and has a guardian's consent when under 18.
They never overlap two confirmed shifts, rest ``MIN_REST_HOURS`` between two, and work at most
``MAX_HOURS_PER_DAY`` on a local calendar day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    DurationField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.db.models.lookups import Exact
from django.utils import timezone

from communities.models import Assignment, PostType, Shift
from config.errors import ServiceError
from volunteers.models import Qualification, Volunteer

SIGN_UP, PROMOTION, HOLDER = "sign_up", "promotion", "holder"

# The rules look at a volunteer's confirmed or worked shifts this close to the shift asked about.
_LONGEST_SHIFT = timedelta(days=1)  # a database constraint (communities.models.MAX_SHIFT_LENGTH)


@dataclass(frozen=True)
class Requirements:
    """What a post type asks of a volunteer beyond its own columns: skill and qualification type
    ids. The rules read them in the database; a lock given none prefetches nothing."""

    skills: frozenset[int]
    qualifications: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.skills or self.qualifications)


NOTHING_TO_PREFETCH = Requirements(frozenset(), frozenset())


def rule_parameters() -> list:
    """The rules' settings, as the functions take them: time zone, sign-up closing, rest, daily
    limit in minutes, minor age (``settings.RULES``)."""
    rules = settings.RULES
    return [
        timezone.get_current_timezone_name(),
        rules["DEFAULT_SIGNUP_CLOSES_BEFORE"],
        timedelta(hours=rules["MIN_REST_HOURS"]),
        int(rules["MAX_HOURS_PER_DAY"] * 60),
        rules["MINOR_AGE"],
    ]


def nearby() -> timedelta:
    """How far from a shift another one can still matter to the schedule rules."""
    return max(timedelta(hours=settings.RULES["MIN_REST_HOURS"]), timedelta(days=1))


_REFUSAL_SQL = "SELECT * FROM communities_sign_up_refusal(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


def refusal(
    *, shift_id: int, volunteer_id: int, now: datetime, check: str = SIGN_UP, waive: bool = False
) -> ServiceError | None:
    """The first rule that refuses ``volunteer_id`` the shift, with its details, or None.

    ``check``: ``SIGN_UP`` every rule; ``PROMOTION`` a waiting volunteer's own ticket is no
    refusal; ``HOLDER`` a volunteer already placed, after the shift moved: eligibility and
    schedule only. ``waive``: a coordinator's reason overrides the eligibility rules but a
    suspension. Callers that write hold the shift and volunteer locks.
    """
    with connection.cursor() as cursor:
        cursor.execute(_REFUSAL_SQL, [shift_id, volunteer_id, now, *rule_parameters(), check, waive])
        names = [column.name for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    return refusal_error(row)


_REFUSALS_SQL = (
    "SELECT s.id, r.* FROM unnest(%s::bigint[]) AS s(id), "
    "LATERAL communities_sign_up_refusal(s.id, %s, %s, %s, %s, %s, %s, %s, %s, %s) AS r"
)


def refusals(*, shift_ids, volunteer_id: int, now: datetime, check: str = SIGN_UP) -> dict[int, ServiceError | None]:
    """``refusal`` for each of ``shift_ids`` in one query: what a list shows beside each shift."""
    ids = list(dict.fromkeys(shift_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_REFUSALS_SQL, [ids, volunteer_id, now, *rule_parameters(), check, False])
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return {row["id"]: refusal_error(row) for row in rows}


_HELD_SQL = (
    "SELECT a.id, r.* FROM communities_assignment a JOIN communities_shift s ON s.id = a.shift_id, "
    "LATERAL communities_sign_up_refusal(a.shift_id, a.volunteer_id, %s, %s, %s, %s, %s, %s, %s, "
    "a.override_reason <> '') AS r "
    "WHERE a.volunteer_id = %s AND a.status IN (%s, %s) AND s.starts_at > %s ORDER BY a.id"
)


def places_not_eligible(*, volunteer_id: int, now: datetime) -> dict[int, dict]:
    """The volunteer's places (confirmed or waiting) on shifts not yet started that the eligibility
    rules refuse them now, as the re-check of a moved shift asks (check ``HOLDER``, a
    coordinator's override kept): assignment id to the refusal's details. One query.

    A record edit asks it before and after its writes, under the volunteer's lock: the places it
    would take away are those refused after and not before (``services.records``)."""
    statuses = [Assignment.Status.CONFIRMED, Assignment.Status.WAITLISTED]
    with connection.cursor() as cursor:
        cursor.execute(_HELD_SQL, [now, *rule_parameters(), HOLDER, volunteer_id, *statuses, now])
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    found = {}
    for row in rows:
        error = refusal_error(row)
        if error is not None and error.code == "not_eligible":
            found[row["id"]] = error.details
    return found


def refusal_error(row: dict) -> ServiceError | None:
    """A refusal row (``code`` and the raw ``d_*`` values) as the service's error, or None."""
    code, rules = row["code"], settings.RULES
    if code is None:
        return None
    if code == "signup_closed":
        opens = row["d_opens"]
        details = {"opens_at": opens.isoformat() if opens else None, "closes_at": row["d_closes"].isoformat()}
    elif code == "not_eligible":
        reason = row["d_reason"]
        details = {"reason": reason}
        if reason == "status":
            details["status"] = row["d_status"]
        elif reason in ("skill", "qualification"):
            details["missing"] = list(row["d_missing"])
        elif reason == "age":
            details["min_age"] = row["d_min_age"]
    elif code == "overlapping_shift":
        details = {
            "shift": row["d_shift"],
            "starts_at": row["d_starts"].isoformat(),
            "ends_at": row["d_ends"].isoformat(),
        }
    elif code == "rest_period":
        details = {"shift": row["d_shift"], "min_rest_hours": rules["MIN_REST_HOURS"]}
    elif code == "daily_limit":
        details = {
            "date": row["d_day"].isoformat(),
            "minutes": row["d_minutes"],
            "max_hours": rules["MAX_HOURS_PER_DAY"],
        }
    else:
        details = None
    return ServiceError(code, details)


def overridable(error: ServiceError) -> bool:
    """Whether a coordinator may override this refusal with a reason: an eligibility rule, any but
    a suspension (an account being deleted is suspended first, so nobody places it meanwhile)."""
    if error.code != "not_eligible":
        return False
    return not (error.details["reason"] == "status" and error.details["status"] == Volunteer.Status.SUSPENDED)


def ineligibility(*, shift_id: int, volunteer_id: int, now: datetime | None = None) -> dict | None:
    """The eligibility refusal's details (``{"reason": ...}``) for a page that explains it, else None."""
    error = refusal(shift_id=shift_id, volunteer_id=volunteer_id, now=now or timezone.now(), check=HOLDER)
    return error.details if error is not None and error.code == "not_eligible" else None


# --- The same rules as filters: every listed shift or candidate is one the sign-up accepts -------


def _array(values, base_field) -> Cast:
    return Cast(Value(list(values)), ArrayField(base_field))


def _refused(**values) -> Func:
    """``communities_refusal`` over these values (expressions), in its parameter order."""
    tz, close_before, min_rest, max_minutes, minor_age = rule_parameters()
    order = [
        "s_status",
        "s_starts",
        "s_ends",
        "s_opens",
        "s_closes",
        "pt_skills",
        "pt_qualifications",
        "pt_insurance",
        "pt_min_age",
        "v_status",
        "v_birth_date",
        "v_insured_until",
        "v_guardian_consent",
        "v_skills",
        "v_qualifications",
        "v_qualified_until",
        "v_held",
        "busy_starts",
        "busy_ends",
        "now",
    ]
    arguments = [values[name] for name in order]
    arguments += [
        Value(SIGN_UP),
        Value(False),
        Value(tz),
        Cast(Value(close_before), DurationField()),
        Cast(Value(min_rest), DurationField()),
        Value(max_minutes),
        Value(minor_age),
    ]
    return Func(*arguments, function="communities_refusal", output_field=CharField())


def _requirements_by_post_type() -> dict[int, tuple[list[int], list[int]]]:
    """Every post type's required skills and qualification types (a short table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT pt.id,
                      ARRAY(SELECT r.skill_id FROM communities_posttype_required_skills r WHERE r.posttype_id = pt.id),
                      ARRAY(SELECT r.qualificationtype_id FROM communities_posttype_required_qualifications r
                             WHERE r.posttype_id = pt.id)
                 FROM communities_posttype pt"""
        )
        return {pk: (skills, qualifications) for pk, skills, qualifications in cursor.fetchall()}


def _by_post_type(requirements: dict, part: int, post_type) -> Case:
    """The requirement of the post type ``post_type`` (an expression of its id) as a CASE over
    the post types that have one."""
    whens = [
        When(Exact(post_type, pk), then=_array(needs[part], BigIntegerField()))
        for pk, needs in sorted(requirements.items())
        if needs[part]
    ]
    return Case(*whens, default=_array([], BigIntegerField()), output_field=ArrayField(BigIntegerField()))


# What communities_refusal reads of a shift, as the eligible list groups shifts by it; the
# requirements' arrays depend on the post type alone and are built from its id per group.
_SHIFT_SIDE = (
    "s_starts",
    "s_ends",
    "post_type",
    "v_held",
    "s_status",
    "s_opens",
    "s_closes",
    "pt_insurance",
    "pt_min_age",
)


def eligible_shifts_q(volunteer: Volunteer, now: datetime, among: QuerySet | None = None) -> Q:
    """A filter on shifts: those of ``among`` (every shift when None) that ``volunteer`` may sign up
    for now (``communities_refusal`` answers no refusal). The volunteer's side is read once, here;
    the post types' requirements too.

    The rule is asked once per distinct question, not once per shift: the shifts of ``among`` are
    grouped by every value ``communities_refusal`` reads of a shift (its times, post type, whether
    the volunteer holds a place on it, its status and sign-up window), each group is asked once,
    and the shifts of the groups with no refusal pass. Same function, same arguments, so the same
    answers; the demo's 25,448 upcoming shifts make about 190 questions (docs/rules.md).
    """
    since = now - _LONGEST_SHIFT - nearby()  # no shift that has not ended can be nearer
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT vo.status, vo.birth_date, vo.insurance_valid_until, vo.guardian_consent,
                      ARRAY(SELECT k.skill_id FROM volunteers_volunteer_skills k WHERE k.volunteer_id = vo.id),
                      ARRAY(SELECT q.qualification_type_id FROM volunteers_qualification q
                             WHERE q.volunteer_id = vo.id ORDER BY q.id),
                      ARRAY(SELECT q.valid_until FROM volunteers_qualification q
                             WHERE q.volunteer_id = vo.id ORDER BY q.id),
                      ARRAY(SELECT a.shift_id FROM communities_assignment a
                              JOIN communities_shift o ON o.id = a.shift_id
                             WHERE a.volunteer_id = vo.id AND a.status <> 'cancelled' AND o.ends_at > %s),
                      b.starts, b.ends
                 FROM volunteers_volunteer vo, communities_busy(vo.id, %s, 'infinity') b
                WHERE vo.id = %s""",
            [now, since, volunteer.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return Q(pk__in=[])
    status, birth_date, insured_until, guardian, skills, qualifications, until, held, starts, ends = row
    requirements = _requirements_by_post_type()
    # Each shift with what the rule reads of it (a plain query over ``among``, its joins named).
    rows = (
        (Shift.objects.all() if among is None else among)
        .order_by()
        .values(
            shift_id=F("pk"),
            s_starts=F("starts_at"),
            s_ends=F("ends_at"),
            post_type=F("post__post_type_id"),
            v_held=Func(
                F("pk"),
                _array(held, BigIntegerField()),
                template="(%(expressions)s))",
                arg_joiner=" = ANY (",
                output_field=BooleanField(),
            ),
            s_status=F("status"),
            s_opens=F("signup_opens_at"),
            s_closes=F("signup_closes_at"),
            pt_insurance=F("post__post_type__requires_insurance"),
            pt_min_age=F("post__post_type__min_age"),
        )
    )
    try:
        rows_sql, rows_params = rows.query.sql_with_params()
    except EmptyResultSet:
        return Q(pk__in=[])

    def grouped(name: str, field) -> RawSQL:
        return RawSQL(f"g.{name}", [], output_field=field)  # noqa: S611 - a fixed column name

    post_type = grouped("post_type", BigIntegerField())
    refused = _refused(
        s_status=grouped("s_status", CharField()),
        s_starts=grouped("s_starts", DateTimeField()),
        s_ends=grouped("s_ends", DateTimeField()),
        s_opens=grouped("s_opens", DateTimeField()),
        s_closes=grouped("s_closes", DateTimeField()),
        pt_skills=_by_post_type(requirements, 0, post_type),
        pt_qualifications=_by_post_type(requirements, 1, post_type),
        pt_insurance=grouped("pt_insurance", BooleanField()),
        pt_min_age=grouped("pt_min_age", BigIntegerField()),
        v_status=Value(status),
        v_birth_date=Cast(Value(birth_date), DateField()),
        v_insured_until=Cast(Value(insured_until), DateField()),
        v_guardian_consent=Value(guardian),
        v_skills=_array(skills, BigIntegerField()),
        v_qualifications=_array(qualifications, BigIntegerField()),
        v_qualified_until=_array(until, DateField()),
        v_held=grouped("v_held", BooleanField()),
        busy_starts=_array(starts, DateTimeField()),
        busy_ends=_array(ends, DateTimeField()),
        now=Cast(Value(now), DateTimeField()),
    )
    compiler = rows.query.get_compiler(connection=connection)
    refused_sql, refused_params = compiler.compile(refused.resolve_expression(rows.query))
    keys = ", ".join(_SHIFT_SIDE)
    # OFFSET 0 keeps PostgreSQL from moving the rule into the grouping's input, row by row.
    accepted = (
        f"SELECT unnest(g.ids) FROM (SELECT {keys}, array_agg(r.shift_id) AS ids FROM ({rows_sql}) r"  # noqa: S608
        f" GROUP BY {keys} OFFSET 0) g WHERE {refused_sql} IS NULL"
    )
    # The SQL is built here from compiled expressions and fixed names; every value is a parameter.
    return Q(pk__in=RawSQL(accepted, (*rows_params, *refused_params), output_field=BigIntegerField()))  # noqa: S611


def candidates_q(shift, now: datetime) -> Q:
    """A filter on volunteers: those who may be given ``shift`` now (``communities_refusal``
    answers no refusal), as a coordinator's assignment checks it.

    Everyone's busy time near the shift is read in one pass (``communities_busy_of``, the rows
    ``communities_busy`` reads one of) and joined to the volunteers, instead of two look-ups over
    each volunteer's assignments."""
    skills, qualifications = _requirements_by_post_type().get(shift.post.post_type_id, ([], []))
    insurance, min_age = PostType.objects.filter(pk=shift.post.post_type_id).values_list(
        "requires_insurance", "min_age"
    )[0]
    # Each volunteer with what the rule reads of them; their skills and qualifications only when
    # the post type asks for any (an empty requirement is met by anyone).
    rows = Volunteer.objects.order_by().values(
        volunteer_id=F("pk"),
        v_status=F("status"),
        v_birth_date=F("birth_date"),
        v_insured_until=F("insurance_valid_until"),
        v_guardian_consent=F("guardian_consent"),
        v_skills=_volunteer_array(Volunteer.skills.through, "skill_id") if skills else _array([], BigIntegerField()),
        v_qualifications=_volunteer_array(Qualification, "qualification_type_id", "pk")
        if qualifications
        else _array([], BigIntegerField()),
        v_qualified_until=_volunteer_array(Qualification, "valid_until", "pk")
        if qualifications
        else _array([], DateField()),
        v_held=Exists(
            Assignment.objects.filter(volunteer_id=OuterRef("pk"), shift_id=shift.pk).exclude(
                status=Assignment.Status.CANCELLED
            )
        ),
    )
    rows_sql, rows_params = rows.query.sql_with_params()

    def column(sql: str, field) -> RawSQL:
        return RawSQL(sql, [], output_field=field)  # noqa: S611 - fixed column names

    refused = _refused(
        s_status=Value(shift.status),
        s_starts=Cast(Value(shift.starts_at), DateTimeField()),
        s_ends=Cast(Value(shift.ends_at), DateTimeField()),
        s_opens=Cast(Value(shift.signup_opens_at), DateTimeField()),
        s_closes=Cast(Value(shift.signup_closes_at), DateTimeField()),
        pt_skills=_array(skills, BigIntegerField()),
        pt_qualifications=_array(qualifications, BigIntegerField()),
        pt_insurance=Value(insurance),
        pt_min_age=Value(min_age),
        v_status=column("r.v_status", CharField()),
        v_birth_date=column("r.v_birth_date", DateField()),
        v_insured_until=column("r.v_insured_until", DateField()),
        v_guardian_consent=column("r.v_guardian_consent", BooleanField()),
        v_skills=column("r.v_skills", ArrayField(BigIntegerField())),
        v_qualifications=column("r.v_qualifications", ArrayField(BigIntegerField())),
        v_qualified_until=column("r.v_qualified_until", ArrayField(DateField())),
        v_held=column("r.v_held", BooleanField()),
        busy_starts=column("coalesce(b.starts, '{}')", ArrayField(DateTimeField())),
        busy_ends=column("coalesce(b.ends, '{}')", ArrayField(DateTimeField())),
        now=Cast(Value(now), DateTimeField()),
    )
    compiler = rows.query.get_compiler(connection=connection)
    refused_sql, refused_params = compiler.compile(refused.resolve_expression(rows.query))
    around = nearby()
    accepted = (
        f"SELECT r.volunteer_id FROM ({rows_sql}) r"  # noqa: S608
        " LEFT JOIN communities_busy_of(%s, %s, %s) b ON b.volunteer_id = r.volunteer_id"
        f" WHERE {refused_sql} IS NULL"
    )
    params = (*rows_params, shift.starts_at - around, shift.ends_at + around, shift.pk, *refused_params)
    return Q(pk__in=RawSQL(accepted, params, output_field=BigIntegerField()))  # noqa: S611 - values are parameters


def _volunteer_array(model, column: str, order: str | None = None) -> ArraySubquery:
    rows = model.objects.filter(volunteer_id=OuterRef("pk"))
    if order:
        rows = rows.order_by(order)
    return ArraySubquery(rows.values(column))
