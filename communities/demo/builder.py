"""``demo_seed``: write the demo scenario into an empty database, fast.

The plans (``people``, ``places``, ``rota``) are built in memory; this module only inserts them,
with ``bulk_create`` and precomputed foreign keys, and the two big tables (shifts, assignments)
through ``bulk``'s COPY / executemany path, so no row costs a query of its own. It all runs in
one transaction: a failure leaves the database as it was.

Running it again is safe: the league committee's code marks the demo, and a database that
already holds it is left alone. A database holding anything else is refused rather than mixed.
"""

from __future__ import annotations

import logging
import time as clock
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from communities.demo import DEMO_PASSWORD, data
from communities.demo.bulk import insert_rows, reserve_ids
from communities.demo.people import PeoplePlan, person_name, plan_people, rng, volunteer_numbers
from communities.demo.places import PlacesPlan, plan_places
from communities.demo.rota import PostTypeRule, plan_rota
from communities.models import Assignment, Community, Dispatch, District, Post, PostType, Shift, Street
from communities.services import tallies
from volunteers.models import (
    Organization,
    OrganizationStaff,
    Qualification,
    QualificationType,
    Skill,
    StaffContact,
    Team,
    Volunteer,
    VolunteerCategory,
    path_below,
)

# The 2022 figures (domain page); --scale multiplies them.
VOLUNTEERS = 3297
COMMUNITIES = 422
DEPLOYED = 1758
MAX_SCALE = 100
BATCH = 2000
ROTA_CHUNK = 200  # communities per insert round, so memory stays flat at large scales
COORDINATOR_COMMUNITIES = 5


SHIFT_COLUMNS = (
    "id",
    "post_id",
    "community_id",
    "starts_at",
    "ends_at",
    "capacity",
    "confirmed_count",
    "waitlist_count",
    "waitlist_seq",
    "created_at",
)
ASSIGNMENT_COLUMNS = (
    "shift_id",
    "volunteer_id",
    "status",
    "source",
    "assigned_by_id",
    "waitlist_order",
    "created_at",
    "confirmed_at",
    "cancelled_at",
    "checked_in_at",
    "checked_out_at",
    "checkin_method",
    "checkout_method",
    "checkin_flagged",
    "checkin_distance_m",
    "no_show_at",
    "credited_minutes",
    "hours_status",
    "verified_by_id",
    "verified_at",
)


class DemoConflict(Exception):
    """The database holds data the demo would clash with."""


@dataclass(frozen=True)
class DemoSize:
    volunteers: int
    communities: int
    deployed: int

    @classmethod
    def for_scale(cls, scale: float) -> DemoSize:
        if not 0 < scale <= MAX_SCALE:
            raise ValueError(f"scale must be above 0 and at most {MAX_SCALE}")
        size = cls(round(VOLUNTEERS * scale), round(COMMUNITIES * scale), round(DEPLOYED * scale))
        if size.communities < 1 or size.deployed < 2:
            raise ValueError("scale too small: the demo needs at least one community and two deployed volunteers")
        return size


@dataclass
class DemoSummary:
    created: bool
    seed: int
    scale: float
    counts: dict[str, int]
    seconds: float


def demo_seed(*, seed: int = 2022, scale: float = 1, log: Callable[[str], None] = lambda line: None) -> DemoSummary:
    """Build the demo (or find it already built). Raises ``DemoConflict`` on a database it would clash with."""
    started = clock.perf_counter()
    size = DemoSize.for_scale(scale)
    with transaction.atomic():
        if Organization.objects.filter(code=data.COMMITTEE["code"]).exists():
            _check_same_demo(seed, size)
            return DemoSummary(False, seed, scale, current_counts(), clock.perf_counter() - started)
        _check_empty()
        writer = _Writer(seed=seed, size=size, log=log)
        writer.plan()
        _check_usernames(writer.usernames())
        writer.write()
    return DemoSummary(True, seed, scale, writer.counts, clock.perf_counter() - started)


