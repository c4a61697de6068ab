"""Each record's withheld status on its row (``withheld``, migration 0025), kept by triggers,
agrees with the rule of ``cases.confidentiality`` after every kind of write: a case or a
document made confidential or public again with ``QuerySet.update``, a record marked public,
a document moved to another case, a part inserted before the record it belongs to (foreign
keys are checked at commit).

The rule is written out here once more, in Python over loaded records (own flag; else not
marked public and a parent withheld), and every row of every table that carries the column is
compared with it.
"""

import importlib
import uuid

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper, Q

from cases import confidentiality as c
from cases import models as m
from cases.models.base import ChangeXid

pytestmark = pytest.mark.django_db
MIGRATION = importlib.import_module("cases.migrations.0025_withheld_column")


def rule(record, cache: dict) -> bool:
    key = (type(record), record.pk)
    if key not in cache:
        name = type(record).__name__
        withheld = getattr(record, c.OWN_FLAG, False) is True
        if not withheld and getattr(record, c.PUBLIC_MARK, False) is not True:
            withheld = any(
                getattr(record, f"{parent}_id") is not None
                and rule(getattr(record, parent), cache)
                for parent in c.PARENTS.get(name, ()))
        cache[key] = withheld
    return cache[key]


def disagreements() -> list:
    cache: dict = {}
    found = []
    for name in sorted(c.ROW_FLAG):
        model = apps.get_model("cases", name)
        rows = model._base_manager.annotate(stored=c.withheld_expression(model)) \
            if name != "Provenance" else model._base_manager.annotate(
                stored=ExpressionWrapper(Q(c.Withheld()), output_field=BooleanField()))
        for record in rows.select_related(*c.PARENTS.get(name, ())):
            if record.stored != rule(record, cache):
                found.append((name, record.pk, record.stored))
    return found


SECRET = {"confidential": True, "confidentiality_basis": "OSL 26 kap. 1 §",
          "public_title": "Ärende inom socialtjänsten"}


@pytest.fixture
def secret():
    """A case of the seed register made confidential (the seed has none)."""
    case = m.Case.objects.filter(documents__isnull=False).first()
    m.Case.objects.filter(pk=case.pk).update(**SECRET)
    return case


def test_the_migration_knows_every_model_that_carries_the_column():
    assert set(MIGRATION.TABLES) == {name.lower() for name in c.ROW_FLAG}
    for name in c.ROW_FLAG:
        model = apps.get_model("cases", name)
        own, marked, parents = MIGRATION.TABLES[name.lower()]
        assert (own is not None) == c._has(model, c.OWN_FLAG), name
        assert marked == c._has(model, c.PUBLIC_MARK), name
        assert [column for column, _ in parents] == [
            model._meta.get_field(p).column for p in c.PARENTS.get(name, ())], name
        assert [table for _, table in parents] == [
            model._meta.get_field(p).related_model.__name__.lower()
            for p in c.PARENTS.get(name, ())], name


def test_the_loaded_register_agrees_with_the_rule(secret):
    assert m.Document.objects.filter(case=secret).filter(c.withheld_q(m.Document)).exists()
    assert disagreements() == []


def test_a_case_made_confidential_and_public_again_withholds_and_frees_its_subtree():
    case = m.Case.objects.filter(confidential=False, documents__decisions__isnull=False,
                                 referrals__isnull=False).distinct().first()
    m.Case.objects.filter(pk=case.pk).update(**SECRET)
    assert m.Decision.objects.filter(document__case=case).filter(
        c.withheld_q(m.Decision)).exists()
    assert disagreements() == []
    m.Case.objects.filter(pk=case.pk).update(confidential=False)
    assert disagreements() == []


def test_marking_public_a_document_moving_it_and_flagging_it_each_agree(secret):
    document = m.Document.objects.filter(case=secret).first()
    m.Document.objects.filter(pk=document.pk).update(marked_public=True)
    assert disagreements() == []
    public_case = m.Case.objects.filter(confidential=False).first()
    m.Document.objects.filter(pk=document.pk).update(marked_public=False, case=public_case)
    assert disagreements() == []
    decided = m.Document.objects.filter(decisions__isnull=False, confidential=False).first()
    m.Document.objects.filter(pk=decided.pk).update(
        confidential=True, confidentiality_basis="OSL 26 kap. 1 §", public_title="Bilaga")
    assert m.Decision.objects.filter(document=decided).filter(
        c.withheld_q(m.Decision)).exists()
    assert disagreements() == []


def test_a_part_inserted_before_its_confidential_record_is_withheld():
    case_id = uuid.uuid4()
    with connection.cursor() as cursor:  # foreign keys are checked at commit
        cursor.execute(
            "INSERT INTO cases_registrationnumber (id, case_id, number, organisation_id, year, "
            "serial, created, modified, void_reason, voided_by) SELECT %s, %s, 'KS 2099/1', "
            "organisation_id, 2099, 1, now(), now(), '', '' FROM cases_registrationnumber "
            "LIMIT 1", [uuid.uuid4(), case_id])
        cursor.execute(
            "INSERT INTO cases_case (id, title, description, public_title, confidential, "
            "confidentiality_basis, status, municipality_id, responsible_organisation_id, "
            "created, modified, void_reason, voided_by) SELECT %s, 'Hemligt', '', 'Ärende', true, "
            "'OSL 26:1', status, municipality_id, responsible_organisation_id, now(), now(), "
            "'', '' FROM cases_case LIMIT 1", [case_id])
    assert m.RegistrationNumber.objects.filter(case_id=case_id).filter(
        c.withheld_q(m.RegistrationNumber)).count() == 1
    assert disagreements() == []


def test_a_change_of_confidentiality_is_not_a_new_version_of_what_it_masks():
    case = m.Case.objects.filter(confidential=False, registration_numbers__isnull=False,
                                 documents__signatories__isnull=False).distinct().first()
    documents = dict(m.Document.objects.filter(case=case).values_list("pk", "version"))
    before = m.Case.objects.values_list("version", flat=True).get(pk=case.pk)
    m.Case.objects.filter(pk=case.pk).update(**SECRET)
    assert m.Case.objects.values_list("version", flat=True).get(pk=case.pk) == before + 1
    assert dict(m.Document.objects.filter(case=case).values_list("pk", "version")) == documents
    # ... while the records it masks come again in the sync feed (0018).
    stamps = m.Document.objects.filter(case=case).annotate(x=ChangeXid()).values_list(
        "x", flat=True)
    case_stamp = m.Case.objects.annotate(x=ChangeXid()).values_list("x", flat=True).get(
        pk=case.pk)
    assert set(stamps) == {case_stamp}
