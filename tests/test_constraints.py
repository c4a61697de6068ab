"""The database itself refuses bad data, whatever code path writes it."""

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from cases.models import (
    Case,
    Decision,
    DecisionPoint,
    Document,
    Organisation,
    Provenance,
    Referral,
    RegistrationNumber,
)
from cases.services.fixtures import record_id

pytestmark = pytest.mark.django_db


def refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


@pytest.fixture
def case():
    return Case.objects.get(registration_numbers__number="KS 2025/638")


def test_a_registration_number_is_unique_per_organisation(case):
    number = RegistrationNumber.objects.get(number="KS 2025/638")
    refused(lambda: RegistrationNumber.objects.create(
        case=case, organisation=number.organisation, number="KS 2025/638"))
    other = Organisation.objects.get(pk=record_id("organisation/stockholm-utbildningsnamnden"))
    # The same text in another organisation's register is a different number.
    RegistrationNumber.objects.create(case=case, organisation=other, number="KS 2025/638")


def test_a_due_date_before_the_received_date_is_refused(case):
    def create(received, due):
        return Referral.objects.create(case=case, title="Remiss", received_date=received,
                                       due_date=due)

    refused(lambda: create(datetime.date(2025, 9, 1), datetime.date(2025, 8, 31)))
    assert create(datetime.date(2025, 9, 1), datetime.date(2025, 9, 1)).pk
    assert create(None, datetime.date(2025, 9, 1)).pk  # an unknown received date is allowed


def test_point_numbers_are_unique_within_a_decision(case):
    decision = Decision.objects.filter(case=case, points__isnull=False).distinct().first()
    taken = decision.points.first()
    refused(lambda: DecisionPoint.objects.create(decision=decision, number=taken.number,
                                                 text="En punkt till"))
    other = Decision.objects.exclude(pk=decision.pk).first()
    DecisionPoint.objects.create(decision=other, number=99, text="Annan punkt")
    refused(lambda: DecisionPoint.objects.create(decision=decision, number=0, text="Noll"))


def test_a_passage_must_span_exactly_its_quote(case):
    document = Document.objects.filter(case=case).first()
    refused(lambda: Provenance.objects.create(
        content_type=ContentType.objects.get_for_model(Case), object_id=case.pk, document=document,
        exact="Beslutet", start=10, end=20))


def test_a_referenced_record_cannot_be_deleted_while_in_use(case):
    organisation = RegistrationNumber.objects.get(number="KS 2025/638").organisation
    with pytest.raises(ProtectedError):
        organisation.delete()
