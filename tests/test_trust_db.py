"""Nothing forgotten (DESIGN §6): the application's runtime role may insert and read the audit
trail and nothing else, the audit trigger refuses TRUNCATE even to the owner, and production
settings refuse to start without their own database. Real PostgreSQL, real roles: every
statement below is what an attacker with the application's database credentials would try.
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from caseregister.db_roles import AUDIT_TABLE

from .conftest import conninfo, owner_credentials

# The tests talk to the test database over their own connections (as the runtime and the
# owner role); the mark makes pytest-django set that database up.
pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
TRIGGERS = ("cases_auditentry_append_only", "cases_auditentry_no_truncate")


@pytest.fixture(scope="module")
def roles(django_db_setup):
    """psycopg arguments for the test database as (runtime role, owner role)."""
    runtime, owner = conninfo(), conninfo(owner_credentials())
    if runtime["user"] == owner["user"]:
        pytest.fail("The suite runs with one database role: set DATABASE_OWNER_URL to the owner "
                    "and DATABASE_URL to the runtime role (the Makefile's embedded server and "
                    ".ci/run do), so that the tests prove the application needs no more.")
    return runtime, owner


def trail(owner) -> tuple:
    """What must never change: the audit rows, the table's owner and its enabled triggers."""
    with psycopg.connect(**owner) as conn:
        return conn.execute(f"""
            SELECT (SELECT count(*) FROM {AUDIT_TABLE}),
                   (SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM {AUDIT_TABLE} a),
                   (SELECT pg_get_userbyid(relowner) FROM pg_class
                    WHERE oid = '{AUDIT_TABLE}'::regclass),
                   (SELECT array_agg(tgname || '=' || tgenabled::text ORDER BY tgname)
                    FROM pg_trigger WHERE tgrelid = '{AUDIT_TABLE}'::regclass AND NOT tgisinternal)
        """).fetchone()


@pytest.mark.parametrize("statement", [
    f"TRUNCATE {AUDIT_TABLE}",
    f"TRUNCATE {AUDIT_TABLE} CASCADE",
    f"UPDATE {AUDIT_TABLE} SET actor = 'someone else'",
    f"DELETE FROM {AUDIT_TABLE}",
    "SET session_replication_role = replica",
    f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER ALL",
    f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER cases_auditentry_append_only",
    f"ALTER TABLE {AUDIT_TABLE} ENABLE REPLICA TRIGGER cases_auditentry_append_only",
    f"DROP TRIGGER cases_auditentry_append_only ON {AUDIT_TABLE}",
    f"DROP TRIGGER cases_auditentry_no_truncate ON {AUDIT_TABLE}",
    f"DROP TABLE {AUDIT_TABLE} CASCADE",
    f"ALTER TABLE {AUDIT_TABLE} RENAME TO forgotten",
    "ALTER TABLE {table} OWNER TO {runtime}",
    "CREATE OR REPLACE FUNCTION cases_audit_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'",
    f"CREATE RULE forget AS ON INSERT TO {AUDIT_TABLE} DO INSTEAD NOTHING",
    "SET ROLE {owner}",
    "ALTER ROLE {runtime} SUPERUSER",
    "ALTER ROLE {runtime} BYPASSRLS",
])
def test_the_runtime_role_cannot_erase_or_bypass_the_audit_trail(roles, statement):
    runtime, owner = roles
    before = trail(owner)
    assert before[0] > 300  # the seed register's create entries
    statement = sql.SQL(statement).format(table=sql.Identifier(AUDIT_TABLE),
                                          runtime=sql.Identifier(runtime["user"]),
                                          owner=sql.Identifier(owner["user"]))
    # In a transaction, rolled back whatever happens, so that one bypass that worked cannot
    # hide whether the next one works.
    with psycopg.connect(**runtime) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
        # And the session is still bound: nothing switched the trigger or the privileges off.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"DELETE FROM {AUDIT_TABLE}")
        conn.rollback()
    assert trail(owner) == before


