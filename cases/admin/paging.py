"""Changelist pages with a bounded count, as the API's (``cases.api.pagination``).

Django's admin counts every matching row for each page it shows: at a million cases an exact
COUNT(*) of the live cases is a scan of an index of a million entries, on every click. Here
a list counts at most ``MAX_OFFSET`` rows (the API's limit of page-by-number: 10,000 records,
200 pages of 50); a longer list says "more than 10,000" and offers its first 200 pages, and
a filter or a search narrows it from there.
"""

from django.core.paginator import Paginator
from django.utils.functional import cached_property

from cases.api.pagination import MAX_OFFSET


class BoundedPaginator(Paginator):
    limit = MAX_OFFSET

    @cached_property
    def count(self) -> int:
        counted = self.object_list.order_by().values("pk")[:self.limit + 1].count()
        self.exact = counted <= self.limit
        return min(counted, self.limit)

    exact = True
