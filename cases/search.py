"""Swedish full-text search across the register (service: indexing; selector: searching).

Text is indexed with the ``swedish_unaccent`` configuration (unaccent, then Swedish
stemming), so ``Jonsson`` finds ``Jönsson`` and ``samverkansmodellen`` finds
``samverkansmodeller``. When full-text search finds too little, a trigram word-similarity
match over the unaccented text catches typos and OCR errors ("godkénner").
"""

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction

from cases import models as m
from cases.confidentiality import is_withheld, public_title
from cases.models.search import SEARCH_CONFIG, SearchEntry

KINDS = {
    m.Case: "cases", m.Document: "documents", m.Motion: "motions", m.Decision: "decisions",
    m.CollaborationModel: "collaboration-models", m.Person: "people",
    m.Organisation: "organisations",
}


def _join(*parts) -> str:
    return "\n".join(p for p in parts if p)


def _live(parts):
    """A record's parts that are not voided: a voided part no longer finds its record."""
    return parts.filter(voided_at__isnull=True)


def _text(record) -> tuple[str, str]:
    """(title, body) of a searchable record."""
    if isinstance(record, m.Case):
        numbers = " ".join(_live(record.registration_numbers).values_list("number", flat=True))
        return record.title, _join(numbers, record.description)
    if isinstance(record, m.Document):
        return record.title, record.text
    if isinstance(record, m.Motion):
        authors = " ".join(_live(record.authors).values_list("person__name", flat=True))
        proposals = [p.text for p in _live(record.proposals)]
        return record.title, _join(authors, record.summary, *proposals)
    if isinstance(record, m.Decision):
        points = [p.text for p in _live(record.points)]
        return (f"{record.get_kind_display()}: {record.organisation.name}",
                _join(record.summary, *points))
    if isinstance(record, m.CollaborationModel):
        return record.name, _join(record.abbreviation, record.description, record.target_group)
    if isinstance(record, m.Person):
        return record.name, " ".join(_live(record.name_variants).values_list("name",
                                                                             flat=True))
    if isinstance(record, m.Organisation):
        return record.name, record.short_name
    raise TypeError(f"{type(record).__name__} is not searchable")


def owner(record):
    """The searchable record whose text includes ``record`` (itself, or its parent)."""
    parents = {
        m.RegistrationNumber: "case", m.MotionProposal: "motion", m.MotionAuthor: "motion",
        m.DecisionPoint: "decision", m.PersonNameVariant: "person",
    }
    if type(record) in KINDS:
        return record
    if type(record) in parents:
        return getattr(record, parents[type(record)])
    return None


