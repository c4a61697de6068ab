"""Admin search through the indexes the API uses.

Django's admin searches with one OR of ``icontains`` over every search field, joined across
relations; PostgreSQL can serve no arm of such an OR by an index, so every search read whole
tables: at 100,000 cases "a word" in the document list took 22 s, in the case list 9 s
(BENCHMARKS.md, issue 14). Here each search field is its own ``pk IN`` query, and the
matches of all fields are one UNION: each arm walks its own index (the trigram indexes on
``UPPER(cases_unaccent(column))`` for text, ``cases.models.unaccented``; the foreign-key
indexes across relations), and no row is matched twice, so no DISTINCT is needed. Records
in the search index (``cases.search.KINDS``) also match by the API's Swedish full-text
search.
"""

from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connection, models, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.lookups import Exact
from django.utils.text import smart_split, unescape_string_literal

from cases.api.references import cases_numbered
from cases.models import SearchEntry
from cases.models.search import SEARCH_CONFIG
from cases.roles import case_path
from cases.search import KINDS

PREFIXES = {"^": "istartswith", "=": "iexact", "@": "search"}


def lookup(field: str) -> str:
    """A search field (with Django's prefixes) as a lookup: ``title__unaccented`` →
    ``title__unaccented__icontains``, ``=record_id`` → ``record_id__iexact``."""
    if field[:1] in PREFIXES:
        return f"{field[1:]}__{PREFIXES[field[0]]}"
    return f"{field}__icontains"


def any_of(queryset, matches: list):
    """``queryset`` narrowed to the records of any of ``matches`` (querysets of one column
    of ids).

    The matches are read first, arm by arm from their indexes, at most ``FEW`` of them
    (``first_matches``): a search that finds no more is those ids, a page sorted from at
    most a thousand records. A term found in more (a word half the documents contain) is
    instead tested record by record along the list's order, a lookup per arm, and the
    page is its first matches: gathering every match of such a word took 16 s at a million
    documents (535,000 texts, 525,000 search entries, hashed against the page). An OR of
    two ``IN (subquery)`` is a hashed probe of every row either way."""
    found = first_matches(matches)
    if len(found) <= FEW:
        return queryset.filter(pk__in=found)
    condition = Q()
    for match in matches:
        column = match.query.values_select[0] if match.query.values_select else "pk"
        # "(SELECT id … WHERE id = this one LIMIT 1) = id", not EXISTS: PostgreSQL may turn
        # an EXISTS under an OR into a hashed set of the arm's every match (525,000 search
        # entries, 1.8 s), never a scalar subquery.
        own = match.filter(**{column: OuterRef("pk")}).values(column)[:1]
        condition |= Q(Exact(Subquery(own), F("pk")))
    result = queryset.filter(condition)
    # Known to match more than FEW: the page says so without counting them again (a query
    # keeps its attributes through the clones the changelist makes; cases.admin.paging).
    result.query.more_than_few = True
    return result


FEW = 1000  # as the API's bounded count (cases.api.pagination.COUNT_LIMIT)


def first_matches(matches: list) -> list:
    """Up to FEW + 1 ids of ``matches`` (duplicates possible). The arms are a MATERIALIZED
    common table expression, planned for all their rows (a trigram or full-text bitmap for
    a rare word) but read only as far as the LIMIT asks: planned under the LIMIT itself,
    PostgreSQL walked the search entries of a whole kind expecting an early match."""
    union = matches[0]
    for more in matches[1:]:
        union = union.union(more, all=True)
    try:
        sql, params = union.query.sql_with_params()
    except EmptyResultSet:  # every arm matches nothing (a number searched as a year ...)
        return []
    with transaction.atomic(), connection.cursor() as cursor:
        # One arm after the other, so that the first arm with enough matches ends it (in
        # parallel, every arm's bitmap was built: 340 ms for a word in half the documents).
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute(f"WITH arms AS MATERIALIZED ({sql}) SELECT * FROM arms LIMIT %s",
                       [*params, FEW + 1])
        return [row[0] for row in cursor.fetchall()]


def unaccented(model, name):
    """``title`` → ``title__unaccented`` for a text field searched with icontains (the
    expression its trigram index holds; diacritics ignored)."""
    if not isinstance(name, str) or name[:1] in PREFIXES:
        return name
    try:
        field = get_fields_from_path(model, name)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return name
    if isinstance(field, (models.CharField, models.TextField)):
        return f"{name}__unaccented"
    return name


class FieldByFieldSearch:
    """Django's search, each field an arm of a UNION (see the module doc). Sits right above
    ``ModelAdmin``, so that the search fields it gets are those the mixins above allow."""

    def get_search_results(self, request, queryset, search_term):
        fields = self.get_search_fields(request)
        if not (fields and search_term):
            return queryset, False
        for bit in smart_split(search_term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            queryset = any_of(queryset, [
                queryset.order_by().filter(**{lookup(str(field)): bit}).values("pk")
                for field in fields])
        return queryset, False


class RegisterSearch:
    """Search with diacritics ignored on every text field, and through the full-text index
    for the records it holds. Sits above the confidentiality mixin: what that one withholds
    is never searched."""

    def numbered(self, queryset, term):
        """The records of the case whose registration number is ``term`` (any case, any
        spacing: the API's normalised-number index), if there is one, however far below the
        case they are (``cases.roles.case_path``: the consulted bodies of its referrals). A
        number typed in full names its case, and word by word ("KS", "2024/12") would read
        every number of the board (3 s at 100,000 cases). The case ids are read first, as
        a list: as a subquery PostgreSQL expected it to name many cases and hashed it
        against every document (6 s at a million documents, for the 11 of one number)."""
        steps = case_path(queryset.model)  # ("document", "case") for a signatory ...
        if steps is None:
            return None
        path = "__".join(steps) or "pk"
        cases = list(cases_numbered(term).values_list("case", flat=True))
        hits = queryset.filter(**{f"{path}__in": cases})
        return hits if cases and hits.exists() else None

    def get_search_fields(self, request):
        return [unaccented(self.model, name) for name in super().get_search_fields(request)]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return super().get_search_results(request, queryset, search_term)
        with connection.cursor() as cursor:
            cursor.execute("SELECT unaccent(%s)", [term])
            plain = cursor.fetchone()[0]
        numbered = self.numbered(queryset, term)
        if numbered is not None:
            return numbered, False
        matches, duplicates = super().get_search_results(request, queryset, plain)
        if self.model not in KINDS:
            return matches, duplicates
        # Only public entries of confidential records are indexed: nothing withheld matches.
        fulltext = SearchEntry.objects.filter(
            content_type__app_label=self.opts.app_label, content_type__model=self.opts.model_name,
            vector=SearchQuery(term, config=SEARCH_CONFIG, search_type="websearch"),
        ).values("object_id")
        return any_of(queryset, [matches.order_by().values("pk"), fulltext]), False
