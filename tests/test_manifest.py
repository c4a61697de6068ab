"""models_docs/manifest.yaml describes the files and agrees with the loaded register."""

import hashlib

import pytest
import yaml

from cases.models import Document
from cases.services.anchoring import DOCS_DIR

MANIFEST = yaml.safe_load((DOCS_DIR / "manifest.yaml").read_text(encoding="utf-8"))["documents"]


def test_the_manifest_lists_every_source_file_once():
    assert sorted(e["file"] for e in MANIFEST) == sorted(p.name for p in DOCS_DIR.glob("*.txt"))


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["file"])
def test_each_file_is_unchanged(entry):
    assert hashlib.sha256((DOCS_DIR / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]


@pytest.mark.django_db
@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["file"])
def test_the_loaded_document_matches_the_manifest(entry):
    document = Document.objects.select_related("case__municipality").get(source_file=entry["file"])
    assert document.sha256 == entry["sha256"]
    assert document.case.municipality.name == entry["municipality"]
    assert document.author_organisation.name == entry["body"]
    assert (document.recipient.name if document.recipient else None) == entry["addressed_to"]
    assert document.type == entry["document_type"]
    assert document.date == entry["date"]
    assert document.title == entry["title"]
    numbers = sorted(document.case.registration_numbers.values_list("number", flat=True))
    assert numbers == sorted(entry["registration_numbers"])
