from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Count, QuerySet, Window
from django.db.models.sql.where import WhereNode
from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class WindowCountPaginator(Paginator):
    """A paginator that reads the total from the page's own query (``COUNT(*) OVER ()``).

    For querysets whose rows must all be computed before the first one can be returned (ranked
    by annotations, say), a separate ``COUNT(*)`` costs as much as the page itself; here it comes
    with the page. A page past the end, where no row carries the total, falls back to counting,
    as does asking for the last page by name (DRF's ``page=last`` needs the count first). The rows
    (model instances, or dicts from ``values()``) carry one more attribute or key, the total.
    """

    _TOTAL = "window_total_rows"

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, error_messages=None):
        if orphans:
            raise ValueError("WindowCountPaginator does not support orphans.")
        super().__init__(
            object_list, per_page, allow_empty_first_page=allow_empty_first_page, error_messages=error_messages
        )

    def page(self, number):
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page >= 2**63:
            # No database takes an offset past 64 bits, and no list is that long: past the end.
            return super().page(number)
        counted = self.object_list.annotate(**{self._TOTAL: Window(Count("*"))})
        rows = list(counted[bottom : bottom + self.per_page])
        if rows:
            first = rows[0]
            self.__dict__["count"] = first[self._TOTAL] if isinstance(first, dict) else getattr(first, self._TOTAL)
        elif number == 1:
            self.__dict__["count"] = 0
            if not self.allow_empty_first_page:
                raise EmptyPage(self.error_messages["no_results"])
        else:
            return super().page(number)  # past the end: count, then say so
        return self._get_page(rows, number, self)

    def get_page(self, number):
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(self.num_pages)


class WindowCountPagination(PageNumberPagination):
    """Page-number pagination with the total read from the page's query (``WindowCountPaginator``)."""

    django_paginator_class = WindowCountPaginator


class IdsFirstPaginator(Paginator):
    """A paginator that picks the page's ids with the ordering alone, then loads those rows.

    For a list ordered by keys computed over many rows (the shifts near me: nearness and distance
    over every upcoming shift), sorting every full row (its joins for the page, every column)
    costs more than the page: here the ordering runs over the ids and the columns it needs, in
    a sub-query limited to the page, and the rows with their joins, annotations and prefetches
    are read for those ids only, in the same query. The answers are Django's ``Paginator``'s.
    """

    def page(self, number):
        if not isinstance(self.object_list, QuerySet):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if top <= bottom:
            return self._get_page(self.object_list.none(), number, self)
        ids = self.object_list.values("pk")[bottom:top]
        rows = self.object_list.all()
        rows.query.where = WhereNode()  # the ids carry every filter; the rows need not repeat them
        return self._get_page(rows.filter(pk__in=ids), number, self)


class IdsFirstPagination(PageNumberPagination):
    """Page-number pagination that picks the page's ids first (``IdsFirstPaginator``)."""

    django_paginator_class = IdsFirstPaginator
