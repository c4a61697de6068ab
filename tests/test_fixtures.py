"""The fixtures: every passage is really in its document, every record has one."""

from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.utils import translation

from cases.models import Case, Document, Provenance
from cases.services.anchoring import DOCS_DIR, anchor_file
from cases.services.fixtures import FIXTURES_DIR, read_fixtures, record_id, swedish_notes

SOURCE_FILES = sorted(p.name for p in DOCS_DIR.glob("*.txt"))
FIXTURE_FILES = sorted(FIXTURES_DIR.glob("*.yaml"))


def test_there_is_one_fixture_file_per_source_document():
    assert [p.stem for p in FIXTURE_FILES] == [Path(n).stem for n in SOURCE_FILES]
    assert len(SOURCE_FILES) == 5


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_passage_is_anchored_in_its_document(path):
    # Raises when any quote is not at its stored offsets or its context differs.
    assert anchor_file(path, write=False) == 0


@pytest.mark.django_db
def test_every_stored_passage_is_at_its_offsets_in_the_document():
    passages = Provenance.objects.select_related("document")
    assert passages.count() > 300
    for passage in passages:
        text = passage.document.text
        assert text[passage.start:passage.end] == passage.exact, passage
        assert text[:passage.start].endswith(passage.prefix), passage
        assert text[passage.end:].startswith(passage.suffix), passage
        source = (DOCS_DIR / passage.document.source_file).read_bytes().decode("utf-8")
        assert source[passage.start:passage.end] == passage.exact


@pytest.mark.django_db
@pytest.mark.parametrize("name", SOURCE_FILES)
def test_every_source_document_has_a_document_and_a_case(name):
    document = Document.objects.get(source_file=name)
    assert isinstance(document.case, Case)
    assert document.text == (DOCS_DIR / name).read_bytes().decode("utf-8")
    assert document.passages.exists()


@pytest.mark.django_db
def test_every_loaded_record_has_a_source_passage():
    records = read_fixtures()
    with_passage = set(Provenance.objects.values_list("content_type", "object_id"))
    for key, record in records.items():
        content_type = ContentType.objects.get_for_model(record.model)
        assert (content_type.pk, record_id(key)) in with_passage, key


@pytest.mark.django_db
def test_every_model_holds_seed_records():
    from cases.models import ApiToken, Delivery, DeliveryAttempt, Subscription

    # Tokens are issued and webhook subscriptions made by other systems, not seeded.
    issued = (ApiToken, Subscription, Delivery, DeliveryAttempt)
    empty = [m.__name__ for m in apps.get_app_config("cases").get_models()
             if not m.objects.exists() and m not in issued]
    assert empty == []


def test_every_note_has_its_swedish_wording_and_no_wording_lacks_its_note():
    notes = {source["note"] for record in read_fixtures().values()
             for source in record.sources if source.get("note")}
    wordings = swedish_notes()
    assert notes, "the fixtures hold notes"
    assert sorted(notes - set(wordings)) == [], "notes without a Swedish wording"
    assert sorted(set(wordings) - notes) == [], "Swedish wordings of notes no longer written"
    assert all(wordings[note].strip() for note in notes)


@pytest.mark.django_db
def test_the_swedish_admin_reads_a_note_in_swedish_and_the_english_one_in_english():
    passage = Provenance.objects.exclude(note="").first()
    assert passage.note_sv == swedish_notes()[passage.note]
    with translation.override("sv"):
        assert (passage.local_note, passage.note_language) == (passage.note_sv, "sv")
    with translation.override("en"):
        assert (passage.local_note, passage.note_language) == (passage.note, "en")
