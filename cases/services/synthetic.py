"""A realistic synthetic register for benchmarks: millions of cases, loaded with COPY.

Vocabulary and structure come from the five source documents (their words, their document
types, their kinds of bodies); sizes are skewed as in real life: a few large bodies register
most cases, and recent years are busier. The same seed gives the same register.
"""

import datetime
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction

from cases.models.search import SEARCH_CONFIG

from .anchoring import DOCS_DIR

YEARS = list(range(2016, 2027))
YEAR_WEIGHTS = [1 + (y - 2016) * 0.6 for y in YEARS]  # recent years busier
COMMITTEES = ["Utbildningsnämnden", "Socialnämnden", "Kulturnämnden", "Idrottsnämnden",
              "Miljö- och hälsoskyddsnämnden", "Trafiknämnden", "Exploateringsnämnden",
              "Stadsbyggnadsnämnden", "Äldrenämnden", "Arbetsmarknadsnämnden",
              "Funktionsstödsnämnden", "Fastighetsnämnden"]
DOC_TYPES = ["motion", "referral", "official_report", "official_memo", "statement",
             "minutes_extract", "attachment"]
DIRECTIONS = ["incoming", "drawn_up", "dispatched"]
STATUSES = ["open", "decided", "closed"]
BATCH = 20_000


def vocabulary() -> list[str]:
    """Words of the source documents (letters only, three or more)."""
    words = []
    for path in sorted(DOCS_DIR.glob("*.txt")):
        words += re.findall(r"[A-Za-zÅÄÖåäöé]{3,}", path.read_text(encoding="utf-8"))
    return words


@dataclass
class Counts:
    cases: int = 0
    documents: int = 0
    motions: int = 0
    referrals: int = 0
    decisions: int = 0
    activities: int = 0
    links: int = 0


