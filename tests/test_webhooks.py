"""Webhooks end to end (DESIGN §8): changes through the API and the admin, a real
procrastinate worker on the test database (in a thread of this process, with its own
connections, so it sees only committed rows), a real HTTP receiver on 127.0.0.1 that
verifies every message with the ``standardwebhooks`` library.

The 1,000-change run prints its figures (pytest -s) and writes them to
test-artifacts/webhooks.txt.
"""

import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection, connections, transaction
from django.utils import timezone
from procrastinate.contrib.django import app as procrastinate_app
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cases import models as m
from cases.context import Actor, acting_as
from cases.services import deliveries
from cases.services.fixtures import load_register
from cases.services.registration import register_case
from cases.services.tokens import issue_token
from cases.services.voiding import void_record

from .conftest import conninfo, database_url
from .html_forms import form_data

ROOT = Path(__file__).resolve().parent.parent
SENTINEL = "SENTINEL-webhook-9c1d"
DEADLINE = 60  # seconds any awaited condition may take


# --- the receiver ------------------------------------------------------------------------


class Receiver:
    """An HTTP server that records every POST and answers as told per path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.answers = {}  # path -> function(body: dict) -> status code
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path.strip("/")
                answer = receiver.answers.get(path)
                status = answer(json.loads(body)) if answer else 204
                with receiver.lock:
                    receiver.received.append({
                        "path": path, "headers": dict(self.headers.items()), "body": body,
                        "status": status, "at": time.time()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def delivered(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["path"] == path and 200 <= r["status"] < 300]

    def tried(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["path"] == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def verified(receipts, secret) -> list[dict]:
    """The messages of ``receipts`` verified with ``secret`` (standardwebhooks), in order of
    arrival, with their webhook-id and arrival time."""
    webhook = Webhook(secret)
    result = []
    for receipt in receipts:
        message = webhook.verify(receipt["body"], receipt["headers"])
        assert receipt["headers"]["Content-Type"] == "application/cloudevents+json"
        result.append({**message, "webhook_id": receipt["headers"]["webhook-id"],
                       "at": receipt["at"]})
    return result


def wait_for(condition, what: str, timeout: float = DEADLINE):
    """Poll ``condition`` until it holds (returning its value) or fail after ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


# --- the worker --------------------------------------------------------------------------


class WorkerThread:
    """procrastinate's worker, as `manage.py procrastinate worker` runs it (its own psycopg
    pool on the same database, as the runtime role), in a thread of the test process."""

    def __init__(self):
        self.app = procrastinate_app.with_connector(
            procrastinate_app.connector.get_worker_connector())
        self.loop = asyncio.new_event_loop()
        self.task = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def main():
            async with self.app.open_async():
                self.started.set()
                await self.app.run_worker_async(
                    queues=["webhooks"], concurrency=8, wait=True, listen_notify=True,
                    fetch_job_polling_interval=0.05, install_signal_handlers=False,
                    shutdown_graceful_timeout=10)

        self.task = self.loop.create_task(main())
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        finally:
            self.loop.close()

    def start(self):
        self.thread.start()
        assert self.started.wait(30), "the worker did not start"

    def stop(self):
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(30)
        assert not self.thread.is_alive(), "the worker did not stop"


class WorkerProcess:
    """The worker as `make run` and docker-compose start it, `manage.py procrastinate
    worker`, in its own process (as the runtime role, on the test database): the 1,000-change
    run measures it without sharing this process's interpreter lock."""

    def __init__(self, **environment):
        self.environment = {**os.environ, "DATABASE_URL": database_url(), "LOG_LEVEL": "WARNING",
                            **environment}
        for name in ("DATABASE_OWNER_URL", "TEST_DATABASE_NAME"):
            self.environment.pop(name, None)
        self.log = tempfile.TemporaryFile()

    def _workers(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM procrastinate_workers")
            return cursor.fetchone()[0]

    def start(self):
        before = self._workers()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--queues", "webhooks",
             "--concurrency", "8", "--delete-jobs", "successful"],
            cwd=ROOT, env=self.environment, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._workers() > before or self.process.poll() is not None,
                 "the worker process")
        assert self.process.poll() is None, self.output()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)


@pytest.fixture(scope="module")
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def reload_register_afterwards(django_db_setup, django_db_blocker):
    """Transactional tests end by emptying every table: load the seed register again."""
    yield
    with django_db_blocker.unblock():
        load_register()


