"""A Python client generated from openapi.yaml works against the API over real HTTP.

The client is generated with openapi-python-client (as `make clients` does), installed into a
temporary directory and used against pytest-django's live server: list, filter, follow pages,
expand, follow the change feed, create a case and a motion with its authors and proposals,
change it with If-Match, and be told of both changes by a verified webhook. If the client
cannot parse a response, the committed schema promises something the API does not return.
(tests/test_clients.py type-checks this client and runs a TypeScript one.)
"""

import datetime
import importlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from cases import models as m
from cases.services.fixtures import load_register
from cases.services.tokens import issue_token

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "caseregister_client"
CONFIG = f"""\
project_name_override: caseregister-client
package_name_override: {PACKAGE}
post_hooks: []
"""


def run(*command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command[:5])} ...:\n{result.stdout}{result.stderr}"


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The generated package, imported from a private site directory (removed afterwards)."""
    tmp = tmp_path_factory.mktemp("client")
    (tmp / "config.yaml").write_text(CONFIG)
    run(sys.executable, "-m", "openapi_python_client", "generate",
        "--path", str(ROOT / "openapi.yaml"), "--output-path", str(tmp / "project"),
        "--meta", "setup", "--config", str(tmp / "config.yaml"), "--fail-on-warning", cwd=tmp)
    # No build isolation: the project's own setuptools builds it, so no download is needed.
    run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "--target", str(tmp / "site"), str(tmp / "project"), cwd=tmp)
    sys.path.insert(0, str(tmp / "site"))
    try:
        yield SimpleNamespace(**{
            name: importlib.import_module(f"{PACKAGE}.{module}")
            for name, module in [
                ("client", "client"), ("models", "models"), ("types", "types"),
                ("cases_list", "api.cases.cases_list"),
                ("cases_changes", "api.cases.cases_changes"),
                ("cases_create", "api.cases.cases_create"),
                ("cases_partial_update", "api.cases.cases_partial_update"),
                ("motions_create", "api.motions.motions_create"),
                ("motions_retrieve", "api.motions.motions_retrieve"),
                ("cases_retrieve", "api.cases.cases_retrieve"),
                ("cases_timeline", "api.cases.cases_timeline"),
                ("cases_links", "api.cases.cases_links"),
                ("search", "api.search.search"),
                ("documents_list", "api.documents.documents_list"),
                ("motions_partial_update", "api.motions.motions_partial_update"),
                ("subscriptions_create", "api.subscriptions.subscriptions_create"),
            ]
        })
    finally:
        sys.path.remove(str(tmp / "site"))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture(scope="module", autouse=True)
def reload_register_afterwards(django_db_setup, django_db_blocker):
    """live_server tests end like a TransactionTestCase, by emptying every table: load the
    seed register again for the tests that come after this module."""
    yield
    with django_db_blocker.unblock():
        load_register()


@pytest.fixture
def api(live_server, lib):
    load_register()  # an earlier live_server test may have emptied the tables
    # The live server's middleware was built with production's SECURE_SSL_REDIRECT (the
    # conftest's plain_http reaches only the test client), so the client talks to it as a
    # TLS-terminating proxy forwards requests (SECURE_PROXY_SSL_HEADER).
    client = lib.client.Client(base_url=f"{live_server.url}/api/v1",
                               headers={"X-Forwarded-Proto": "https"},
                               raise_on_unexpected_status=True)
    with client as api:
        yield api


@pytest.fixture
def writer(live_server, lib, api):
    """A client system whose token may write."""
    _, key = issue_token(name="Genererad klient", can_write=True)
    client = lib.client.AuthenticatedClient(
        base_url=f"{live_server.url}/api/v1", token=key, prefix="Token",
        headers={"X-Forwarded-Proto": "https"}, raise_on_unexpected_status=True)
    with client as writer:
        yield writer


@pytest.fixture
def skottland(api):
    return m.Case.objects.get(registration_numbers__number="KS 2025/638")


def test_filter_cases_by_registration_number(api, lib, skottland):
    page = lib.cases_list.sync(client=api, registration_number="KS 2025/638")
    assert isinstance(page, lib.models.PaginatedCaseList)
    assert [case.id for case in page.results] == [skottland.id]
    case = page.results[0]
    assert case.title == skottland.title
    assert "KS 2025/638" in [number.number for number in case.registration_numbers]
    assert isinstance(case.municipality, lib.models.MunicipalityBrief)
    assert page.count == 1 and page.count_is_exact and page.next_ is None


def test_expanded_case_embeds_full_documents_and_motions(api, lib, skottland):
    expand = lib.models.CasesRetrieveExpandItem  # the schema enumerates expand's values
    case = lib.cases_retrieve.sync(str(skottland.id), client=api,
                                   expand=[expand.DOCUMENTS, expand.MOTIONS])
    assert isinstance(case, lib.models.Case)
    # A full record that did not parse as such would quietly fall back to its brief form.
    assert all(isinstance(d, lib.models.Document) for d in case.documents)
    assert all(isinstance(mo, lib.models.Motion) for mo in case.motions)
    assert sorted(d.title for d in case.documents) == sorted(
        skottland.documents.values_list("title", flat=True))
    assert "Motion om att införa Skottlandsmodellen" in [d.title for d in case.documents]
    assert [mo.id for mo in case.motions] == list(skottland.motions.values_list("id", flat=True))
    assert isinstance(case.referrals, lib.types.Unset)  # not expanded, so not sent


def test_sync_pages_reach_every_case_exactly_once(api, lib):
    since = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    seen, cursor, pages = [], lib.types.UNSET, 0
    while True:
        page = lib.cases_changes.sync(client=api, page_size=2, modified_since=since,
                                      cursor=cursor)
        assert len(page.results) <= 2
        seen += [case.id for case in page.results]
        pages += 1
        if page.next_ is None:
            break
        assert urlsplit(page.next_).netloc == urlsplit(api._base_url).netloc
        (cursor,) = parse_qs(urlsplit(page.next_).query)["cursor"]
    total = m.Case.objects.count()
    assert total >= 3  # several pages
    assert len(seen) == len(set(seen)) == total
    assert set(seen) == set(m.Case.objects.values_list("id", flat=True))
    assert pages == -(-total // 2)


def test_search_finds_jan_jonsson_without_the_diacritic(api, lib):
    result = lib.search.sync(client=api, q="Jonsson")
    assert result.q == "Jonsson"
    people = [hit for hit in result.results if hit.type_.value == "people"]
    assert "Jan Jönsson" in [hit.title for hit in people]
    hit = next(hit for hit in people if hit.title == "Jan Jönsson")
    assert hit.id == m.Person.objects.get(name="Jan Jönsson").id


def test_timeline_and_links_are_plain_lists(api, lib, skottland):
    events = lib.cases_timeline.sync(str(skottland.id), client=api)
    assert events and all(isinstance(e, lib.models.TimelineEvent) for e in events)
    links = lib.cases_links.sync(str(skottland.id), client=api)
    assert links and all(isinstance(link, lib.models.DirectedLink) for link in links)
    assert {link.direction for link in links} <= {"outgoing", "incoming"}


def test_sync_delivers_voided_cases_as_tombstones(api, lib, skottland):
    m.Case.objects.filter(pk=skottland.pk).update(
        voided_at=datetime.datetime.now(datetime.UTC), void_reason="Dubblett")
    since = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    page = lib.cases_changes.sync(client=api, modified_since=since, page_size=500)
    tombstones = [r for r in page.results if not isinstance(r, lib.models.Case)]
    assert all(isinstance(t, lib.models.Tombstone) for t in tombstones)
    assert [t.id for t in tombstones] == [skottland.id]
    assert tombstones[0].voided is True
    live = lib.cases_list.sync(client=api, page_size=500)
    assert skottland.id not in [case.id for case in live.results]


def test_filter_by_natural_keys_and_follow_next(api, lib, skottland):
    """A case's documents by its registration number as typed (any case and spacing), cases
    by a municipality's name without its diacritic, every page reached through ``next``."""
    page = lib.documents_list.sync(client=api, case="ks2025/638", page_size=500)
    assert sorted(d.id for d in page.results) == sorted(
        skottland.documents.filter(voided_at__isnull=True).values_list("id", flat=True))
    assert page.results and all(d.case.id == skottland.id for d in page.results)
    malmo = lib.cases_list.sync(client=api, municipality="malmo", page_size=500)
    expected = set(m.Case.objects.filter(municipality__name="Malmö", voided_at__isnull=True)
                   .values_list("id", flat=True))
    assert expected and {case.id for case in malmo.results} == expected
    assert all(case.municipality.display.startswith("Malmö") for case in malmo.results)
    seen, cursor = [], lib.types.UNSET
    while True:
        page = lib.documents_list.sync(client=api, page_size=2, cursor=cursor)
        assert len(page.results) <= 2
        seen += [document.id for document in page.results]
        if page.next_ is None:
            break
        (cursor,) = parse_qs(urlsplit(page.next_).query)["cursor"]
    live = m.Document.objects.filter(voided_at__isnull=True)
    assert live.count() > 4  # three pages or more
    assert len(seen) == len(set(seen)) and set(seen) == set(live.values_list("id", flat=True))


