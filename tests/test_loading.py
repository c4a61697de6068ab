"""Loading the register: idempotent, all or nothing."""

import re
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from cases.models import Case, Document, Organisation, Person
from cases.services.anchoring import anchor, read_document
from cases.services.audit import history
from cases.services.fixtures import (
    FIXTURES_DIR,
    FixtureError,
    load_register,
    record_id,
    register_is_empty,
)
from cases.services.tokens import issue_token

from .conftest import snapshot

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_loading_twice_changes_nothing():
    before = snapshot()
    result = load_register()
    assert result.changes == 0
    assert sum(result.unchanged.values()) > 300
    assert snapshot() == before


def test_load_command_reports_no_changes_on_a_loaded_register(capsys):
    call_command("load_register")
    assert "0 changes" in capsys.readouterr().out


def test_a_changed_fixture_updates_only_that_record(tmp_path):
    fixtures = _copy_fixtures(tmp_path)
    path = fixtures / "001_de9a6fb1c9e6677c.yaml"
    data = yaml.safe_load(path.read_text())
    person = next(r for r in data["records"] if r["key"] == "person/peter-bragner")
    person["fields"]["name"] = "Peter Bragner Test"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    # The same person in 000 still says "Peter Bragner": the loader refuses the conflict.
    with pytest.raises(FixtureError, match="conflicts"):
        load_register(directory=fixtures)
    assert Person.objects.get(pk=record_id("person/peter-bragner")).name == "Peter Bragner"


def _copy_fixtures(tmp_path):
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES_DIR, target)
    return target


def _add_records(path, *records):
    data = yaml.safe_load(path.read_text())
    data["records"].extend(records)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def _new_organisation(key, **fields):
    text = read_document("001_de9a6fb1c9e6677c.txt")
    return {
        "key": key,
        "fields": {"name": "Testnämnden", "type": "committee", **fields},
        "sources": [anchor(text, {"quote": "Utbildningsnämnden"})],
    }


@pytest.mark.parametrize("broken, message", [
    ({"key": "organisation/broken", "fields": {"name": "X", "type": "committee",
                                               "parent": "organisation/does-not-exist"}},
     "unknown record"),
    ({"key": "organisation/broken", "fields": {"name": "X", "type": "no-such-type"}},
     "type"),
    ({"key": "decisionpoint/broken", "fields": {"number": 1, "text": "x"}}, "decision"),
    ({"key": "nosuchmodel/broken", "fields": {}}, "unknown model"),
])
def test_a_fixture_with_an_error_loads_nothing(tmp_path, broken, message):
    fixtures = _copy_fixtures(tmp_path)
    good = _new_organisation("organisation/test-good", municipality="municipality/stockholm")
    broken.setdefault("sources", good["sources"])
    _add_records(fixtures / "001_de9a6fb1c9e6677c.yaml", good, broken)
    before = snapshot()
    with pytest.raises(FixtureError, match=message):
        load_register(directory=fixtures)
    assert not Organisation.objects.filter(pk=record_id("organisation/test-good")).exists()
    assert snapshot() == before


def test_a_passage_not_at_its_offsets_loads_nothing(tmp_path):
    fixtures = _copy_fixtures(tmp_path)
    record = _new_organisation("organisation/test-good", municipality="municipality/stockholm")
    record["sources"][0]["start"] += 1  # one character off
    _add_records(fixtures / "001_de9a6fb1c9e6677c.yaml", record)
    before = snapshot()
    with pytest.raises(FixtureError, match="not anchored"):
        load_register(directory=fixtures)
    assert snapshot() == before


def test_the_command_says_nothing_was_loaded(tmp_path):
    fixtures = _copy_fixtures(tmp_path)
    _add_records(fixtures / "001_de9a6fb1c9e6677c.yaml",
                 {"key": "organisation/x", "fields": {"name": "X"}, "sources": []})
    with pytest.raises(CommandError, match="Nothing loaded: organisation/x: no source passage"):
        call_command("load_register", fixtures=fixtures)


def test_a_record_dropped_from_the_fixtures_is_voided_not_deleted(tmp_path):
    fixtures = _copy_fixtures(tmp_path)
    path = fixtures / "000_aaf7615f121a1832.yaml"
    text = path.read_text().replace("person/per-tornvall", "person/per-tornvall-renamed")
    path.write_text(text)
    old = Person.objects.get(pk=record_id("person/per-tornvall"))
    result = load_register(directory=fixtures)
    old.refresh_from_db()
    assert old.voided_at is not None
    assert old.void_reason == "No longer in the seed fixtures."
    renamed = Person.objects.get(pk=record_id("person/per-tornvall-renamed"))
    assert renamed.name == old.name and renamed.voided_at is None
    assert result.created["person"] == 1
    assert load_register(directory=fixtures).changes == 0