@pytest.fixture
def webhook_settings(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.2
    settings.WEBHOOK_MAX_ATTEMPTS = 8
    settings.SITE_URL = "https://diarium.example.se"
    return settings


@pytest.fixture
def empty_queue(transactional_db, webhook_settings, receiver):
    """Committed rows and an empty job queue."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
    return receiver


@pytest.fixture
def live(transactional_db, webhook_settings, receiver):
    """Committed rows, an empty job queue and a running worker (a thread of this process,
    which sees the settings the test changes and Django's mail outbox).

    The worker's task threads close their database connections after each job (no
    persistent connections), so that none outlives the test database."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
    shared = connection.settings_dict  # the dict every thread's connection is made from
    kept = shared["CONN_MAX_AGE"]
    shared["CONN_MAX_AGE"] = 0
    worker = WorkerThread()
    worker.start()
    yield receiver
    worker.stop()
    shared["CONN_MAX_AGE"] = kept


def superuser() -> User:
    """A superuser to sign in with force_login (no password: hashing one takes a second)."""
    return User.objects.create(username=f"registrator{User.objects.count()}",
                               is_staff=True, is_superuser=True)


def writer() -> tuple[APIClient, m.ApiToken]:
    token, key = issue_token(name=f"System {m.ApiToken.objects.count() + 1}", can_write=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, token


def subscribe(client, receiver, path, **filters) -> tuple[int, str]:
    response = client.post("/api/v1/subscriptions/", {
        "name": path, "callback_url": receiver.url(path),
        "contact_email": f"{path}@example.se", **filters}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    return body["id"], body["secret"]


def patch(client, url, etags, **fields):
    if url not in etags:
        etags[url] = client.get(url).headers["ETag"]
    response = client.patch(url, fields, format="json", HTTP_IF_MATCH=etags[url])
    assert response.status_code == 200, response.content
    etags[url] = response.headers["ETag"]
    return response


def case_and_board():
    """A case of a board of a municipality, made here (faster than loading the seed
    register after every transactional test has emptied the tables)."""
    town, _ = m.Municipality.objects.get_or_create(code="0999", defaults={"name": "Provby"})
    board, _ = m.Organisation.objects.get_or_create(
        short_name="PN", municipality=town,
        defaults={"name": "Provnämnden", "type": m.OrganisationType.values[0]})
    case = m.Case.objects.filter(responsible_organisation=board).first()
    if case is None:
        with acting_as(Actor(label="registrator", via="admin")):
            case = register_case(registering_organisation=board, municipality=town,
                                 responsible_organisation=board, title="Provärende")
    return case, board


def other_board():
    town, _ = m.Municipality.objects.get_or_create(code="0998", defaults={"name": "Annanby"})
    board, _ = m.Organisation.objects.get_or_create(
        short_name="AN", municipality=town,
        defaults={"name": "Annannämnden", "type": m.OrganisationType.values[0]})
    return board


# --- (a) 1,000 changes -------------------------------------------------------------------


def test_a_thousand_changes_through_the_api_and_the_admin_arrive_signed_once_each(
        empty_queue):
    """100 activities created through the API, 8 updates each through the API, one edit
    each in the admin: 1,000 changes by 4 clients at once (each client its own records, in
    order). The first 500 are made with no worker running; starting it then measures how
    fast a backlog drains. The other 500 are made while it runs, for the lag."""
    receiver = empty_queue
    case, board = case_and_board()
    client, _token = writer()
    _, secret = subscribe(client, receiver, "all")
    key = client._credentials["HTTP_AUTHORIZATION"]
    registrator = superuser()
    events_before = m.Event.objects.count()
    audit_before = m.AuditEntry.objects.count()
    etags, urls = {}, {}

    def creates_and_updates(lane, rounds):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=key)
        try:
            for i in range(lane * 25, lane * 25 + 25):
                if i not in urls:
                    response = api.post("/api/v1/activities/", {
                        "case": str(case.pk), "type": "other", "description": f"Aktivitet {i}",
                        "organisation": str(board.pk)}, format="json")
                    assert response.status_code == 201, response.content
                    urls[i] = f"/api/v1/activities/{response.json()['id']}/"
                    etags[urls[i]] = response.headers["ETag"]
                for version in rounds:
                    patch(api, urls[i], etags, description=f"Aktivitet {i}, version {version}")
        finally:
            connections.close_all()

    def admin_edits(lane):
        admin = APIClient()
        admin.force_login(registrator)
        try:
            for i in range(lane * 25, lane * 25 + 25):
                path = f"/admin/cases/activity/{urls[i].rstrip('/').rsplit('/', 1)[1]}/change/"
                data = form_data(admin.get(path).content.decode())
                data["description"] = f"Aktivitet {i}, ändrad i admin"
                response = admin.post(path, data)
                assert response.status_code == 302, response.content.decode()[:2000]
        finally:
            connections.close_all()

    def in_lanes(work, *args):
        with ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(work, lane, *args) for lane in range(4)]:
                future.result()

    def unique(path="all"):
        return len({r["headers"]["webhook-id"] for r in receiver.delivered(path)})

    started = time.time()
    in_lanes(creates_and_updates, range(1, 5))  # 100 creates + 400 updates
    backlog_made = time.time()
    assert m.Event.objects.count() - events_before == 500 and unique() == 0
    worker = WorkerProcess(WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_PRIVATE_NETWORKS="1",
                           SITE_URL="https://diarium.example.se")
    worker.start()
    try:
        worker_up = time.time()
        wait_for(lambda: unique() >= 500 or worker.process.poll() is not None,
                 "the backlog", timeout=120)
        drained = time.time()
        in_lanes(creates_and_updates, range(5, 9))  # 400 updates
        in_lanes(admin_edits)  # 100 edits in the admin
        changed = time.time()
        wait_for(lambda: unique() >= 1000 or worker.process.poll() is not None,
                 "1,000 deliveries", timeout=120)
        done = time.time()
        assert worker.process.poll() is None, worker.output()
    finally:
        worker.stop()
    assert m.AuditEntry.objects.count() - audit_before == 1000
    assert m.Event.objects.count() - events_before == 1000

    messages = verified(receiver.delivered("all"), secret)
    ids = [message["webhook_id"] for message in messages]
    events = {str(e.pk): e for e in m.Event.objects.filter(
        deliveries__subscription__name="all").select_related("audit_entry")}
    assert len(events) == 1000
    assert set(ids) == set(events)  # none lost, none foreign
    assert all(message["id"] == message["webhook_id"] for message in messages)
    # In order per record: each activity's messages arrive in the order of its changes.
    first_arrival = {}
    for message in messages:
        first_arrival.setdefault(message["webhook_id"], message["at"])
    by_record = defaultdict(list)
    for event_id in sorted(first_arrival, key=first_arrival.get):
        by_record[events[event_id].record_id].append(events[event_id])
    assert len(by_record) == 100
    for record_events in by_record.values():
        assert record_events == sorted(record_events, key=lambda e: e.audit_entry_id)
    kinds = defaultdict(int)
    for event in events.values():
        kinds[(event.type, event.audit_entry.via)] += 1
    assert kinds == {("se.caseregister.activity.created", "api"): 100,
                     ("se.caseregister.activity.updated", "api"): 800,
                     ("se.caseregister.activity.updated", "admin"): 100}

    # The figures: the lag of the changes made while the worker ran (the event is written
    # in the change's transaction, moments before it commits).
    lags = sorted(first_arrival[pk] - e.occurred_at.timestamp()
                  for pk, e in events.items() if e.occurred_at.timestamp() > drained)
    retries = sum(d.attempts - 1 for d in m.Delivery.objects.filter(subscription__name="all"))
    duplicates = len(ids) - len(set(ids))
    live_first = min(first_arrival[pk] for pk, e in events.items()
                     if e.occurred_at.timestamp() > drained)
    report = (
        f"webhooks, 1,000 changes by 4 clients (100 API creates, 800 API updates, 100 admin "
        f"edits), worker: manage.py procrastinate worker --concurrency 8\n"
        f"backlog: 500 changes in {backlog_made - started:.1f}s, drained by the worker in "
        f"{drained - worker_up:.1f}s from its start: {500 / (drained - worker_up):.0f} "
        f"deliveries/s\n"
        f"live: 500 changes in {changed - drained:.1f}s "
        f"({500 / (changed - drained):.0f} changes/s), delivered at "
        f"{500 / (done - live_first):.0f} deliveries/s, the last {done - changed:.2f}s "
        f"after the last change\n"
        f"lag change->delivery (live part, n={len(lags)}): median "
        f"{statistics.median(lags) * 1000:.0f} ms, p95 {lags[int(len(lags) * 0.95)] * 1000:.0f}"
        f" ms, max {lags[-1] * 1000:.0f} ms\n"
        f"1000 verified with standardwebhooks, {duplicates} duplicates, {retries} retries\n")
    print("\n" + report)
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "webhooks.txt").write_text(report)


