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
FIRST_NAMES = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Per", "Sara",
               "Nils", "Lena", "Anders", "Ingrid", "Mikael", "Elin", "Jonas", "Ulla", "Omar",
               "Fatima", "Björn", "Åsa", "Gunnar", "Sofia", "Ahmed", "Kristina", "Peter"]
LAST_NAMES = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson",
              "Olsson", "Persson", "Svensson", "Gustafsson", "Lindqvist", "Holmdahl",
              "Bergström", "Lundgren", "Sjöberg", "Åkesson", "Öberg", "Ali", "Hassan",
              "Virtanen", "Ek", "Forsberg", "Sandberg", "Wallin", "Engström", "Nyström"]
PARTIES = 8  # Syntespartiet 1 … 8 (SP1 …): abbreviations are unique in the register
PEOPLE_PER_CASES = 50  # one person (officer, politician, signatory) per 50 cases
SECTORS = ["school", "preschool", "social_services", "health_care", "student_health",
           "police", "leisure", "foster_care"]
LEVELS = ["universal", "individual", "structural", "unknown"]
MODEL_STATUSES = ["proposed", "pilot", "ongoing", "permanent", "discontinued"]
POSITIONS = ["supports", "partly_supports", "rejects", "considers_answered", "not_stated"]
# Shares of records given what the seed register has only a handful of: confidential cases
# and documents (each with its basis and public title), case officers, signatories, authors
# of motions with their party, consulted bodies and their responses, decision points.
CONFIDENTIAL = 0.03
BASIS = "OSL 26 kap. 1 §"


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
    people: int = 0
    responses: int = 0
    collaboration_models: int = 0


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
            self.bodies_of = {}
            for body in bodies:
                self.bodies_of.setdefault(body["municipality"], []).append(body["id"])
            self._people(raw, bodies, cases)
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
            bodies.append({"id": board, "municipality": mid, "short": "KS", "weight": size * 4,
                           "council": council})
            for j, name in enumerate(COMMITTEES):
                oid = self.uuid()
                short = "".join(w[0] for w in name.replace("-", " ").split()).upper()[:3] + \
                    str(j)
                rows_o.append((oid, name, short, "committee", mid, council, now, now, "", ""))
                bodies.append({"id": oid, "municipality": mid, "short": short,
                               "weight": size / (j + 1), "council": council})
        self._copy(raw, "cases_municipality",
                   ["id", "name", "code", "created", "modified", "void_reason", "voided_by"],
                   rows_m)
        self._copy(raw, "cases_organisation",
                   ["id", "name", "short_name", "type", "municipality_id", "parent_id", "created",
                    "modified", "void_reason", "voided_by"], rows_o)
        self.serials = {}
        return bodies

    def _people(self, raw, bodies, cases: int) -> None:
        """Parties, people (a third of them politicians with a party) and each
        municipality's collaboration models with their sectors and users: made on a first
        run, read back on a later one (which adds cases to the same register)."""
        with raw.cursor() as cursor:
            cursor.execute("SELECT p.id, a.party_id FROM cases_person p "
                           "LEFT JOIN cases_partyaffiliation a ON a.person_id = p.id "
                           "AND a.party_id IN (SELECT id FROM cases_party "
                           "                   WHERE name LIKE 'Syntespartiet %%') "
                           "WHERE EXISTS (SELECT 1 FROM cases_party "
                           "              WHERE name LIKE 'Syntespartiet %%') "
                           "ORDER BY p.created, p.id")
            rows = cursor.fetchall()
        if rows:
            self.people = [person for person, _ in rows]
            self.politicians = [(person, party) for person, party in rows if party]
            return
        now = datetime.datetime.now(datetime.UTC)
        parties = [(self.uuid(), f"SP{i}", f"Syntespartiet {i}", now, now, "", "")
                   for i in range(1, PARTIES + 1)]
        people = [(self.uuid(), f"{self.rng.choice(FIRST_NAMES)} "
                   f"{self.rng.choice(LAST_NAMES)}", now, now, "", "")
                  for _ in range(max(200, cases // PEOPLE_PER_CASES))]
        self.people = [row[0] for row in people]
        self.politicians = [(person, self.rng.choice(parties)[0])
                            for person in self.people[::3]]
        self._copy(raw, "cases_party", ["id", "abbreviation", "name", "created", "modified",
                                        "void_reason", "voided_by"], parties)
        self._copy(raw, "cases_person", ["id", "name", "created", "modified", "void_reason",
                                         "voided_by"], people)
        self._copy(raw, "cases_partyaffiliation", [
            "id", "person_id", "party_id", "created", "modified", "void_reason", "voided_by"],
            [(self.uuid(), person, party, now, now, "", "")
             for person, party in self.politicians])
        models, sectors, usages = [], [], []
        for municipality in dict.fromkeys(b["municipality"] for b in bodies):
            own = [b["id"] for b in bodies if b["municipality"] == municipality]
            for k in range(1, 5):
                mid = self.uuid()
                word = self.rng.choice(self.words).capitalize()
                models.append((mid, f"{word}modellen {k}", f"{word[:2].upper()}{k}",
                               self.rng.choice(LEVELS), self.rng.choice(MODEL_STATUSES),
                               self.sentence(5, 12), self.sentence(20, 50),
                               datetime.date(self.rng.choice(YEARS), 1, 1), "year",
                               "", municipality, now, now, "", ""))
                for sector in self.rng.sample(SECTORS, self.rng.randint(2, 3)):
                    sectors.append((self.uuid(), mid, sector, now, now, "", ""))
                for organisation in self.rng.sample(own, 2):
                    usages.append((self.uuid(), mid, "", municipality, organisation, now, now,
                                   "", ""))
        self._copy(raw, "cases_collaborationmodel", [
            "id", "name", "abbreviation", "level", "status", "target_group", "description",
            "started", "started_precision", "ended_precision", "municipality_id", "created",
            "modified", "void_reason", "voided_by"], models)
        self._copy(raw, "cases_collaborationsector", [
            "id", "model_id", "sector", "created", "modified", "void_reason", "voided_by"],
            sectors)
        self._copy(raw, "cases_collaborationusage", [
            "id", "model_id", "place", "municipality_id", "organisation_id", "created",
            "modified", "void_reason", "voided_by"], usages)
        self.counts.people += len(people)
        self.counts.collaboration_models += len(models)

    def _existing_bodies(self, raw) -> list[dict]:
        """The synthetic bodies of an earlier run (more cases are added to their series)."""
        with raw.cursor() as cursor:
            cursor.execute("""
                SELECT o.id, o.municipality_id, o.short_name, m.code, o.parent_id
                FROM cases_organisation o JOIN cases_municipality m ON m.id = o.municipality_id
                WHERE m.name LIKE 'Synteskommun %%' AND o.type <> 'council'
                ORDER BY m.code, o.created, o.name""")
            rows = cursor.fetchall()
            cursor.execute("""SELECT organisation_id, year, max(serial)
                              FROM cases_registrationnumber WHERE serial IS NOT NULL
                              GROUP BY organisation_id, year""")
            self.serials = {(org, year): last for org, year, last in cursor.fetchall()}
        bodies = []
        for oid, mid, short, code, council in rows:
            size = 1 / (int(code) - 8999)
            weight = size * 4 if short == "KS" else size / (int(short[-1]) + 1)
            bodies.append({"id": oid, "municipality": mid, "short": short, "weight": weight,
                           "council": council})
        return bodies

    def _cases(self, raw, bodies, weights, size: int) -> None:
        cases, numbers, documents, motions, referrals, decisions, activities, links = \
            [], [], [], [], [], [], [], []
        signatories, authors, consulted, responses, points = [], [], [], [], []
        rng = self.rng
        chosen = self.rng.choices(bodies, weights=weights, k=size)
        years = self.rng.choices(YEARS, weights=YEAR_WEIGHTS, k=size)
        for body, year in zip(chosen, years, strict=True):
            case_id, created = self.uuid(), self.moment(year)
            modified = created + datetime.timedelta(days=self.rng.randrange(0, 200))
            title = self.sentence(4, 12)
            secret = rng.random() < CONFIDENTIAL
            status = rng.choice(STATUSES)
            # Registered the day its number was given; a closed one closed at its last change.
            cases.append((case_id, title, body["municipality"], body["id"],
                          status, self.sentence(10, 30), secret,
                          BASIS if secret else "", "Sekretessbelagt ärende" if secret else "",
                          created.date(), modified.date() if status == "closed" else None,
                          created, modified, "", ""))
            key = (body["id"], year)
            serial = self.serials[key] = self.serials.get(key, 0) + 1
            numbers.append((self.uuid(), case_id, body["id"], f"{body['short']} {year}/{serial}",
                            year, serial, created, modified, "", ""))
            doc_id = self.uuid()
            secret = rng.random() < CONFIDENTIAL
            documents.append((doc_id, case_id, title, rng.choice(DOC_TYPES),
                              rng.choice(DIRECTIONS), created.date(), body["id"],
                              self.text(rng.choice([1, 1, 2, 3, 5])), "", secret,
                              BASIS if secret else "",
                              "Handling som omfattas av sekretess" if secret else "",
                              rng.choice(self.people) if rng.random() < 0.7 else None,
                              body["id"] if rng.random() < 0.5 else None,
                              body["council"] if rng.random() < 0.2 else None,
                              "", "", created, modified, "", ""))
            if rng.random() < 0.4:
                for position, person in enumerate(
                        dict.fromkeys(rng.choices(self.people, k=rng.randint(1, 2))), 1):
                    signatories.append((self.uuid(), doc_id, position, person, "",
                                        body["id"], created, modified, "", ""))
            roll = self.rng.random()
            if roll < 0.12:
                motion_id = self.uuid()
                motions.append((motion_id, case_id, f"Motion om {title.lower()}",
                                self.sentence(20, 40), created.date(), body["council"],
                                created, modified, "", ""))
                for position, (person, party) in enumerate(dict.fromkeys(
                        rng.choices(self.politicians, k=rng.randint(1, 3))), 1):
                    authors.append((self.uuid(), motion_id, position, person, party, created,
                                    modified, "", ""))
            if roll < 0.25:
                due = created.date() + datetime.timedelta(days=self.rng.randrange(20, 90))
                referral_id = self.uuid()
                referrals.append((referral_id, case_id, title, body["id"], created.date(), due,
                                  "", "", created, modified, "", ""))
                for organisation in self.rng.sample(self.bodies_of[body["municipality"]], 3):
                    answered = rng.random() < 0.6
                    consulted.append((self.uuid(), referral_id, organisation, "",
                                      "responded" if answered else "pending", due, created,
                                      modified, "", ""))
                    if answered:
                        responses.append((self.uuid(), referral_id, organisation,
                                          due - datetime.timedelta(days=rng.randrange(0, 15)),
                                          rng.choice(POSITIONS), self.sentence(10, 30),
                                          created, modified, "", ""))
            if self.rng.random() < 0.35:
                decision_id, follow_up = self.uuid(), rng.random() < 0.2
                decisions.append((decision_id, case_id, "decided", body["id"],
                                  self.sentence(8, 20), modified.date(),
                                  rng.random() < 0.2,
                                  modified.date() + datetime.timedelta(days=365)
                                  if follow_up else None, "month" if follow_up else "",
                                  body["id"] if rng.random() < 0.5 else None,
                                  doc_id if rng.random() < 0.3 else None,
                                  created, modified, "", ""))
                for number in range(1, rng.randint(1, 3) + 1):
                    points.append((self.uuid(), decision_id, number, self.sentence(8, 25),
                                   created, modified, "", ""))
            if self.rng.random() < 0.3:
                activities.append((self.uuid(), case_id, "union_consultation",
                                   created.date() + datetime.timedelta(days=7), body["id"],
                                   rng.choice(self.people) if rng.random() < 0.5 else None,
                                   "Samverkan med de fackliga organisationerna.", created,
                                   modified, "", ""))
            if self.rng.random() < 0.2:
                links.append((self.uuid(), case_id, doc_id, "mentions", created, modified,
                              "", ""))
        self._copy(raw, "cases_case", ["id", "title", "municipality_id",
                                       "responsible_organisation_id", "status", "description",
                                       "confidential", "confidentiality_basis", "public_title",
                                       "registered", "closed",
                                       "created", "modified", "void_reason", "voided_by"], cases)
        self._copy(raw, "cases_registrationnumber", [
            "id", "case_id", "organisation_id", "number", "year", "serial", "created",
            "modified", "void_reason", "voided_by"], numbers)
        self._copy(raw, "cases_document", [
            "id", "case_id", "title", "type", "direction", "date", "author_organisation_id",
            "text", "sha256", "confidential", "confidentiality_basis", "public_title",
            "case_officer_id", "prepared_by_id", "recipient_id", "sender_name", "sender_address",
            "created", "modified", "void_reason", "voided_by"], documents)
        self._copy(raw, "cases_documentsignatory", [
            "id", "document_id", "position", "person_id", "title", "organisation_id",
            "created", "modified", "void_reason", "voided_by"], signatories)
        self._copy(raw, "cases_motion", ["id", "case_id", "title", "summary", "date",
                                         "addressed_to_id", "created", "modified",
                                         "void_reason", "voided_by"], motions)
        self._copy(raw, "cases_motionauthor", [
            "id", "motion_id", "position", "person_id", "party_id", "created", "modified",
            "void_reason", "voided_by"], authors)
        self._copy(raw, "cases_referral", [
            "id", "case_id", "title", "sender_id", "received_date", "due_date",
            "received_as_written", "due_as_written", "created", "modified", "void_reason",
            "voided_by"], referrals)
        self._copy(raw, "cases_consultedbody", [
            "id", "referral_id", "organisation_id", "name_as_written", "response_status",
            "due_date", "created", "modified", "void_reason", "voided_by"], consulted)
        self._copy(raw, "cases_referralresponse", [
            "id", "referral_id", "organisation_id", "date", "position", "summary", "created",
            "modified", "void_reason", "voided_by"], responses)
        self._copy(raw, "cases_decision", [
            "id", "case_id", "kind", "organisation_id", "summary", "date",
            "immediately_adjusted", "follow_up_due", "follow_up_due_precision",
            "proposed_by_id", "document_id", "created", "modified", "void_reason",
            "voided_by"], decisions)
        self._copy(raw, "cases_decisionpoint", [
            "id", "decision_id", "number", "text", "created", "modified", "void_reason",
            "voided_by"], points)
        self._copy(raw, "cases_activity", [
            "id", "case_id", "type", "date", "organisation_id", "person_id", "description",
            "created", "modified", "void_reason", "voided_by"], activities)
        self._link(raw, links)
        c = self.counts
        c.cases += len(cases)
        c.documents += len(documents)
        c.motions += len(motions)
        c.referrals += len(referrals)
        c.decisions += len(decisions)
        c.activities += len(activities)
        c.links += len(links)
        c.responses += len(responses)

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
            # A withheld record by its public entry only, as cases.search.index_record: its
            # public title and, for a case, its registration numbers.
            numbers = ("(SELECT string_agg(r.number, ' ') FROM cases_registrationnumber r "
                       "WHERE r.case_id = c.id)")
            for model, withheld, title, body, join in (
                    ("case", "c.confidential", "c.title", "c.description", ""),
                    ("document", "(c.confidential OR k.confidential AND NOT c.marked_public)",
                     "c.title", "c.text", "JOIN cases_case k ON k.id = c.case_id")):
                kind = "cases" if model == "case" else "documents"
                title = f"CASE WHEN {withheld} THEN c.public_title ELSE {title} END"
                hidden = numbers if model == "case" else "''"
                body = f"CASE WHEN {withheld} THEN {hidden} ELSE {body} END"
                cursor.execute(f"""
                    INSERT INTO cases_searchentry
                        (content_type_id, object_id, kind, title, body, vector)
                    SELECT %s, c.id, %s, {title}, {body},
                           setweight(to_tsvector('{SEARCH_CONFIG}', {title}), 'A')
                           || setweight(to_tsvector('{SEARCH_CONFIG}', {body}), 'B')
                    FROM cases_{model} c {join}
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