class Generator:
    def __init__(self, *, seed: int, progress: Callable[[str], None] | None = None):
        self.rng = random.Random(seed)
        self.words = vocabulary()
        self.progress = progress or (lambda line: None)
        self.counts = Counts()

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def sentence(self, low: int, high: int) -> str:
        text = " ".join(self.rng.choices(self.words, k=self.rng.randint(low, high)))
        return text[:1].upper() + text[1:]

    def text(self, paragraphs: int) -> str:
        return "\n\n".join(self.sentence(30, 90) + "." for _ in range(paragraphs))

    def moment(self, year: int) -> datetime.datetime:
        day = datetime.date(year, 1, 1) + datetime.timedelta(days=self.rng.randrange(365))
        seconds = self.rng.randrange(8 * 3600, 17 * 3600)
        return datetime.datetime.combine(day, datetime.time(), datetime.UTC) + \
            datetime.timedelta(seconds=seconds, microseconds=self.rng.randrange(10**6))

    # --- the register ---------------------------------------------------------------------

    def generate(self, *, cases: int, municipalities: int = 30) -> Counts:
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.connection
            bodies = self._bodies(raw, municipalities)
            weights = [b["weight"] for b in bodies]
            done = 0
            while done < cases:
                size = min(BATCH, cases - done)
                self._cases(raw, bodies, weights, size)
                done += size
                self.progress(f"{done:,} of {cases:,} cases")
            self.progress("search index of cases and documents ...")
            self._index(raw)
        return self.counts

    def _copy(self, raw, table: str, columns: list[str], rows) -> None:
        with raw.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _bodies(self, raw, municipalities: int) -> list[dict]:
        existing = self._existing_bodies(raw)
        if existing:
            return existing
        now = datetime.datetime.now(datetime.UTC)
        rows_m, rows_o, bodies = [], [], []
        for i in range(municipalities):
            mid = self.uuid()
            rows_m.append((mid, f"Synteskommun {i + 1}", f"9{i:03d}", now, now, "", ""))
            size = 1 / (i + 1)  # a few large municipalities, many small
            council = self.uuid()
            rows_o.append((council, "Kommunfullmäktige", "KF", "council", mid, None, now, now,
                           "", ""))
            board = self.uuid()
            rows_o.append((board, "Kommunstyrelsen", "KS", "executive_board", mid, council, now,
                           now, "", ""))
            bodies.append({"id": board, "municipality": mid, "short": "KS", "weight": size * 4})
            for j, name in enumerate(COMMITTEES):
                oid = self.uuid()
                short = "".join(w[0] for w in name.replace("-", " ").split()).upper()[:3] + \
                    str(j)
                rows_o.append((oid, name, short, "committee", mid, council, now, now, "", ""))
                bodies.append({"id": oid, "municipality": mid, "short": short,
                               "weight": size / (j + 1)})
        self._copy(raw, "cases_municipality",
                   ["id", "name", "code", "created", "modified", "void_reason", "voided_by"],
                   rows_m)
        self._copy(raw, "cases_organisation",
                   ["id", "name", "short_name", "type", "municipality_id", "parent_id", "created",
                    "modified", "void_reason", "voided_by"], rows_o)
        self.serials = {}
        return bodies

    def _existing_bodies(self, raw) -> list[dict]:
        """The synthetic bodies of an earlier run (more cases are added to their series)."""
        with raw.cursor() as cursor:
            cursor.execute("""
                SELECT o.id, o.municipality_id, o.short_name, m.code
                FROM cases_organisation o JOIN cases_municipality m ON m.id = o.municipality_id
                WHERE m.name LIKE 'Synteskommun %%' AND o.type <> 'council'
                ORDER BY m.code, o.created, o.name""")
            rows = cursor.fetchall()
            cursor.execute("""SELECT organisation_id, year, max(serial)
                              FROM cases_registrationnumber WHERE serial IS NOT NULL
                              GROUP BY organisation_id, year""")
            self.serials = {(org, year): last for org, year, last in cursor.fetchall()}
        bodies = []
        for oid, mid, short, code in rows:
            size = 1 / (int(code) - 8999)
            weight = size * 4 if short == "KS" else size / (int(short[-1]) + 1)
            bodies.append({"id": oid, "municipality": mid, "short": short, "weight": weight})
        return bodies

    def _cases(self, raw, bodies, weights, size: int) -> None:
        cases, numbers, documents, motions, referrals, decisions, activities, links = \
            [], [], [], [], [], [], [], []
        chosen = self.rng.choices(bodies, weights=weights, k=size)
        years = self.rng.choices(YEARS, weights=YEAR_WEIGHTS, k=size)
        for body, year in zip(chosen, years, strict=True):
            case_id, created = self.uuid(), self.moment(year)
            modified = created + datetime.timedelta(days=self.rng.randrange(0, 200))
            title = self.sentence(4, 12)
            cases.append((case_id, title, body["municipality"], body["id"],
                          self.rng.choice(STATUSES), self.sentence(10, 30), False, "", "",
                          created, modified, "", ""))
            key = (body["id"], year)
            serial = self.serials[key] = self.serials.get(key, 0) + 1
            numbers.append((self.uuid(), case_id, body["id"], f"{body['short']} {year}/{serial}",
                            year, serial, created, modified, "", ""))
            doc_id = self.uuid()
            documents.append((doc_id, case_id, title, self.rng.choice(DOC_TYPES),
                              self.rng.choice(DIRECTIONS), created.date(), body["id"],
                              self.text(self.rng.choice([1, 1, 2, 3, 5])), "", False, "", "",
                              created, modified, "", ""))
            roll = self.rng.random()
            if roll < 0.12:
                motions.append((self.uuid(), case_id, f"Motion om {title.lower()}",
                                self.sentence(20, 40), created, modified, "", ""))
            if roll < 0.25:
                due = created.date() + datetime.timedelta(days=self.rng.randrange(20, 90))
                referrals.append((self.uuid(), case_id, title, body["id"], created.date(), due,
                                  "", "", created, modified, "", ""))
            if self.rng.random() < 0.35:
                decisions.append((self.uuid(), case_id, "decided", body["id"],
                                  self.sentence(8, 20), modified.date(),
                                  self.rng.random() < 0.2, "", created, modified, "", ""))
            if self.rng.random() < 0.3:
                activities.append((self.uuid(), case_id, "union_consultation",
                                   created.date() + datetime.timedelta(days=7), body["id"],
                                   "Samverkan med de fackliga organisationerna.", created,
                                   modified, "", ""))
            if self.rng.random() < 0.2:
                links.append((self.uuid(), case_id, doc_id, "mentions", created, modified,
                              "", ""))
        self._copy(raw, "cases_case", ["id", "title", "municipality_id",
                                       "responsible_organisation_id", "status", "description",
                                       "confidential", "confidentiality_basis", "public_title",
                                       "created", "modified", "void_reason", "voided_by"], cases)
        self._copy(raw, "cases_registrationnumber", [
            "id", "case_id", "organisation_id", "number", "year", "serial", "created",
            "modified", "void_reason", "voided_by"], numbers)
        self._copy(raw, "cases_document", [
            "id", "case_id", "title", "type", "direction", "date", "author_organisation_id",
            "text", "sha256", "confidential", "confidentiality_basis", "public_title",
            "created", "modified", "void_reason", "voided_by"], documents)
        self._copy(raw, "cases_motion", ["id", "case_id", "title", "summary", "created",
                                         "modified", "void_reason", "voided_by"], motions)
        self._copy(raw, "cases_referral", [
            "id", "case_id", "title", "sender_id", "received_date", "due_date",
            "received_as_written", "due_as_written", "created", "modified", "void_reason",
            "voided_by"], referrals)
        self._copy(raw, "cases_decision", [
            "id", "case_id", "kind", "organisation_id", "summary", "date",
            "immediately_adjusted", "follow_up_due_precision", "created", "modified",
            "void_reason", "voided_by"], decisions)
        self._copy(raw, "cases_activity", [
            "id", "case_id", "type", "date", "organisation_id", "description", "created",
            "modified", "void_reason", "voided_by"], activities)
        self._link(raw, links)
        c = self.counts
        c.cases += len(cases)
        c.documents += len(documents)
        c.motions += len(motions)
        c.referrals += len(referrals)
        c.decisions += len(decisions)
        c.activities += len(activities)
        c.links += len(links)

    def _link(self, raw, links) -> None:
        if not hasattr(self, "_types"):
            with raw.cursor() as cursor:
                cursor.execute("SELECT model, id FROM django_content_type "
                               "WHERE app_label = 'cases'")
                self._types = dict(cursor.fetchall())
        rows = [(lid, self._types["case"], source, kind, self._types["document"], target,
                 created, modified, reason, by)
                for lid, source, target, kind, created, modified, reason, by in links]
        self._copy(raw, "cases_link", ["id", "source_type_id", "source_id", "type",
                                       "target_type_id", "target_id", "created", "modified",
                                       "void_reason", "voided_by"], rows)

    def _index(self, raw) -> None:
        """Search entries of the generated cases and documents, computed in the database.

        The GIN index is dropped for the bulk insert and built again afterwards: one sorted
        build is many times faster than a million incremental GIN insertions. Only the
        table's owner may drop an index: run as the runtime role (the tests), the entries
        go into the index as it stands.
        """
        with raw.cursor() as cursor:
            cursor.execute("SELECT pg_has_role(relowner, 'USAGE') FROM pg_class "
                           "WHERE oid = 'cases_searchentry'::regclass")
            rebuild = cursor.fetchone()[0]
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            if rebuild:
                cursor.execute("DROP INDEX search_vector_gin")
            for model, title, body in (("case", "c.title", "c.description"),
                                       ("document", "c.title", "c.text")):
                kind = "cases" if model == "case" else "documents"
                cursor.execute(f"""
                    INSERT INTO cases_searchentry
                        (content_type_id, object_id, kind, title, body, vector)
                    SELECT %s, c.id, %s, {title}, {body},
                           setweight(to_tsvector('{SEARCH_CONFIG}', {title}), 'A')
                           || setweight(to_tsvector('{SEARCH_CONFIG}', {body}), 'B')
                    FROM cases_{model} c
                    WHERE NOT EXISTS (SELECT 1 FROM cases_searchentry e
                                      WHERE e.object_id = c.id)""",
                               [self._types[model], kind])
            self.progress("search index: building the GIN indexes ...")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the deferred FKs now
            if rebuild:
                cursor.execute(
                    "CREATE INDEX search_vector_gin ON cases_searchentry USING gin (vector)")
            self.progress("search index: the lexicon ...")
            cursor.execute("INSERT INTO cases_searchword (word) SELECT word FROM "
                           "ts_stat('SELECT vector FROM cases_searchentry') "
                           "ON CONFLICT DO NOTHING")