# --- (b) retries, in order per record, without holding back others ----------------------


def test_a_failing_receiver_gets_retries_in_order_per_record_and_holds_back_nothing_else(
        live):
    receiver = live
    client, _ = writer()
    case, board = case_and_board()
    first, second = (m.Activity.objects.create(case=case, type="other", organisation=board,
                                               description=f"Aktivitet {n}") for n in (1, 2))
    _, flaky_secret = subscribe(client, receiver, "flaky", collections=["activities"])
    _, steady_secret = subscribe(client, receiver, "steady", collections=["activities"])
    down = threading.Event()
    down.set()
    # The flaky receiver is down for messages about the first activity only.
    receiver.answers["flaky"] = lambda body: (
        500 if down.is_set() and body["subject"] == str(first.pk) else 200)
    etags = {}
    for n in range(3):
        patch(client, f"/api/v1/activities/{first.pk}/", etags, description=f"Första v{n}")
        patch(client, f"/api/v1/activities/{second.pk}/", etags, description=f"Andra v{n}")
    # The steady subscriber and the second record are not held back.
    wait_for(lambda: len(receiver.delivered("steady")) >= 6, "the steady subscriber")
    wait_for(lambda: len(receiver.delivered("flaky")) >= 3, "the second record")
    wait_for(lambda: len(receiver.tried("flaky")) >= 3 + 3, "three failed tries")
    flaky = verified(receiver.delivered("flaky"), flaky_secret)
    assert {message["subject"] for message in flaky} == {str(second.pk)}
    down.clear()
    wait_for(lambda: len(receiver.delivered("flaky")) >= 6, "the retried deliveries")
    flaky = verified(receiver.delivered("flaky"), flaky_secret)
    firsts = [message for message in flaky if message["subject"] == str(first.pk)]
    expected = list(m.Event.objects.filter(record_id=first.pk, action="updated").order_by(
        "audit_entry_id").values_list("id", flat=True))
    assert [message["id"] for message in firsts] == [str(pk) for pk in expected]
    # Only the first message was tried while the receiver was down: the later ones waited.
    failed = [r for r in receiver.tried("flaky") if r["status"] == 500]
    assert {json.loads(r["body"])["id"] for r in failed} == {str(expected[0])}
    head = m.Delivery.objects.get(subscription__name="flaky", event_id=expected[0])
    assert head.status == "delivered" and head.attempts == len(failed) + 1
    assert head.attempt_log.filter(status_code=500).count() == len(failed)
    assert verified(receiver.delivered("steady"), steady_secret)


