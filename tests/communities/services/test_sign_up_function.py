"""The sign-up's three ways of writing agree, and the rule functions installed in the database are
the sources in communities/sql/ (the drift guard).

The rules live once, in ``communities_sign_up_refusal`` (docs/rules.md). Three paths write a
sign-up around them: the locked transaction (``signup._sign_up_locked``: coordinators, a line to
promote first), the function without texts (``signup._sign_up_in_transaction``) and the one
statement writing its notification rows (``signup._sign_up_in_database``). Every case is built
once and run through each, each inside a savepoint that is rolled back
after its answer is recorded: the refusal with its details, or the assignment, the shift's
counters and the notification rows it made. The answers must be equal, every case must reach the
answer it was written for, and a refusal must leave the database as it was. Fixed cases cover
each rule at its edges; random ones mix schedules, ages, insurance and qualifications.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from importlib import import_module
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models import NOT_PROVIDED
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from communities import sql
from communities.models import Assignment, Notification, Shift
from communities.notifications import outbox
from communities.services import signup
from config.errors import ServiceError
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    PostFactory,
    PostTypeFactory,
    QualificationFactory,
    QualificationTypeFactory,
    ShiftFactory,
    SkillFactory,
    UserFactory,
    VolunteerFactory,
    years_before,
)

pytestmark = [
    pytest.mark.django_db,
]


class _Undo(Exception):
    """Carries a form's answer out of the savepoint it rolls back."""


def _fingerprint():
    return (
        sorted(Shift.objects.values_list("pk", "confirmed_count", "waitlist_count", "waitlist_seq")),
        sorted(Assignment.objects.values_list("pk", "status", "waitlist_order")),
        Notification.objects.count(),
    )


def _answer(form, kwargs):
    before = _fingerprint()
    try:
        with transaction.atomic():
            assignment = form(**kwargs)
            row = Assignment.objects.values(
                "shift_id",
                "volunteer_id",
                "status",
                "source",
                "waitlist_order",
                "assigned_by_id",
                "override_reason",
                "confirmed_at",
                "hours_status",
                "tally_pending",
            ).get(pk=assignment.pk)
            shift = Shift.objects.values("confirmed_count", "waitlist_count", "waitlist_seq").get(
                pk=assignment.shift_id
            )
            messages = list(
                Notification.objects.filter(assignment_id=assignment.pk)
                .order_by("channel")
                .values("kind", "channel", "recipient_id", "urgent", "subject", "body", "state")
            )
            raise _Undo(
                {
                    "status": assignment.status,
                    "waitlist_position": getattr(assignment, "waitlist_position", None),
                    "row": row,
                    "shift": shift,
                    "messages": messages,
                }
            )
    except _Undo as undo:
        answer = undo.args[0]
    except ServiceError as error:
        answer = {"refused": error.code, "details": error.details}
    if "refused" in answer:
        assert _fingerprint() == before, "a refusal changed the database"
    return answer


def _locked(**kwargs):
    return signup._sign_up_locked(source=Assignment.Source.SELF, actor=None, override_reason="", **kwargs)


def _in_transaction(*, shift_id, volunteer, user, now):
    return signup._sign_up_in_transaction(shift_id, volunteer, user, now)


def both_forms(*, shift_id, volunteer=None, user=None, now=None):
    """The locked transaction; the function with the notification rows inserted from Python in its
    transaction; the function writing the rows itself from the texts it is given: three equal answers."""
    kwargs = {"shift_id": shift_id, "volunteer": volunteer, "user": user, "now": now or timezone.now()}
    locked = _answer(_locked, kwargs)
    assert _answer(_in_transaction, kwargs) == locked
    outbox.sign_up_texts_forget()
    assert _answer(signup._sign_up_in_database, kwargs) == locked
    return locked


def outcome(answer) -> str:
    if "refused" in answer:
        reason = answer["details"].get("reason")
        return f"{answer['refused']}:{reason}" if reason else answer["refused"]
    return answer["status"]


