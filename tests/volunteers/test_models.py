"""Volunteer and Organization models: database constraints, ID-number privacy, ages, the org tree."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.factories import CommunityFactory, OrganizationFactory, UserFactory, VolunteerFactory
from volunteers import crypto
from volunteers.models import Organization, Volunteer

pytestmark = pytest.mark.django_db

CLASSIC_ID = "11010519491231002X"


@contextmanager
def refused(expected: str):
    """Expect the block to raise IntegrityError naming the given constraint."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    assert expected in str(excinfo.value)


def _unique(column: str) -> str:
    return f'duplicate key value violates unique constraint "volunteers_volunteer_{column}_key"'


_DEPLOYED_NOT_RESERVE = 'violates check constraint "volunteer_deployed_is_not_reserve"'


# --- Constraints ---------------------------------------------------------------------------


def test_deployed_volunteer_with_status_reserve_is_refused():
    community = CommunityFactory()

    with refused(_DEPLOYED_NOT_RESERVE):
        VolunteerFactory(status=Volunteer.Status.RESERVE, deployed_community=community, deployed_at=timezone.now())

    assert Volunteer.objects.count() == 0


def test_deploying_a_reserve_volunteer_without_activating_is_refused():
    volunteer = VolunteerFactory(status=Volunteer.Status.RESERVE)
    community = CommunityFactory()

    with refused(_DEPLOYED_NOT_RESERVE):
        Volunteer.objects.filter(pk=volunteer.pk).update(deployed_community=community)

    volunteer.refresh_from_db()
    assert volunteer.deployed_community_id is None
    assert volunteer.status == Volunteer.Status.RESERVE


def test_returning_a_deployed_volunteer_to_reserve_is_refused():
    community = CommunityFactory()
    volunteer = VolunteerFactory(status=Volunteer.Status.ACTIVE, deployed_community=community)

    with refused(_DEPLOYED_NOT_RESERVE):
        Volunteer.objects.filter(pk=volunteer.pk).update(status=Volunteer.Status.RESERVE)

    volunteer.refresh_from_db()
    assert volunteer.status == Volunteer.Status.ACTIVE
    assert volunteer.deployed_community_id == community.pk


@pytest.mark.parametrize("status", [Volunteer.Status.ACTIVE, Volunteer.Status.SUSPENDED])
def test_deployed_volunteer_not_in_reserve_is_accepted(status):
    community = CommunityFactory()
    volunteer = VolunteerFactory(status=status, deployed_community=community)
    volunteer.refresh_from_db()
    assert (volunteer.status, volunteer.deployed_community_id) == (status, community.pk)


def test_reserve_volunteer_without_deployment_is_accepted():
    volunteer = VolunteerFactory(status=Volunteer.Status.RESERVE)
    volunteer.refresh_from_db()
    assert volunteer.status == Volunteer.Status.RESERVE
    assert volunteer.deployed_community_id is None


def test_duplicate_mobile_is_refused():
    existing = VolunteerFactory(mobile="13812345678")
    before = Volunteer.objects.count()

    with refused(_unique("mobile")):
        # A separate login, so only the mobile column collides.
        VolunteerFactory(mobile="13812345678", user=UserFactory())

    assert Volunteer.objects.count() == before == 1
    assert list(Volunteer.objects.values_list("pk", flat=True)) == [existing.pk]


def test_duplicate_id_number_is_refused_through_its_blind_index():
    existing = VolunteerFactory(id_number=CLASSIC_ID)
    before = Volunteer.objects.count()

    with refused(_unique("id_number_hash")):
        VolunteerFactory(id_number=CLASSIC_ID)

    assert Volunteer.objects.count() == before == 1
    assert Volunteer.objects.get().pk == existing.pk


def test_duplicate_volunteer_number_is_refused():
    VolunteerFactory(volunteer_number="SZ0000000042")
    before = Volunteer.objects.count()

    with refused(_unique("volunteer_number")):
        VolunteerFactory(volunteer_number="SZ0000000042")

    assert Volunteer.objects.count() == before == 1


