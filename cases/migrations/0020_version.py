"""One version number per record, counted by the database: ``version``.

Optimistic locking needs a number that changes with every change of what a writer saw, and
only then. The API's If-Match and the admin's stale-form check compare it (before, the API
compared an MD5 of the rendered JSON, so renaming an organisation made every If-Match on its
cases fail; the admin compared ``modified``).

A trigger counts it, so that no write path can forget it (the ORM, ``QuerySet.update``,
raw SQL, COPY): an UPDATE that changes the row (stamps and ``modified`` aside) gets
``OLD.version + 1``; a new row starts at 1 (its column default, also under COPY).

A part of a record (``cases.services.voiding.part_of``: a case's registration numbers and
activities, a document's attachments, a motion's authors ...) is part of what a writer of the
record saw: inserting, changing or removing one counts a change of its record too. Not when
the record was created in the same transaction (``version_xid``, a hidden column like
``change_xid``: the transaction that inserted the row): a case registered with its number, a
motion created with its authors, or a bulk load or COPY of records with their parts, then
rewrites no parent row. (Counting once per transaction instead would make the version depend
on transaction boundaries: two writes in one transaction, as a test or a batch makes them,
would leave the second's parts uncounted.)
"""

from django.db import migrations, models

# Every register table (RegisterModel).
TABLES = ["municipality", "organisation", "party", "person", "personnamevariant", "personrole",
          "partyaffiliation", "case", "registrationnumber", "activity", "collaborationmodel",
          "collaborationsector", "collaborationusage", "collaborationfigure", "document",
          "documentsignatory", "documentattachment", "decision", "decisionpoint", "link",
          "motion", "motionauthor", "motionproposal", "referral", "consultedbody",
          "referralresponse"]

# (part table, foreign key, record table), as cases.services.voiding.part_of finds them;
# tests/test_concurrency.py checks this list against the models.
PARTS = [
    ("personnamevariant", "person_id", "person"),
    ("personrole", "person_id", "person"),
    ("partyaffiliation", "person_id", "person"),
    ("registrationnumber", "case_id", "case"),
    ("activity", "case_id", "case"),
    ("collaborationsector", "model_id", "collaborationmodel"),
    ("collaborationusage", "model_id", "collaborationmodel"),
    ("collaborationfigure", "model_id", "collaborationmodel"),
    ("documentsignatory", "document_id", "document"),
    ("documentattachment", "document_id", "document"),
    ("decisionpoint", "decision_id", "decision"),
    ("motionauthor", "motion_id", "motion"),
    ("motionproposal", "motion_id", "motion"),
    ("consultedbody", "referral_id", "referral"),
]

CURRENT_XID = "pg_current_xact_id()::text::bigint"
# Not a change of what a writer saw: the stamps and counters, and ``modified`` alone (a save
# that changes nothing else, e.g. a form saved unchanged, leaves colleagues' forms current).
COUNTERS = "ARRAY['change_xid', 'version', 'version_xid', 'modified']"

COUNT_FUNCTION = f"""
CREATE FUNCTION cases_count_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A new row is version 1 (its default); an UPDATE that changes the row, or asks for a
    -- new version (a part changed), is the next version (see 0020).
    IF TG_OP = 'INSERT' THEN
        NEW.version_xid := {CURRENT_XID};
    ELSIF NEW.version IS DISTINCT FROM OLD.version
          OR (to_jsonb(NEW) - {COUNTERS}) IS DISTINCT FROM (to_jsonb(OLD) - {COUNTERS}) THEN
        NEW.version := OLD.version + 1;
        NEW.version_xid := OLD.version_xid;
    ELSE
        NEW.version_xid := OLD.version_xid;
    END IF;
    RETURN NEW;
END
$$"""


def count_part_function(part: str, column: str, record: str) -> str:
    count = (f"UPDATE cases_{record} SET version = version + 1 "
             f"WHERE id = %s AND version_xid <> {CURRENT_XID};")
    return f"""
CREATE FUNCTION cases_{part}_count_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A changed part is a new version of its record, unless this transaction created the record (see 0020).
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - {COUNTERS}) IS NOT DISTINCT FROM
                            (to_jsonb(OLD) - {COUNTERS}) THEN
        RETURN NULL;  -- only its counters moved (its own part changed): counted there
    END IF;
    IF TG_OP <> 'DELETE' THEN
        {count % f"NEW.{column}"}
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF TG_OP = 'DELETE' OR OLD.{column} IS DISTINCT FROM NEW.{column} THEN
            {count % f"OLD.{column}"}
        END IF;
    END IF;
    RETURN NULL;
END
$$"""


def forward() -> list[str]:
    sql = [COUNT_FUNCTION]
    for table in TABLES:
        sql += [
            f"ALTER TABLE cases_{table} ADD COLUMN version_xid bigint NOT NULL DEFAULT 0",
            f"CREATE TRIGGER cases_{table}_count_version BEFORE INSERT OR UPDATE "
            f"ON cases_{table} FOR EACH ROW EXECUTE FUNCTION cases_count_version()",
        ]
    for part, column, record in PARTS:
        sql += [
            count_part_function(part, column, record),
            f"CREATE TRIGGER cases_{part}_count_record AFTER INSERT OR UPDATE OR DELETE "
            f"ON cases_{part} FOR EACH ROW EXECUTE FUNCTION cases_{part}_count_record()",
        ]
    return sql


def backward() -> list[str]:
    sql = []
    for part, _, _ in PARTS:
        sql += [f"DROP TRIGGER cases_{part}_count_record ON cases_{part}",
                f"DROP FUNCTION cases_{part}_count_record()"]
    for table in TABLES:
        sql += [f"DROP TRIGGER cases_{table}_count_version ON cases_{table}",
                f"ALTER TABLE cases_{table} DROP COLUMN version_xid"]
    return [*sql, "DROP FUNCTION cases_count_version()"]


def version_field():
    return models.PositiveIntegerField(
        db_default=1, editable=False, verbose_name="version",
        help_text="Counts the changes of the record and of its parts; a write names the "
                  "version it was made to (the API's If-Match, the admin's form).")


class Migration(migrations.Migration):
    """Record versions for If-Match and the admin's stale-form check."""

    dependencies = [("cases", "0019_webhooks")]
    operations = [
        *(migrations.AddField(model_name=table, name="version", field=version_field())
          for table in TABLES),
        migrations.RunSQL(sql=forward(), reverse_sql=backward()),
    ]