def test_a_field_left_out_of_a_fixture_becomes_unknown_again(tmp_path):
    fixtures = _copy_fixtures(tmp_path)
    path = fixtures / "001_de9a6fb1c9e6677c.yaml"
    data = yaml.safe_load(path.read_text())
    document = next(r for r in data["records"] if r["key"].startswith("document/"))
    assert document["fields"].pop("date")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    load_register(directory=fixtures)
    assert Document.objects.get(pk=record_id(document["key"])).date is None


# --- demo data never undoes a registrar's work (issue 11, hole 1) ---------------------------

KS_638 = "case/stockholm-ks-2025-638"


def _registrar_opens_ks_638():
    """A registrar's change through the API (a token with write access): status → open."""
    _, key = issue_token(name="Diariet", can_write=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    url = f"/api/v1/cases/{record_id(KS_638)}/"
    response = client.patch(url, {"status": "open"}, format="json",
                            HTTP_IF_MATCH=client.get(url)["ETag"])
    assert response.status_code == 200, response.content
    return Case.objects.get(pk=record_id(KS_638))


def test_a_registrars_change_survives_loading_and_is_reported(tmp_path):
    case = _registrar_opens_ks_638()
    # The same load also brings a fixture change to a record only the loader has touched.
    fixtures = _copy_fixtures(tmp_path)
    path = fixtures / "001_de9a6fb1c9e6677c.yaml"
    data = yaml.safe_load(path.read_text())
    document = next(r for r in data["records"] if r["key"].startswith("document/"))
    assert document["fields"].pop("date")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))

    result = load_register(directory=fixtures)

    case.refresh_from_db()
    assert case.status == "open"  # the registrar's value, not the fixture's "unknown"
    assert [(c.key, c.fields, c.actor, c.via) for c in result.conflicts] == [
        (KS_638, ["status"], "token:Diariet", "api")]
    assert history(case).last().via == "api"  # the loader wrote nothing into it
    assert Document.objects.get(pk=record_id(document["key"])).date is None  # still loads
    assert result.updated["document"] == 1


def test_the_command_names_the_conflict_and_who_made_it(capsys):
    _registrar_opens_ks_638()
    call_command("load_register")
    out = capsys.readouterr().out
    assert f"conflict: {KS_638} (case {record_id(KS_638)}): status — last changed by " \
           "token:Diariet via api at" in out
    assert "0 changes" in out and "1 changed by others left as they are" in out
    assert Case.objects.get(pk=record_id(KS_638)).status == "open"


def test_a_record_a_registrar_changed_is_not_voided_when_dropped_from_the_fixtures(tmp_path):
    case = _registrar_opens_ks_638()
    fixtures = _copy_fixtures(tmp_path)
    path = fixtures / "000_aaf7615f121a1832.yaml"
    path.write_text(path.read_text().replace(KS_638, KS_638 + "-renamed"))
    result = load_register(directory=fixtures)
    case.refresh_from_db()
    assert case.voided_at is None and case.status == "open"
    assert [(c.pk, c.fields) for c in result.conflicts] == [(case.pk, ["voided"])]


def test_make_runs_load_leaves_a_register_with_records_alone(capsys):
    """`make run` loads the demo data only into an empty database (`--if-empty`)."""
    case = _registrar_opens_ks_638()
    Person.objects.filter(pk=record_id("person/peter-bragner")).update(name="Someone else")
    before = snapshot()
    call_command("load_register", if_empty=True)
    assert "demo data not loaded" in capsys.readouterr().out
    assert snapshot() == before
    assert not register_is_empty()
    case.refresh_from_db()
    assert case.status == "open"


def test_the_makefile_loads_demo_data_only_into_an_empty_database_or_on_request():
    makefile = (ROOT / "Makefile").read_text()
    recipes = dict(re.findall(r"^([a-z-]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M))
    loading = {target: recipe for target, recipe in recipes.items() if "load_register" in recipe}
    assert set(loading) == {"setup", "demo"}  # `make run` and `make test` go through setup
    assert "manage.py load_register --if-empty" in loading["setup"]
    assert "--if-empty" not in loading["demo"]
