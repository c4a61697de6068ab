"""The schema tells the truth: Schemathesis, every check, every phase, over real HTTP.

`st run` (the CLI, as an integrating team would run it) against the app under gunicorn with
DEBUG off, on the test database holding the seed register, once as an anonymous client and
once as a client system whose token may write. ``--checks all`` and ``--mode all``: a
request the schema calls valid must be accepted (positive_data_acceptance), one it calls
invalid must be refused (negative_data_rejection), every status, content type, header and
body must be documented, a missing required header refused, an unsupported method answered
405 with Allow, a voided record ... All four phases run (the anonymous run all but coverage):
the schema's examples, coverage (boundary and invalid values of every parameter and field),
fuzzing, and stateful chains
that follow the schema's OpenAPI links (cases/api/schema.py): a create's 201 leads to reading
the record, changing it with the ETag it returned in If-Match, voiding it, and to creating
the records that refer to it (a new case's documents, a new referral's responses).

What the schema cannot know, the test supplies, as it supplies the token: which records
exist. A create must name live records (a document's case, a case's registering body with a
series of its own, a link's two ends of the stated types); the schema types those ids
(uuid), the register decides whether one exists. tests/schemathesis_hooks.py replaces, just
before each request, a well-formed id naming no live record of the field's collection by one
that does (seed records, and those the run created and did not void; a malformed id of a
negative case stays), and makes the rules between fields that JSON Schema cannot state hold
on positive data. The ``cursor`` of a list is opaque (a position returned in ``next``): the
test supplies one built by the paginator, valid for every ordering. Three statuses are added
to Schemathesis's lists of expected answers, each documented in the schema: 412 to a
well-formed If-Match naming another version, 414 to a URL longer than the server's request
line, 428 to a write without If-Match (see POSITIVE, NEGATIVE, MISSING_HEADER). No operation
is excluded, and one check only, use_after_free, which the register's voiding contradicts by
design (EXCLUDED_CHECKS); any other failure is a bug in the service or in the schema.

The run prints, and writes to test-artifacts/schemathesis-<client>.txt, the operations
tested, the number of test cases, the failures and the phases; the figures go into the
closing note of issue 11. Budget: MAX_EXAMPLES per operation and phase, a fixed seed.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.apps import apps
from django.db import connection
from rest_framework import relations

from cases import models as m
from cases.api.pagination import MAX_OFFSET, encode_cursor
from cases.api.registry import resource_for
from cases.api.subscriptions import SubscriptionSerializer
from cases.api.views import VIEWSETS
from cases.api.writes import LINKABLE, SERIES_PREFIX
from cases.services.fixtures import load_register
from cases.services.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "openapi.yaml"
ARTIFACTS = ROOT / "test-artifacts"
HOOKS = ROOT / "tests" / "schemathesis_hooks.py"
ST = [sys.executable, "-m", "schemathesis.cli"]  # `st`, from this environment

SEED = 1111
MAX_EXAMPLES = 5  # per operation in fuzzing; the coverage phase adds its own cases
STATEFUL_SCENARIOS = 40  # chains of linked requests (create -> read/change/void ...)
PHASES = "examples,coverage,fuzzing,stateful"
# The anonymous run leaves out the coverage phase (boundary and invalid values of every
# parameter and field: two thirds of a run's time): the writer's run covers the same
# operations, reads included, and an anonymous write is refused (401) before its body is read.
ANONYMOUS_PHASES = "examples,fuzzing,stateful"
# The one check the register's design contradicts: DELETE voids a record, which "stays
# readable by id with who, when and why" (README), so a GET of it (its history, its links)
# after a DELETE answers 200, where use_after_free expects 404. Open for a decision (issue 11,
# hole 9): keep it readable (and this exclusion), or answer 410 Gone with the voided record.
# Every other check runs.
EXCLUDED_CHECKS = ["use_after_free"]
RUN_TIMEOUT = 900
PROXY = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module", autouse=True)
def reload_register_afterwards(django_db_setup, django_db_blocker):
    """These tests end like a TransactionTestCase, by emptying every table: load the seed
    register again for the tests that come after this module."""
    yield
    with django_db_blocker.unblock():
        load_register()


def database_url() -> str:
    """The test database as a URL for the server process."""
    from caseregister import settings

    url = urlsplit(settings._database_url)
    return urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(transactional_db, tmp_path):
    """gunicorn serving the app (as the Dockerfile runs it) on the test database."""
    load_register()  # an earlier transactional test may have emptied the tables
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "DEBUG": "0",
           "THROTTLE_RATE": "1000000/minute"}  # one client; throttling has its own tests
    env.pop("TEST_DATABASE_NAME", None)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "caseregister.wsgi:application",
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
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return json.dumps(value)


def register_file(path: Path) -> Path:
    """What tests/schemathesis_hooks.py needs to know of the register: the live records of
    each collection, the body fields that refer to a collection, the organisations with a
    series of their own, and the collection of each linkable model."""
    live, fields, models = {}, {}, {}
    for viewset in VIEWSETS:
        model, collection = viewset.model, resource_for(viewset.model).collection
        models[model._meta.model_name] = collection
        live[collection] = [str(pk) for pk in model.objects.filter(voided_at__isnull=True)
                            .order_by("created", "pk").values_list("pk", flat=True)]
        for serializer in {getattr(viewset, "write_serializer", None),
                           getattr(viewset, "create_serializer", None)} - {None}:
            for name, field in serializer().fields.items():
                if isinstance(field, relations.RelatedField):
                    fields[name] = resource_for(field.queryset.model).collection
                # the references in a record's parts (a motion's authors' person, party ...)
                for sub, nested in getattr(getattr(field, "child", None), "fields", {}).items():
                    if isinstance(nested, relations.RelatedField):
                        fields[sub] = resource_for(nested.queryset.model).collection
    for name, field in SubscriptionSerializer().fields.items():  # its filters: live records
        if isinstance(field, relations.ManyRelatedField):
            fields[name] = resource_for(field.child_relation.queryset.model).collection
    for name in LINKABLE:  # parts of records a link may join (a motion's proposal ...)
        if name not in models:
            model = apps.get_model("cases", name)
            models[name] = f"part:{name}"
            live[f"part:{name}"] = [str(pk) for pk in model.objects.filter(
                voided_at__isnull=True).order_by("pk").values_list("pk", flat=True)]
    series = [str(o.pk) for o in m.Organisation.objects.order_by("created", "pk")
              if SERIES_PREFIX.match(o.short_name)]
    path.write_text(json.dumps({"live": live, "fields": fields, "series": series,
                                "models": models, "max_offset": MAX_OFFSET}))
    return path


# The statuses a request may get besides the defaults of Schemathesis's checks: 412, a
# well-formed If-Match naming another version (evaluated before the body, RFC 9110 13.2.1;
# the schema cannot know a record's current ETag), and 414, a URL longer than the server's
# request line (8190 bytes), which OpenAPI cannot bound; both documented in the schema.
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "412", "414", "429", "5xx"]
NEGATIVE = ["400", "401", "403", "404", "405", "406", "409", "412", "414", "415", "422",
            "428", "429", "5xx"]
# A write without If-Match gets 428 Precondition Required (RFC 6585 3), the status made for
# exactly this missing header; Schemathesis's default list of refusals lacks it.
MISSING_HEADER = ["400", "401", "403", "406", "415", "422", "428"]


def write_config(path: Path) -> Path:
    cursor = encode_cursor(["2000-01-01", "00000000-0000-0000-0000-000000000000"])
    lines = ["[generation]", f"max-examples = {MAX_EXAMPLES}",
             "[phases.stateful.generation]", f"max-examples = {STATEFUL_SCENARIOS}",
             "[checks.positive_data_acceptance]", f"expected-statuses = {toml(POSITIVE)}",
             "[checks.negative_data_rejection]", f"expected-statuses = {toml(NEGATIVE)}",
             "[checks.missing_required_header]", f"expected-statuses = {toml(MISSING_HEADER)}",
             "[parameters]", f'"query.cursor" = {toml(cursor)}']
    path.write_text("\n".join(lines) + "\n")
    return path


def run_schemathesis(client: str, url: str, tmp_path: Path, log_path: Path,
                     *headers: str, phases: str = PHASES) -> dict:
    """`st run` over every operation; the figures printed and written; fail on anything."""
    report = tmp_path / "report.json"
    command = [
        *ST, "--config-file", str(write_config(tmp_path / "schemathesis.toml")),
        "run", str(SCHEMA), "--url", f"{url}/api/v1",
        "--phases", phases, "--mode", "all", "--checks", "all",
        "--exclude-checks", ",".join(EXCLUDED_CHECKS),
        "--seed", str(SEED),
        "--generation-database", "none",
        # One worker: Python 3.11's ast is not thread-safe, which Hypothesis trips over when
        # several workers describe strategies at once.
        "--workers", "1", "--request-timeout", "30", "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]
    for header in [f"{name}: {value}" for name, value in PROXY.items()] + list(headers):
        command += ["-H", header]
    started = time.monotonic()
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS),
           "SCHEMATHESIS_REGISTER": str(register_file(tmp_path / "register.json"))}
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                            timeout=RUN_TIMEOUT, env=env)
    output = result.stdout + result.stderr
    summary = json.loads(report.read_text()) if report.exists() else {}
    operations = summary.get("operations", {})
    failures = sum(f["count"] for f in summary.get("failures", []))
    errors = sum(e["count"] for e in summary.get("errors", []))
    figures = (f"schemathesis ({client}): phases {phases}, checks all but "
               f"{','.join(EXCLUDED_CHECKS)}, mode all; "
               f"operations {operations.get('tested')}/{operations.get('total')}, "
               f"test cases {summary.get('test_cases', {}).get('generated')}, "
               f"failures {failures}, errors {errors}, "
               f"{time.monotonic() - started:.0f} s")
    print(figures)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"schemathesis-{client}.txt").write_text(figures + "\n\n" + output)
    if result.returncode != 0:
        pytest.fail(f"{figures}\n{output}\n--- server errors ---\n{server_errors(log_path)}",
                    pytrace=False)
    return summary


def server_errors(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("Internal Server Error")]
    return "\n\n".join("\n".join(lines[i:i + 30]) for i in errors[:3]) or "none"


def test_schemathesis_as_an_anonymous_client(server, tmp_path):
    url, log_path = server
    summary = run_schemathesis("anonymous", url, tmp_path, log_path, phases=ANONYMOUS_PHASES)
    assert summary["operations"]["tested"] == summary["operations"]["total"]


def test_schemathesis_as_a_client_system_that_writes(server, tmp_path):
    url, log_path = server
    _, key = issue_token(name="Schemathesis", can_write=True)
    summary = run_schemathesis("writer", url, tmp_path, log_path, f"Authorization: Token {key}")
    assert summary["operations"]["tested"] == summary["operations"]["total"]
    # The stateful phase followed the links: records were created through the API.
    assert m.AuditEntry.objects.filter(via="api", action="create").exists()
