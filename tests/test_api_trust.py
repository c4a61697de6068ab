"""Trust (issue 11, holes 5, 6 and 8): a case officer cannot move a record out of or into a
case they do not own; If-Match must name the version the client read; deep or malicious
JSON and cursors are 400s; a database outage is a 503 with Retry-After; every error is an
RFC 9457 problem document, except admin pages asked for by a person.

The outage and the walk over bad requests run against gunicorn with DEBUG off, as in
production, on the test database reached through a TCP link this test can cut: cutting it
resets every connection the server holds and closes the port, exactly what the server sees
when PostgreSQL stops or becomes unreachable (the database itself is real and untouched).
"""

import base64
import datetime
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from cases import models as m
from cases.api import problems
from cases.roles import CASE_OFFICER, case_path, sync_roles
from cases.services.fixtures import load_register
from cases.services.tokens import issue_token

from .html_forms import form_data

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "application/problem+json"
MEMBERS = {"type", "title", "status", "detail", "instance"}


def assert_problem(response, status: int, path: str | None = None) -> dict:
    """A problem document of ``status`` with the five RFC 9457 members filled in."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    content_type = response.headers.get("Content-Type")
    assert content_type == PROBLEM, (status, content_type, response.content[:300])
    body = response.json()
    assert MEMBERS <= set(body), body
    assert body["status"] == status and body["title"] and body["detail"], body
    assert body["type"] == "about:blank", body
    if path is not None:
        assert body["instance"] == path, body
    return body


# --- the case officer's rule, at both ends of a move ----------------------------------------


def test_the_case_of_every_part_is_found_from_the_models():
    assert case_path(m.Case) == ()
    assert case_path(m.Activity) == ("case",)
    assert case_path(m.Document) == ("case",)
    assert case_path(m.Decision) == ("case",)  # its own case, not its document's
    assert case_path(m.DocumentSignatory) == ("document", "case")
    assert case_path(m.DocumentAttachment) == ("document", "case")
    assert case_path(m.ReferralResponse) == ("referral", "case")
    assert case_path(m.ConsultedBody) == ("referral", "case")
    assert case_path(m.DecisionPoint) == ("decision", "case")
    assert case_path(m.MotionAuthor) == ("motion", "case")
    assert case_path(m.Person) is None and case_path(m.Organisation) is None


@pytest.fixture
def officer():
    sync_roles(apps)  # live-server tests elsewhere empty every table, groups included
    user = User.objects.create_user("handlaggare-trust", password="lösenord-" * 2,
                                    is_staff=True)
    user.groups.set(Group.objects.filter(name=CASE_OFFICER))
    return user


def grant(user, *codenames):
    """Extra model permissions on top of the role: the rule must still hold."""
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="cases",
                                                         codename__in=codenames))
    return User.objects.get(pk=user.pk)  # (permissions are cached on the instance)


@pytest.fixture
def cases(officer):
    """Two cases the officer owns and one they do not."""
    own = m.Case.objects.get(registration_numbers__number="KS 2024/610")
    also_own = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    other = m.Case.objects.exclude(pk__in=[own.pk, also_own.pk]).filter(
        voided_at__isnull=True).first()
    m.Case.objects.filter(pk__in=[own.pk, also_own.pk]).update(owner=officer)
    return own, also_own, other


@pytest.fixture
def as_officer(officer):
    client = APIClient()
    client.force_login(officer)
    return client


def patch(client, url, body):
    return client.patch(url, body, format="json", HTTP_IF_MATCH=client.get(url)["ETag"])


def make(kind, case):
    if kind == "activities":
        return m.Activity.objects.create(case=case, type="other", date=datetime.date(2026, 1, 5),
                                         description="Möte med skolan")
    if kind == "documents":
        return m.Document.objects.create(case=case, title="Kompletterande uppgifter",
                                         type="attachment", direction="incoming")
    return m.Motion.objects.create(case=case, title="Motion om fler parkbänkar")


KINDS = {"activities": m.Activity, "documents": m.Document, "motions": m.Motion}


@pytest.mark.parametrize("kind", KINDS)
def test_a_case_officer_cannot_move_a_record_into_a_case_they_do_not_own(
        officer, cases, as_officer, kind):
    own, also_own, other = cases
    if kind == "motions":  # not the role's, granted: the rule must hold for every record
        as_officer.force_login(grant(officer, "change_motion"))
    record = make(kind, own)
    url = f"/api/v1/{kind}/{record.pk}/"

    into_other = patch(as_officer, url, {"case": str(other.pk)})
    assert_problem(into_other, 403)
    assert KINDS[kind].objects.get(pk=record.pk).case_id == own.pk

    within = patch(as_officer, url, {"case": str(also_own.pk)})
    assert within.status_code == 200, within.content
    assert KINDS[kind].objects.get(pk=record.pk).case_id == also_own.pk


@pytest.mark.parametrize("kind", KINDS)
def test_a_case_officer_cannot_move_a_record_out_of_a_case_they_do_not_own(
        officer, cases, as_officer, kind):
    own, _, other = cases
    if kind == "motions":
        as_officer.force_login(grant(officer, "change_motion"))
    record = make(kind, other)
    url = f"/api/v1/{kind}/{record.pk}/"
    response = patch(as_officer, url, {"case": str(own.pk)})
    assert_problem(response, 403)
    assert KINDS[kind].objects.get(pk=record.pk).case_id == other.pk


def test_a_put_is_held_to_the_same_rule(cases, as_officer):
    own, _, other = cases
    activity = make("activities", own)
    url = f"/api/v1/activities/{activity.pk}/"
    body = {"case": str(other.pk), "type": "other", "date": "2026-01-05", "organisation": None,
            "person": None, "description": "Flyttad"}
    response = as_officer.put(url, body, format="json", HTTP_IF_MATCH=as_officer.get(url)["ETag"])
    assert_problem(response, 403)
    assert m.Activity.objects.get(pk=activity.pk).case_id == own.pk


def test_a_case_officer_creates_records_in_their_own_cases_only(cases, as_officer):
    own, _, other = cases
    body = {"type": "other", "date": "2026-02-01", "description": "Samråd"}
    assert_problem(as_officer.post("/api/v1/activities/", {**body, "case": str(other.pk)},
                                   format="json"), 403)
    created = as_officer.post("/api/v1/activities/", {**body, "case": str(own.pk)},
                              format="json")
    assert created.status_code == 201, created.content
    assert not m.Activity.objects.filter(case=other, description="Samråd").exists()


def test_a_record_reached_through_its_parent_moves_only_between_own_cases(
        officer, cases, as_officer):
    """A referral response belongs to its referral's case: moving it to a referral of
    someone else's case is moving it out of the officer's cases."""
    own, also_own, other = cases
    as_officer.force_login(grant(officer, "change_referralresponse"))
    board = m.Organisation.objects.get(short_name="KS", municipality__code="0180")
    referrals = {case: m.Referral.objects.create(case=case, title=f"Remiss {i}")
                 for i, case in enumerate((own, also_own, other))}
    response = m.ReferralResponse.objects.create(referral=referrals[own], organisation=board,
                                                 position="supports")
    url = f"/api/v1/referral-responses/{response.pk}/"

    assert_problem(patch(as_officer, url, {"referral": str(referrals[other].pk)}), 403)
    assert m.ReferralResponse.objects.get(pk=response.pk).referral == referrals[own]
    moved = patch(as_officer, url, {"referral": str(referrals[also_own].pk)})
    assert moved.status_code == 200, moved.content
    assert m.ReferralResponse.objects.get(pk=response.pk).referral == referrals[also_own]


def test_registrars_and_client_systems_move_records_freely(cases):
    own, _, other = cases
    activity = make("activities", own)
    _, key = issue_token(name="Ärendesystem", can_write=True)
    system = APIClient()
    system.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/api/v1/activities/{activity.pk}/"
    assert patch(system, url, {"case": str(other.pk)}).status_code == 200


def test_the_admin_holds_a_case_officer_to_the_rule_for_parts_too(client, officer, cases):
    """Signatories hang off a document: the officer changes those of their own cases' documents
    only, and cannot move one to a document of someone else's case."""
    own, also_own, other = cases
    person = m.Person.objects.first()
    documents = {case: m.Document.objects.create(case=case, title=f"Skrivelse {i}",
                                                 type="official_memo", direction="internal")
                 for i, case in enumerate((own, also_own, other))}
    mine = m.DocumentSignatory.objects.create(document=documents[own], position=1,
                                              person=person)
    theirs = m.DocumentSignatory.objects.create(document=documents[other], position=1,
                                                person=person)
    client.force_login(officer)

    url = f"/admin/cases/documentsignatory/{theirs.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    data = {**form_data(page.content.decode()), "title": "Ändrad"}
    assert client.post(url, data).status_code == 403
    assert m.DocumentSignatory.objects.get(pk=theirs.pk).title == ""

    url = f"/admin/cases/documentsignatory/{mine.pk}/change/"
    data = form_data(client.get(url).content.decode())
    refused = client.post(url, {**data, "document": str(documents[other].pk)})
    assert refused.status_code == 200  # the form again, with the error
    assert m.DocumentSignatory.objects.get(pk=mine.pk).document == documents[own]
    moved = client.post(url, {**data, "document": str(documents[also_own].pk)})
    assert moved.status_code == 302, moved.content.decode()[:2000]
    assert m.DocumentSignatory.objects.get(pk=mine.pk).document == documents[also_own]