def local(day_offset: int, hour: int, minute: int = 0) -> datetime:
    day = timezone.localdate() + timedelta(days=day_offset)
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def shift_at(start: datetime, hours: float, **kwargs) -> Shift:
    return ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=hours), **kwargs)


# --- Fixed cases: each rule at its edges ----------------------------------------------------


def case_open_shift():
    return {"shift_id": ShiftFactory().pk, "volunteer": VolunteerFactory()}, "confirmed"


def case_by_user():
    return {"shift_id": ShiftFactory().pk, "user": VolunteerFactory().user}, "confirmed"


def case_full_shift():
    shift = ShiftFactory(capacity=1)
    AssignmentFactory(shift=shift)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)
    AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    Shift.objects.filter(pk=shift.pk).update(waitlist_count=1, waitlist_seq=1)
    return {"shift_id": shift.pk, "volunteer": VolunteerFactory()}, "waitlisted"


def case_message_language_english():
    shift = ShiftFactory(community=CommunityFactory(name="幸福社区", name_en="Xingfu"))
    return {"shift_id": shift.pk, "volunteer": VolunteerFactory(message_language="en")}, "confirmed"


def case_message_language_english_waitlisted():
    shift = ShiftFactory(capacity=1, community=CommunityFactory(name="幸福社区", name_en=""))
    AssignmentFactory(shift=shift)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)
    return {"shift_id": shift.pk, "volunteer": VolunteerFactory(message_language="en")}, "waitlisted"


def case_no_sms_no_email():
    volunteer = VolunteerFactory(notify_by_sms=False, notify_by_email=False)
    return {"shift_id": ShiftFactory().pk, "volunteer": volunteer}, "confirmed"


def case_email_too():
    volunteer = VolunteerFactory(notify_by_email=True, user=UserFactory(email="v@example.org"))
    return {"shift_id": ShiftFactory().pk, "volunteer": volunteer}, "confirmed"


def case_no_shift():
    return {"shift_id": 987654321, "volunteer": VolunteerFactory()}, "not_found"


def case_user_without_profile():
    return {"shift_id": ShiftFactory().pk, "user": UserFactory()}, "not_a_volunteer"


def case_cancelled_shift():
    return {"shift_id": ShiftFactory(status=Shift.Status.CANCELLED).pk, "volunteer": VolunteerFactory()}, (
        "shift_cancelled"
    )


def case_shift_over():
    shift = shift_at(timezone.now() - timedelta(hours=5), 4)
    return {"shift_id": shift.pk, "volunteer": VolunteerFactory()}, "shift_over"


def case_signup_not_open():
    shift = ShiftFactory(signup_opens_at=timezone.now() + timedelta(hours=1))
    return {"shift_id": shift.pk, "volunteer": VolunteerFactory()}, "signup_closed"


def case_signup_closed():
    shift = ShiftFactory(signup_closes_at=timezone.now() - timedelta(minutes=1))
    return {"shift_id": shift.pk, "volunteer": VolunteerFactory()}, "signup_closed"


def case_running_shift_default_close():
    shift = shift_at(timezone.now() - timedelta(hours=1), 4)  # started: closes at its start by default
    return {"shift_id": shift.pk, "volunteer": VolunteerFactory()}, "signup_closed"


def case_already_waitlisted():
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    return {"shift_id": shift.pk, "volunteer": volunteer}, "already_signed_up"


def case_cancelled_before_may_return():
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CANCELLED)
    return {"shift_id": shift.pk, "volunteer": volunteer}, "confirmed"


def case_suspended():
    return {"shift_id": ShiftFactory().pk, "volunteer": VolunteerFactory(status="suspended")}, "not_eligible:status"


def case_missing_skills_named_in_order():
    post_type = PostTypeFactory()
    skills = [SkillFactory(code=code) for code in ("b-first-aid", "A-sign", "a-drive")]
    post_type.required_skills.add(*skills)
    volunteer = VolunteerFactory()
    volunteer.skills.add(skills[0])
    shift = ShiftFactory(post=PostFactory(post_type=post_type))
    return {"shift_id": shift.pk, "volunteer": volunteer}, "not_eligible:skill"