# --- ID number privacy ------------------------------------------------------------------------


def test_set_id_number_stores_no_clear_text_anywhere_in_the_row():
    volunteer = VolunteerFactory()
    volunteer.set_id_number("  11010519491231002x ")
    volunteer.save()

    row = Volunteer.objects.values().get(pk=volunteer.pk)
    assert set(row) >= {"id_number_encrypted", "id_number_hash", "id_number_masked"}
    forbidden = (CLASSIC_ID, CLASSIC_ID.lower(), CLASSIC_ID[:17])
    for field, value in row.items():
        for clear in forbidden:
            assert clear not in str(value), f"{field} holds the ID number in clear"

    # The same holds for the raw columns as the database stores them.
    table = connection.ops.quote_name(Volunteer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [volunteer.pk])  # noqa: S608
        raw = cursor.fetchone()
    assert all(clear not in str(value) for value in raw for clear in forbidden)

    assert row["id_number_masked"] == "1101**********002X"
    assert row["id_number_hash"] == crypto.blind_index(CLASSIC_ID)
    assert crypto.decrypt(row["id_number_encrypted"]) == CLASSIC_ID


def test_id_number_property_decrypts_the_stored_number():
    volunteer = VolunteerFactory()
    volunteer.set_id_number(CLASSIC_ID)
    volunteer.save()

    assert volunteer.id_number == CLASSIC_ID
    fresh = Volunteer.objects.get(pk=volunteer.pk)
    assert fresh.id_number == CLASSIC_ID


def test_set_id_number_normalises_so_case_does_not_defeat_duplicate_detection():
    first = VolunteerFactory()
    first.set_id_number(CLASSIC_ID.lower())
    first.save()
    second = VolunteerFactory()
    second.set_id_number(CLASSIC_ID)

    assert second.id_number_hash == first.id_number_hash
    with refused(_unique("id_number_hash")):
        second.save()


def test_mobile_masked():
    volunteer = VolunteerFactory(mobile="13812345678")
    assert volunteer.mobile_masked == "138****5678"
    assert volunteer.mobile == "13812345678"


# --- Age -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2018, 6, 14), 17),  # the day before the 18th birthday
        (date(2018, 6, 15), 18),  # the 18th birthday
        (date(2018, 6, 16), 18),
        (date(2018, 12, 31), 18),
        (date(2019, 1, 1), 18),
        (date(2019, 6, 14), 18),
        (date(2019, 6, 15), 19),
        (date(2000, 6, 15), 0),
    ],
)
def test_age_on_counts_completed_years(day, age):
    volunteer = VolunteerFactory(birth_date=date(2000, 6, 15))
    assert volunteer.age_on(day) == age


@pytest.mark.parametrize(
    ("day", "age"),
    [(date(2018, 2, 28), 17), (date(2018, 3, 1), 18), (date(2020, 2, 28), 19), (date(2020, 2, 29), 20)],
)
def test_age_on_for_a_leap_day_birthday(day, age):
    volunteer = VolunteerFactory(birth_date=date(2000, 2, 29))
    assert volunteer.age_on(day) == age


# --- Organization tree -------------------------------------------------------------------------


def _three_levels():
    committee = OrganizationFactory(kind=Organization.Kind.COMMITTEE)
    institution = OrganizationFactory(kind=Organization.Kind.INSTITUTION, parent=committee)
    branch = OrganizationFactory(kind=Organization.Kind.BRANCH, parent=institution)
    return committee, institution, branch


def test_organization_save_computes_path_and_depth_for_three_levels():
    committee, institution, branch = _three_levels()
    a, b, c = committee.pk, institution.pk, branch.pk

    expected = [(f"/{a:010d}/", 0), (f"/{a:010d}/{b:010d}/", 1), (f"/{a:010d}/{b:010d}/{c:010d}/", 2)]
    assert [(o.path, o.depth) for o in (committee, institution, branch)] == expected
    stored = Organization.objects.filter(pk__in=[a, b, c]).order_by("depth").values_list("path", "depth")
    assert list(stored) == expected


