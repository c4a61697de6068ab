from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.models.signals import post_migrate

from caseregister.db_roles import AUDIT_TABLE, credentials
from cases.roles import sync_roles
from cases.services.fixtures import load_register

# The suite runs as the application's runtime role (DATABASE_URL): every test shows that the
# application works without the owner's rights. The test database is created, migrated and
# dropped as the owner role (DATABASE_OWNER_URL), as `manage.py migrate` would.
_RUNTIME: dict = {}


def _connect_as(credentials: dict) -> None:
    connection = connections["default"]
    connection.close()
    connection.settings_dict.update(credentials)


def owner_credentials() -> dict:
    """The owner role's credentials (the runtime's own when only one role is configured)."""
    owner = getattr(settings, "DATABASE_OWNER", None)
    return credentials(owner or _RUNTIME or connections["default"].settings_dict)


def conninfo(credentials: dict | None = None, **extra) -> dict:
    """psycopg connection arguments for the test database, as the runtime role by default."""
    settings_dict = connections["default"].settings_dict
    # Never the development database: the caller must have the test database set up.
    name = settings_dict["NAME"]
    assert name == settings_dict["TEST"]["NAME"] or name.startswith("test_"), name
    source = {**settings_dict, **(credentials or {})}
    args = {"dbname": settings_dict["NAME"], "user": source["USER"],
            "password": source["PASSWORD"], "host": source["HOST"], "port": source["PORT"]}
    args.update({k: v for k, v in (source.get("OPTIONS") or {}).items() if isinstance(v, str)})
    return {k: v for k, v in {**args, **extra}.items() if v not in (None, "")}


def database_url(credentials: dict | None = None) -> str:
    """A DATABASE_URL of the test database for a subprocess, as the runtime role by default."""
    info = conninfo(credentials)
    user = quote(info["user"], safe="")
    if info.get("password"):
        user += ":" + quote(info["password"], safe="")
    host = info.get("host", "")
    if host.startswith("/"):  # the embedded server's socket folder
        return f"postgresql://{user}@/{info['dbname']}?host={quote(host)}"
    return f"postgresql://{user}@{host}:{info.get('port', 5432)}/{info['dbname']}"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Create and migrate the test database as the owner role."""
    _RUNTIME.update(credentials(settings.DATABASES["default"]))
    _connect_as(owner_credentials())


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Then connect as the runtime role; the test database holds the seed register, loaded
    once (as `make run` does into an empty database). The owner drops it at the end."""
    _connect_as(_RUNTIME)
    with django_db_blocker.unblock():
        load_register()
    yield
    _connect_as(owner_credentials())


@pytest.fixture(scope="session", autouse=True)
def roles_after_flush():
    """A flush empties the role groups that migration 0012 made, as every table; they are
    made again after it (Django's flush ends with post_migrate), as after migrating. No test
    then depends on whether a transactional test ran before it: pytest-django runs those
    last, but under pytest-xdist a module's transactional tests may run before another
    module's."""
    def restore(sender, **kwargs):
        if sender.label == "cases":
            sync_roles(apps)

    post_migrate.connect(restore, weak=False, dispatch_uid="tests.roles_after_flush")
    yield
    post_migrate.disconnect(dispatch_uid="tests.roles_after_flush")


@pytest.fixture(scope="session", autouse=True)
def flush_as_owner():
    """Transactional and live-server tests end with Django's flush, a TRUNCATE of every table.
    The runtime role may not truncate (nor touch the audit trail), and the audit trail's
    trigger refuses TRUNCATE even to its owner: the test harness, not the application, empties
    the test database, as the owner, switching the trigger off inside that one transaction
    (other sessions never see it off: ALTER TABLE holds an exclusive lock until commit)."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    def execute_sql_flush(self, sql_list):
        with psycopg.connect(**conninfo(owner_credentials())) as conn:  # one transaction
            trigger = "TRIGGER cases_auditentry_no_truncate"
            conn.execute(f"ALTER TABLE {AUDIT_TABLE} DISABLE {trigger}")
            for statement in sql_list:
                conn.execute(statement)
            conn.execute(f"ALTER TABLE {AUDIT_TABLE} ENABLE {trigger}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", execute_sql_flush)
        yield


def snapshot() -> dict:
    """Every row of every register table, for comparing database states."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in apps.get_app_config("cases").get_models()
    }


@pytest.fixture(scope="session", autouse=True)
def plain_http():
    """Tests talk plain HTTP to the app, also to the live server (whose middleware is built
    once, when it starts); production redirects to HTTPS (see test_deployment)."""
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def webhook_worker(transactional_db, settings):
    """For a client against live_server that is to be told of its changes: a receiver on
    127.0.0.1 (plain HTTP and a private address allowed for it), an empty job queue and a
    delivery worker in a thread of this process (tests/test_webhooks.py has both). The
    worker's connections close after each job, so that none outlives the test database."""
    from .test_webhooks import Receiver, WorkerThread

    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.SITE_URL = "https://diarium.example.se"
    with connections["default"].cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
    shared = connections["default"].settings_dict
    kept = shared["CONN_MAX_AGE"]
    shared["CONN_MAX_AGE"] = 0
    receiver = Receiver()
    worker = WorkerThread()
    worker.start()
    try:
        yield receiver
    finally:
        worker.stop()
        receiver.stop()
        shared["CONN_MAX_AGE"] = kept


@contextmanager
def generated_register(django_db_blocker, **sizes):
    """A generated register (``cases.services.synthetic``) committed for a module's tests,
    then emptied and the seed register loaded again for the tests after."""
    from cases.services.synthetic import Generator

    with django_db_blocker.unblock():
        counts = Generator(seed=sizes.pop("seed", 7)).generate(**sizes)
        try:
            yield counts
        finally:
            call_command("flush", interactive=False, verbosity=0)
            load_register()
