"""A resume point in commit order for every collection: the ``change_xid`` column.

``modified`` is stamped when a row is saved, but the row becomes visible at COMMIT, which can
come later (a write waiting on a lock, a long transaction): a mirror resuming from the newest
``modified`` it has seen loses changes that commit late with an older stamp. Here every row of
a collection carries the id of the transaction that last wrote it (``pg_current_xact_id()``,
64 bits: it never wraps), set by a trigger so that no write path can forget it (the ORM,
``QuerySet.update``, COPY, raw SQL). A sync token is a snapshot's ``xmin``: every transaction
with a smaller id has ended, every one that commits later has an id at least as large, so a
feed ordered by ``(change_xid, id)`` and resumed from the token misses nothing
(``cases.api.pagination``).

The column is not a model field: the ORM never writes it (the trigger does) and it stays out
of model instances, audit snapshots and forms. Existing rows get 0 (before every token).

A part rendered inside its record (a case's registration numbers, a decision's points ...)
has no collection of its own: writing one stamps its record, so the record comes again in
the feed. Its insert skips that when the record was written by the same transaction (a case
registered with its number), which keeps bulk loads from rewriting every parent row.

A record shows others in brief (``{id, url, display}``); where the display is a title masked
by the other record's confidentiality (a document's case, a decision's document), a change
of that title or of its confidentiality stamps the records that show it, so that mirrors get
the masked form. (Other labels, such as an organisation's name in a case, are the related
record's own: a mirror takes them from that collection.)
"""

from django.db import migrations

# The collections of the API (as in 0010_keyset_indexes).
TABLES = ["municipality", "organisation", "party", "person", "case", "document", "motion",
          "referral", "referralresponse", "decision", "collaborationmodel", "activity", "link"]

# Parts rendered inside a record of a collection: (part table, foreign key, record table).
# tests/test_api_sync.py checks this against the serializers' part lists.
PARTS = [
    ("personnamevariant", "person_id", "person"),
    ("personrole", "person_id", "person"),
    ("partyaffiliation", "person_id", "person"),
    ("registrationnumber", "case_id", "case"),
    ("documentsignatory", "document_id", "document"),
    ("documentattachment", "document_id", "document"),
    ("motionauthor", "motion_id", "motion"),
    ("motionproposal", "motion_id", "motion"),
    ("consultedbody", "referral_id", "referral"),
    ("decisionpoint", "decision_id", "decision"),
    ("collaborationsector", "model_id", "collaborationmodel"),
    ("collaborationusage", "model_id", "collaborationmodel"),
    ("collaborationfigure", "model_id", "collaborationmodel"),
]

# Briefs masked by the referenced record's confidentiality: (record table, foreign key,
# referenced table). tests/test_api_sync.py checks this against the serializers.
MASKED_BRIEFS = [
    ("document", "case_id", "case"),
    ("motion", "case_id", "case"),
    ("referral", "case_id", "case"),
    ("decision", "case_id", "case"),
    ("activity", "case_id", "case"),
    ("decision", "document_id", "document"),
    ("referralresponse", "document_id", "document"),
]
DISPLAYED = "title, confidential, public_title"

CURRENT_XID = "pg_current_xact_id()::text::bigint"

STAMP_FUNCTION = f"""
CREATE FUNCTION cases_stamp_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The writing transaction's id: the row's place in commit order (see 0017).
    NEW.change_xid := {CURRENT_XID};
    RETURN NEW;
END
$$"""


def touch_function(part: str, column: str, record: str) -> str:
    touch = (f"UPDATE cases_{record} SET change_xid = {CURRENT_XID} "
             f"WHERE id = %s AND change_xid <> {CURRENT_XID};")
    return f"""
CREATE FUNCTION cases_{part}_touch_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A changed part is a change of the record it is rendered in (see 0017).
    IF TG_OP <> 'DELETE' THEN
        {touch % f"NEW.{column}"}
    END IF;
    IF TG_OP <> 'INSERT' THEN
        IF TG_OP = 'DELETE' OR OLD.{column} IS DISTINCT FROM NEW.{column} THEN
            {touch % f"OLD.{column}"}
        END IF;
    END IF;
    RETURN NULL;
END
$$"""


def restamp_function(referenced: str) -> str:
    stamps = "\n    ".join(
        f"UPDATE cases_{table} SET change_xid = {CURRENT_XID} "
        f"WHERE {column} = NEW.id AND change_xid <> {CURRENT_XID};"
        for table, column, target in MASKED_BRIEFS if target == referenced)
    return f"""
CREATE FUNCTION cases_{referenced}_restamp_briefs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Records showing this one's (masked) title in brief changed with it (see 0017).
    {stamps}
    RETURN NULL;
END
$$"""


def referenced_tables() -> list[str]:
    return sorted({target for _, _, target in MASKED_BRIEFS})


def forward() -> list[str]:
    sql = [STAMP_FUNCTION]
    for table in TABLES:
        sql += [
            f"ALTER TABLE cases_{table} ADD COLUMN change_xid bigint NOT NULL DEFAULT 0",
            f"CREATE TRIGGER cases_{table}_change_xid BEFORE INSERT OR UPDATE ON cases_{table} "
            f"FOR EACH ROW EXECUTE FUNCTION cases_stamp_change_xid()",
            f"CREATE INDEX cases_{table}_xkey ON cases_{table} (change_xid, id)",
        ]
    for part, column, record in PARTS:
        sql += [
            touch_function(part, column, record),
            f"CREATE TRIGGER cases_{part}_touch_record AFTER INSERT OR UPDATE OR DELETE "
            f"ON cases_{part} FOR EACH ROW EXECUTE FUNCTION cases_{part}_touch_record()",
        ]
    for referenced in referenced_tables():
        sql += [
            restamp_function(referenced),
            f"CREATE TRIGGER cases_{referenced}_restamp_briefs AFTER UPDATE ON "
            f"cases_{referenced} FOR EACH ROW WHEN ((OLD.{DISPLAYED.replace(', ', ', OLD.')}) "
            f"IS DISTINCT FROM (NEW.{DISPLAYED.replace(', ', ', NEW.')})) "
            f"EXECUTE FUNCTION cases_{referenced}_restamp_briefs()",
        ]
    return sql


def backward() -> list[str]:
    sql = []
    for referenced in referenced_tables():
        sql += [f"DROP TRIGGER cases_{referenced}_restamp_briefs ON cases_{referenced}",
                f"DROP FUNCTION cases_{referenced}_restamp_briefs()"]
    for part, _, _ in PARTS:
        sql += [f"DROP TRIGGER cases_{part}_touch_record ON cases_{part}",
                f"DROP FUNCTION cases_{part}_touch_record()"]
    for table in TABLES:
        sql += [f"DROP TRIGGER cases_{table}_change_xid ON cases_{table}",
                f"ALTER TABLE cases_{table} DROP COLUMN change_xid"]  # and its index
    return [*sql, "DROP FUNCTION cases_stamp_change_xid()"]


class Migration(migrations.Migration):
    """Commit-order stamps for the sync feed (``?sync_token=``)."""

    dependencies = [("cases", "0016_audit_no_truncate")]
    operations = [migrations.RunSQL(sql=forward(), reverse_sql=backward())]