def test_organization_resave_keeps_its_path():
    _, institution, branch = _three_levels()
    path = branch.path

    branch.name = "苏州分行"
    branch.save()
    branch.refresh_from_db()

    assert (branch.path, branch.depth, branch.name) == (path, 2, "苏州分行")
    assert branch.path.startswith(institution.path)


def test_subtree_filter_returns_exactly_the_subtree():
    committee, institution, branch = _three_levels()
    second_branch = OrganizationFactory(kind=Organization.Kind.BRANCH, parent=institution)
    sibling = OrganizationFactory(kind=Organization.Kind.INSTITUTION, parent=committee)
    sibling_branch = OrganizationFactory(kind=Organization.Kind.BRANCH, parent=sibling)
    other_root = OrganizationFactory(kind=Organization.Kind.COMMITTEE)
    OrganizationFactory(kind=Organization.Kind.INSTITUTION, parent=other_root)

    def subtree(org):
        return set(Organization.objects.filter(path__startswith=org.path).values_list("pk", flat=True))

    assert subtree(institution) == {institution.pk, branch.pk, second_branch.pk}
    assert subtree(sibling) == {sibling.pk, sibling_branch.pk}
    assert subtree(branch) == {branch.pk}
    assert subtree(committee) == {
        committee.pk,
        institution.pk,
        branch.pk,
        second_branch.pk,
        sibling.pk,
        sibling_branch.pk,
    }
    assert Organization.objects.count() == 8


def test_subtree_filter_does_not_match_an_id_that_merely_shares_a_prefix():
    root = OrganizationFactory(kind=Organization.Kind.COMMITTEE)
    short = OrganizationFactory(pk=7001, parent=root)
    long = OrganizationFactory(pk=70011, parent=root)
    child_of_long = OrganizationFactory(pk=70012, parent=long, kind=Organization.Kind.BRANCH)

    assert short.path == f"/{root.pk:010d}/0000007001/"
    assert long.path == f"/{root.pk:010d}/0000070011/"
    assert set(Organization.objects.filter(path__startswith=short.path).values_list("pk", flat=True)) == {7001}
    assert set(Organization.objects.filter(path__startswith=long.path).values_list("pk", flat=True)) == {
        70011,
        child_of_long.pk,
    }


def test_siblings_order_oldest_first_across_a_digit_boundary():
    """Ordering by path is the tree's order: unpadded, "/1/10/" would sort before "/1/9/"."""
    root = OrganizationFactory(kind=Organization.Kind.COMMITTEE)
    ninth = OrganizationFactory(pk=99_999, parent=root)
    tenth = OrganizationFactory(pk=100_000, parent=root)
    under_ninth = OrganizationFactory(pk=100_001, parent=ninth, kind=Organization.Kind.BRANCH)

    subtree = Organization.objects.filter(path__startswith=root.path)
    assert list(subtree.values_list("pk", flat=True)) == [root.pk, ninth.pk, under_ninth.pk, tenth.pk]


def test_moving_an_organization_moves_its_whole_subtree():
    """Reparenting (possible in the admin, where ``parent`` is editable) must carry the descendants along.

    Organization.save only rewrites the saved row's own path, so the descendants keep their old
    paths: the subtree filter then shows them to the old parent's staff and hides them from the new one's.
    """
    committee, institution, branch = _three_levels()
    new_committee = OrganizationFactory(kind=Organization.Kind.COMMITTEE)

    institution.parent = new_committee
    institution.save()

    institution.refresh_from_db()
    branch.refresh_from_db()
    assert (institution.path, institution.depth) == (f"/{new_committee.pk:010d}/{institution.pk:010d}/", 1)
    assert (branch.path, branch.depth) == (f"/{new_committee.pk:010d}/{institution.pk:010d}/{branch.pk:010d}/", 2), (
        "DEFECT: Organization.save does not update descendants' path when an organization is moved"
    )
    assert set(Organization.objects.filter(path__startswith=committee.path).values_list("pk", flat=True)) == {
        committee.pk
    }
