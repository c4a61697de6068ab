"""A case shows its closing document in brief (``closed_by_document``, migration 0029): when
the document's title or confidentiality changes, the case is restamped for the sync feed, as
0017 does for the other records showing a document's (masked) title."""

from importlib import import_module

from django.db import migrations

SYNC = import_module("cases.migrations.0017_sync_change_xid")
MASKED_BRIEFS = [*SYNC.MASKED_BRIEFS, ("case", "closed_by_document_id", "document")]


def restamp_function(briefs) -> str:
    stamps = "\n    ".join(
        f"UPDATE cases_{table} SET change_xid = {SYNC.CURRENT_XID} "
        f"WHERE {column} = NEW.id AND change_xid <> {SYNC.CURRENT_XID};"
        for table, column, target in briefs if target == "document")
    return f"""
CREATE OR REPLACE FUNCTION cases_document_restamp_briefs() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    -- Records showing this one's (masked) title in brief changed with it (see 0017, 0032).
    {stamps}
    RETURN NULL;
END
$$"""


class Migration(migrations.Migration):
    dependencies = [("cases", "0031_provenance_note_sv")]
    operations = [migrations.RunSQL(sql=restamp_function(MASKED_BRIEFS),
                                    reverse_sql=restamp_function(SYNC.MASKED_BRIEFS))]