# --- (c) a rolled-back change emits nothing ---------------------------------------------


def test_a_rolled_back_change_emits_nothing_and_a_committed_one_defers_atomically(live):
    receiver = live
    case, board = case_and_board()
    client, _ = writer()
    subscribe(client, receiver, "atomic")
    jobs = "SELECT count(*) FROM procrastinate_jobs"

    def jobs_seen_from_outside():
        with psycopg.connect(**conninfo()) as outside:
            return outside.execute(jobs).fetchone()[0]

    before = (m.Event.objects.count(), m.Delivery.objects.count(), jobs_seen_from_outside())
    with pytest.raises(RuntimeError), transaction.atomic():
        activity = m.Activity.objects.create(case=case, type="other", organisation=board)
        activity.description = "Ångrad"
        activity.save()
        with connection.cursor() as cursor:
            cursor.execute(jobs)
            assert cursor.fetchone()[0] == before[2] + 2  # in this transaction only
        assert jobs_seen_from_outside() == before[2]
        raise RuntimeError("roll back")
    after = (m.Event.objects.count(), m.Delivery.objects.count(), jobs_seen_from_outside())
    assert after == before
    with transaction.atomic():
        m.Activity.objects.create(case=case, type="other", organisation=board)
    wait_for(lambda: receiver.delivered("atomic"), "the committed change")
    assert len(receiver.tried("atomic")) == 1


