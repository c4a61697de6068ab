"""A change of what is withheld is a change of every record it masks (sync feed, 0017).

Whether a record is withheld from readers without clearance depends on other rows
(``cases.confidentiality.PARENTS``): a case's ``confidential`` flag withholds its documents,
motions, referrals, decisions, activities, their responses and every link touching them; a
document's flag or ``marked_public`` its decisions, responses and links; a record's own
``marked_public`` its responses and links. When such an input changes, every record whose
rendering changes with it gets the writing transaction's id, so a mirror resuming from its
sync token fetches them again and holds the masked (or unmasked) form, not the old one.

0017 restamps only the records showing a title in brief; this covers the whole subtree.
"""

from django.db import migrations

CURRENT_XID = "pg_current_xact_id()::text::bigint"

# (table, columns whose change alters what the record's subtree shows)
INPUTS = {
    "case": ("confidential", "title", "public_title"),
    "document": ("confidential", "marked_public", "title", "public_title"),
    "referral": ("marked_public", "title"),
    "motion": ("marked_public", "title"),
    "decision": ("marked_public",),
    "activity": ("marked_public",),
    "referralresponse": ("marked_public",),
}

# How each table collects the ids of the records below it (plpgsql, into the named arrays).
SUBTREES = {
    "case": """
    docs := ARRAY(SELECT id FROM cases_document WHERE case_id = NEW.id);
    refs := ARRAY(SELECT id FROM cases_referral WHERE case_id = NEW.id);
    PERFORM cases_restamp_ids('cases_document', docs);
    PERFORM cases_restamp_ids('cases_referral', refs);
    mots := ARRAY(SELECT id FROM cases_motion WHERE case_id = NEW.id);
    PERFORM cases_restamp_ids('cases_motion', mots);
    acts := ARRAY(SELECT id FROM cases_activity WHERE case_id = NEW.id);
    PERFORM cases_restamp_ids('cases_activity', acts);
    decs := ARRAY(SELECT id FROM cases_decision WHERE case_id = NEW.id OR document_id = ANY(docs));
    PERFORM cases_restamp_ids('cases_decision', decs);
    resp := ARRAY(SELECT id FROM cases_referralresponse
                  WHERE referral_id = ANY(refs) OR document_id = ANY(docs));
    PERFORM cases_restamp_ids('cases_referralresponse', resp);
    ids := ids || docs || refs || mots || acts || decs || resp;""",
    "document": """
    decs := ARRAY(SELECT id FROM cases_decision WHERE document_id = NEW.id);
    PERFORM cases_restamp_ids('cases_decision', decs);
    resp := ARRAY(SELECT id FROM cases_referralresponse WHERE document_id = NEW.id);
    PERFORM cases_restamp_ids('cases_referralresponse', resp);
    ids := ids || decs || resp;""",
    "referral": """
    resp := ARRAY(SELECT id FROM cases_referralresponse WHERE referral_id = NEW.id);
    PERFORM cases_restamp_ids('cases_referralresponse', resp);
    ids := ids || resp;""",
}

HELPER = f"""
CREATE FUNCTION cases_restamp_ids(tbl text, ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Stamp these rows with the writing transaction (their BEFORE trigger sets the value).
    IF cardinality(ids) > 0 THEN
        EXECUTE format('UPDATE %I SET change_xid = {CURRENT_XID} '
                       'WHERE id = ANY($1) AND change_xid <> {CURRENT_XID}', tbl) USING ids;
    END IF;
END
$$"""


def function(table: str) -> str:
    return f"""
CREATE FUNCTION cases_{table}_restamp_withheld() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids uuid[] := ARRAY[NEW.id];
    docs uuid[]; refs uuid[]; mots uuid[]; acts uuid[]; decs uuid[]; resp uuid[];
BEGIN
    -- What this record's change masks or unmasks below it comes again in the feed (0018).
    {SUBTREES.get(table, "")}
    UPDATE cases_link SET change_xid = {CURRENT_XID}
     WHERE change_xid <> {CURRENT_XID} AND (source_id = ANY(ids) OR target_id = ANY(ids));
    RETURN NULL;
END
$$"""


def forward() -> list[str]:
    sql = [HELPER]
    for table, columns in INPUTS.items():
        old = ", ".join(f"OLD.{c}" for c in columns)
        new = ", ".join(f"NEW.{c}" for c in columns)
        sql += [function(table),
                f"CREATE TRIGGER cases_{table}_restamp_withheld AFTER UPDATE ON cases_{table} "
                f"FOR EACH ROW WHEN (ROW({old}) IS DISTINCT FROM ROW({new})) "
                f"EXECUTE FUNCTION cases_{table}_restamp_withheld()"]
    return sql


def backward() -> list[str]:
    sql = []
    for table in INPUTS:
        sql += [f"DROP TRIGGER cases_{table}_restamp_withheld ON cases_{table}",
                f"DROP FUNCTION cases_{table}_restamp_withheld()"]
    return [*sql, "DROP FUNCTION cases_restamp_ids(text, uuid[])"]


class Migration(migrations.Migration):
    """Restamp the records a change of confidentiality masks or unmasks."""

    dependencies = [("cases", "0017_sync_change_xid")]
    operations = [migrations.RunSQL(sql=forward(), reverse_sql=backward())]