def _qualified_until(days: int):
    """A shift in three days of a duty asking for a qualification held until today + ``days``."""
    post_type = PostTypeFactory()
    kind = QualificationTypeFactory()
    post_type.required_qualifications.add(kind)
    shift = shift_at(local(3, 9), 4, post=PostFactory(post_type=post_type))
    volunteer = VolunteerFactory()
    QualificationFactory(
        volunteer=volunteer, qualification_type=kind, valid_until=timezone.localdate() + timedelta(days)
    )
    return {"shift_id": shift.pk, "volunteer": volunteer}


def case_qualification_expires_the_day_before():
    return _qualified_until(2), "not_eligible:qualification"


def case_qualification_valid_on_the_day():
    return _qualified_until(3), "confirmed"


def case_uninsured():
    post_type = PostTypeFactory(requires_insurance=True)
    shift = shift_at(local(3, 9), 4, post=PostFactory(post_type=post_type))
    volunteer = VolunteerFactory(insurance_valid_until=timezone.localdate() + timedelta(2))
    return {"shift_id": shift.pk, "volunteer": volunteer}, "not_eligible:insurance"


def case_too_young_the_day_before_the_birthday():
    post_type = PostTypeFactory(min_age=20)
    shift = shift_at(local(3, 9), 4, post=PostFactory(post_type=post_type))
    day = timezone.localdate() + timedelta(days=4)
    volunteer = VolunteerFactory(birth_date=date(day.year - 20, day.month, min(day.day, 28)), guardian_consent=True)
    return {"shift_id": shift.pk, "volunteer": volunteer}, "not_eligible:age"


def _leap_day_cases():
    """A volunteer born on 29 February comes of the post's age on 1 March of a common year."""
    year = timezone.localdate().year + 1
    while year % 4 == 0:
        year += 1
    post_type = PostTypeFactory(min_age=year - 2008)
    volunteer = VolunteerFactory(birth_date=date(2008, 2, 29), guardian_consent=True)
    february = shift_at(timezone.make_aware(datetime(year, 2, 28, 9)), 4, post=PostFactory(post_type=post_type))
    march = shift_at(timezone.make_aware(datetime(year, 3, 1, 9)), 4, post=PostFactory(post_type=post_type))
    return volunteer, february, march


def case_leap_day_birthday_not_yet():
    volunteer, february, _march = _leap_day_cases()
    return {"shift_id": february.pk, "volunteer": volunteer}, "not_eligible:age"


def case_leap_day_birthday_reached():
    volunteer, _february, march = _leap_day_cases()
    return {"shift_id": march.pk, "volunteer": volunteer}, "confirmed"


def case_minor_without_consent():
    post_type = PostTypeFactory(min_age=14)
    shift = shift_at(local(3, 9), 4, post=PostFactory(post_type=post_type))
    volunteer = VolunteerFactory(birth_date=timezone.localdate() - timedelta(days=16 * 365), guardian_consent=False)
    return {"shift_id": shift.pk, "volunteer": volunteer}, "not_eligible:guardian_consent"


def case_minor_with_consent():
    post_type = PostTypeFactory(min_age=14)
    shift = shift_at(local(3, 9), 4, post=PostFactory(post_type=post_type))
    volunteer = VolunteerFactory(birth_date=timezone.localdate() - timedelta(days=16 * 365), guardian_consent=True)
    return {"shift_id": shift.pk, "volunteer": volunteer}, "confirmed"


def case_overlap():
    volunteer = VolunteerFactory()
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(2, 8), 4))
    return {"shift_id": shift_at(local(2, 11), 4).pk, "volunteer": volunteer}, "overlapping_shift"


def case_waitlisted_elsewhere_is_no_overlap():
    volunteer = VolunteerFactory()
    AssignmentFactory(
        volunteer=volunteer, shift=shift_at(local(2, 8), 4), status=Assignment.Status.WAITLISTED, waitlist_order=1
    )
    return {"shift_id": shift_at(local(2, 8), 4).pk, "volunteer": volunteer}, "confirmed"


