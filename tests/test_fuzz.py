"""Schemathesis against the running app: every operation of openapi.yaml, with positive and
negative data, as an anonymous client and as a client system with a write token.

The app runs as in production: gunicorn (as in the Dockerfile), DEBUG off, behind what looks
like a TLS-terminating proxy (X-Forwarded-Proto), on the test database with the seed register.
(Django's own test server answers every request on a kept-alive connection about 40 ms late,
header and body going out as two TCP segments, which made the same run six times slower.)

`st run` runs its four phases: the schema's examples, coverage (boundary and invalid values
for every parameter and body field, unexpected methods), fuzzing (random valid and invalid
data) and stateful (chains such as create -> read -> update -> void, links inferred from the
schema). The seed is fixed and the budget small enough for CI. Dictionaries in the config file
let a share of the generated requests name records that exist and send the ETag of the record
(read just before by a hook, tests/fuzz_hooks.py: ``If-Match: *`` is refused with 428), so
that reads, updates and voids get past 404, 412 and 428 to the code behind them.

Every response must pass: no 5xx (not_a_server_error), a documented status code, content type
and headers, and a body that matches the response schema. A failure is a bug in the app or in
the schema; this test excludes no check and no operation.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection
from rest_framework import relations

from cases.api.registry import resource_for
from cases.api.views import VIEWSETS
from cases.services.fixtures import load_register
from cases.services.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "openapi.yaml"
ST = [sys.executable, "-m", "schemathesis.cli"]  # `st`, from this environment

SEED = 4711
MAX_EXAMPLES = 25  # per operation in the fuzzing phase; the coverage phase adds its own cases
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
# A real id or "any version" in this share of the generated values that can take them.
KNOWN_VALUE_PROBABILITY = 0.6
RUN_TIMEOUT = 600
PROXY = {"X-Forwarded-Proto": "https"}
# The If-Match the dictionary binds, "the version I read": tests/fuzz_hooks.py sends the ETag.
READ_VERSION = '"read-version"'


@pytest.fixture(scope="module", autouse=True)
def reload_register_afterwards(django_db_setup, django_db_blocker):
    """These tests end like a TransactionTestCase, by emptying every table: load the seed
    register again for the tests that come after this module."""
    yield
    with django_db_blocker.unblock():
        load_register()


def database_url() -> str:
    """The test database, as a URL for the server process: the settings' URL (DATABASE_URL
    or the embedded server's) with the test database's name."""
    from caseregister import settings

    url = urlsplit(settings._database_url)
    return urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(transactional_db, tmp_path):
    """gunicorn serving the app on the test database, which holds the seed register."""
    load_register()  # an earlier transactional test may have emptied the tables
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "THROTTLE_RATE": "1000000/minute",  # the fuzzer is one client; throttling has its tests
    }
    env.pop("TEST_DATABASE_NAME", None)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # as the Dockerfile runs it, without a control socket
            [sys.executable, "-m", "gunicorn", "caseregister.wsgi:application",  # shared by all
             "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"gunicorn exited:\n{log_path.read_text()}"
            try:
                if httpx.get(f"{url}/api/v1/", headers=PROXY, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield url, log_path
    finally:
        process.terminate()
        process.wait(timeout=30)


def toml(value) -> str:
    """A value in TOML (strings, numbers, lists and inline tables are all this needs)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(value)