@transaction.atomic
def index_record(record, *, cascade: bool = True) -> None:
    """Write (or, for a voided record, remove) the record's search entry.

    A withheld record (see ``cases.confidentiality``) is indexed by its public entry only:
    its public title and, for a case, its registration numbers. A case's save re-indexes its
    documents, motions and decisions too (``cascade``), whose withheld status follows it."""
    if cascade and isinstance(record, m.Case):
        for part in (*record.documents.all(), *record.motions.all(), *record.decisions.all()):
            index_record(part, cascade=False)
    content_type = ContentType.objects.get_for_model(record)
    if record.voided_at:
        SearchEntry.objects.filter(content_type=content_type, object_id=record.pk).delete()
        return
    title, body = _text(record)
    if is_withheld(record):  # only the public registration entry is searchable
        title = public_title(record) or ""
        body = " ".join(_live(record.registration_numbers).values_list("number", flat=True)) \
            if isinstance(record, m.Case) else ""
    entry, _ = SearchEntry.objects.update_or_create(
        content_type=content_type, object_id=record.pk,
        defaults={"kind": KINDS[type(record)], "title": title, "body": body},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE cases_searchentry SET
                  vector = setweight(to_tsvector('{SEARCH_CONFIG}', title), 'A')
                        || setweight(to_tsvector('{SEARCH_CONFIG}', body), 'B')
                WHERE id = %s""",
            [entry.pk],
        )
        cursor.execute(
            """INSERT INTO cases_searchword (word)
               SELECT lexeme FROM unnest((SELECT vector FROM cases_searchentry WHERE id = %s))
               ON CONFLICT DO NOTHING""",
            [entry.pk],
        )


def reindex_all(progress=None) -> int:
    """Rebuild the whole index (after bulk loads); returns the number of entries."""
    count = 0
    for model in KINDS:
        for record in model.objects.filter(voided_at__isnull=True).iterator():
            index_record(record, cascade=False)
            count += 1
        if progress:
            progress(f"{model._meta.verbose_name_plural}: indexed")
    return count


@dataclass
class Hit:
    kind: str
    content_type_id: int
    object_id: str
    title: str
    snippet: str
    rank: float
    match: str  # "fulltext" or "similar"


HEADLINE = "StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MaxWords=25, MinWords=10"
SIMILARITY = 0.5
ALTERNATIVES = 3  # close stems tried per misspelt query word


def search(q: str, *, kinds: list[str] | None = None, limit: int = 20) -> list[Hit]:
    """Ranked hits for ``q``: full-text first; if that finds fewer than ``limit``, the query's
    words are replaced by the closest stems of the lexicon (typos, OCR errors) to fill up."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT websearch_to_tsquery('{SEARCH_CONFIG}', %s)::text", [q])
        exact = cursor.fetchone()[0]
        hits = _ranked(cursor, exact, kinds, limit, seen=[], match="fulltext") if exact else []
        if len(hits) < limit:
            similar = _similar_query(cursor, q)
            if similar and similar != exact:
                hits += _ranked(cursor, similar, kinds, limit - len(hits),
                                seen=[h.object_id for h in hits], match="similar")
    return hits


def _similar_query(cursor, q: str) -> str:
    """A tsquery that ANDs, for every word of ``q``, the OR of its closest lexicon stems."""
    cursor.execute(f"SELECT DISTINCT lexeme FROM unnest(to_tsvector('{SEARCH_CONFIG}', %s))",
                   [q])
    terms = []
    for (lexeme,) in cursor.fetchall():
        cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)",
                       [str(SIMILARITY)])
        cursor.execute("""SELECT word FROM cases_searchword WHERE word %% %s
                          ORDER BY similarity(word, %s) DESC, word LIMIT %s""",
                       [lexeme, lexeme, ALTERNATIVES])
        words = [row[0] for row in cursor.fetchall()]
        if not words:
            return ""
        terms.append("(" + " | ".join(_quote(w) for w in words) + ")")
    return " & ".join(terms)


def _quote(word: str) -> str:
    return "'" + word.replace("'", "''") + "'"


# Most matches ranked per query. Ranking reads each match's whole vector (positions and
# weights), so a word found in most of a million documents cost seconds. Up to this many
# matches the ranking is exact; beyond, the best hits among the first this-many matches
# PostgreSQL finds are returned: every hit is a real match, ranked, and the time is bounded.
RANK_CANDIDATES = 5000


def _ranked(cursor, tsquery: str, kinds, limit: int, *, seen, match: str) -> list[Hit]:
    kind_filter = "AND kind = ANY(%(kinds)s)" if kinds else ""
    cursor.execute(
        f"""WITH hits AS (
                SELECT * FROM (
                    SELECT e.*, ts_rank_cd(e.vector, %(tsq)s::tsquery) AS rank
                    FROM cases_searchentry e
                    WHERE e.vector @@ %(tsq)s::tsquery {kind_filter}
                      AND NOT (e.object_id = ANY(%(seen)s::uuid[]))
                    LIMIT %(candidates)s
                ) candidates
                ORDER BY rank DESC, id LIMIT %(limit)s
            )
            SELECT kind, content_type_id, object_id, title,
                   ts_headline('{SEARCH_CONFIG}', title || E'\n' || body, %(tsq)s::tsquery,
                               '{HEADLINE}'),
                   rank
            FROM hits ORDER BY rank DESC, id""",
        {"tsq": tsquery, "kinds": kinds, "limit": limit, "seen": seen,
         "candidates": RANK_CANDIDATES},
    )
    return [Hit(*row, match=match) for row in cursor.fetchall()]
