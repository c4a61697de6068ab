"""docker-compose.yml, the Dockerfile and production settings agree with the code."""

import importlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENTRYPOINT = (ROOT / "docker-entrypoint.sh").read_text()


def test_compose_has_the_web_service_its_database_and_its_proxy():
    assert set(COMPOSE["services"]) == {"web", "db", "proxy"}
    assert "db" in COMPOSE["services"]["web"]["depends_on"]
    assert COMPOSE["services"]["web"]["build"] == "."


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
    settings_source = (ROOT / "caseregister" / "settings.py").read_text()
    for name in settings.ENVIRONMENT_VARIABLES:
        # Listed once in ENVIRONMENT_VARIABLES and read at least once.
        assert settings_source.count(f'"{name}"') >= 2, name
    assert environment["DEBUG"] == "0"


def test_the_database_url_points_at_the_compose_database():
    web, db = COMPOSE["services"]["web"], COMPOSE["services"]["db"]
    url = urlparse(web["environment"]["DATABASE_URL"])
    assert url.hostname == "db"
    assert url.port == 5432
    assert url.username == db["environment"]["POSTGRES_USER"]
    assert url.password == db["environment"]["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == db["environment"]["POSTGRES_DB"]
    assert db["image"].startswith("postgres:")
    assert int(db["image"].split(":")[1]) >= 15


def test_the_entrypoint_migrates_and_loads_the_register_with_existing_commands():
    commands = [shlex.split(line) for line in ENTRYPOINT.splitlines()
                if line.startswith("python manage.py")]
    assert [c[2] for c in commands] == ["migrate", "load_register"]
    for command in commands:
        assert command[2] in get_commands()
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
    from caseregister.embedded_db import database_url

    return database_url()
