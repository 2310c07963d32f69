"""The demo's organizations, teams and volunteers, planned in memory without touching the database.

Each concern draws from its own seeded generator (``rng(seed, "people")`` …), so a change in one
part of the plan, or in today's date, never shifts the draws of another: volunteer numbers in
particular depend on the seed alone.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from communities.demo import data
from volunteers.idcard import make_id_number


def rng(seed: int, purpose: str) -> random.Random:
    # A string seed is hashed with SHA-512, so streams are stable across runs and Python versions.
    return random.Random(f"seed-demo/{seed}/{purpose}")


def volunteer_numbers(seed: int, count: int) -> list[str]:
    """The first ``count`` volunteer numbers for ``seed``; a longer list extends a shorter one."""
    draw = rng(seed, "volunteer-numbers")
    prefix = settings.VOLUNTEER_NUMBER_PREFIX
    seen: set[str] = set()
    numbers: list[str] = []
    while len(numbers) < count:
        number = f"{prefix}{draw.randrange(10**10):010d}"
        if number not in seen:
            seen.add(number)
            numbers.append(number)
    return numbers


def split_evenly(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder apportionment: integer shares of ``total`` that add up exactly."""
    weight_sum = sum(weights)
    raw = [total * w / weight_sum for w in weights]
    shares = [int(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (raw[i] - shares[i], -i), reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def weighted(draw: random.Random, table: dict[str, int]) -> str:
    return draw.choices(list(table), weights=list(table.values()))[0]


CHINESE_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 40 → 四十; Arabic digits from 100 on."""
    if n >= 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if tens == 0:
        return CHINESE_DIGITS[ones]
    return ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" + (CHINESE_DIGITS[ones] if ones else "")


@dataclass(slots=True)
class OrgPlan:
    name: str
    name_en: str
    code: str
    kind: str
    parent: int | None  # index into the plan's organization list
    contact_person: str = ""
    contact_phone: str = ""


@dataclass(slots=True)
class TeamPlan:
    org: int
    name: str
    members: list[int] = field(default_factory=list)
    leader: int | None = None


@dataclass(slots=True)
class QualificationPlan:
    code: str
    certificate_number: str
    valid_until: date | None


@dataclass(slots=True)
class Person:
    index: int
    real_name: str
    gender: str
    birth_date: date
    id_number: str
    mobile: str
    volunteer_number: str
    org: int
    team: int
    political_status: str
    categories: list[str]
    skills: list[str]
    qualifications: list[QualificationPlan]
    guardian_consent: bool
    registered_at: datetime
    insurance_valid_until: date | None = None
    status: str = "reserve"
    community: int | None = None
    deployed_at: datetime | None = None


@dataclass(slots=True)
class PeoplePlan:
    organizations: list[OrgPlan]
    teams: list[TeamPlan]
    persons: list[Person]


def plan_organizations(seed: int) -> list[OrgPlan]:
    draw = rng(seed, "organizations")
    committee = data.COMMITTEE
    orgs = [
        OrgPlan(
            committee["name"],
            committee["name_en"],
            committee["code"],
            "committee",
            None,
            committee["contact_person"],
            committee["contact_phone"],
        )
    ]
    for name, name_en, code, _weight, prefix, suffix, suffix_en in data.INSTITUTIONS:
        parent = len(orgs)
        orgs.append(OrgPlan(name, name_en, code, "institution", 0, person_name(draw)[0], office_phone(draw)))
        for number, (place, place_en) in enumerate(draw.sample(data.BRANCH_PLACES, draw.randint(1, 3)), start=1):
            orgs.append(
                OrgPlan(
                    f"{prefix}{place}{suffix}",
                    f"{name_en.split(' Branch')[0].split(' Central')[0]} {place_en} {suffix_en}",
                    f"{code}-{number:02d}",
                    "branch",
                    parent,
                    person_name(draw)[0],
                    office_phone(draw),
                )
            )
    return orgs


def office_phone(draw: random.Random) -> str:
    return f"0512-6{draw.randrange(10**7):07d}"


def person_name(draw: random.Random, gender: str | None = None) -> tuple[str, str]:
    gender = gender or ("female" if draw.random() < 0.52 else "male")
    pool = (data.GIVEN_FEMALE if gender == "female" else data.GIVEN_MALE) + data.GIVEN_SHARED
    surname = weighted(draw, data.SURNAMES)
    given = draw.choice(pool) if draw.random() < 0.3 else draw.choice(pool) + draw.choice(pool)
    return surname + given, gender


def _draw_age(draw: random.Random) -> int:
    roll = draw.random()
    if roll < 0.006:
        return draw.randint(16, 17)
    if roll < 0.046:
        return draw.randint(18, 21)
    if roll < 0.93:
        return draw.randint(22, 40)
    return draw.randint(41, 50)


def _political_status(draw: random.Random, age: int) -> str:
    roll = draw.random()
    if age < 18:
        return "league_member" if roll < 0.6 else "masses"
    if roll < 0.24:
        return "party_member"
    if roll < 0.27:
        return "probationary"
    if roll < (0.72 if age <= 28 else 0.37):
        return "league_member"
    return "masses"


def plan_people(
    *, seed: int, volunteers: int, deployed: int, communities: int, today: date, tz: ZoneInfo
) -> PeoplePlan:
    draw = rng(seed, "people")
    orgs = plan_organizations(seed)
    numbers = volunteer_numbers(seed, volunteers)
    first_day = today - timedelta(days=7)

    # Teams of about 25 form within an institution; a team drawn from a single branch belongs to
    # that branch, one that spans the institution's own staff and branches to the institution.
    institutions = [i for i, org in enumerate(orgs) if org.kind == "institution"]
    weight_by_code = {code: weight for _n, _e, code, weight, *_rest in data.INSTITUTIONS}
    shares = split_evenly(volunteers, [weight_by_code[orgs[i].code] for i in institutions])
    if shares[0] < 2:  # the demo pair belongs to the first institution's first team
        largest = max(range(len(shares)), key=shares.__getitem__)
        shares[largest] -= 2 - shares[0]
        shares[0] = 2
    teams: list[TeamPlan] = []
    member_team: list[tuple[int, int]] = []  # (organization, team) per person, in person order
    for institution, share in zip(institutions, shares, strict=True):
        if share == 0:
            continue
        branches = [i for i, org in enumerate(orgs) if org.parent == institution]
        unit_sizes = split_evenly(share, [0.25] + [0.75 / len(branches)] * len(branches))
        member_units = [u for u, size in zip([institution, *branches], unit_sizes, strict=True) for _ in range(size)]
        groups: list[tuple[int, list[int]]] = []
        position = 0
        for size in split_evenly(share, [1.0] * max(1, round(share / 25))):
            units = member_units[position : position + size]
            groups.append((units[0] if len(set(units)) == 1 else institution, units))
            position += size
        per_org = Counter(org for org, _units in groups)
        numbered: Counter[int] = Counter()
        for org, units in groups:
            numbered[org] += 1
            name = f"{orgs[org].name}青年突击队"
            if per_org[org] > 1:
                name += f"第{chinese_number(numbered[org])}分队"
            teams.append(TeamPlan(org, name))
            member_team.extend((unit, len(teams) - 1) for unit in units)

    persons: list[Person] = []
    mobiles = {data.DEMO_VOLUNTEER[0], data.DEMO_LEADER[0], *data.DEMO_STAFF_MOBILES.values()}
    id_numbers: set[str] = set()
    for index, (org, team) in enumerate(member_team):
        if index == 0:
            mobile, real_name, gender = data.DEMO_VOLUNTEER
            age = 27
        elif index == 1:
            mobile, real_name, gender = data.DEMO_LEADER
            age = 31
        else:
            real_name, gender = person_name(draw)
            age = _draw_age(draw)
            while True:
                mobile = weighted(draw, data.MOBILE_PREFIXES) + f"{draw.randrange(10**8):08d}"
                if mobile not in mobiles:
                    mobiles.add(mobile)
                    break
        birth = years_before(today, age) - timedelta(days=draw.randrange(365))
        while True:
            region = weighted(draw, data.ID_REGIONS)
            sequence = draw.randrange(500) * 2 + (1 if gender == "male" else 0)
            id_number = make_id_number(region, birth, sequence)
            if id_number not in id_numbers:
                id_numbers.add(id_number)
                break
        political = "party_member" if index == 1 else _political_status(draw, age)
        categories = []
        if political in ("party_member", "probationary"):
            categories.append("party-member")
        categories.append("staff" if draw.random() < 0.92 else "social")
        if age <= 35:
            categories.append("youth")
        if gender == "female" and draw.random() < 0.5:
            categories.append("women")
        if draw.random() < (0.06 if gender == "male" else 0.005):
            categories.append("veteran")
        qualifications = []
        for code, share in data.QUALIFICATION_SHARE.items():
            if age >= 18 and draw.random() < share:
                year = draw.randint(min(max(birth.year + 18, 2010), today.year - 1), today.year - 1)
                if code == "medical" and draw.random() < 0.5:
                    valid_until = None  # a practitioner's licence has no end date
                elif draw.random() < 0.88:
                    valid_until = today + timedelta(days=draw.randint(30, 1100))
                else:
                    valid_until = today - timedelta(days=draw.randint(5, 400))
                number = f"{data.QUALIFICATION_PREFIX[code]}{year}{draw.randrange(10**6):06d}"
                qualifications.append(QualificationPlan(code, number, valid_until))
        skill_count = draw.choices([0, 1, 2, 3], weights=[30, 40, 20, 10])[0]
        skills: list[str] = []
        while len(skills) < skill_count:
            skill = weighted(draw, data.SKILL_WEIGHTS)
            if skill not in skills:
                skills.append(skill)
        held = {q.code for q in qualifications}
        if "first-aid" in held and "first-aid" not in skills:
            skills.append("first-aid")
        if "psych-counselling" in held and "counselling" not in skills:
            skills.append("counselling")
        registered_on = first_day - timedelta(days=draw.randint(4, 30))
        registered_at = datetime.combine(registered_on, time(8), tz) + timedelta(minutes=draw.randrange(14 * 60))
        persons.append(
            Person(
                index=index,
                real_name=real_name,
                gender=gender,
                birth_date=birth,
                id_number=id_number,
                mobile=mobile,
                volunteer_number=numbers[index],
                org=org,
                team=team,
                political_status=political,
                categories=categories,
                skills=skills,
                qualifications=qualifications,
                guardian_consent=age < 18,
                registered_at=registered_at,
            )
        )
        teams[team].members.append(index)

    _deploy(draw, persons, deployed=deployed, communities=communities, first_day=first_day, tz=tz)
    for person in persons:
        person.insurance_valid_until = _insurance(draw, person, today)
        if person.status == "reserve" and draw.random() < 0.01:
            person.status = "suspended"
    for number, team in enumerate(teams):
        team.leader = 1 if number == 0 else _pick_leader(draw, team, persons, first_day)
    return PeoplePlan(orgs, teams, persons)


def _deploy(
    draw: random.Random, persons: list[Person], *, deployed: int, communities: int, first_day: date, tz: ZoneInfo
) -> None:
    """Send ``deployed`` adults to the communities, about the same number to each.

    Volunteers go in team order to communities in code order, so a team's members end up in
    neighbouring communities, as when the committee dispatches a whole commando team to a street.
    """
    adults = [p.index for p in persons[2:] if age_on(p.birth_date, first_day) >= 18]
    chosen = sorted([0, 1, *draw.sample(adults, deployed - 2)])
    base, extra = divmod(deployed, communities)
    bonus = set(draw.sample(range(communities), extra))
    slots = [c for c in range(communities) for _ in range(base + (c in bonus))]
    dispatched_at = [
        datetime.combine(first_day - timedelta(days=draw.randint(1, 3)), time(8), tz)
        + timedelta(minutes=draw.randrange(10 * 60))
        for _ in range(communities)
    ]
    for index, community in zip(chosen, slots, strict=True):
        person = persons[index]
        person.status, person.community, person.deployed_at = "active", community, dispatched_at[community]


def _insurance(draw: random.Random, person: Person, today: date) -> date | None:
    # The committee insured the volunteers it deployed; in the reserve, cover is patchier.
    roll = draw.random()
    if person.index < 2 or (person.community is not None and roll < 0.94):
        return today + timedelta(days=draw.randint(60, 330))
    if person.community is not None:
        if roll < 0.96:
            return today + timedelta(days=draw.randint(1, 5))  # runs out during the rota
        return None if roll < 0.98 else today - timedelta(days=draw.randint(1, 30))
    if roll < 0.78:
        return today + timedelta(days=draw.randint(30, 330))
    if roll < 0.88:
        return today - timedelta(days=draw.randint(1, 120))
    return None


def _pick_leader(draw: random.Random, team: TeamPlan, persons: list[Person], first_day: date) -> int:
    members = [persons[i] for i in team.members if i > 1]
    adults = [p for p in members if age_on(p.birth_date, first_day) >= 18]
    for pool in (
        [p for p in adults if p.community is not None and p.political_status == "party_member"],
        [p for p in adults if p.community is not None],
        adults,
        members,
    ):
        if pool:
            return draw.choice(pool).index
    return team.members[0]
