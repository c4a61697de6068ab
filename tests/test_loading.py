"""Loading the register: idempotent, all or nothing."""

import shutil

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from cases.models import Document, Organisation, Person
from cases.services.anchoring import anchor, read_document
from cases.services.fixtures import FIXTURES_DIR, FixtureError, load_register, record_id

from .conftest import snapshot

pytestmark = pytest.mark.django_db


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
