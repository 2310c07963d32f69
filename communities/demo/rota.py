"""Two weeks of shifts for one community and who works them, planned in memory.

The plan follows the programme rules the services enforce (docs/rules.md): a volunteer only takes
shifts of post types the rule function ``communities_refusal`` accepts them for on every day of
the rota (asked once per community, before any row exists, over plain values:
``eligible_types``), never two that overlap, always with ``MIN_REST_HOURS`` between them and at
most ``MAX_HOURS_PER_DAY`` on a calendar day (the planner's calendar, stricter than the rules:
tests/communities/demo/test_seed_demo.py asks the rule function about every place made); a shift never confirms more than its capacity, and a full future shift keeps a
first-come-first-served waitlist. Past shifts carry attendance and hours as the attendance
service would have recorded them.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from communities.demo import data
from communities.demo.people import Person, rng
from communities.demo.places import CommunityPlan
from communities.rules import hours

DAYS_BACK = 7
DAYS_AHEAD = 7

# How the demo's volunteers behave; tuned so that one deployed volunteer averages about 1.2
# shifts a day, as in the 2022 lockdown, when many stood a morning and a night watch.
WORK_PROBABILITY = 0.96
LONG_DAY_SHARE = 0.9  # of those eligible for a post with a night watch
NIGHT_AFTER_MORNING = 0.95
WAITLIST_PROBABILITY = 0.8
CANCEL_PROBABILITY = 0.03
NO_SHOW_PROBABILITY = 0.03
DISPATCH_SHARE = 0.55
FLAGGED_SHARE = 0.03
BAND_WEIGHTS = {"A": 35, "B": 30, "C": 20, "N": 15}


@dataclass(frozen=True, slots=True)
class PostTypeRule:
    requires_insurance: bool
    min_age: int
    skills: frozenset[str]
    qualifications: frozenset[str]


@dataclass(slots=True)
class ShiftPlan:
    post: int  # index into the community's posts
    starts_at: datetime
    ends_at: datetime
    capacity: int
    confirmed_count: int = 0
    waitlist_count: int = 0
    waitlist_seq: int = 0


@dataclass(slots=True)
class AssignmentPlan:
    shift: int  # index into CommunityRota.shifts
    person: int
    status: str
    source: str
    created_at: datetime
    waitlist_order: int | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    checkin_method: str = ""
    checkout_method: str = ""
    checkin_flagged: bool = False
    checkin_distance_m: int | None = None
    no_show_at: datetime | None = None
    credited_minutes: int | None = None
    hours_status: str = "none"
    verified_at: datetime | None = None


@dataclass(slots=True)
class CommunityRota:
    published_at: datetime
    shifts: list[ShiftPlan] = field(default_factory=list)
    assignments: list[AssignmentPlan] = field(default_factory=list)


def rota_days(today: date) -> list[date]:
    return [today + timedelta(days=offset) for offset in range(-DAYS_BACK, DAYS_AHEAD + 1)]


_ELIGIBLE_SQL = """
SELECT p.i, t.code, bool_and(communities_refusal(
           'open', d.starts, d.starts + interval '1 minute', NULL, NULL,
           t.skills, t.qualifications, t.insurance, t.min_age,
           p.status, p.birth, p.insured, p.guardian, p.skills, p.qualifications, p.until, false,
           '{}', '{}', %s, %s, false, %s, %s, %s, %s, %s) IS NULL)
  FROM jsonb_to_recordset(%s) AS p(i integer, status text, birth date, insured date, guardian boolean,
                                    skills bigint[], qualifications bigint[], until date[])
 CROSS JOIN jsonb_to_recordset(%s) AS t(code text, skills bigint[], qualifications bigint[], insurance boolean,
                                         min_age integer)
 CROSS JOIN unnest(%s::timestamptz[]) AS d(starts)
 GROUP BY p.i, t.code
