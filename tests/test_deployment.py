"""docker-compose.yml, the Dockerfile and production settings agree with the code."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENTRYPOINT = (ROOT / "docker-entrypoint.sh").read_text()


DB_INIT = (ROOT / "docker-db-init.sh").read_text()


def test_compose_has_the_web_service_its_database_and_a_one_off_migration():
    services = COMPOSE["services"]
    assert set(services) == {"web", "db", "migrate", "proxy", "worker"}
    assert services["web"]["build"] == services["migrate"]["build"] == "."
    # The web starts once the schema is migrated; the migration once the database answers.
    assert services["web"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert services["migrate"]["command"] == ["migrate"]


def test_compose_runs_the_worker_as_the_runtime_role_once_migrated():
    worker, web = COMPOSE["services"]["worker"], COMPOSE["services"]["web"]
    assert worker["command"][:4] == ["python", "manage.py", "procrastinate", "worker"]
    assert worker["build"] == "."
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert worker["environment"]["DATABASE_URL"] == web["environment"]["DATABASE_URL"]
    assert "DATABASE_OWNER_URL" not in worker["environment"]
    assert set(worker["environment"]) <= set(settings.ENVIRONMENT_VARIABLES)


def test_compose_reaches_gunicorn_only_through_the_buffering_proxy():
    web, proxy = COMPOSE["services"]["web"], COMPOSE["services"]["proxy"]
    assert "ports" not in web  # slow clients would hold its workers
    assert proxy["image"].startswith("nginx:")
    assert "web" in proxy["depends_on"]
    bind = web["command"][web["command"].index("--bind") + 1]
    assert proxy["environment"]["UPSTREAM"] == f"web:{bind.rpartition(':')[2]}"
    published, _, inside = proxy["ports"][0].partition(":")
    assert inside == proxy["environment"]["LISTEN_PORT"]
    for origin in web["environment"]["CSRF_TRUSTED_ORIGINS"].split(","):
        assert urlparse(origin).port == int(published)
    # gunicorn believes X-Forwarded-For from the proxy's fixed address, and only from it.
    address = proxy["networks"]["default"]["ipv4_address"]
    assert web["environment"]["TRUSTED_PROXIES"] == address
    source, target, _ = next(v for v in proxy["volumes"] if "/etc/nginx/templates/" in v).split(":")
    template = (ROOT / source).read_text()
    assert target.endswith(".conf.template")
    for directive in ("proxy_request_buffering on;", "proxy_buffering on;",
                      "X-Forwarded-For $proxy_add_x_forwarded_for;"):
        assert directive in template, directive
    body_limit = re.search(r"client_max_body_size (\d+)m;", template).group(1)
    assert int(body_limit) * 1024 * 1024 == int(
        web["environment"].get("MAX_REQUEST_BYTES", 1024 * 1024))


def test_the_web_command_serves_the_projects_wsgi_application_with_gunicorn():
    command = COMPOSE["services"]["web"]["command"]
    assert command[0] == "gunicorn"
    module, _, attribute = command[1].partition(":")
    assert module == settings.WSGI_APPLICATION.rpartition(".")[0]
    assert callable(getattr(importlib.import_module(module), attribute))
    cmd_line = re.search(r"^CMD (.+)$", DOCKERFILE, re.M).group(1)
    assert yaml.safe_load(cmd_line) == command
    assert "gunicorn" in (ROOT / "pyproject.toml").read_text()


def test_compose_sets_only_environment_variables_the_settings_read():
    environment = COMPOSE["services"]["web"]["environment"]
    assert set(environment) <= set(settings.ENVIRONMENT_VARIABLES)
    entrypoint_reads = set(re.findall(r"\$\{(\w+)", ENTRYPOINT))
    assert set(COMPOSE["services"]["migrate"]["environment"]) <= (
        set(settings.ENVIRONMENT_VARIABLES) | entrypoint_reads)
    settings_source = (ROOT / "caseregister" / "settings.py").read_text()
    for name in settings.ENVIRONMENT_VARIABLES:
        # Listed once in ENVIRONMENT_VARIABLES and read at least once.
        assert settings_source.count(f'"{name}"') >= 2, name
    assert environment["DEBUG"] == "0"


def test_the_web_connects_as_the_runtime_role_and_only_the_migration_as_the_owner():
    web, migrate, db = (COMPOSE["services"][name] for name in ("web", "migrate", "db"))
    runtime = urlparse(web["environment"]["DATABASE_URL"])
    owner = urlparse(migrate["environment"]["DATABASE_OWNER_URL"])
    assert urlparse(migrate["environment"]["DATABASE_URL"]) == runtime  # the role to grant
    assert "DATABASE_OWNER_URL" not in web["environment"]  # the web never has the owner's keys
    for url in (runtime, owner):
        assert (url.hostname, url.port, url.path) == ("db", 5432, "/caseregister")
    # The init script creates exactly these roles, the database owned by the owner, and the
    # passwords compose hands to each side; none is a superuser and none has a default.
    assert f"CREATE ROLE {runtime.username} LOGIN PASSWORD :'app_password';" in DB_INIT
    assert f"CREATE ROLE {owner.username} LOGIN PASSWORD :'owner_password';" in DB_INIT
    assert f"CREATE DATABASE caseregister OWNER {owner.username};" in DB_INIT
    assert "SUPERUSER" not in DB_INIT and runtime.username != owner.username
    assert runtime.password == "${DATABASE_APP_PASSWORD}"
    assert owner.password == "${DATABASE_OWNER_PASSWORD}"
    for name in ("DATABASE_APP_PASSWORD", "DATABASE_OWNER_PASSWORD", "POSTGRES_PASSWORD"):
        assert db["environment"][name].startswith(f"${{{name}:?"), name  # required, no default
    assert "./docker-db-init.sh:/docker-entrypoint-initdb.d/10-roles.sh:ro" in db["volumes"]
    assert db["image"].startswith("postgres:")
    assert int(db["image"].split(":")[1]) >= 15


def test_the_image_leaves_out_local_environments_data_and_secrets():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var/", ".git", ".env"} <= set(ignored)


def _entrypoint(*args, **env):
    """Run docker-entrypoint.sh as the container would, against the test database."""
    from .conftest import database_url, owner_credentials

    environment = {name: value for name, value in os.environ.items()
                   if name not in ("DATABASE_URL", "DATABASE_OWNER_URL", "EMBEDDED_DB",
                                   "LOAD_DEMO_DATA", "DEBUG")}
    environment.update(PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                       DATABASE_URL=database_url(),
                       DATABASE_OWNER_URL=database_url(owner_credentials()), **env)
    result = subprocess.run(["sh", str(ROOT / "docker-entrypoint.sh"), *args], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.django_db
def test_the_entrypoint_serves_without_migrating_or_loading():
    assert _entrypoint("python", "-c", "print('served')") == "served\n"


@pytest.mark.django_db
def test_the_migrate_service_loads_demo_data_only_when_asked():
    out = _entrypoint("migrate")
    assert "No migrations to apply" in out
    assert "Register loaded" not in out
    out = _entrypoint("migrate", LOAD_DEMO_DATA="1")
    assert "Register loaded: 0 changes" in out
    for command in re.findall(r"python manage.py (\w+)", ENTRYPOINT):
        assert command in get_commands()
    assert "docker-entrypoint.sh" in DOCKERFILE
    assert "exec \"$@\"" in ENTRYPOINT


def test_check_deploy_passes_with_production_settings():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "p" + os.urandom(40).hex(),
        "ALLOWED_HOSTS": "register.example.se",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or _current_database_url(),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _current_database_url():
    from caseregister.embedded_db import database_urls

    return database_urls()[0]