def test_the_runtime_role_cannot_grant_itself_more(roles):
    runtime, owner = roles
    before = trail(owner)
    privileges = sql.SQL("SELECT has_table_privilege({role}, {table}, p) FROM unnest("
                         "array['UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES']) p"
                         ).format(role=sql.Literal(runtime["user"]),
                                  table=sql.Literal(AUDIT_TABLE))
    with psycopg.connect(**runtime) as conn:  # rolled back whatever happens
        for grant in (f"GRANT ALL ON {AUDIT_TABLE} TO {{}}",
                      f"GRANT UPDATE, DELETE, TRUNCATE ON {AUDIT_TABLE} TO {{}}"):
            # Without the grant option PostgreSQL grants nothing (an error or a warning).
            try:
                conn.execute(sql.SQL(grant).format(sql.Identifier(runtime["user"])))
            except psycopg.errors.InsufficientPrivilege:
                conn.rollback()
        assert [row[0] for row in conn.execute(privileges)] == [False] * 5
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"UPDATE {AUDIT_TABLE} SET actor = 'someone else'")
        conn.rollback()
    assert trail(owner) == before


def test_the_runtime_role_inserts_and_reads_audit_rows_and_writes_the_register(roles):
    runtime, owner = roles
    with psycopg.connect(**runtime) as conn:  # one transaction, rolled back at the end
        row = conn.execute(f"""
            INSERT INTO {AUDIT_TABLE} (occurred_at, action, via, actor, request_id,
                                       content_type_id, object_id)
            SELECT now(), 'update', 'api', 'forged', '', content_type_id, object_id
            FROM {AUDIT_TABLE} LIMIT 1 RETURNING id""").fetchone()
        assert conn.execute(f"SELECT actor FROM {AUDIT_TABLE} WHERE id = %s",
                            row).fetchone() == ("forged",)
        # Ordinary DML on the register's other tables.
        assert conn.execute("UPDATE cases_case SET description = description").rowcount > 0
        assert conn.execute("SELECT count(*) FROM cases_case").fetchone()[0] > 0
        conn.rollback()
        superuser, owns_anything = conn.execute("""
            SELECT rolsuper, EXISTS (SELECT 1 FROM pg_class WHERE relowner = r.oid)
            FROM pg_roles r WHERE rolname = current_user""").fetchone()
    assert (superuser, owns_anything) == (False, False)


def test_tables_the_owner_adds_later_are_granted_to_the_runtime_role(roles):
    """A later migration's table (another feature's) is usable by the application at once."""
    runtime, owner = roles
    with psycopg.connect(**owner) as conn:  # rolled back
        conn.execute("CREATE TABLE cases_later (id bigint GENERATED BY DEFAULT AS IDENTITY, "
                     "note text)")
        conn.execute("CREATE SEQUENCE cases_later_seq")
        granted = conn.execute(
            "SELECT has_table_privilege(%(r)s, 'cases_later', 'INSERT, UPDATE, DELETE, SELECT'),"
            " has_table_privilege(%(r)s, 'cases_later', 'TRUNCATE'),"
            " has_sequence_privilege(%(r)s, 'cases_later_seq', 'USAGE')",
            {"r": runtime["user"]}).fetchone()
        conn.rollback()
    assert granted == (True, False, True)


@pytest.mark.parametrize("statement", [
    f"TRUNCATE {AUDIT_TABLE}",
    f"TRUNCATE {AUDIT_TABLE} CASCADE",
    f"UPDATE {AUDIT_TABLE} SET actor = 'someone else'",
    f"DELETE FROM {AUDIT_TABLE}",
])
def test_the_trigger_refuses_truncate_update_and_delete_to_the_owner_too(roles, statement):
    runtime, owner = roles
    before = trail(owner)
    with psycopg.connect(**owner) as conn:  # rolled back whatever happens
        with pytest.raises(psycopg.errors.InsufficientPrivilege,
                           match="audit entries cannot be changed or deleted"):
            conn.execute(statement)
        conn.rollback()
    assert trail(owner) == before
    assert sorted(t.split("=")[0] for t in before[3]) == sorted(TRIGGERS)
    # 'O': they fire unless a session sets session_replication_role = replica, which needs a
    # superuser (refused to the runtime role above).
    assert all(t.endswith("=O") for t in before[3])


def test_production_settings_refuse_to_start_without_database_url():
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "DATABASE_OWNER_URL", "EMBEDDED_DB")}
    env.update(DEBUG="0", SECRET_KEY="s" * 50, DJANGO_SETTINGS_MODULE="caseregister.settings")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: DATABASE_URL is not set" \
        in result.stderr
    assert "EMBEDDED_DB=1" in result.stderr  # says how to use the development server instead