def case_rest_period():
    volunteer = VolunteerFactory()
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(2, 0), 4))
    return {"shift_id": shift_at(local(2, 10), 4).pk, "volunteer": volunteer}, "rest_period"


def case_rest_exactly_long_enough():
    volunteer = VolunteerFactory()
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(2, 0), 2))
    return {"shift_id": shift_at(local(2, 10), 4).pk, "volunteer": volunteer}, "confirmed"


def case_daily_limit_across_midnight():
    volunteer = VolunteerFactory()
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(2, 13), 4))  # 13-17
    # 22:00 to 08:00 next day: two hours on day 2 with the earlier four, eight on day 3.
    return {"shift_id": shift_at(local(2, 22), 10).pk, "volunteer": volunteer}, None


def case_long_shift_alone():
    return {"shift_id": shift_at(local(2, 6), 11).pk, "volunteer": VolunteerFactory()}, "daily_limit"


CASES = [value for name, value in sorted(globals().items()) if name.startswith("case_")]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__.removeprefix("case_") for case in CASES])
def test_both_forms_answer_alike(case):
    kwargs, expected = case()
    answer = both_forms(**kwargs)
    if expected is not None:
        assert outcome(answer) == expected, answer


@pytest.mark.parametrize("rest_hours", [0.0, 8.0])
def test_daily_limit_without_and_with_a_rest_rule(settings, rest_hours):
    settings.RULES = {**settings.RULES, "MIN_REST_HOURS": rest_hours}
    volunteer = VolunteerFactory()
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(2, 6), 4))  # 06-10
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(2, 10), 3), status=Assignment.Status.COMPLETED)
    answer = both_forms(shift_id=shift_at(local(2, 13), 4).pk, volunteer=volunteer)  # 13-17: 11 hours that day
    assert outcome(answer) == ("daily_limit" if rest_hours == 0 else "rest_period")
    if rest_hours == 0:
        assert answer["details"]["minutes"] == 11 * 60


@pytest.mark.parametrize(
    ("minutes", "expected"), [(600, "confirmed"), (601, "daily_limit"), (599, "confirmed")], ids=str
)
def test_daily_limit_at_its_edge(settings, minutes, expected):
    settings.RULES = {**settings.RULES, "MIN_REST_HOURS": 0.0}
    volunteer = VolunteerFactory()
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(2, 6), 4))  # 240 minutes on day 2
    AssignmentFactory(volunteer=volunteer, shift=shift_at(local(1, 23), 2))  # 60 of them on day 2
    new = shift_at(local(2, 13), (minutes - 300) / 60)  # the rest of the day's total
    answer = both_forms(shift_id=new.pk, volunteer=volunteer)
    assert outcome(answer) == expected, answer
    if expected == "daily_limit":
        assert answer["details"]["minutes"] == minutes


@pytest.mark.parametrize(("gap_minutes", "expected"), [(480, "confirmed"), (479, "rest_period")])
@pytest.mark.parametrize("other_after", [False, True], ids=["other_before", "other_after"])
def test_rest_period_at_its_edge(gap_minutes, expected, other_after):
    volunteer = VolunteerFactory()
    new = shift_at(local(2, 10), 4)  # 10-14
    if other_after:
        other = shift_at(new.ends_at + timedelta(minutes=gap_minutes), 2)
    else:
        other = shift_at(new.starts_at - timedelta(minutes=gap_minutes) - timedelta(hours=2), 2)
    AssignmentFactory(volunteer=volunteer, shift=other)
    assert outcome(both_forms(shift_id=new.pk, volunteer=volunteer)) == expected


