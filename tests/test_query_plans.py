"""Every list filter and ordering of every collection is served by an index, not by reading
the register from end to end.

A generated register (``cases.services.synthetic``, as ``make bench`` builds, here 30,000
cases with their documents and search entries) is loaded into the test database and
ANALYZEd. Then for every filter of every collection's filterset (taken from the code:
``VIEWSETS`` and each ``filterset_class.base_filters``, so a new filter is checked without
anyone adding it here), with a value drawn from the data, and for every ``ordering`` value
ascending and descending, the list is requested as a client would; every SELECT the view ran
is captured and run again under ``EXPLAIN (ANALYZE, FORMAT JSON)``. On the big tables (cases,
their registration numbers, documents, search entries: a million rows each in the benchmark
register) no plan node may be a sequential scan, nor an index walk that filters out more
than a quarter of the table: work that grows with the register. At a million cases either
took seconds (issue 14: ``documents?text=skolsociala`` 13.7 s, ``cases?year=2023`` 1.8 s,
``cases?registration_number=KS 2024/1234`` 2.8 s).

Filters that no index can serve are listed in ``NOT_INDEXED`` with the reason.
"""

import datetime
import json
import re
from urllib.parse import urlencode

import django_filters as df
import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import models as m
from cases.api import filters as f
from cases.api.pagination import COUNT_LIMIT
from cases.api.registry import resource_for
from cases.api.views import VIEWSETS

from .conftest import conninfo, generated_register, owner_credentials

CASES = 30_000
BIG_MODELS = (m.Case, m.RegistrationNumber, m.Document, m.SearchEntry, m.Motion, m.Referral,
              m.ReferralResponse, m.Decision, m.Activity, m.Link, m.DecisionPoint,
              m.ConsultedBody, m.MotionAuthor, m.DocumentSignatory)
BIG = {model._meta.db_table for model in BIG_MODELS}
# A scan may read rows it does not keep (a page of an unselective filter in created order,
# the bounded count of a common status: a number that does not grow with the register), but
# not a share of the table; nor more than the bounded count reads (COUNT_LIMIT + 1) of a
# small one. Every table of a collection or of its parts is checked.
REMOVED_SHARE = 0.25

# (collection, filter or "ordering") -> why its list is not yet served by an index alone. Each
# is expected to fail, strictly: one that starts passing must leave this list.
CORRELATED = ("a range on a column that grows with created (recent records are modified "
              "last, dated near their registration), paged in created order: PostgreSQL "
              "expects matches spread evenly and walks the created-order index (index-only, "
              "the column carried) from the oldest record to the first matches")
COMMON_VALUE = ("a value many records share (the busiest organisation registers four "
                "cases in ten; a common surname signs hundreds of documents): the bounded "
                "count hashes the matching ids and walks the page's index to its end; found "
                "when the generator gave the register people and signatories (2026-12-01)")
NULLABLE_ORDER = ("ordering by a nullable date (NULLS LAST both ways) has no (date, id) "
                  "index: every document is read and sorted")
PART_SEMI_JOIN = ("a filter on the records' parts (an author's party, a consulted body) or on "
                  "a link's kind of record: the semi-join hashes every matching part and reads "
                  "the collection's table for them (115-200 ms at a million cases)")
COMMON_WORD = ("a word in many decision points: every matching point is read and its decision "
               "joined (455 ms at a million cases)")
SMALL_TABLE = ("at 30,000 cases the table is small enough that PostgreSQL reads it whole; at a "
               "million cases the same request walks an index (the matrix in BENCHMARKS.md: "
               "18-31 ms)")
NOT_INDEXED: dict[tuple[str, str], str] = {
    ("motions", "party"): PART_SEMI_JOIN,
    ("motions", "author"): COMMON_VALUE,
    ("motions", "date_after"): SMALL_TABLE,
    ("motions", "date_before"): SMALL_TABLE,
    ("referrals", "consulted"): PART_SEMI_JOIN,
    ("referral-responses", "position"): SMALL_TABLE,
    ("decisions", "immediately_adjusted"): SMALL_TABLE,
    ("decisions", "text"): COMMON_WORD,
    ("links", "source_type"): PART_SEMI_JOIN,
    ("links", "target_type"): PART_SEMI_JOIN,
    ("cases", "year"): CORRELATED,
    ("cases", "registered_by"): COMMON_VALUE,
}


