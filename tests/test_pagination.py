"""config.pagination.WindowCountPaginator: the total comes with the page, the answers as Django's."""

import pytest
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models.functions import Length
from django.test.utils import CaptureQueriesContext

from config.pagination import IdsFirstPaginator, WindowCountPaginator
from tests.factories import SkillFactory
from volunteers.models import Skill

pytestmark = pytest.mark.django_db


@pytest.fixture
def skills():
    for n in range(7):
        SkillFactory(code=f"skill-{n}")
    return Skill.objects.order_by("code")


def _page(paginator_class, queryset, number, per_page=3):
    paginator = paginator_class(queryset, per_page)
    with CaptureQueriesContext(connection) as queries:
        page = paginator.page(number)
        found = (
            [s.code for s in page],
            paginator.count,
            paginator.num_pages,
            page.has_next(),
            page.has_previous(),
            page.start_index(),
            page.end_index(),
        )
    return found, len(queries)


@pytest.mark.parametrize("number", [1, 2, 3, "2", 2.0])
def test_pages_match_djangos_in_one_query(skills, number):
    ours, queries = _page(WindowCountPaginator, skills, number)
    theirs, their_queries = _page(Paginator, skills, number)
    assert ours == theirs
    assert (queries, their_queries) == (1, 2)


def test_an_empty_list_has_one_empty_page_in_one_query():
    ours, queries = _page(WindowCountPaginator, Skill.objects.order_by("code"), 1)
    assert ours == ([], 0, 1, False, False, 0, 0)
    assert queries == 1


@pytest.mark.parametrize(
    ("number", "error"),
    [
        (4, EmptyPage),
        (0, EmptyPage),
        ("x", PageNotAnInteger),
        (1.5, PageNotAnInteger),
        ("²", PageNotAnInteger),
        ("9" * 30, EmptyPage),  # an offset no database takes
        (2**63 // 3, EmptyPage),
    ],
)
def test_a_page_that_does_not_exist_is_refused_as_django_refuses_it(skills, number, error):
    for paginator_class in (WindowCountPaginator, Paginator):
        with pytest.raises(error):
            paginator_class(skills, 3).page(number)


@pytest.mark.parametrize(("asked", "given"), [("x", 1), (None, 1), (9, 3), (2, 2), ("9" * 30, 3)])
def test_get_page_falls_back_as_djangos(skills, asked, given):
    assert WindowCountPaginator(skills, 3).get_page(asked).number == given
    assert Paginator(skills, 3).get_page(asked).number == given


def test_orphans_are_not_supported(skills):
    with pytest.raises(ValueError):
        WindowCountPaginator(skills, 3, orphans=1)


def test_rows_from_values_carry_the_total_too(skills):
    paginator = WindowCountPaginator(skills.values("code"), 3)
    page = paginator.page(3)
    assert ([row["code"] for row in page], paginator.count) == (["skill-6"], 7)


def test_error_messages_are_djangos_argument_too(skills):
    paginator = WindowCountPaginator(skills, 3, error_messages={"no_results": "Nothing here"})
    with pytest.raises(EmptyPage, match="Nothing here"):
        paginator.page(9)


# --- IdsFirstPaginator: the page's ids first, then their rows, in the same queries as Django's -


@pytest.mark.parametrize("number", [1, 2, 3, "2"])
@pytest.mark.parametrize("orphans", [0, 1])
def test_ids_first_pages_match_djangos_in_as_many_queries(skills, number, orphans):
    filtered = skills.exclude(code="skill-0").annotate(length=Length("name")).order_by("-code")
    ours = IdsFirstPaginator(filtered, 2, orphans=orphans)
    theirs = Paginator(filtered, 2, orphans=orphans)
    with CaptureQueriesContext(connection) as queries:
        page = ours.page(number)
        found = [(s.code, s.length) for s in page]
    with CaptureQueriesContext(connection) as their_queries:
        their_page = theirs.page(number)
        expected = [(s.code, s.length) for s in their_page]
    assert found == expected and found
    assert (ours.count, ours.num_pages, page.has_next(), page.start_index(), page.end_index()) == (
        theirs.count,
        theirs.num_pages,
        their_page.has_next(),
        their_page.start_index(),
        their_page.end_index(),
    )
    assert len(queries) == len(their_queries) == 2


def test_ids_first_an_empty_list_and_a_page_past_the_end_as_djangos(skills):
    empty = IdsFirstPaginator(Skill.objects.none(), 3).page(1)
    assert (list(empty), empty.paginator.count) == ([], 0)
    with pytest.raises(EmptyPage):
        IdsFirstPaginator(skills, 3).page(4)
    assert IdsFirstPaginator(skills, 3).get_page("x").number == 1
    assert [s.code for s in IdsFirstPaginator(list(skills), 3).page(3)] == ["skill-6"]