def test_the_function_follows_the_configured_rules(settings):
    settings.RULES = {**settings.RULES, "MAX_HOURS_PER_DAY": 3.5, "MINOR_AGE": 30}
    volunteer = VolunteerFactory(birth_date=date(2000, 1, 1), guardian_consent=False)
    assert outcome(both_forms(shift_id=shift_at(local(2, 8), 3).pk, volunteer=volunteer)) == (
        "not_eligible:guardian_consent"
    )
    volunteer.guardian_consent = True
    volunteer.save()
    answer = both_forms(shift_id=shift_at(local(2, 8), 4).pk, volunteer=volunteer)
    assert answer["details"] == {"date": local(2, 8).date().isoformat(), "minutes": 240, "max_hours": 3.5}


# --- Random cases: schedules, ages, insurance and qualifications mixed ----------------------


@pytest.mark.parametrize("seed", range(8))
def test_random_cases_answer_alike(settings, seed):
    draw = random.Random(seed)
    if seed % 2:  # without a rest rule, the daily limit decides more often
        settings.RULES = {**settings.RULES, "MIN_REST_HOURS": 0.0}
    kind = QualificationTypeFactory()
    seen = set()
    for _ in range(12):
        post_type = PostTypeFactory(min_age=draw.choice([14, 16, 18]), requires_insurance=draw.random() < 0.5)
        if draw.random() < 0.3:
            post_type.required_qualifications.add(kind)
        start = local(draw.randint(1, 3), draw.randint(0, 23), draw.choice([0, 15, 30, 59]))
        shift = shift_at(start, draw.choice([1, 2.5, 4, 6, 8, 10.5, 12, 23.9]), post=PostFactory(post_type=post_type))
        shift_day = timezone.localtime(start).date()
        years = draw.choice([13, 14, 15, 16, 17, 18, 19, 30])
        born = years_before(shift_day, years) + timedelta(days=draw.randint(-2, 2))
        volunteer = VolunteerFactory(
            birth_date=born,
            guardian_consent=draw.random() < 0.5,
            insurance_valid_until=draw.choice(
                [None, shift_day - timedelta(days=1), shift_day, shift_day + timedelta(9)]
            ),
        )
        if draw.random() < 0.5:
            QualificationFactory(
                volunteer=volunteer,
                qualification_type=kind,
                valid_until=draw.choice([None, shift_day - timedelta(days=1), shift_day]),
            )
        for _ in range(draw.randint(0, 3)):
            other = shift_at(
                start + timedelta(minutes=draw.randint(-30, 30) * 30), draw.choice([1, 3, 4, 9]), capacity=3
            )
            AssignmentFactory(
                volunteer=volunteer,
                shift=other,
                status=draw.choice(["confirmed", "confirmed", "completed", "cancelled", "no_show"]),
            )
        answer = both_forms(shift_id=shift.pk, volunteer=volunteer, now=timezone.now())
        seen.add(outcome(answer))
    assert len(seen) >= 2, seen  # the draw reached more than one answer


def test_hours_per_day_are_elapsed_time_where_clocks_change(settings):
    # The night European clocks go forward: 00:00-09:00 local is 8 hours, not 9.
    settings.TIME_ZONE = "Europe/Berlin"
    settings.RULES = {**settings.RULES, "MAX_HOURS_PER_DAY": 8.5}
    year = timezone.localdate().year + 1
    day = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    with timezone.override("Europe/Berlin"):
        start = timezone.make_aware(datetime(day.year, day.month, day.day, 0))
        shift = ShiftFactory(starts_at=start, ends_at=timezone.make_aware(datetime(day.year, day.month, day.day, 9)))
        assert shift.ends_at.timestamp() - shift.starts_at.timestamp() == 8 * 3600
        answer = both_forms(shift_id=shift.pk, volunteer=VolunteerFactory())
    assert outcome(answer) == "confirmed", answer