def motion_messages(receiver, secret, motion_id) -> list[dict]:
    """The verified (Standard Webhooks) messages the receiver took about ``motion_id``, in
    order of arrival, once each (delivery is at least once)."""
    from .test_webhooks import verified

    messages, seen = [], set()
    for message in verified(receiver.delivered("register"), secret):
        if message["data"]["id"] == str(motion_id) and message["webhook_id"] not in seen:
            seen.add(message["webhook_id"])
            messages.append(message)
    return messages


def test_a_generated_client_builds_a_motion_with_its_authors_and_proposals(
        webhook_worker, writer, lib, skottland):
    """The issue's done-when: a client subscribes to the register's webhooks, builds a motion
    in one POST (the parts nested, references by natural key), changes it with If-Match (a
    title and its parts), and is told of both changes by verified webhooks, in order."""
    from .test_webhooks import wait_for

    receiver = webhook_worker
    subscribed = lib.subscriptions_create.sync(client=writer, body=lib.models.SubscriptionRequest(
        name="register", callback_url=receiver.url("register"),
        collections=[lib.models.CollectionsEnum.MOTIONS]))
    assert isinstance(subscribed, lib.models.CreatedSubscription)
    assert subscribed.secret.startswith("whsec_")
    body = lib.models.MotionWriteRequest(
        case="ks2025/638", title="Motion om fler fritidsgårdar",
        authors=[lib.models.MotionAuthorWriteRequest(position=1, person="Jan Jonsson",
                                                     party="L"),
                 lib.models.MotionAuthorWriteRequest(position=2, person="Anne-Lie Elfvén")],
        proposals=[lib.models.MotionProposalWriteRequest(text="att utreda fritidsgårdar",
                                                         number=1)])
    made = lib.motions_create.sync_detailed(client=writer, body=body)
    motion = made.parsed
    assert made.status_code == 201 and isinstance(motion, lib.models.Motion)
    assert motion.case.id == skottland.id
    assert [(a.position, a.person.display) for a in motion.authors] == [
        (1, "Jan Jönsson"), (2, "Anne-Lie Elfvén")]
    assert motion.authors[0].party is not None and motion.authors[1].party is None
    assert [(p.number, p.text) for p in motion.proposals] == [(1, "att utreda fritidsgårdar")]
    stored = m.Motion.objects.get(pk=motion.id)
    assert [a.person.name for a in stored.authors.filter(voided_at__isnull=True)
            .order_by("position")] == ["Jan Jönsson", "Anne-Lie Elfvén"]

    # The change: a new title, the first proposal reworded (by its id), a second added, the
    # second author left out (voided).
    first = motion.proposals[0]
    changed = lib.motions_partial_update.sync_detailed(
        str(motion.id), client=writer, if_match=made.headers["ETag"],
        body=lib.models.PatchedMotionWriteRequest(
            title="Motion om fritidsgårdar",
            authors=[lib.models.MotionAuthorWriteRequest(
                id=motion.authors[0].id, position=1, person="Jan Jönsson", party="L")],
            proposals=[lib.models.MotionProposalWriteRequest(
                           id=first.id, number=1, text="att bygga fritidsgårdar"),
                       lib.models.MotionProposalWriteRequest(
                           number=2, text="att öppna dem på helger")]))
    assert changed.status_code == 200, changed.content
    assert changed.parsed.title == "Motion om fritidsgårdar"
    assert [(p.number, p.text) for p in changed.parsed.proposals] == [
        (1, "att bygga fritidsgårdar"), (2, "att öppna dem på helger")]
    assert changed.parsed.proposals[0].id == first.id
    assert [a.person.display for a in changed.parsed.authors] == ["Jan Jönsson"]
    assert changed.headers["ETag"] != made.headers["ETag"]
    stale = lib.motions_partial_update.sync_detailed(
        str(motion.id), client=writer, if_match=made.headers["ETag"],
        body=lib.models.PatchedMotionWriteRequest(title="Förlorad ändring"))
    assert stale.status_code == 412 and isinstance(stale.parsed, lib.models.Problem)

    # Told of every change (the parts' changes are updates of the motion too), each message
    # signed with the secret given once, in the order of the changes.
    events = m.Event.objects.filter(record_id=motion.id, deliveries__subscription_id=subscribed.id)
    expected = [str(pk) for pk in events.order_by("audit_entry_id", "pk").values_list(
        "pk", flat=True)]
    assert len(expected) >= 2
    messages = wait_for(
        lambda: (found := motion_messages(receiver, subscribed.secret, motion.id))
        and len(found) >= len(expected) and found, "the motion's webhooks")
    assert [msg["webhook_id"] for msg in messages] == expected
    assert [msg["type"] for msg in messages] == ["se.caseregister.motion.created"] + [
        "se.caseregister.motion.updated"] * (len(expected) - 1)
    assert all(msg["subject"] == str(motion.id) for msg in messages)
    assert all(msg["data"]["case"]["id"] == str(skottland.id) for msg in messages)
    changed_fields = {name for msg in messages[1:] for name in msg["data"]["changed_fields"]}
    assert {"title", "proposals", "authors"} <= changed_fields, changed_fields


