"""The registrar's morning overview: referrals whose due date is near or passed, open cases
per organisation, and the latest changes."""

import datetime

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import models as m
from cases.confidentiality import annotate_withheld, is_withheld

from .confidentiality import WITHHELD, is_cleared, public_label
from .history import describe_all

SOON = datetime.timedelta(days=14)
ROWS = 25


def due_referrals(today: datetime.date):
    """Live referrals due within two weeks or already passed, the nearest first, with how
    many consulted bodies have not responded.

    The page walks the due-date index backwards (``referral_due_order_desc``) and counts
    the waiting bodies of its 25 referrals only: counted by a join and GROUP BY, every
    referral due so far was joined to its bodies and grouped before the page was cut (2.0 s
    at 250,000 referrals)."""
    waiting = (m.ConsultedBody.objects.filter(referral=OuterRef("pk"), voided_at__isnull=True)
               .exclude(response_status=m.ResponseStatus.RESPONDED).order_by()
               .values("referral").annotate(n=Count("id")).values("n"))
    return (annotate_withheld(m.Referral.objects.filter(voided_at__isnull=True,
                                                        due_date__lte=today + SOON))
            .select_related("sender", "case")
            .prefetch_related("case__registration_numbers")
            .annotate(waiting=Coalesce(Subquery(waiting), 0))
            .order_by(F("due_date").desc(nulls_last=True), F("id").desc())[:ROWS])


def open_cases_per_organisation():
    """Per responsible organisation: live cases that are open, and those whose status the
    sources leave unknown (not known to be closed either)."""
    open_, unknown = m.CaseStatus.OPEN, m.CaseStatus.UNKNOWN
    return (m.Case.objects.filter(voided_at__isnull=True, status__in=[open_, unknown])
            .values("responsible_organisation", "responsible_organisation__name",
                    "responsible_organisation__municipality__name")
            .annotate(open=Count("id", filter=Q(status=open_)),
                      unknown=Count("id", filter=Q(status=unknown)))
            .order_by("-open", "-unknown", "responsible_organisation__name",
                      "responsible_organisation__municipality__name"))


def overview_view(request):
    if not request.user.has_perm("cases.view_case"):
        raise PermissionDenied
    today = timezone.localdate()
    cases_url = reverse("admin:cases_case_changelist")
    organisations = [{
        **row, "url": f"{cases_url}?responsible_organisation__id__exact="
                      f"{row['responsible_organisation']}" if row["responsible_organisation"]
        else f"{cases_url}?responsible_organisation__isnull=True",
    } for row in open_cases_per_organisation()]
    cleared = is_cleared(request)
    referrals = [{"referral": referral, "passed": referral.due_date < today,
                  "title": referral.title if cleared else public_label(referral),
                  "waiting": referral.waiting if cleared or not is_withheld(referral)
                  else WITHHELD,
                  "numbers": ", ".join(n.number for n in
                                       referral.case.registration_numbers.all())}
                 for referral in due_referrals(today)]
    recent = describe_all(m.AuditEntry.objects.select_related("content_type").order_by(
        "-occurred_at", "-id")[:ROWS], request)
    return TemplateResponse(request, "admin/cases/overview.html", {
        **admin.site.each_context(request), "title": _("Morning overview"), "today": today,
        "referrals": referrals, "organisations": organisations, "changes": recent,
        "show_record": True, "without_fields": True,
    })