def current_counts() -> dict[str, int]:
    return {
        "volunteers": Volunteer.objects.count(),
        "deployed": Volunteer.objects.filter(deployed_community__isnull=False).count(),
        "teams": Team.objects.count(),
        "organizations": Organization.objects.count(),
        "communities": Community.objects.count(),
        "posts": Post.objects.count(),
        "shifts": Shift.objects.count(),
        "assignments": Assignment.objects.count(),
    }


def _check_same_demo(seed: int, size: DemoSize) -> None:
    # Volunteer numbers depend on the seed alone and the n-th volunteer gets the n-th number, so the
    # first, the last and the one past the end tell which seed and scale built the demo.
    numbers = volunteer_numbers(seed, size.volunteers + 1)
    probe = {numbers[0]: True, numbers[size.volunteers - 1]: True, numbers[size.volunteers]: False}
    found = set(Volunteer.objects.filter(volunteer_number__in=list(probe)).values_list("volunteer_number", flat=True))
    if any((number in found) != expected for number, expected in probe.items()):
        raise DemoConflict(
            "The database already holds demo data, built with another --seed or --scale (or changed since). "
            "Start from an empty database (manage.py flush) to build this one."
        )


def _check_empty() -> None:
    models = [Organization, Team, Volunteer, District, Street, Community, Post, Shift, Assignment]
    found = [f"{count} {model._meta.verbose_name_plural}" for model in models if (count := model.objects.count())]
    if found:
        raise DemoConflict(
            f"The database already holds data that is not the demo ({', '.join(found)}). "
            "seed_demo only fills an empty database: use a fresh one, or manage.py flush first."
        )


def _check_usernames(usernames: list[str]) -> None:
    taken: list[str] = []
    user_model = get_user_model()
    for start in range(0, len(usernames), 500):
        chunk = usernames[start : start + 500]
        taken += user_model.objects.filter(username__in=chunk).values_list("username", flat=True)
    if taken:
        raise DemoConflict(
            f"Users the demo would create already exist ({', '.join(sorted(taken)[:5])}"
            f"{' …' if len(taken) > 5 else ''}). Use a fresh database, or manage.py flush first."
        )


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    # A first count is not drift: keep the recount's drift warning out of the seed's output.
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)