def _installed_function_source() -> str:
    """The body of the sign-up function as installed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'communities_self_sign_up'")
        sources = [row[0] for row in cursor.fetchall()]
    assert len(sources) == 1, "exactly one communities_self_sign_up, no stale overload"
    return sources[0]


def _inserted_columns(source: str, table: str) -> set[str]:
    listed = source.split(f"INSERT INTO {table} (", 1)[1].split(")", 1)[0]
    return {name.strip() for name in listed.split(",")}


@pytest.mark.parametrize(
    "table, model", [("communities_assignment", Assignment), ("communities_notification", Notification)]
)
def test_the_installed_function_inserts_every_column(table, model):
    """Read from pg_proc, not from a migration's text: a later migration may replace the function,
    and a column added to the model must be written by the function the database runs, unless the
    database itself fills it (a ``db_default``, or NULL for a nullable column that starts empty)."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    filled_by_database = {
        field.column
        for field in fields
        if field.db_default is not NOT_PROVIDED or (field.null and not field.has_default())
    }
    inserted = _inserted_columns(_installed_function_source(), table)
    assert inserted <= {field.column for field in fields}
    assert {field.column for field in fields} - inserted <= filled_by_database


# --- The drift guard: the installed functions are the sources ---------------------------------


def _body(text: str) -> str:
    """What PostgreSQL keeps as a function's source (``prosrc``): the text between the $$ marks."""
    return text.split("$$", 2)[1]


@pytest.mark.parametrize("name", sql.FUNCTIONS)
def test_the_installed_function_is_its_source(name):
    """pg_proc holds exactly one function of that name, and its body is the file's: a source
    edited without a migration that installs it again, or a function replaced by hand, fails."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT prosrc FROM pg_proc WHERE proname = %s AND pronamespace = current_schema()::regnamespace", [name]
        )
        installed = [row[0] for row in cursor.fetchall()]
    assert installed == [_body(sql.source(name))]


def test_the_latest_install_migration_is_for_these_sources():
    """A migration records the digest of the sources it installs; the latest one must be for the
    sources as they are, so a deployed database gets a changed rule with the next ``migrate``."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digests = [
        (key[1], migration.__module__) for key, migration in loader.disk_migrations.items() if key[0] == "communities"
    ]
    installs = sorted(
        (name, import_module(module).SQL_DIGEST)
        for name, module in digests
        if hasattr(import_module(module), "SQL_DIGEST")
    )
    assert installs, "no migration installs communities/sql/"
    assert installs[-1][1] == sql.digest(), (
        f"add a migration that installs communities/sql/ again (after {installs[-1][0]})"
    )


def test_every_rule_function_is_called_by_the_installed_sign_up():
    """The one statement of a self sign-up reaches the rules through the installed functions, and
    a refusal from them is what it answers: the behaviour, not only the text."""
    shift = ShiftFactory()
    volunteer = VolunteerFactory(status="suspended")
    params = signup._sign_up_parameters(shift.pk, volunteer, None, timezone.now()) + signup._NO_TEXTS
    with connection.cursor() as cursor:
        cursor.execute(signup._SIGN_UP_SQL, params)
        answer = dict(zip([column.name for column in cursor.description], cursor.fetchone(), strict=True))
        code, reason = answer["code"], answer["d_reason"]
        cursor.execute(
            "SELECT code, d_reason FROM communities_sign_up_refusal(%s, %s, %s, %s, %s, %s, %s, %s)",
            [shift.pk, volunteer.pk, *params[3:9]],
        )
        assert cursor.fetchone() == (code, reason) == ("not_eligible", "status")


# --- The function writing the notification rows -----------------------------------------------


@pytest.mark.parametrize("starts_hour", [6, 9], ids=["starts-before-quiet-hours-end", "starts-after"])
def test_quiet_hours_alike(settings, starts_hour):
    # 23:00 is inside the quiet hours (22:00-07:00): the SMS waits for 07:00 unless the shift starts first.
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "QUIET_HOURS_START": "22:00", "QUIET_HOURS_END": "07:00"}
    shift = shift_at(local(3, starts_hour), 2)
    answer = both_forms(shift_id=shift.pk, volunteer=VolunteerFactory(), now=local(2, 23))
    sms = [message for message in answer["messages"] if message["channel"] == "sms"]
    assert len(sms) == 1 and sms[0]["urgent"] is (starts_hour == 6)