@pytest.fixture(scope="module")
def register(django_db_setup, django_db_blocker):
    """A generated register for this module's tests, committed and vacuumed as after a bulk
    load (``generate_register`` does the same): the visibility map lets the planner count on
    index-only scans, as it does at a million cases. Afterwards every table is emptied (as
    after a transactional test) and the seed register loaded again for the tests after."""
    with generated_register(django_db_blocker, seed=14, cases=CASES, municipalities=6), \
            psycopg.connect(**conninfo(owner_credentials()), autocommit=True) as owner:
        # Statistics from every row, not a random sample of 30,000 (the default target,
        # 100): the same data then gives the same estimates, and the same plans, each run.
        owner.execute("SET default_statistics_target = 1000")
        owner.execute("VACUUM (ANALYZE)")
        yield


def middle(queryset, field: str):
    """The value of ``field`` of the record in the middle of the live ones in created
    order: a value as common as any (the generator's busiest years are the recent ones)."""
    values = (queryset.filter(voided_at__isnull=True).exclude(**{f"{field}__isnull": True})
              .order_by("created", "id").values_list(field, flat=True))
    count = values.count()
    return values[count // 2] if count else None


def word_of(text: str) -> str:
    """A long word of a text: a search a user would type."""
    words = sorted(set(re.findall(r"[^\W\d_]{8,}", text)))
    return words[len(words) // 2] if words else text[:8]


def value_for(model, name: str, filter_) -> str:
    """A representative value for one filter, drawn from the register."""
    records = model._base_manager.all()
    field = filter_.field_name
    if isinstance(filter_, f.RegistrationNumberFilter):
        cases = (records.values("pk") if model is m.Case
                 else records.values(field if field.endswith("id") else f"{field}_id"))
        return middle(m.RegistrationNumber.objects.filter(case__in=cases), "number")
    if isinstance(filter_, f.PersonNameFilter):
        return middle(records, f"{field}__name" if field else "name").split()[-1]
    if isinstance(filter_, (f.ProtectedTextFilter,)) or filter_.lookup_expr.endswith(
            "icontains"):
        return word_of(str(middle(records, field)))
    if filter_.method == "filter_record":
        return str(middle(records, "source_id"))
    if isinstance(filter_, f.InstantFilter):
        values = records.order_by(field).values_list(field, flat=True)
        at = values[values.count() * 9 // 10 if filter_.lookup_expr == "gte"
                    else values.count() // 10]
        return at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    value = middle(records, field)
    if value is None and isinstance(filter_, f.DateFilter):
        value = datetime.date(2024, 1, 1)  # (the generator dates no motion nor response)
    if isinstance(filter_, f.BooleanFilter):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def requests():
    """(id, url) of every list request checked: each filter alone, the sync combinations
    issue 14 measured, every ordering."""
    for viewset in VIEWSETS:
        collection = resource_for(viewset.model).collection
        for name in viewset.filterset_class.base_filters:
            yield f"{collection}?{name}", collection, name, None
        yield f"{collection}?ordering", collection, "ordering", None
    yield "cases?organisation+modified_since", "cases", "organisation", "modified_since"
    yield "documents?modified_since&limit=500", "documents", "modified_since", "limit"


def expected(label, collection, name, extra):
    reason = NOT_INDEXED.get((collection, name))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(label, collection, name, extra, id=label, marks=marks)


def url_for(collection, name, extra):
    viewset = next(v for v in VIEWSETS if resource_for(v.model).collection == collection)
    model, filters = viewset.model, viewset.filterset_class.base_filters
    if name == "ordering":
        return [f"/api/v1/{collection}/?ordering={sign}{field}"
                for field in viewset.ordering_fields for sign in ("", "-")]
    params = {name: value_for(model, name, filters[name])}
    if extra == "limit":
        params["limit"] = 500
    elif extra:
        params[extra] = value_for(model, extra, filters[extra])
    return [f"/api/v1/{collection}/?{urlencode(params)}"]


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


TABLE_ROWS: dict[str, int] = {}


def table_rows(table: str) -> int:
    if table not in TABLE_ROWS:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            TABLE_ROWS[table] = cursor.fetchone()[0]
    return TABLE_ROWS[table]


def full_reads(sql: str) -> list[str]:
    """What the plan of one SELECT reads of a big table beyond what it needs: any scan
    (sequential, index, bitmap) that reads more than REMOVED_SHARE of it, whether it
    passes over the rows (a filter) or hands them on (to a sort). A sequential scan under a
    LIMIT that stops after a few thousand rows, as the bounded count of a common status
    does, reads what an index would and passes."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        raw = cursor.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    found = []
    for node in plan_nodes(plan):
        table = node.get("Relation Name")
        if table not in BIG:
            continue
        loops = node.get("Actual Loops", 1)
        removed = (node.get("Rows Removed by Filter", 0)
                   + node.get("Rows Removed by Index Recheck", 0)) * loops
        read = removed + node.get("Actual Rows", 0) * loops
        whole = table_rows(table)
        if read > max(whole * REMOVED_SHARE, COUNT_LIMIT + 1):
            found.append(f"{node['Node Type']} on {table} via {node.get('Index Name')} read "
                         f"{read:.0f} of {whole} rows (filter {node.get('Filter')})")
    return found


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "collection", "name", "extra"),
                         [expected(*r) for r in requests()])
def test_every_list_request_is_served_by_an_index(register, client, label, collection, name,
                                                  extra):
    problems = []
    for url in url_for(collection, name, extra):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        for query in captured.captured_queries:
            sql = query["sql"]  # (None: a prepared statement of a page's parts, by parent id)
            if sql and sql.lstrip().upper().startswith("SELECT") and any(
                    f'"{table}"' in sql for table in BIG):
                problems += [f"{url}: {read}\n    {sql[:600]}" for read in full_reads(sql)]
    assert not problems, "\n".join(problems)


def test_every_exemption_names_a_filter():
    filtersets = {resource_for(v.model).collection: v.filterset_class for v in VIEWSETS}
    for collection, name in NOT_INDEXED:
        assert name == "ordering" or isinstance(
            filtersets[collection].base_filters.get(name), df.Filter), (collection, name)


def trigram_columns(model) -> set[str]:
    """The columns of ``model`` with a trigram index of the expression admin search and
    the API's text filters test (``cases.models.unaccented.trigram_index``)."""
    columns = set()
    for index in model._meta.indexes:
        for expression in index.expressions:
            text = repr(expression)
            if "gin_trgm_ops" in text and "Unaccented" in text:
                columns.update(re.findall(r"F\((\w+)\)", text))
    return columns


def test_every_admin_search_of_a_cases_record_has_a_trigram_index():
    """An admin search field on a table that grows with the cases (a record of a case, or
    a part of one: ``cases.roles.case_path``) is read through a trigram index, never
    sequentially: the part tables' searches took 0.4-11 s at a million cases
    (BENCHMARKS.md). Taken from the admin's own search fields."""
    from django.contrib import admin
    from django.contrib.admin.utils import get_fields_from_path
    from django.db import models

    from cases.admin.base import RegisterAdmin
    from cases.roles import case_path

    missing = []
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, RegisterAdmin):
            continue
        for name in model_admin.search_fields:
            field = get_fields_from_path(model, name.lstrip("^=@"))[-1]
            if (isinstance(field, (models.CharField, models.TextField))
                    and case_path(field.model) is not None
                    and field.name not in trigram_columns(field.model)):
                missing.append(f"{model.__name__}: {name} ({field.model.__name__}.{field.name})")
    assert not missing, "\n".join(missing)