"""


def eligible_types(
    persons: list[Person], rules: dict[str, PostTypeRule], first_day: date, last_day: date, tz: ZoneInfo
) -> set[tuple[int, str]]:
    """(person index, post type code) for each person the rules accept for a post type on the
    first and on the last day of the rota (so on every day between: ages only grow, and
    qualifications and insurance only lapse), asked of ``communities_refusal`` in one query."""
    from communities.rules.eligibility import HOLDER, rule_parameters

    codes: dict[str, int] = {}

    def ids(names) -> list[int]:
        return [codes.setdefault(name, len(codes) + 1) for name in names]

    people = [
        {
            "i": person.index,
            "status": person.status,
            "birth": person.birth_date.isoformat(),
            "insured": person.insurance_valid_until.isoformat() if person.insurance_valid_until else None,
            "guardian": person.guardian_consent,
            "skills": ids(person.skills),
            "qualifications": ids(q.code for q in person.qualifications),
            "until": [q.valid_until.isoformat() if q.valid_until else None for q in person.qualifications],
        }
        for person in persons
    ]
    types = [
        {
            "code": code,
            "skills": ids(sorted(rule.skills)),
            "qualifications": ids(sorted(rule.qualifications)),
            "insurance": rule.requires_insurance,
            "min_age": rule.min_age,
        }
        for code, rule in rules.items()
    ]
    if not people or not types:
        return set()
    days = [datetime.combine(day, time(12), tz) for day in (first_day, last_day)]
    _zone, close_before, min_rest, max_minutes, minor_age = rule_parameters()
    with connection.cursor() as cursor:
        cursor.execute(
            _ELIGIBLE_SQL,
            [
                days[0],
                HOLDER,
                tz.key,
                close_before,
                min_rest,
                max_minutes,
                minor_age,
                json.dumps(people),
                json.dumps(types),
                days,
            ],
        )
        return {(index, code) for index, code, accepted in cursor.fetchall() if accepted}


def _minutes_per_day(start: datetime, end: datetime, tz: ZoneInfo) -> dict[date, int]:
    result: dict[date, int] = defaultdict(int)
    cursor = start.astimezone(tz)
    while cursor < end:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0), tz)
        piece = min(end, midnight)
        result[cursor.date()] += int((piece - cursor).total_seconds() // 60)
        cursor = piece
    return result


class _Calendar:
    """One volunteer's taken time: the latest end and minutes per day, for the rest and daily rules."""

    __slots__ = ("last_end", "minutes")

    def __init__(self) -> None:
        self.last_end: datetime | None = None
        self.minutes: dict[date, int] = defaultdict(int)

    def fits(self, shift: ShiftPlan, tz: ZoneInfo, rest: timedelta, daily_limit: int) -> bool:
        # Shifts are taken in start order, so checking against the latest end covers overlap and rest.
        if self.last_end is not None and shift.starts_at < self.last_end + rest:
            return False
        return all(
            self.minutes[day] + minutes <= daily_limit
            for day, minutes in _minutes_per_day(shift.starts_at, shift.ends_at, tz).items()
        )

    def take(self, shift: ShiftPlan, tz: ZoneInfo) -> None:
        self.last_end = shift.ends_at
        for day, minutes in _minutes_per_day(shift.starts_at, shift.ends_at, tz).items():
            self.minutes[day] += minutes


def plan_rota(
    *,
    seed: int,
    community_index: int,
    community: CommunityPlan,
    persons: list[Person],
    rules: dict[str, PostTypeRule],
    today: date,
    now: datetime,
    tz: ZoneInfo,
) -> CommunityRota:
    draw = rng(seed, f"rota/{community_index}")
    days = rota_days(today)
    rest = timedelta(hours=settings.RULES["MIN_REST_HOURS"])
    daily_limit = int(settings.RULES["MAX_HOURS_PER_DAY"] * 60)
    rota = CommunityRota(published_at=datetime.combine(days[0] - timedelta(days=1), time(20), tz))

    slot: dict[tuple[int, int, str], int] = {}  # (post, day, band) → shift index
    for day_index, day in enumerate(days):
        for post_index, post in enumerate(community.posts):
            for band in post.bands:
                hour, length = data.BANDS[band]
                starts_at = datetime.combine(day, time(hour), tz)
                slot[post_index, day_index, band] = len(rota.shifts)
                rota.shifts.append(
                    ShiftPlan(post_index, starts_at, starts_at + timedelta(hours=length), post.capacity[band])
                )

    preferences: dict[int, list[tuple[int, str]]] = {}
    night: dict[int, tuple[int, str] | None] = {}
    accepted = eligible_types(
        persons, {post.type_code: rules[post.type_code] for post in community.posts}, days[0], days[-1], tz
    )
    for person in persons:
        eligible = [i for i, post in enumerate(community.posts) if (person.index, post.type_code) in accepted]
        combos = [(i, band) for i in eligible for band in community.posts[i].bands]
        night_posts = [i for i in eligible if "N" in community.posts[i].bands]
        night[person.index] = None
        if not combos:
            preferences[person.index] = []
            continue
        if person.index == 0 and night_posts:
            home = (night_posts[0], "A")  # the demo volunteer: the morning watch at the gate
        elif night_posts and draw.random() < LONG_DAY_SHARE:
            home = (night_posts[0], "A")
            night[person.index] = (night_posts[0], "N")
        else:
            post_index = 0 if 0 in eligible and draw.random() < 0.5 else draw.choice(eligible)
            bands = community.posts[post_index].bands
            home = (post_index, draw.choices(bands, weights=[BAND_WEIGHTS[b] for b in bands])[0])
        others = [combo for combo in combos if combo != home]
        draw.shuffle(others)
        preferences[person.index] = [home, *others[:4]]

    calendars = {person.index: _Calendar() for person in persons}
    for day_index in range(len(days)):
        order = sorted(persons, key=lambda p: (p.index != 0, draw.random()))
        for person in order:
            demo = person.index == 0
            if not preferences[person.index] or not (demo or draw.random() < WORK_PROBABILITY):
                continue
            calendar = calendars[person.index]
            taken = None
            for rank, combo in enumerate(preferences[person.index]):
                shift_index = slot[combo[0], day_index, combo[1]]
                shift = rota.shifts[shift_index]
                if not calendar.fits(shift, tz, rest, daily_limit):
                    continue
                if shift.confirmed_count >= shift.capacity:
                    if rank == 0 and shift.starts_at > now and draw.random() < WAITLIST_PROBABILITY:
                        shift.waitlist_count += 1
                        shift.waitlist_seq += 1
                        _add(rota, draw, shift_index, person, "waitlisted", now, community, shift.waitlist_seq)
                        calendar.take(shift, tz)
                        break
                    continue
                if not demo and draw.random() < CANCEL_PROBABILITY:
                    _add(rota, draw, shift_index, person, "cancelled", now, community)
                    break
                shift.confirmed_count += 1
                _add(rota, draw, shift_index, person, "confirmed", now, community)
                calendar.take(shift, tz)
                taken = combo
                break
            watch = night[person.index]
            if taken is not None and watch is not None and taken[1] == "A" and draw.random() < NIGHT_AFTER_MORNING:
                shift_index = slot[watch[0], day_index, watch[1]]
                shift = rota.shifts[shift_index]
                if shift.confirmed_count < shift.capacity and calendar.fits(shift, tz, rest, daily_limit):
                    shift.confirmed_count += 1
                    _add(rota, draw, shift_index, person, "confirmed", now, community)
                    calendar.take(shift, tz)
    return rota