def test_the_trace_of_the_request_that_made_a_change_goes_on_to_the_receiver(live):
    """DIGG SPA.02/SPA.04: a write's traceparent is answered with the caller's trace id and a
    span of our own, and the webhook message of its change carries the same trace (as the
    CloudEvents tracing extension and as the header of the delivery)."""
    receiver = live
    case, board = case_and_board()
    client, _ = writer()
    subscribe(client, receiver, "traced", collections=["activities"])
    trace, caller = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = client.post("/api/v1/activities/", {
        "case": str(case.pk), "type": "other", "organisation": str(board.pk)}, format="json",
        HTTP_TRACEPARENT=f"00-{trace}-{caller}-01")
    assert response.status_code == 201, response.content
    version, answered, span, flags = response.headers["traceparent"].split("-")
    assert (version, answered, flags) == ("00", trace, "01")
    assert re.fullmatch("[0-9a-f]{16}", span) and span != caller
    wait_for(lambda: receiver.delivered("traced"), "the traced change")
    delivered = receiver.delivered("traced")[0]
    assert delivered["headers"]["traceparent"] == response.headers["traceparent"]
    assert json.loads(delivered["body"])["traceparent"] == response.headers["traceparent"]
    for malformed in ("", "00-" + "0" * 32 + f"-{caller}-01", f"01-{trace}-{caller}-01",
                      f"00-{trace.upper()}-{caller}-01"):
        other = client.get("/api/v1/activities/", HTTP_TRACEPARENT=malformed)
        started = other.headers["traceparent"].split("-")
        assert started[1] != trace and re.fullmatch("[0-9a-f]{32}", started[1]), malformed


# --- (d) nothing protected in a message ---------------------------------------------------


def test_a_confidential_case_s_messages_carry_no_protected_value(live):
    receiver = live
    _, ks = case_and_board()
    client, _ = writer()
    _, secret = subscribe(client, receiver, "confidential")
    with acting_as(Actor(label="registrator", via="admin")):
        case = register_case(
            registering_organisation=ks, year=2026, municipality=ks.municipality,
            responsible_organisation=ks, title=f"{SENTINEL} titel",
            description=f"{SENTINEL} beskrivning", confidential=True,
            confidentiality_basis="OSL 26 kap. 1 §", public_title="Ärende om bistånd")
        document = m.Document.objects.create(
            case=case, title=f"{SENTINEL} handling", type=m.DocumentType.OFFICIAL_REPORT,
            direction=m.Direction.DRAWN_UP, text=f"{SENTINEL} text", confidential=True,
            confidentiality_basis="OSL 26 kap. 1 §", public_title="Tjänsteutlåtande")
        attachment = m.DocumentAttachment.objects.create(document=document, position=1,
                                                         title=f"{SENTINEL} bilaga")
        case.description = f"{SENTINEL} ny beskrivning"
        case.save()
        with transaction.atomic():
            void_record(record=attachment, reason=f"{SENTINEL} skäl")
    expected = m.Event.objects.filter(case_id=case.pk).count()
    assert expected >= 6
    wait_for(lambda: len(receiver.delivered("confidential")) >= expected, "the messages")
    messages = verified(receiver.delivered("confidential"), secret)
    for receipt in receiver.tried("confidential"):
        assert SENTINEL.encode() not in receipt["body"]
        assert SENTINEL not in json.dumps(receipt["headers"])
    by_type = {message["type"]: message for message in messages}
    update = by_type["se.caseregister.case.updated"]["data"]
    assert "description" in update["changed_fields"]
    assert update["url"] == f"https://diarium.example.se/api/v1/cases/{case.pk}/"
    voided = by_type["se.caseregister.document-attachment.voided"]
    assert voided["data"]["collection"] == "document-attachments"
    assert voided["data"]["part_of"] == [{
        "collection": "documents", "id": str(document.pk),
        "url": f"https://diarium.example.se/api/v1/documents/{document.pk}/"}]
    assert voided["data"]["case"]["id"] == str(case.pk)
    parent = [message for message in messages if message["subject"] == str(document.pk)
              and message["type"] == "se.caseregister.document.updated"]
    assert parent and parent[-1]["data"]["changed_fields"] == ["attachments"]
    for message in messages:
        assert set(message) >= {"specversion", "id", "source", "type", "subject", "time",
                                "datacontenttype", "data"}
        assert message["specversion"] == "1.0" and message["time"].endswith("Z")


