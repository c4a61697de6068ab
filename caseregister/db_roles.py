"""The two database roles (DESIGN §6, settings ``DATABASES`` / ``DATABASE_OWNER``).

The application runs as the *runtime* role: ordinary reads and writes of the register, but
only INSERT and SELECT on the audit trail; it owns nothing, so it can neither TRUNCATE, ALTER,
DROP nor switch off the audit trail's triggers (``session_replication_role`` needs a
superuser). The *owner* role owns the tables and runs the migrations; after migrating it gives
the runtime role exactly those rights (:func:`grant_runtime_privileges`), also on tables added
by later migrations (default privileges, and the grants are re-applied after every migrate).
"""

import sys
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

# What the owner's URL replaces in a connection's settings; NAME stays (a test database).
CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
AUDIT_TABLE = "cases_auditentry"
# Tables the runtime role reads but never writes.
READ_ONLY_TABLES = ("django_migrations",)


def owner_settings() -> dict | None:
    return getattr(settings, "DATABASE_OWNER", None)


def credentials(database: dict) -> dict:
    """The CREDENTIALS of a database settings dict, with Django's defaults for missing ones."""
    return {key: database.get(key) or ({} if key == "OPTIONS" else "") for key in CREDENTIALS}


@contextmanager
def as_owner(alias: str = DEFAULT_DB_ALIAS):
    """Connect ``alias`` as the owner role while the block runs (no-op without an owner URL).

    Swaps the credentials of the connection's settings in place and reconnects, so that
    everything in the block, migrations' RunPython and post_migrate handlers included, runs as
    the owner; the runtime credentials are back afterwards.
    """
    owner = owner_settings()
    connection = connections[alias]
    if not owner or alias != DEFAULT_DB_ALIAS:
        yield connection
        return
    saved = credentials(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(credentials(owner))
    try:
        yield connection
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def grant_runtime_privileges(connection, runtime: str | None = None) -> bool:
    """As the owner, give the runtime role its rights; return whether there was one to grant.

    Idempotent. Register tables: SELECT, INSERT, UPDATE, DELETE (no TRUNCATE, REFERENCES or
    TRIGGER); sequences: USAGE, SELECT; the audit trail: SELECT and INSERT only; Django's
    migration record: SELECT. Tables and sequences the owner creates later get the same by
    default privileges.
    """
    runtime = runtime if runtime is not None else settings.DATABASE_RUNTIME_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, to_regclass(%s) IS NOT NULL, "
                       "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)",
                       [AUDIT_TABLE, runtime or ""])
        current, migrated, exists = cursor.fetchone()
        if not runtime or runtime == current:
            return False  # one role for everything: nothing to grant
        if not exists:
            raise RuntimeError(
                f"The runtime role {runtime!r} (the user of DATABASE_URL) does not exist: "
                f"create it (CREATE ROLE {runtime} LOGIN PASSWORD '...') and migrate again.")
        role = connection.ops.quote_name(runtime)
        statements = [
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
        ]
        for table in READ_ONLY_TABLES:
            statements += [f"REVOKE ALL ON {table} FROM {role}",
                           f"GRANT SELECT ON {table} TO {role}"]
        if migrated:
            statements += [f"REVOKE ALL ON {AUDIT_TABLE} FROM {role}",
                           f"GRANT SELECT, INSERT ON {AUDIT_TABLE} TO {role}"]
        for statement in statements:
            cursor.execute(statement)
        cursor.execute(
            "SELECT r.rolsuper, pg_has_role(r.oid, c.relowner, 'USAGE') FROM pg_roles r "
            "LEFT JOIN pg_class c ON c.oid = to_regclass(%s) WHERE r.rolname = %s",
            [AUDIT_TABLE, runtime])
        superuser, owns = cursor.fetchone()
    if superuser or owns:
        sys.stderr.write(
            f"WARNING: the runtime role {runtime!r} is a superuser or owns the audit trail: "
            f"it can erase it. Give DATABASE_URL a role that is neither.\n")
    return True