def _add(
    rota: CommunityRota,
    draw: random.Random,
    shift_index: int,
    person: Person,
    status: str,
    now: datetime,
    community: CommunityPlan,
    ticket: int | None = None,
) -> None:
    """Record one assignment with the timestamps its life so far would have left."""
    shift = rota.shifts[shift_index]
    start, end = shift.starts_at, shift.ends_at
    demo = person.index == 0
    source = "dispatch" if status != "waitlisted" and draw.random() < DISPATCH_SHARE else "self"
    if source == "dispatch":
        created_at = person.deployed_at + timedelta(minutes=draw.randint(10, 180))
    else:
        created_at = start - timedelta(minutes=draw.randint(6 * 60, 72 * 60))
    created_at = min(max(created_at, person.deployed_at + timedelta(minutes=10)), now - timedelta(minutes=5))
    plan = AssignmentPlan(shift_index, person.index, status, source, created_at)
    if status == "waitlisted":
        plan.waitlist_order = ticket
    elif status == "cancelled":
        latest = min(start - settings.RULES["DEFAULT_CANCEL_CUTOFF_BEFORE"], now)
        plan.confirmed_at = created_at
        plan.cancelled_at = created_at + (latest - created_at) * draw.uniform(0.1, 0.9)
    else:
        plan.confirmed_at = created_at
        if start <= now:
            _attendance(plan, draw, start, end, now, community, demo)
    rota.assignments.append(plan)


def _attendance(
    plan: AssignmentPlan,
    draw: random.Random,
    start: datetime,
    end: datetime,
    now: datetime,
    community: CommunityPlan,
    demo: bool,
) -> None:
    if end <= now and not demo and draw.random() < NO_SHOW_PROBABILITY:
        plan.status = "no_show"
        plan.no_show_at = start + settings.RULES["NO_SHOW_AFTER"] + timedelta(minutes=draw.randint(0, 15))
        return
    roll = draw.random()
    if roll < 0.8:
        late = draw.randint(-15, 2)
    elif roll < 0.95:
        late = draw.randint(3, 15)
    else:
        late = draw.randint(16, 28)
    checked_in_at = start + timedelta(minutes=late, seconds=draw.randrange(60))
    if checked_in_at > now:
        return  # the shift has begun but this volunteer has not arrived yet
    plan.checked_in_at = checked_in_at
    geofenced = community.geofence_radius_m is not None
    if geofenced and draw.random() < FLAGGED_SHARE:
        plan.checkin_flagged = True  # checked in without sending a location
    elif geofenced:
        plan.checkin_distance_m = draw.randint(5, community.geofence_radius_m - 20)
    manual = draw.random() < 0.04
    plan.checkin_method = "manual" if manual else "code"
    if end > now:
        return
    roll = draw.random()
    if roll < 0.8:
        leaves = draw.randint(0, 12)  # minutes after the end
    elif roll < 0.92:
        leaves = -draw.randint(1, 10)
    else:
        leaves = -draw.randint(20, 75)  # left early
    checked_out_at = end + timedelta(minutes=leaves, seconds=draw.randrange(60))
    plan.checked_out_at = min(max(checked_out_at, checked_in_at), now)
    plan.checkout_method = "manual" if manual else "self"
    plan.status = "completed"
    plan.credited_minutes = hours.credited_minutes(plan.checked_in_at, plan.checked_out_at, start, end)
    verified_at = end + timedelta(minutes=draw.randint(30, 20 * 60))
    if plan.checkin_flagged or verified_at > now:
        plan.hours_status = "pending"
    else:
        plan.hours_status, plan.verified_at = "approved", verified_at
