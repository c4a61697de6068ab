"""Whether a record is withheld from readers without clearance, kept on its own row: ``withheld``.

A record is withheld when it is marked ``confidential``, or when a record it hangs off is
withheld and nobody cleared marked it ``marked_public`` (``cases.confidentiality``). Worked out
in a query, that condition joins every parent up to the case; a filter on a withheld field
(``decisions?proposed_by=…``, ``documents?text=…``) by a reader without clearance then joined
a million cases, and PostgreSQL hashed them all (issue 14: the WITHHELD_JOIN rows of
``tests/test_query_plans.py``). Here each row carries the answer, so the filter reads one
table, and the far records of links and passages are found in a small partial index.

Triggers keep it, so that no write path can forget it (the ORM, ``QuerySet.update``, raw SQL,
COPY), as ``change_xid`` (0017) and ``version`` (0020):

- BEFORE INSERT OR UPDATE of a row computes its ``withheld`` from its own flags and its
  parents' ``withheld`` (an indexed read each). The trigger sorts after ``count_version``,
  which therefore never sees it move; the part triggers of 0020 ignore it too (``COUNTERS``),
  so a change of confidentiality is not a new version of the records it masks.
- AFTER a row's ``withheld`` changes (or a row is inserted withheld: a foreign key checked at
  commit lets a child be inserted before its parent), the rows below it are computed again.

Like ``change_xid`` it is not a model field: the ORM would write back a stale copy, and it
would enter audit snapshots, forms and events. ``cases.confidentiality.Withheld`` reads it.
"""

from importlib import import_module

from django.db import migrations

# table -> (own flag column or None, has marked_public, ((parent foreign key, parent table)...))
# as cases.confidentiality.OWN_FLAG, PUBLIC_MARK and PARENTS say; tests/test_withheld.py
# checks this against them.
TABLES = {
    "case": ("confidential", False, ()),
    "document": ("confidential", True, (("case_id", "case"),)),
    "registrationnumber": (None, False, (("case_id", "case"),)),
    "activity": (None, True, (("case_id", "case"),)),
    "motion": (None, True, (("case_id", "case"),)),
    "referral": (None, True, (("case_id", "case"),)),
    "decision": (None, True, (("case_id", "case"), ("document_id", "document"))),
    "referralresponse": (None, True, (("referral_id", "referral"), ("document_id", "document"))),
    "documentsignatory": (None, False, (("document_id", "document"),)),
    "documentattachment": (None, False, (("document_id", "document"),)),
    "motionauthor": (None, False, (("motion_id", "motion"),)),
    "motionproposal": (None, False, (("motion_id", "motion"),)),
    "consultedbody": (None, False, (("referral_id", "referral"),)),
    "decisionpoint": (None, False, (("decision_id", "decision"),)),
    "provenance": (None, False, (("document_id", "document"),)),
}


def computed(row: str, table: str) -> str:
    """SQL for the ``withheld`` of ``row`` (NEW, or a table alias) of ``table``."""
    own, marked, parents = TABLES[table]
    inherited = " OR ".join(
        f"COALESCE((SELECT p.withheld FROM cases_{parent} p WHERE p.id = {row}.{column}), "
        f"false)" for column, parent in parents)
    parts = [f"{row}.{own}"] if own else []
    if inherited:
        parts.append(f"(NOT {row}.marked_public AND ({inherited}))" if marked
                     else f"({inherited})")
    return " OR ".join(parts)


def children(table: str) -> list[tuple[str, str]]:
    return [(child, column) for child, (_, _, parents) in TABLES.items()
            for column, parent in parents if parent == table]


def compute_function(table: str) -> str:
    return f"""
CREATE FUNCTION cases_{table}_withheld() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Withheld from readers without clearance: own flag, or a withheld parent (see 0025).
    NEW.withheld := {computed("NEW", table)};
    RETURN NEW;
END
$$"""


def cascade_function(table: str) -> str:
    updates = "\n    ".join(
        f"UPDATE cases_{child} SET withheld = withheld "
        f"WHERE {column} = NEW.id AND withheld IS DISTINCT FROM NEW.withheld;"
        for child, column in children(table))
    return f"""
CREATE FUNCTION cases_{table}_withheld_below() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The rows below this one compute theirs again (their BEFORE trigger, see 0025). Only
    -- rows not yet in this state can change: withheld grows with the parents'.
    {updates}
    RETURN NULL;
END
$$"""


def backfill(table: str) -> list[str]:
    """Every existing row's value, computed in parents-first order with the triggers off, so
    that no row is restamped (change_xid) or counted (version)."""
    return [f"ALTER TABLE cases_{table} DISABLE TRIGGER USER",
            f"UPDATE cases_{table} AS r SET withheld = {computed('r', table)}",
            f"ALTER TABLE cases_{table} ENABLE TRIGGER USER"]


# 0020's part triggers, told to ignore ``withheld`` as they ignore the stamps.
V0020 = import_module("cases.migrations.0020_version")
COUNTERS = V0020.COUNTERS.replace("'modified']", "'modified', 'withheld']")


def part_counters(counters: str) -> list[str]:
    return [V0020.count_part_function(part, column, record)
            .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
            .replace(V0020.COUNTERS, counters)
            for part, column, record in V0020.PARTS]


def forward() -> list[str]:
    sql = []
    for table in TABLES:  # parents first
        sql += [f"ALTER TABLE cases_{table} ADD COLUMN withheld boolean NOT NULL DEFAULT false",
                *backfill(table),
                f"CREATE INDEX cases_{table}_withheld ON cases_{table} (id) WHERE withheld",
                compute_function(table),
                f"CREATE TRIGGER cases_{table}_withheld BEFORE INSERT OR UPDATE "
                f"ON cases_{table} FOR EACH ROW EXECUTE FUNCTION cases_{table}_withheld()"]
        if children(table):
            sql += [cascade_function(table),
                    f"CREATE TRIGGER cases_{table}_withheld_changed AFTER UPDATE "
                    f"ON cases_{table} FOR EACH ROW WHEN (OLD.withheld IS DISTINCT FROM "
                    f"NEW.withheld) EXECUTE FUNCTION cases_{table}_withheld_below()",
                    f"CREATE TRIGGER cases_{table}_withheld_inserted AFTER INSERT "
                    f"ON cases_{table} FOR EACH ROW WHEN (NEW.withheld) "
                    f"EXECUTE FUNCTION cases_{table}_withheld_below()"]
    return [*sql, *part_counters(COUNTERS)]


def backward() -> list[str]:
    sql = part_counters(V0020.COUNTERS)
    for table in reversed(TABLES):
        if children(table):
            sql += [f"DROP TRIGGER cases_{table}_withheld_changed ON cases_{table}",
                    f"DROP TRIGGER cases_{table}_withheld_inserted ON cases_{table}",
                    f"DROP FUNCTION cases_{table}_withheld_below()"]
        sql += [f"DROP TRIGGER cases_{table}_withheld ON cases_{table}",
                f"DROP FUNCTION cases_{table}_withheld()",
                f"ALTER TABLE cases_{table} DROP COLUMN withheld"]
    return sql


class Migration(migrations.Migration):
    """Each record's withheld status on its row, kept by triggers."""

    dependencies = [("cases", "0024_date_indexes")]
    operations = [migrations.RunSQL(sql=forward(), reverse_sql=backward())]
