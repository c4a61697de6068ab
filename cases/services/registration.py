"""Registering cases: the one place registration numbers are allocated (API and admin)."""

import datetime

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from cases.models import Case, Organisation, RegistrationNumber

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
                  **fields) -> Case:
    """Create a case and give it the next registration number of the organisation's series."""
    year = year or timezone.localdate().year
    if not 1900 <= year <= datetime.date.today().year + 1:
        raise ValueError("year out of range")
    case = Case.objects.create(**fields)
    number, serial = allocate_number(organisation=registering_organisation, year=year)
    registration = RegistrationNumber(case=case, organisation=registering_organisation,
                                      number=number, year=year, serial=serial)
    registration.full_clean()
    registration.save()
    return case