def write_config(path: Path) -> Path:
    """Dictionaries of the register's live ids, bound to the path ids of each collection and
    to the body fields that refer to records; "the version I read" bound to If-Match."""
    ids, bodies = {}, {}
    for viewset in VIEWSETS:
        model = viewset.model
        ids[resource_for(model).collection] = [
            str(pk) for pk in model.objects.filter(voided_at__isnull=True)
            .order_by("pk").values_list("pk", flat=True)]
        for serializer in {getattr(viewset, "write_serializer", None),
                           getattr(viewset, "create_serializer", None)} - {None}:
            for name, field in serializer().fields.items():
                if isinstance(field, relations.RelatedField):
                    bodies[f"body.{name}"] = resource_for(field.queryset.model).collection
    ids["records"] = sorted(pk for values in ids.values() for pk in values)
    bodies["body.source_id"] = bodies["body.target_id"] = "records"
    lines = ['[dictionaries.read-version]', f"values = {toml([READ_VERSION])}"]
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {toml(values)}"]
    binding = {"probability": KNOWN_VALUE_PROBABILITY}
    if_match = {"dictionary": "read-version", **binding}
    lines += ["[parameters]", f'"header.If-Match" = {toml(if_match)}']
    lines += [f"{json.dumps(key)} = {toml({'dictionary': name, **binding})}"
              for key, name in sorted(bodies.items())]
    for viewset in VIEWSETS:
        collection = resource_for(viewset.model).collection
        lines += ["[[operations]]",
                  f"include-path-regex = {json.dumps(f'^/api/v1/{re.escape(collection)}/[{{]')}",
                  f"parameters = {toml({'path.id': {'dictionary': collection, **binding}})}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_schemathesis(url: str, tmp_path: Path, log_path: Path, *headers: str) -> dict:
    """`st run` over every operation; fail with its report and the server's errors."""
    report = tmp_path / "report.json"
    command = [
        *ST, "--config-file", str(write_config(tmp_path / "schemathesis.toml")),
        "run", str(SCHEMA), "--url", url,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--mode", "all",
        "--checks", CHECKS,
        "--seed", str(SEED),
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-database", "none",
        "--generation-with-security-parameters", "false",
        # One worker: Python 3.11.7's ast is not thread-safe, which Hypothesis trips over when
        # several workers describe strategies at once ("AST constructor recursion depth").
        "--workers", "1",
        "--request-timeout", "30",
        "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]
    for header in [f"{name}: {value}" for name, value in PROXY.items()] + list(headers):
        command += ["-H", header]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "FUZZ_BASE_URL": url,
           "FUZZ_READ_VERSION": READ_VERSION,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for header in headers:
        name, _, value = header.partition(": ")
        if name.lower() == "authorization":
            env["FUZZ_AUTHORIZATION"] = value
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT, env=env)
    output = result.stdout + result.stderr
    summary = json.loads(report.read_text()) if report.exists() else {}
    figures = (f"operations {summary.get('operations', {}).get('tested')}"
               f"/{summary.get('operations', {}).get('total')}, "
               f"test cases {summary.get('test_cases', {}).get('generated')}, "
               f"failures {sum(f['count'] for f in summary.get('failures', []))}, "
               f"errors {sum(e['count'] for e in summary.get('errors', []))}")
    print(f"schemathesis: {figures}")
    if result.returncode != 0:
        pytest.fail(f"schemathesis found problems ({figures}):\n{output}\n"
                    f"--- server errors (gunicorn's log) ---\n{server_errors(log_path)}",
                    pytrace=False)
    return summary


REQUEST_LOG = re.compile(r"^(\[\d{4}-\d\d-\d\d |[A-Z][A-Za-z ]+: /)")  # gunicorn, django.request
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b")


def server_errors(log_path: Path) -> str:
    """The server's 5xx responses: each distinct exception once, with a count and the end of
    its traceback."""
    blocks, current = [], None
    for line in log_path.read_text(errors="replace").splitlines():
        if REQUEST_LOG.match(line):
            current = [line] if line.startswith("Internal Server Error") else None
            if current is not None:
                blocks.append(current)
        elif current is not None and not re.fullmatch(r"\s*[\^~]+\s*", line):
            current.append(line)
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for block in blocks:
        raised = [line for line in block if EXCEPTION.match(line)]
        cause = raised[-1] if raised else block[-1]
        counts[cause] = counts.get(cause, 0) + 1
        first.setdefault(cause, "\n".join([block[0], "  ...", *block[1:][-16:]]))
    return "\n\n".join(f"{counts[cause]}x {cause}\n{first[cause]}" for cause in counts) or "none"


def test_fuzz_as_an_anonymous_client(server, tmp_path):
    url, log_path = server
    summary = run_schemathesis(url, tmp_path, log_path)
    assert summary["operations"]["tested"] == summary["operations"]["total"]


def test_fuzz_as_a_client_system_with_write_access(server, tmp_path):
    url, log_path = server
    _, key = issue_token(name="Fuzzer", can_write=True)
    summary = run_schemathesis(url, tmp_path, log_path, f"Authorization: Token {key}")
    assert summary["operations"]["tested"] == summary["operations"]["total"]