# --- If-Match names the version you read ----------------------------------------------------


@pytest.fixture
def writer():
    _, key = issue_token(name="Ärendesystem", can_write=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.parametrize("if_match", [
    "*", 'W/{current}', '{current}, "0123"', '"0123", {current}', "{current_bare}", "*, {current}",
    "garbage",
])
def test_if_match_that_names_no_version_is_428_and_changes_nothing(writer, if_match):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    url = f"/api/v1/cases/{case.pk}/"
    current = writer.get(url)["ETag"]
    header = if_match.format(current=current, current_bare=current.strip('"'))
    before = m.Case.objects.filter(pk=case.pk).values().get()
    response = writer.patch(url, {"description": "Skrivs över"}, format="json",
                            HTTP_IF_MATCH=header)
    body = assert_problem(response, 428, url)
    assert "ETag" in body["detail"] and "version you read" in body["detail"]
    assert m.Case.objects.filter(pk=case.pk).values().get() == before
    voiding = writer.delete(f"{url}?reason=Felregistrerat", HTTP_IF_MATCH=header)
    assert_problem(voiding, 428, url)
    assert m.Case.objects.get(pk=case.pk).voided_at is None
    done = writer.patch(url, {"description": "Rätt version"}, format="json",
                        HTTP_IF_MATCH=current)
    assert done.status_code == 200


# --- bad input is a 400, not a RecursionError -----------------------------------------------


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


DEEP_ARRAY = "[" * 10000 + "]" * 10000
DEEP_OBJECT = '{"a":' * 100000 + "1" + "}" * 100000
DEEP_BUT_PARSEABLE = '{"case":' + "[" * 900 + "]" * 900 + "}"  # under orjson's own limit


VALID = '"case": "CASE", "type": "other"'


@pytest.mark.parametrize("body", [
    DEEP_ARRAY, DEEP_OBJECT, DEEP_BUT_PARSEABLE,
    "{" + VALID + ', "description": ' + "[" * 900 + "]" * 900 + "}",
    "{" + VALID + ', "description": "\\ud800"}',  # a lone surrogate: PostgreSQL cannot store it
    "{" + VALID + ', "description": NaN}', '{"case": ',
])
def test_deep_or_malformed_json_bodies_are_400(writer, body):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    activities = case.activities.count()
    response = writer.generic("POST", "/api/v1/activities/", body.replace("CASE", str(case.pk)),
                              content_type="application/json")
    assert_problem(response, 400, "/api/v1/activities/")
    assert case.activities.count() == activities


@pytest.mark.parametrize("cursor", [
    cursor_of("[" * 5000), cursor_of("[" * 900 + "]" * 900),
    cursor_of("[" + "[" * 900 + "]" * 900 + ', "6f1c2b9e-8d7a-4a53-9b1e-0c6b9a1d2e3f"]'),
    cursor_of('[{"a": 1}, "6f1c2b9e-8d7a-4a53-9b1e-0c6b9a1d2e3f"]'),
])
@pytest.mark.parametrize("ordering", ["created", "name"])
def test_deep_or_foreign_cursors_are_400(client, cursor, ordering):
    response = client.get("/api/v1/people/", {"cursor": cursor, "ordering": ordering})
    body = assert_problem(response, 400, "/api/v1/people/")
    assert [p["name"] for p in body["invalid_params"]] == ["cursor"]


def test_a_deep_expand_is_400(client):
    response = client.get("/api/v1/cases/", {"expand": "documents.case." * 2000})
    body = assert_problem(response, 400)
    assert [p["name"] for p in body["invalid_params"]] == ["expand"]


# --- the handlers, in-process ---------------------------------------------------------------


def test_a_server_error_is_a_problem_and_a_database_error_a_503():
    factory = RequestFactory()
    try:
        raise ValueError("a bug")
    except ValueError:
        response = problems.server_error(factory.get("/api/v1/cases/"))
    assert response.status_code == 500 and response["Content-Type"] == PROBLEM
    assert "a bug" not in response.content.decode()
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        api = problems.server_error(factory.get("/api/v1/cases/"))
        page = problems.server_error(factory.get("/admin/", HTTP_ACCEPT="text/html"))
    assert (api.status_code, api["Content-Type"], api["Retry-After"]) == (503, PROBLEM, "5")
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert page["Content-Type"].startswith("text/html")


# --- over real HTTP: gunicorn, DEBUG off, on a database link the test can cut ---------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DatabaseLink:
    """A TCP relay from a local port to the test database's server. ``cut`` resets every
    relayed connection and closes the port (connections are refused); ``restore`` listens
    on the same port again."""

    def __init__(self, target):
        self.target = target  # (host, port) or the path of a Unix socket
        self.port = free_port()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.listener = None
        self.restore()

    def restore(self):
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.1)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self):
        listener, self.listener = self.listener, None
        listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()

    def _accept(self, listener):
        while self.listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if isinstance(self.target, str):
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(self.target)
            else:
                upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def database_target():
    settings_dict = connection.settings_dict
    options = settings_dict.get("OPTIONS", {})
    # The embedded server is reached by its socket directory, given as the URL's ?host=.
    host = settings_dict["HOST"] or options.get("host") or "localhost"
    port = int(settings_dict["PORT"] or options.get("port") or 5432)
    if host.startswith("/"):
        return os.path.join(host, f".s.PGSQL.{port}")
    return host, port