# --- (e) filters ----------------------------------------------------------------------------


def test_filters_send_each_subscription_only_its_collection_action_and_organisation(live):
    receiver = live
    client, _ = writer()
    case, board = case_and_board()
    other = other_board()
    subscribe(client, receiver, "only-activities", collections=["activities"])
    subscribe(client, receiver, "only-voids", actions=["voided"])
    subscribe(client, receiver, "only-board", organisations=[str(board.pk)])
    subscribe(client, receiver, "only-other-town",
              municipalities=[str(other.municipality_id)])
    ours = m.Activity.objects.create(case=case, type="other", organisation=board)
    theirs = m.Organisation.objects.create(name="Nya nämnden", short_name="NN",
                                           type=other.type, municipality=other.municipality)
    with transaction.atomic():
        void_record(record=ours, reason="Fel")
    events = {e.pk: e for e in m.Event.objects.filter(record_id__in=[ours.pk, theirs.pk])}
    expected = {
        "only-activities": {pk for pk, e in events.items() if e.record_id == ours.pk},
        "only-voids": {pk for pk, e in events.items() if e.action == "voided"},
        "only-board": {pk for pk, e in events.items() if e.record_id == ours.pk},
        "only-other-town": {pk for pk, e in events.items() if e.record_id == theirs.pk},
    }
    # The void of an activity is also an update of its case (the case's parts changed).
    case_update = m.Event.objects.filter(record_id=case.pk).order_by("-occurred_at").first()
    expected["only-board"].add(case_update.pk)
    assert len(expected["only-activities"]) == 2 and len(expected["only-voids"]) == 1
    for path, wanted in expected.items():
        wait_for(lambda path=path, wanted=wanted: len(receiver.delivered(path)) >= len(wanted),
                 path)
    for path, wanted in expected.items():
        got = {json.loads(r["body"])["id"] for r in receiver.delivered(path)}
        assert got == {str(pk) for pk in wanted}, path


# --- (f) no server-side request forgery ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest",
    "https://[::1]/hook", "https://224.0.0.1/hook", "https://localhost/hook",
    "https://[::ffff:10.0.0.1]/hook", "http://93.184.215.14/hook"])
def test_callbacks_to_internal_addresses_or_plain_http_are_refused_at_save(settings, url):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    client, _ = writer()
    response = client.post("/api/v1/subscriptions/", {"name": "x", "callback_url": url},
                           format="json")
    assert response.status_code == 400, response.content
    assert response.json()["invalid_params"][0]["name"] == "callback_url"
    admin = APIClient()
    admin.force_login(superuser())
    page = admin.post("/admin/cases/subscription/add/", {"name": "x", "callback_url": url})
    assert page.status_code == 200 and b"errorlist" in page.content
    assert not m.Subscription.objects.exists()


@pytest.mark.django_db
def test_the_address_is_checked_again_when_delivering(webhook_settings, receiver):
    case, board = case_and_board()
    client, _ = writer()
    subscribe(client, receiver, "rebinding")
    m.Activity.objects.create(case=case, type="other", organisation=board)
    delivery = m.Delivery.objects.get(subscription__name="rebinding")
    webhook_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    retry_at = deliveries.attempt(delivery_id=delivery.pk, attempt=1)
    assert retry_at is not None and not receiver.tried("rebinding")
    delivery.refresh_from_db()
    assert "non-public address (127.0.0.1)" in delivery.last_error
    assert delivery.status == "pending" and delivery.attempts == 1


# --- (g) secret rotation ------------------------------------------------------------------


def test_rotation_signs_with_both_secrets_during_the_grace_period_then_the_new_only(live):
    receiver = live
    case, board = case_and_board()
    client, _ = writer()
    subscription_id, old = subscribe(client, receiver, "rotating")

    def change_and_receive():
        count = len(receiver.delivered("rotating"))
        m.Activity.objects.create(case=case, type="other", organisation=board)
        wait_for(lambda: len(receiver.delivered("rotating")) > count, "a message")
        return receiver.delivered("rotating")[-1:]

    assert verified(change_and_receive(), old)
    rotated = client.post(f"/api/v1/subscriptions/{subscription_id}/rotate-secret/")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and new.startswith("whsec_")
    during = change_and_receive()
    assert verified(during, old) and verified(during, new)
    assert len(during[0]["headers"]["webhook-signature"].split(" ")) == 2
    listed = client.get(f"/api/v1/subscriptions/{subscription_id}/").content.decode()
    assert old not in listed and new not in listed and "whsec_" not in listed
    m.Subscription.objects.filter(pk=subscription_id).update(
        previous_secret_expires=timezone.now() - timedelta(seconds=1))
    after = change_and_receive()
    assert verified(after, new)
    with pytest.raises(WebhookVerificationError):
        verified(after, old)


