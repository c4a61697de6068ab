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
from cases.confidentiality import is_confidential
from cases.models.search import SEARCH_CONFIG, SearchEntry

KINDS = {
    m.Case: "cases", m.Document: "documents", m.Motion: "motions", m.Decision: "decisions",
    m.CollaborationModel: "collaboration-models", m.Person: "people",
    m.Organisation: "organisations",
}


def _join(*parts) -> str:
    return "\n".join(p for p in parts if p)


def _text(record) -> tuple[str, str]:
    """(title, body) of a searchable record."""
    if isinstance(record, m.Case):
        numbers = " ".join(record.registration_numbers.values_list("number", flat=True))
        return record.title, _join(numbers, record.description)
    if isinstance(record, m.Document):
        return record.title, record.text
    if isinstance(record, m.Motion):
        authors = " ".join(record.authors.values_list("person__name", flat=True))
        proposals = [p.text for p in record.proposals.all()]
        return record.title, _join(authors, record.summary, *proposals)
    if isinstance(record, m.Decision):
        points = [p.text for p in record.points.all()]
        return (f"{record.get_kind_display()}: {record.organisation.name}",
                _join(record.summary, *points))
    if isinstance(record, m.CollaborationModel):
        return record.name, _join(record.abbreviation, record.description, record.target_group)
    if isinstance(record, m.Person):
        return record.name, " ".join(record.name_variants.values_list("name", flat=True))
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
def index_record(record) -> None:
    """Write (or, for a voided record, remove) the record's search entry."""
    content_type = ContentType.objects.get_for_model(record)
    if record.voided_at:
        SearchEntry.objects.filter(content_type=content_type, object_id=record.pk).delete()
        return
    title, body = _text(record)
    if is_confidential(record):  # only the public registration entry is searchable
        title = record.public_title
        body = " ".join(record.registration_numbers.values_list("number", flat=True)) \
            if isinstance(record, m.Case) else ""
    entry, _ = SearchEntry.objects.update_or_create(
        content_type=content_type, object_id=record.pk,
        defaults={"kind": KINDS[type(record)], "title": title, "body": body},
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE cases_searchentry SET
                  vector = setweight(to_tsvector('{SEARCH_CONFIG}', title), 'A')
                        || setweight(to_tsvector('{SEARCH_CONFIG}', body), 'B'),
                  plain = lower(unaccent(title || ' ' || body))
                WHERE id = %s""",
            [entry.pk],
        )


def reindex_all(progress=None) -> int:
    """Rebuild the whole index (after bulk loads); returns the number of entries."""
    count = 0
    for model in KINDS:
        for record in model.objects.filter(voided_at__isnull=True).iterator():
            index_record(record)
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


def search(q: str, *, kinds: list[str] | None = None, limit: int = 20) -> list[Hit]:
    """Ranked hits for ``q``: full-text first, then typo-tolerant matches to fill ``limit``."""
    kind_filter = "AND kind = ANY(%(kinds)s)" if kinds else ""
    params = {"q": q, "kinds": kinds, "limit": limit, "sim": SIMILARITY}
    fulltext = f"""
        WITH query AS (SELECT websearch_to_tsquery('{SEARCH_CONFIG}', %(q)s) AS tsq),
        hits AS (
            SELECT e.*, ts_rank_cd(e.vector, query.tsq) AS rank
            FROM cases_searchentry e, query
            WHERE e.vector @@ query.tsq {kind_filter}
            ORDER BY rank DESC, e.id LIMIT %(limit)s
        )
        SELECT kind, content_type_id, object_id, title,
               ts_headline('{SEARCH_CONFIG}', title || E'\n' || body, query.tsq, '{HEADLINE}'),
               rank
        FROM hits, query ORDER BY rank DESC, id"""
    with connection.cursor() as cursor:
        cursor.execute(fulltext, params)
        hits = [Hit(*row, match="fulltext") for row in cursor.fetchall()]
        if len(hits) >= limit:
            return hits
        params.update(limit=limit - len(hits), seen=[h.object_id for h in hits])
        cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                       [str(SIMILARITY)])
        cursor.execute(
            f"""SELECT kind, content_type_id, object_id, title, plain,
                       word_similarity(lower(unaccent(%(q)s)), plain) AS rank
                FROM cases_searchentry
                WHERE lower(unaccent(%(q)s)) <%% plain
                  AND NOT (object_id = ANY(%(seen)s::uuid[])) {kind_filter}
                ORDER BY rank DESC, id LIMIT %(limit)s""",
            params,
        )
        for kind, ct, oid, title, plain, rank in cursor.fetchall():
            hits.append(Hit(kind, ct, oid, title, _similar_snippet(plain, q), rank, "similar"))
    return hits


def _similar_snippet(plain: str, q: str, width: int = 80) -> str:
    """Text around the closest word, from the unaccented copy (typo matches have no stem)."""
    words = plain.split()
    if not words:
        return ""
    target = q.lower()
    best = max(range(len(words)), key=lambda i: _overlap(words[i], target))
    start = max(0, best - 8)
    excerpt = words[start:best] + [f"<mark>{words[best]}</mark>"] + words[best + 1:best + 9]
    return " ".join(excerpt)[: width * 3]


def _overlap(word: str, target: str) -> int:
    grams = {target[i:i + 3] for i in range(len(target) - 2)}
    return sum(word[i:i + 3] in grams for i in range(len(word) - 2))
