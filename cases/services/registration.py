"""Registering cases: the one place registration numbers are allocated (API and admin)."""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from cases.models import (
    Case,
    ConsultedBody,
    Direction,
    Document,
    DocumentType,
    Motion,
    Organisation,
    Referral,
    RegistrationNumber,
    ResponseStatus,
)
from cases.services.records import create_record

# Namespace of the advisory locks that serialise allocation within one series.
LOCK_NAMESPACE = 4_242


def series_label(organisation: Organisation) -> str:
    """The prefix of the organisation's series, its short name (KS in KS 2026/1)."""
    if not organisation.short_name:
        raise ValueError(f"{organisation} has no short name to number its series with")
    return organisation.short_name


def allocate_number(*, organisation: Organisation, year: int) -> tuple[str, int]:
    """Next number in the organisation's series for the year, e.g. ("KS 2026/3", 3).

    Must run inside the transaction that stores it: the advisory lock is held until that
    transaction ends, so parallel registrations queue and get consecutive numbers, and a
    rolled-back registration leaves no gap.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                       [LOCK_NAMESPACE, f"{organisation.pk}:{year}"])
    last = RegistrationNumber.objects.filter(organisation=organisation, year=year).aggregate(
        last=Max("serial"))["last"] or 0
    serial = last + 1
    return f"{series_label(organisation)} {year}/{serial}", serial


@transaction.atomic
def register_case(*, registering_organisation: Organisation, year: int | None = None,
                  user=None, **fields) -> Case:
    """Create a case (``cases.services.records.create_record``, under the same rules, for
    ``user``) and give it the next registration number of the organisation's series: the
    one place a number is written (the numbering rule of ``cases.policies``). The case is
    registered today unless ``fields`` give its ``registered`` date."""
    year = year or timezone.localdate().year
    fields.setdefault("registered", timezone.localdate())
    if not 1900 <= year <= datetime.date.today().year + 1:
        raise ValueError("year out of range")
    case = create_record(model=Case, values=fields, user=user)
    number, serial = allocate_number(organisation=registering_organisation, year=year)
    registration = RegistrationNumber(case=case, organisation=registering_organisation,
                                      number=number, year=year, serial=serial)
    registration.full_clean()
    registration.save()
    return case


@dataclass(frozen=True)
class Registered:
    """What registering an incoming document created."""

    case: Case
    number: str  # the registration number the case got (new cases) or already had
    document: Document
    record: Motion | Referral | None  # the motion or referral the document carries


@transaction.atomic
def register_incoming(*, document_type: str, title: str, received_date: datetime.date,
                      sender: Organisation | None = None, case: Case | None = None,
                      registering_organisation: Organisation | None = None,
                      addressed_to: Organisation | None = None,
                      consulted: Iterable[Organisation] = (),
                      due_date: datetime.date | None = None, owner=None,
                      sender_name: str = "", sender_address: str = "",
                      confidential: bool = False, confidentiality_basis: str = "",
                      public_title: str = "") -> Registered:
    """Register an incoming document in one step (the registrar's daily work).

    Without ``case`` a new case is registered in ``registering_organisation``'s series for
    the received year (registered on the received date), handled by ``owner`` (a user) when
    given. The sender is a body or company (``sender``) or a private person (``sender_name``,
    ``sender_address``: personal data, ``cases.confidentiality.PERSONAL``). A
    ``confidential`` document makes a new case confidential too, on the same basis and with
    the same public title. The document is stored as incoming; a motion also becomes a Motion
    record, a referral a Referral with its consulted bodies (pending, due ``due_date``).
    """
    if case is None:
        if registering_organisation is None:
            raise ValueError("a new case needs a registering organisation")
        secrecy = ({"confidential": True, "confidentiality_basis": confidentiality_basis,
                    "public_title": public_title} if confidential else {})
        case = register_case(registering_organisation=registering_organisation,
                             year=received_date.year, title=title, registered=received_date,
                             municipality=registering_organisation.municipality,
                             responsible_organisation=registering_organisation, owner=owner,
                             **secrecy)
    number = case.registration_numbers.order_by("created", "number").values_list(
        "number", flat=True).first() or ""
    document = _created(Document(case=case, title=title, type=document_type,
                                 direction=Direction.INCOMING, date=received_date,
                                 author_organisation=sender, sender_name=sender_name,
                                 sender_address=sender_address, confidential=confidential,
                                 confidentiality_basis=confidentiality_basis,
                                 public_title=public_title,
                                 recipient=registering_organisation))
    record = None
    if document_type == DocumentType.MOTION:
        record = _created(Motion(case=case, title=title, addressed_to=addressed_to,
                                 date=received_date))
    elif document_type == DocumentType.REFERRAL:
        record = _created(Referral(case=case, title=title, sender=sender,
                                   received_date=received_date, due_date=due_date))
        for organisation in consulted:
            _created(ConsultedBody(referral=record, organisation=organisation,
                                   response_status=ResponseStatus.PENDING, due_date=due_date))
    return Registered(case=case, number=number, document=document, record=record)


def _created(record):
    """``record`` (unsaved) created through the one write path, by the system: the admin
    view that registers checked the registrar's permission."""
    return create_record(model=type(record), values={
        f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields
        if f.editable}, user=None)