def test_texts_of_a_changed_shift_are_not_used():
    shift = ShiftFactory()
    assert outbox.sign_up_texts_for(shift.pk) is not None
    Shift.objects.filter(pk=shift.pk).update(
        starts_at=shift.starts_at + timedelta(hours=1), ends_at=shift.ends_at + timedelta(hours=1)
    )
    volunteer = VolunteerFactory()
    before = _fingerprint()
    stale = signup._sign_up_in_one_statement(
        shift.pk, volunteer, None, timezone.now(), outbox.sign_up_texts_kept(shift.pk)
    )
    assert stale is None
    assert _fingerprint() == before, "stale texts changed the database"

    # The service falls back to the transaction, writes the new time and forgets the old texts.
    assignment = signup._sign_up_in_database(shift_id=shift.pk, volunteer=volunteer, user=None, now=None)
    shift.refresh_from_db()
    with transaction.atomic():
        expected = outbox.shift_context(Shift.objects.select_related("post", "community").get(pk=shift.pk))
    body = Notification.objects.get(assignment_id=assignment.pk, channel="inapp").body
    assert expected["when"] in body
    assert outbox.sign_up_texts_kept(shift.pk) is None


def test_texts_of_a_renamed_community_are_not_used():
    shift = ShiftFactory()
    assert outbox.sign_up_texts_for(shift.pk) is not None
    type(shift.community).objects.filter(pk=shift.community_id).update(name="改名社区")
    assignment = signup._sign_up_in_database(shift_id=shift.pk, volunteer=VolunteerFactory(), user=None, now=None)
    assert "改名社区" in Notification.objects.get(assignment_id=assignment.pk, channel="inapp").body


def test_a_name_holding_the_position_mark_keeps_no_texts():
    shift = ShiftFactory(post=PostFactory(name="岗\ue000位"))
    assert outbox.sign_up_texts_for(shift.pk) is None
    assert outcome(both_forms(shift_id=shift.pk, volunteer=VolunteerFactory())) == "confirmed"


@pytest.mark.django_db(transaction=True)
def test_one_statement_commits_on_its_own_and_the_rows_are_sent(settings):
    from config.sms.backends import read_outbox

    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "QUIET_HOURS_START": "", "QUIET_HOURS_END": ""}
    outbox.sign_up_texts_forget()
    shift = ShiftFactory(capacity=1)
    first = signup._sign_up_in_database(shift_id=shift.pk, volunteer=VolunteerFactory(), user=None, now=None)
    assert outbox.sign_up_texts_kept(shift.pk) is not None  # read for the first sign-up, kept

    volunteer = VolunteerFactory()
    with CaptureQueriesContext(connection) as queries:
        second = signup._sign_up_in_database(shift_id=shift.pk, volunteer=volunteer, user=None, now=None)
    # The function alone; then only the (eager) send task's own statements, which read the rows
    # the function wrote, committed.
    assert "communities_self_sign_up" in queries[0]["sql"]
    assert not any("communities_self_sign_up" in query["sql"] for query in queries[1:])
    assert not any("INSERT" in query["sql"] for query in queries)
    assert (first.status, second.status, second.waitlist_position) == ("confirmed", "waitlisted", 1)
    rows = {
        row["channel"]: row
        for row in Notification.objects.filter(assignment_id=second.pk).values(
            "channel", "kind", "body", "state", "key"
        )
    }
    assert set(rows) == {"inapp", "sms"}
    assert rows["inapp"]["kind"] == "waitlisted" and rows["inapp"]["state"] == "sent"
    with transaction.atomic(), translation.override(settings.NOTIFICATIONS["LANGUAGE"]):  # the volunteer's
        context = outbox.shift_context(Shift.objects.select_related("post", "community").get(pk=shift.pk))
        expected = outbox.render("waitlisted", {**context, "position": 1})[1]
    assert rows["inapp"]["body"] == expected
    # Handed over after the commit: the (eager) send task sent the SMS.
    assert rows["sms"]["state"] == "sent"
    assert rows["sms"]["key"] in read_outbox(Path(settings.NOTIFICATIONS["SMS_FILE"]))[0]
