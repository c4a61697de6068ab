"""``unaccented``: text without diacritics, as an expression an index can hold.

PostgreSQL's ``unaccent(text)`` is STABLE (it looks its dictionary up by name at each call),
so no index may be built on it, and Django's ``__unaccent__icontains`` filters read every row:
``documents?text=skolsociala`` took 13.7 s and ``cases?title=samverkan`` 1.1 s at a million
records (issue 14). ``cases_unaccent`` (migration 0022) is the same function with the
dictionary bound when it was created, declared IMMUTABLE, and the trigram indexes of the
filtered text columns are built on ``UPPER(cases_unaccent(column))``: exactly the expression
``column__unaccented__icontains`` compiles to, so the filter's LIKE is an index condition.
Same results as ``__unaccent__icontains`` (same function, same dictionary).
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db.models import CharField, TextField, Transform
from django.db.models.functions import Upper

FUNCTION = "cases_unaccent"
CREATE_FUNCTION = (
    f"CREATE FUNCTION {FUNCTION}(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT "
    "PARALLEL SAFE RETURN unaccent('unaccent'::regdictionary, $1)")
DROP_FUNCTION = f"DROP FUNCTION {FUNCTION}(text)"


@CharField.register_lookup
@TextField.register_lookup
class Unaccented(Transform):
    lookup_name = "unaccented"
    function = FUNCTION
    bilateral = True  # the searched text is unaccented too
    output_field = TextField()


def trigram_index(column: str, name: str, **kwargs) -> GinIndex:
    """The trigram index a ``column__unaccented__icontains`` filter uses: the API's text
    filters and every admin search field of a table that grows with the cases
    (tests/test_query_plans.py keeps the admin's so)."""
    return GinIndex(OpClass(Upper(Unaccented(column)), name="gin_trgm_ops"), name=name,
                    **kwargs)
