"""Parallel clients over real HTTP: no duplicate or missing numbers, no lost updates."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from cases import models as m
from cases.services.fixtures import load_register
from cases.services.tokens import issue_token


@pytest.fixture(scope="module", autouse=True)
def reload_register_afterwards(django_db_setup, django_db_blocker):
    """live_server tests end by emptying every table: load the seed register again."""
    yield
    with django_db_blocker.unblock():
        load_register()


@pytest.fixture
def api(live_server):
    load_register()  # an earlier live_server test may have emptied the tables
    _, key = issue_token(name="Parallellt system", can_write=True)
    headers = {"Authorization": f"Token {key}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as client:
        yield client


def in_parallel(count, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def test_50_parallel_registrations_get_50_consecutive_numbers(api):
    stockholm = m.Municipality.objects.get(code="0180")
    board = m.Organisation.objects.create(name="Testnämnden", short_name="TN", type="committee",
                                          municipality=stockholm)

    def register(i):
        return api.post("/api/v1/cases/", json={
            "title": f"Ärende {i}", "municipality": str(stockholm.pk),
            "registering_organisation": str(board.pk), "year": 2026})

    responses = in_parallel(50, register)
    assert [r.status_code for r in responses] == [201] * 50
    numbers = sorted(r.json()["registration_numbers"][0]["number"] for r in responses)
    assert numbers == sorted(f"TN 2026/{n}" for n in range(1, 51))
    stored = m.RegistrationNumber.objects.filter(organisation=board, year=2026)
    assert sorted(stored.values_list("serial", flat=True)) == list(range(1, 51))


def test_20_parallel_updates_with_one_etag_give_one_winner(api):
    case = m.Case.objects.get(registration_numbers__number="KS 2025/638")
    url = f"/api/v1/cases/{case.pk}/"
    etag = api.get(url).headers["ETag"]

    def update(i):
        return api.patch(url, json={"description": f"Version {i}"},
                         headers={"If-Match": etag})

    responses = in_parallel(20, update)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [412] * 19
    winner = next(r for r in responses if r.status_code == 200).json()
    stored = m.Case.objects.get(pk=case.pk)
    assert stored.description == winner["description"]
    assert stored.description.startswith("Version ")
    assert all(r.headers["Content-Type"] == "application/problem+json"
               for r in responses if r.status_code == 412)
    updates = m.AuditEntry.objects.filter(object_id=case.pk, action="update")
    assert updates.count() == 1