class _Writer:
    """Holds the plans and the ids the database hands back, phase by phase."""

    def __init__(self, *, seed: int, size: DemoSize, log: Callable[[str], None]) -> None:
        self.seed, self.size, self.log = seed, size, log
        self.tz = timezone.get_default_timezone()
        self.now = timezone.now()
        self.today: date = timezone.localdate(self.now, self.tz)
        self.counts: dict[str, int] = {}
        self.people: PeoplePlan
        self.places: PlacesPlan

    # --- planning -------------------------------------------------------------------------

    def plan(self) -> None:
        with self._phase("plan"):
            self.people = plan_people(
                seed=self.seed,
                volunteers=self.size.volunteers,
                deployed=self.size.deployed,
                communities=self.size.communities,
                today=self.today,
                tz=self.tz,
            )
            self.places = plan_places(seed=self.seed, communities=self.size.communities)
        self.log(
            f"  {len(self.people.persons):,} volunteers in {len(self.people.teams):,} teams, "
            f"{len(self.places.communities):,} communities"
        )

    def usernames(self) -> list[str]:
        fixed = ["admin", "tuanwei", "coordinator"]
        return (
            fixed
            + [p.mobile for p in self.people.persons]
            + [self._coordinator_name(c.code) for c in self.places.communities]
        )

    @staticmethod
    def _coordinator_name(code: str) -> str:
        return f"coord-{code}"

    # --- writing --------------------------------------------------------------------------

    def write(self) -> None:
        with self._phase("reference data"):
            self._reference_data()
        with self._phase("organizations"):
            self._organizations()
        with self._phase("places"):
            self._places()
        with self._phase("users"):
            self._users()
        with self._phase("volunteers"):
            self._volunteers()
        with self._phase("roles"):
            self._roles()
        with self._phase("rota"):
            self._rota()
        with self._phase("planner statistics"), connection.cursor() as cursor:
            # The tables grew from nothing to tens of thousands of rows in this transaction: what
            # the planner last learnt about them (autovacuum's view of an empty table) would turn
            # the recount's joins into nested loops over every row.
            tables = [model._meta.db_table for model in (Volunteer, Shift, Assignment, Post, Community)]
            cursor.execute(f"ANALYZE {', '.join(tables)}")
        with self._phase("tallies"), _quiet(tallies.__name__):
            tallies.tallies_recount_all(today=self.today)

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        started = clock.perf_counter()
        yield
        self.log(f"{name} done ({clock.perf_counter() - started:.1f}s)")

    def _reference_data(self) -> None:
        self.skill_ids = _ensure_by_code(Skill, data.SKILLS)
        self.qualification_ids = _ensure_by_code(QualificationType, data.QUALIFICATION_TYPES)
        self.category_ids = _ensure_by_code(VolunteerCategory, data.CATEGORIES)
        codes = [row[0] for row in data.POST_TYPES]
        existing = {pt.code: pt for pt in PostType.objects.filter(code__in=codes)}
        new = [
            PostType(code=code, name=name, name_en=name_en, requires_insurance=insured, min_age=age, description=text)
            for code, name, name_en, insured, age, _quals, text in data.POST_TYPES
            if code not in existing
        ]
        PostType.objects.bulk_create(new)
        through = PostType.required_qualifications.through
        through.objects.bulk_create(
            [
                through(posttype_id=pt.pk, qualificationtype_id=self.qualification_ids[qual])
                for pt, row in zip(new, [r for r in data.POST_TYPES if r[0] not in existing], strict=True)
                for qual in row[5]
            ]
        )
        # Rules come from the rows as stored: a post type that existed before keeps its own.
        post_types = {pt.code: pt for pt in PostType.objects.filter(code__in=codes)}
        self.post_type_ids = {code: pt.pk for code, pt in post_types.items()}
        skills_of: dict[int, set[str]] = {pt.pk: set() for pt in post_types.values()}
        for type_id, code in PostType.required_skills.through.objects.filter(posttype_id__in=skills_of).values_list(
            "posttype_id", "skill__code"
        ):
            skills_of[type_id].add(code)
        quals_of: dict[int, set[str]] = {pt.pk: set() for pt in post_types.values()}
        for type_id, code in through.objects.filter(posttype_id__in=quals_of).values_list(
            "posttype_id", "qualificationtype__code"
        ):
            quals_of[type_id].add(code)
        self.rules = {
            code: PostTypeRule(
                pt.requires_insurance, pt.min_age, frozenset(skills_of[pt.pk]), frozenset(quals_of[pt.pk])
            )
            for code, pt in post_types.items()
        }
        self.counts["post types"] = len(post_types)

    def _organizations(self) -> None:
        plans = self.people.organizations
        committee_plan = plans[0]
        committee = Organization(
            name=committee_plan.name,
            name_en=committee_plan.name_en,
            code=committee_plan.code,
            kind=Organization.Kind.COMMITTEE,
            contact_person=committee_plan.contact_person,
            contact_phone=committee_plan.contact_phone,
            certificate_handler=data.COMMITTEE["certificate_handler"],
        )
        committee.save()
        objects: list[Organization | None] = [committee] + [None] * (len(plans) - 1)
        # Parents before children, one level at a time, with path and depth as Organization.save sets them.
        for kind in ("institution", "branch"):
            level = [i for i, p in enumerate(plans) if p.kind == kind]
            batch = []
            for i in level:
                plan = plans[i]
                batch.append(
                    Organization(
                        name=plan.name,
                        name_en=plan.name_en,
                        code=plan.code,
                        kind=kind,
                        parent_id=objects[plan.parent].pk,
                        contact_person=plan.contact_person,
                        contact_phone=plan.contact_phone,
                    )
                )
            Organization.objects.bulk_create(batch, batch_size=BATCH)
            for i, org in zip(level, batch, strict=True):
                parent = objects[plans[i].parent]
                org.path, org.depth = path_below(parent.path, org.pk), parent.depth + 1
                objects[i] = org
            Organization.objects.bulk_update(batch, ["path", "depth"], batch_size=BATCH)
        self.organizations = objects
        self.counts["organizations"] = len(objects)

        teams = [Team(organization_id=objects[t.org].pk, name=t.name) for t in self.people.teams]
        Team.objects.bulk_create(teams, batch_size=BATCH)
        self.teams = teams
        self.counts["teams"] = len(teams)

    def _places(self) -> None:
        places = self.places
        districts = [District(code=code, name=name, name_en=name_en) for code, name, name_en in places.districts]
        District.objects.bulk_create(districts)
        streets = [
            Street(district_id=districts[d].pk, name=name, name_en=name_en) for d, name, name_en in places.streets
        ]
        Street.objects.bulk_create(streets, batch_size=BATCH)
        communities = [
            Community(
                code=c.code,
                name=c.name,
                name_en=c.name_en,
                street_id=streets[c.street].pk,
                address=c.address,
                latitude=c.latitude,
                longitude=c.longitude,
                geofence_radius_m=c.geofence_radius_m,
            )
            for c in places.communities
        ]
        Community.objects.bulk_create(communities, batch_size=BATCH)
        self.community_ids = [c.pk for c in communities]
        posts = [
            Post(
                community_id=community.pk,
                post_type_id=self.post_type_ids[p.type_code],
                name=p.name,
                location=p.location,
            )
            for community, plan in zip(communities, places.communities, strict=True)
            for p in plan.posts
        ]
        Post.objects.bulk_create(posts, batch_size=BATCH)
        self.post_ids: list[list[int]] = []
        cursor = 0
        for plan in places.communities:
            self.post_ids.append([post.pk for post in posts[cursor : cursor + len(plan.posts)]])
            cursor += len(plan.posts)
        self.counts.update(
            districts=len(districts), streets=len(streets), communities=len(communities), posts=len(posts)
        )

    def _users(self) -> None:
        user_model = get_user_model()
        # One hash for every demo account: hashing each of thousands would take minutes.
        password = make_password(DEMO_PASSWORD)
        joined = datetime.combine(self.today - timedelta(days=40), time(9), self.tz)
        staff = [
            user_model(
                username="admin",
                first_name="系统管理员",
                email="admin@example.com",
                is_staff=True,
                is_superuser=True,
                password=password,
                date_joined=joined,
            ),
            user_model(username="tuanwei", first_name="顾晓岚", password=password, date_joined=joined),
            user_model(username="coordinator", first_name="钱慧敏", password=password, date_joined=joined),
        ]
        user_model.objects.bulk_create(staff)
        _admin, self.tuanwei, self.coordinator = staff
        people = [
            user_model(username=p.mobile, first_name=p.real_name, password=password, date_joined=p.registered_at)
            for p in self.people.persons
        ]
        self._bulk(user_model, people, "volunteer users")
        self.person_user_ids = [u.pk for u in people]

        draw = rng(self.seed, "coordinators")
        coordinators = [
            user_model(
                username=self._coordinator_name(c.code),
                first_name=person_name(draw)[0],
                password=password,
                date_joined=joined,
            )
            for c in self.places.communities
        ]
        self._bulk(user_model, coordinators)
        self.coordinator_ids = [u.pk for u in coordinators]
        self.counts["users"] = len(staff) + len(people) + len(coordinators)

    def _volunteers(self) -> None:
        persons = self.people.persons
        volunteers = []
        for person, user_id in zip(persons, self.person_user_ids, strict=True):
            volunteer = Volunteer(
                user_id=user_id,
                volunteer_number=person.volunteer_number,
                real_name=person.real_name,
                gender=person.gender,
                mobile=person.mobile,
                birth_date=person.birth_date,
                organization_id=self.organizations[person.org].pk,
                team_id=self.teams[person.team].pk,
                political_status=person.political_status,
                insurance_valid_until=person.insurance_valid_until,
                guardian_consent=person.guardian_consent,
                status=person.status,
                deployed_community_id=None if person.community is None else self.community_ids[person.community],
                deployed_at=person.deployed_at,
                created_at=person.registered_at,
            )
            volunteer.set_id_number(person.id_number)
            volunteers.append(volunteer)
        self._bulk(Volunteer, volunteers, "volunteers")
        self.volunteer_ids = [v.pk for v in volunteers]

        categories = Volunteer.categories.through
        self._bulk(
            categories,
            [
                categories(volunteer_id=v, volunteercategory_id=self.category_ids[code])
                for v, p in zip(self.volunteer_ids, persons, strict=True)
                for code in p.categories
            ],
        )
        skills = Volunteer.skills.through
        self._bulk(
            skills,
            [
                skills(volunteer_id=v, skill_id=self.skill_ids[code])
                for v, p in zip(self.volunteer_ids, persons, strict=True)
                for code in p.skills
            ],
        )
        qualifications = [
            Qualification(
                volunteer_id=v,
                qualification_type_id=self.qualification_ids[q.code],
                certificate_number=q.certificate_number,
                valid_until=q.valid_until,
            )
            for v, p in zip(self.volunteer_ids, persons, strict=True)
            for q in p.qualifications
        ]
        self._bulk(Qualification, qualifications)
        for team, plan in zip(self.teams, self.people.teams, strict=True):
            team.leader_id = self.volunteer_ids[plan.leader]
        Team.objects.bulk_update(self.teams, ["leader"], batch_size=BATCH)
        self.counts.update(
            volunteers=len(volunteers),
            deployed=sum(p.community is not None for p in persons),
            qualifications=len(qualifications),
        )

    def _roles(self) -> None:
        committee = self.organizations[0]
        OrganizationStaff.objects.create(user=self.tuanwei, organization=committee, title="团工委干事")
        StaffContact.objects.bulk_create(
            [
                StaffContact(user=user, mobile=data.DEMO_STAFF_MOBILES[user.username])
                for user in (self.tuanwei, self.coordinator)
            ]
        )
        through = Community.coordinators.through
        links = [
            through(community_id=c, user_id=u) for c, u in zip(self.community_ids, self.coordinator_ids, strict=True)
        ]
        # The demo coordinator runs the demo volunteer's community and its neighbours.
        demo_community = self.people.persons[0].community
        nearby = sorted(range(len(self.community_ids)), key=lambda c: (abs(c - demo_community), c))
        links += [
            through(community_id=self.community_ids[c], user_id=self.coordinator.pk)
            for c in nearby[:COORDINATOR_COMMUNITIES]
        ]
        self._bulk(through, links)

        # The committee dispatched each team's members to their community in one go.
        groups: dict[tuple[int, int], list[int]] = {}
        for person in self.people.persons:
            if person.community is not None:
                groups.setdefault((person.team, person.community), []).append(person.index)
        dispatches = [
            Dispatch(
                community_id=self.community_ids[community],
                team_id=self.teams[team].pk,
                requested=len(members),
                created_by_id=self.tuanwei.pk,
                created_at=self.people.persons[members[0]].deployed_at,
            )
            for (team, community), members in groups.items()
        ]
        self._bulk(Dispatch, dispatches)
        members = Dispatch.volunteers.through
        self._bulk(
            members,
            [
                members(dispatch_id=dispatch.pk, volunteer_id=self.volunteer_ids[index])
                for dispatch, group in zip(dispatches, groups.values(), strict=True)
                for index in group
            ],
        )
        self.counts["dispatches"] = len(dispatches)

    def _rota(self) -> None:
        persons_by_community: dict[int, list] = {}
        for person in self.people.persons:
            if person.community is not None:
                persons_by_community.setdefault(person.community, []).append(person)
        total = len(self.places.communities)
        shift_count = assignment_count = 0
        started = clock.perf_counter()
        tuanwei = self.tuanwei.pk
        report_every = max(1, total // ROTA_CHUNK // 10)  # about ten progress lines at any scale
        for first in range(0, total, ROTA_CHUNK):
            rotas = [
                (
                    c,
                    plan_rota(
                        seed=self.seed,
                        community_index=c,
                        community=self.places.communities[c],
                        persons=persons_by_community.get(c, []),
                        rules=self.rules,
                        today=self.today,
                        now=self.now,
                        tz=self.tz,
                    ),
                )
                for c in range(first, min(first + ROTA_CHUNK, total))
            ]
            shift_ids = iter(reserve_ids(Shift, sum(len(rota.shifts) for _c, rota in rotas)))
            shift_rows, assignment_rows = [], []
            for c, rota in rotas:
                post_ids, community_id, verifier = self.post_ids[c], self.community_ids[c], self.coordinator_ids[c]
                ids = []
                for s in rota.shifts:
                    ids.append(next(shift_ids))
                    shift_rows.append(
                        (
                            ids[-1],
                            post_ids[s.post],
                            community_id,
                            s.starts_at,
                            s.ends_at,
                            s.capacity,
                            s.confirmed_count,
                            s.waitlist_count,
                            s.waitlist_seq,
                            rota.published_at,
                        )
                    )
                assignment_rows += [
                    (
                        ids[a.shift],
                        self.volunteer_ids[a.person],
                        a.status,
                        a.source,
                        tuanwei if a.source == "dispatch" else None,
                        a.waitlist_order,
                        a.created_at,
                        a.confirmed_at,
                        a.cancelled_at,
                        a.checked_in_at,
                        a.checked_out_at,
                        a.checkin_method,
                        a.checkout_method,
                        a.checkin_flagged,
                        a.checkin_distance_m,
                        a.no_show_at,
                        a.credited_minutes,
                        a.hours_status,
                        verifier if a.verified_at else None,
                        a.verified_at,
                    )
                    for a in rota.assignments
                ]
            shift_count += insert_rows(Shift, SHIFT_COLUMNS, shift_rows)
            assignment_count += insert_rows(Assignment, ASSIGNMENT_COLUMNS, assignment_rows)
            done = rotas[-1][0] + 1
            if done == total or (done // ROTA_CHUNK) % report_every == 0:
                self.log(
                    f"  communities {done:,}/{total:,}: {shift_count:,} shifts, "
                    f"{assignment_count:,} assignments ({clock.perf_counter() - started:.1f}s)"
                )
        self.counts.update(shifts=shift_count, assignments=assignment_count)

    def _bulk(self, model, objects: list, label: str | None = None) -> None:
        """``bulk_create`` in rounds, reporting progress on the big tables."""
        step = max(BATCH, len(objects) // 10)
        for start in range(0, len(objects), step):
            model.objects.bulk_create(objects[start : start + step], batch_size=BATCH)
            if label and len(objects) > step:
                self.log(f"  {label} {min(start + step, len(objects)):,}/{len(objects):,}")
        if label and len(objects) <= step:
            self.log(f"  {label} {len(objects):,}/{len(objects):,}")


def _ensure_by_code(model, rows) -> dict[str, int]:
    """Reference rows by code: reuse what exists, create the rest. Returns code → id."""
    codes = [row[0] for row in rows]
    existing = dict(model.objects.filter(code__in=codes).values_list("code", "pk"))
    model.objects.bulk_create(
        [model(code=code, name=name, name_en=name_en) for code, name, name_en in rows if code not in existing]
    )
    return dict(model.objects.filter(code__in=codes).values_list("code", "pk"))