# --- (h) final failure, mail, redelivery --------------------------------------------------


def test_a_final_failure_is_marked_mailed_and_can_be_sent_again(live, webhook_settings):
    receiver = live
    webhook_settings.WEBHOOK_MAX_ATTEMPTS = 3
    webhook_settings.WEBHOOK_RETRY_BASE_SECONDS = 0.05
    case, board = case_and_board()
    client, _ = writer()
    subscription_id, secret = subscribe(client, receiver, "broken")
    receiver.answers["broken"] = lambda body: 500
    first = m.Activity.objects.create(case=case, type="other", organisation=board)
    second = m.Activity.objects.create(case=case, type="other", organisation=board)
    failed = wait_for(lambda: list(m.Delivery.objects.filter(
        subscription_id=subscription_id, status="failed")) if m.Delivery.objects.filter(
        subscription_id=subscription_id, status="failed").count() == 2 else None,
        "two final failures")
    assert all(d.attempts == 3 and d.last_status_code == 500 for d in failed)
    assert len(receiver.tried("broken")) == 6
    wait_for(lambda: len(mail.outbox) >= 2, "the mails")
    assert {tuple(message.to) for message in mail.outbox} == {("broken@example.se",)}
    assert str(failed[0].event_id) in mail.outbox[0].body or str(
        failed[1].event_id) in mail.outbox[0].body
    # The admin lists the failures.
    admin = APIClient()
    admin.force_login(superuser())
    listing = admin.get("/admin/cases/delivery/", {"status__exact": "failed"})
    assert listing.status_code == 200 and listing.content.count(b"broken") >= 2
    receiver.answers["broken"] = lambda body: 200
    by_record = {d.event.record_id: d for d in failed}
    # Sent again: one through the API, one through the admin's action.
    answer = client.post(f"/api/v1/subscriptions/{subscription_id}/deliveries/"
                         f"{by_record[first.pk].pk}/redeliver/")
    assert answer.status_code == 202, answer.content
    page = admin.post("/admin/cases/delivery/", {
        "action": "send_again", "_selected_action": [by_record[second.pk].pk]})
    assert page.status_code == 302
    wait_for(lambda: m.Delivery.objects.filter(subscription_id=subscription_id,
                                               status="delivered").count() == 2,
             "the redeliveries")
    assert len(verified(receiver.delivered("broken"), secret)) == 2
    log = client.get(f"/api/v1/subscriptions/{subscription_id}/deliveries/").json()
    assert {len(d["attempt_log"]) for d in log} == {4}
    assert {d["status"] for d in log} == {"delivered"}


# --- the runtime role and procrastinate's schema -----------------------------------------


@pytest.mark.django_db
def test_the_runtime_role_may_use_every_procrastinate_table_sequence_and_function():
    """The worker and the web (which defers jobs) run as the runtime role; procrastinate's
    schema is created by `migrate` as the owner, which grants the runtime role its rights."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, pg_has_role(current_user, 'caseregister_owner', "
                       "'USAGE')")
        role, is_owner = cursor.fetchone()
        assert not is_owner, role
        cursor.execute("""
            SELECT c.relname, c.relkind,
                   CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'USAGE')
                        ELSE has_table_privilege(c.oid, 'SELECT,INSERT,UPDATE,DELETE') END
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relname LIKE 'procrastinate%%'
               AND c.relkind IN ('r', 'S')""")
        relations = cursor.fetchall()
        cursor.execute("""
            SELECT p.proname, has_function_privilege(p.oid, 'EXECUTE') FROM pg_proc p
              JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%%'""")
        functions = cursor.fetchall()
    assert {kind for _, kind, _ in relations} == {"r", "S"} and len(functions) > 10
    assert [name for name, _, allowed in relations if not allowed] == []
    assert [name for name, allowed in functions if not allowed] == []
