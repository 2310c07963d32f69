"""Who may take which shift, and when: the Python face of the sign-up rules.

The rules themselves live once, as database functions created from communities/sql/
(docs/rules.md): ``communities_refusal`` holds every rule in the one order (the window, one live
place per shift, eligibility, the schedule) over plain values, and ``communities_sign_up_refusal``
asks it about one volunteer and one shift and adds the refusal's details. Every path goes through
them: a volunteer's own sign-up (``communities_self_sign_up``), a coordinator's assignment, a
promotion from the waitlist and the re-check of a moved shift (``refusal`` below), the "eligible
for me" shift filter and a coordinator's ranked candidates (``eligible_shifts_sql``,
``candidates_sql``, used by communities.selectors), so a shift offered is a shift accepted.

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
from django.db import connection
from django.utils import timezone

from config.errors import ServiceError
from volunteers.models import Volunteer

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

# The shift's post type, for a filter on shifts (the row is ``communities_shift``).
_POST_TYPE = "(SELECT {column} FROM communities_post p JOIN communities_posttype pt ON pt.id = p.post_type_id WHERE p.id = communities_shift.post_id)"
_REQUIRED = "ARRAY(SELECT r.{column} FROM communities_post p JOIN {table} r ON r.posttype_id = p.post_type_id WHERE p.id = communities_shift.post_id)"

_REFUSAL_CALL = """communities_refusal(
    {s_status}, {s_starts}, {s_ends}, {s_opens}, {s_closes},
    {pt_skills}, {pt_qualifications}, {pt_insurance}, {pt_min_age},
    {v_status}, {v_birth_date}, {v_insured_until}, {v_guardian_consent},
    {v_skills}, {v_qualifications}, {v_qualified_until}, {v_held},
    {busy_starts}, {busy_ends},
    %s, %s, false, %s, %s, %s, %s, %s)"""


def eligible_shifts_sql(volunteer: Volunteer, now: datetime) -> tuple[str, list]:
    """A condition on ``communities_shift`` rows: the shifts ``volunteer`` may sign up for now
    (``communities_refusal`` answers no refusal). Reads the volunteer's side once, here."""
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
        return "false", []
    status, birth_date, insured_until, guardian, skills, qualifications, until, held, starts, ends = row
    tz, close_before, min_rest, max_minutes, minor_age = rule_parameters()
    sql = _REFUSAL_CALL.format(
        s_status="communities_shift.status",
        s_starts="communities_shift.starts_at",
        s_ends="communities_shift.ends_at",
        s_opens="communities_shift.signup_opens_at",
        s_closes="communities_shift.signup_closes_at",
        pt_skills=_REQUIRED.format(column="skill_id", table="communities_posttype_required_skills"),
        pt_qualifications=_REQUIRED.format(
            column="qualificationtype_id", table="communities_posttype_required_qualifications"
        ),
        pt_insurance=_POST_TYPE.format(column="pt.requires_insurance"),
        pt_min_age=_POST_TYPE.format(column="pt.min_age"),
        v_status="%s::text",
        v_birth_date="%s::date",
        v_insured_until="%s::date",
        v_guardian_consent="%s::boolean",
        v_skills="%s::bigint[]",
        v_qualifications="%s::bigint[]",
        v_qualified_until="%s::date[]",
        v_held="communities_shift.id = ANY (%s::bigint[])",
        busy_starts="%s::timestamptz[]",
        busy_ends="%s::timestamptz[]",
    )
    params = [status, birth_date, insured_until, guardian, skills, qualifications, until, held, starts, ends]
    params += [now, SIGN_UP, tz, close_before, min_rest, max_minutes, minor_age]
    return f"({sql}) IS NULL", params


def candidates_sql(shift, now: datetime) -> tuple[str, list]:
    """A condition on ``volunteers_volunteer`` rows: the volunteers who may be given ``shift`` now
    (``communities_refusal`` answers no refusal), as a coordinator's assignment checks it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT pt.requires_insurance, pt.min_age,
                      ARRAY(SELECT r.skill_id FROM communities_posttype_required_skills r WHERE r.posttype_id = pt.id),
                      ARRAY(SELECT r.qualificationtype_id FROM communities_posttype_required_qualifications r
                             WHERE r.posttype_id = pt.id)
                 FROM communities_post p JOIN communities_posttype pt ON pt.id = p.post_type_id
                WHERE p.id = %s""",
            [shift.post_id],
        )
        insurance, min_age, skills, qualifications = cursor.fetchone()
    tz, close_before, min_rest, max_minutes, minor_age = rule_parameters()
    around = nearby()
    busy = "(SELECT b.{part} FROM communities_busy(volunteers_volunteer.id, %s, %s, %s) b)"
    sql = _REFUSAL_CALL.format(
        s_status="%s::text",
        s_starts="%s::timestamptz",
        s_ends="%s::timestamptz",
        s_opens="%s::timestamptz",
        s_closes="%s::timestamptz",
        pt_skills="%s::bigint[]",
        pt_qualifications="%s::bigint[]",
        pt_insurance="%s::boolean",
        pt_min_age="%s::integer",
        v_status="volunteers_volunteer.status",
        v_birth_date="volunteers_volunteer.birth_date",
        v_insured_until="volunteers_volunteer.insurance_valid_until",
        v_guardian_consent="volunteers_volunteer.guardian_consent",
        v_skills="ARRAY(SELECT k.skill_id FROM volunteers_volunteer_skills k WHERE k.volunteer_id = volunteers_volunteer.id)",
        v_qualifications="ARRAY(SELECT q.qualification_type_id FROM volunteers_qualification q WHERE q.volunteer_id = volunteers_volunteer.id ORDER BY q.id)",
        v_qualified_until="ARRAY(SELECT q.valid_until FROM volunteers_qualification q WHERE q.volunteer_id = volunteers_volunteer.id ORDER BY q.id)",
        v_held="EXISTS (SELECT 1 FROM communities_assignment a WHERE a.volunteer_id = volunteers_volunteer.id AND a.shift_id = %s AND a.status <> 'cancelled')",
        busy_starts=busy.format(part="starts"),
        busy_ends=busy.format(part="ends"),
    )
    window = [shift.starts_at - around, shift.ends_at + around, shift.pk]
    params = [shift.status, shift.starts_at, shift.ends_at, shift.signup_opens_at, shift.signup_closes_at]
    params += [list(skills), list(qualifications), insurance, min_age, shift.pk, *window, *window]
    params += [now, SIGN_UP, tz, close_before, min_rest, max_minutes, minor_age]
    return f"({sql}) IS NULL", params