class Site:
    def __init__(self, url, key, session, link, log_path):
        self.url, self.key, self.session, self.link, self.log_path = (
            url, key, session, link, log_path)

    def request(self, method, path, headers=(), **kwargs):
        headers = {"X-Forwarded-Proto": "https", **dict(headers)}  # behind a TLS proxy
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    @property
    def token(self):
        return {"Authorization": f"Token {self.key}"}

    @property
    def signed_in(self):
        return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={self.session}"}


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, tmp_path_factory):
    """gunicorn as in production (two sync workers, DEBUG off) on the test database, through
    a DatabaseLink; a write token and a signed-in staff user, committed for it to see."""
    with django_db_blocker.unblock():
        if not m.Case.objects.exists():  # emptied by an earlier live-server test
            load_register()
        token, key = issue_token(name="Förtroendeprov", can_write=True)
        user = User.objects.create_user("trust-staff", password="lösenord-" * 2, is_staff=True)
        browser = Client()
        browser.force_login(user)
        session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        settings_dict = dict(connection.settings_dict)
    link = DatabaseLink(database_target())
    credentials = quote(settings_dict["USER"]) + (
        f":{quote(settings_dict['PASSWORD'])}" if settings_dict["PASSWORD"] else "")
    port = free_port()
    env = {**os.environ, "DEBUG": "0", "THROTTLE_RATE": "1000000/minute",
           "DATABASE_URL": f"postgresql://{credentials}@127.0.0.1:{link.port}/"
                           f"{settings_dict['NAME']}"}
    env.pop("TEST_DATABASE_NAME", None)
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
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
                if httpx.get(f"{url}/api/v1/", headers={"X-Forwarded-Proto": "https"},
                             timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer:\n{log_path.read_text()}"
            time.sleep(0.2)
        yield Site(url, key, session, link, log_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if link.listener is not None:
            link.cut()
        with django_db_blocker.unblock():
            Session.objects.filter(session_key=session).delete()
            User.objects.filter(pk=user.pk).delete()
            m.ApiToken.objects.filter(pk=token.pk).delete()


def test_20_parallel_patches_with_if_match_star_are_all_refused(site):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    before = m.Case.objects.filter(pk=case.pk).values().get()
    path = f"/api/v1/cases/{case.pk}/"

    def update(i):
        return site.request("PATCH", path, headers={**site.token, "If-Match": "*"},
                            json={"description": f"Version {i}"})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(update, range(20)))
    for response in responses:
        assert_problem(response, 428, path)
    assert m.Case.objects.filter(pk=case.pk).values().get() == before


LIMIT = settings.MAX_REQUEST_BYTES
ADMIN_JSON = {"Accept": "application/json"}


def bad_requests(site):
    """(what, method, path, headers, body, status): requests that must each get a problem
    document."""
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    json_body = {"Content-Type": "application/json"}
    return [
        ("unknown path", "GET", "/nothing-here/", {}, None, 404),
        ("unknown API path", "GET", "/api/v1/nothing/", {}, None, 404),
        ("unknown record", "GET", "/api/v1/cases/00000000-0000-0000-0000-000000000000/", {},
         None, 404),
        ("unknown admin page, not for a person", "GET", "/admin/nothing/",
         {**site.signed_in, **ADMIN_JSON}, None, 404),
        ("host not allowed", "GET", "/api/v1/cases/", {"Host": "evil.example"}, None, 400),
        ("host not allowed, admin", "GET", "/admin/", {"Host": "evil.example"}, None, 400),
        ("CSRF-less POST with a session", "POST", "/admin/logout/",
         {**site.signed_in, **ADMIN_JSON}, b"", 403),
        ("CSRF-less POST", "POST", "/i18n/setlang/", {}, b"language=en", 403),
        ("wrong method, API", "DELETE", "/api/v1/parties/", site.token, None, 405),
        ("wrong method, admin view", "GET", "/admin/logout/", {**site.signed_in, **ADMIN_JSON},
         None, 405),
        ("wrong method, static file", "POST", "/static/admin/css/base.css", {}, b"", 405),
        ("unacceptable Accept", "GET", "/api/v1/cases/", {"Accept": "application/xml"}, None,
         406),
        ("unsupported media type", "POST", "/api/v1/activities/",
         {**site.token, "Content-Type": "text/plain"}, b"case=1", 415),
        ("oversized body", "POST", "/api/v1/activities/", {**site.token, **json_body},
         b"[" + b" " * LIMIT + b"]", 413),
        ("oversized form", "POST", "/admin/login/", {**ADMIN_JSON},
         b"username=" + b"a" * LIMIT, 413),
        ("no If-Match", "PATCH", f"/api/v1/cases/{case.pk}/", {**site.token, **json_body},
         b"{}", 428),
        ("If-Match: *", "PATCH", f"/api/v1/cases/{case.pk}/",
         {**site.token, **json_body, "If-Match": "*"}, b"{}", 428),
        ("unknown token", "GET", "/api/v1/cases/", {"Authorization": "Token nope"}, None, 401),
        ("malformed JSON", "POST", "/api/v1/activities/", {**site.token, **json_body},
         b'{"case": ', 400),
        ("10000-deep array", "POST", "/api/v1/activities/", {**site.token, **json_body},
         DEEP_ARRAY.encode(), 400),
        ("100000-deep object", "POST", "/api/v1/activities/", {**site.token, **json_body},
         DEEP_OBJECT.encode(), 400),
        ("cursor of 5000 [", "GET", f"/api/v1/cases/?cursor={cursor_of('[' * 5000)}", {},
         None, 400),
        ("8000-character expand", "GET", "/api/v1/cases/?expand=" + "a." * 4000, {}, None, 400),
    ]


def test_every_error_is_a_problem_document(site):
    failures = []
    for what, method, path, headers, body, status in bad_requests(site):
        response = site.request(method, path, headers=headers, content=body)
        try:
            assert_problem(response, status, path.split("?")[0])
        except AssertionError as exc:
            failures.append(f"{what}: {exc}")
    assert not failures, "\n".join(failures)


def test_admin_pages_for_a_person_stay_html(site):
    """A browser names text/html in Accept: under /admin/ it gets a page it can show."""
    browser = {**site.signed_in, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for method, path, status in [("GET", "/admin/nothing/", 404),
                                 ("POST", "/admin/logout/", 403)]:
        response = site.request(method, path, headers=browser)
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith("text/html")


def test_a_database_outage_is_a_503_with_retry_after_and_the_service_recovers(site):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    api = [("GET", "/api/v1/cases/", {}), ("GET", f"/api/v1/cases/{case.pk}/", site.token),
           ("PATCH", f"/api/v1/cases/{case.pk}/", {**site.token, "If-Match": '"x"'}),
           ("GET", "/admin/", {**site.signed_in, **ADMIN_JSON})]
    before = m.Case.objects.filter(pk=case.pk).values().get()
    assert site.request("GET", "/api/v1/cases/").status_code == 200  # connected
    site.link.cut()
    try:
        for _ in range(2):  # connections cut under the workers, then refused
            for method, path, headers in api:
                response = site.request(method, path, headers=headers, json={})
                body = assert_problem(response, 503, path)
                assert int(response.headers["Retry-After"]) > 0
                assert "Traceback" not in body["detail"]
        page = site.request("GET", "/admin/", headers={**site.signed_in, "Accept": "text/html"})
        assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
        assert "Registret är tillfälligt otillgängligt" in page.text  # in the admin's language
        assert int(page.headers["Retry-After"]) > 0
    finally:
        site.link.restore()
    # Back without a restart: each of the two workers may find its connection broken once
    # more (a 503 again), then reconnects.
    for _ in range(3):
        response = site.request("GET", "/api/v1/cases/")
        if response.status_code == 200:
            break
        assert_problem(response, 503, "/api/v1/cases/")
    assert response.status_code == 200
    assert m.Case.objects.filter(pk=case.pk).values().get() == before