def test_list_results_are_records(api, lib):
    """The plain list is typed as records (no tombstone to narrow away)."""
    page = lib.cases_list.sync(client=api, page_size=500)
    assert page.results and all(isinstance(case, lib.models.Case) for case in page.results)


def test_create_a_case_and_a_motion_then_change_it_with_if_match(writer, lib):
    """Register a case in KS's series (municipality and organisation by natural key), put a
    motion with an author and a proposal on it, change the case's title with the ETag it was
    created with; a stale ETag is refused (412)."""
    ks = m.Case.objects.get(registration_numbers__number="KS 2025/638").registration_numbers.get(
        number="KS 2025/638").organisation
    created = lib.cases_create.sync_detailed(client=writer, body=lib.models.CaseRegistrationRequest(
        title="Medborgarförslag om fler parkbänkar", municipality=ks.municipality.name,
        registering_organisation=ks.short_name, year=2026))  # natural keys
    case = created.parsed
    assert created.status_code == 201 and isinstance(case, lib.models.Case)
    assert case.registration_numbers[0].number.startswith("KS 2026/")
    made = lib.motions_create.sync_detailed(client=writer, body=lib.models.MotionWriteRequest(
        case=str(case.id), title="Motion om fler parkbänkar",
        authors=[lib.models.MotionAuthorWriteRequest(position=1, person="Jan Jönsson")],
        proposals=[lib.models.MotionProposalWriteRequest(text="att ställa ut parkbänkar")]))
    motion = made.parsed
    assert made.status_code == 201 and isinstance(motion, lib.models.Motion)
    assert motion.case.id == case.id
    assert [a.person.display for a in motion.authors] == ["Jan Jönsson"]
    assert [(p.number, p.text) for p in motion.proposals] == [(None, "att ställa ut parkbänkar")]
    changed = lib.cases_partial_update.sync_detailed(
        str(case.id), client=writer, if_match=created.headers["ETag"],
        body=lib.models.PatchedCaseWriteRequest(title="Medborgarförslag om parkbänkar"))
    assert changed.status_code == 200
    assert changed.parsed.title == "Medborgarförslag om parkbänkar"
    assert changed.headers["ETag"] != created.headers["ETag"]
    stale = lib.cases_partial_update.sync_detailed(
        str(case.id), client=writer, if_match=created.headers["ETag"],
        body=lib.models.PatchedCaseWriteRequest(title="Förlorad ändring"))
    assert stale.status_code == 412 and isinstance(stale.parsed, lib.models.Problem)
    assert m.Case.objects.get(pk=case.id).title == "Medborgarförslag om parkbänkar"
