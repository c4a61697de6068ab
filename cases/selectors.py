"""Reads that more than one view needs (HackSoft style: selectors read, services write)."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.utils.text import capfirst
from django.utils.translation import gettext

from cases import models as m
from cases.confidentiality import is_withheld, visible_title, withheld_label


def links_of(record):
    """Every live link with ``record`` as source or target, oldest first."""
    content_type = ContentType.objects.get_for_model(record)
    return m.Link.objects.filter(
        Q(source_type=content_type, source_id=record.pk)
        | Q(target_type=content_type, target_id=record.pk),
        voided_at__isnull=True,
    ).order_by("created", "id")


def case_timeline(case, *, request=None, cleared: bool = False) -> list[dict]:
    """The case's dated events in date order; events without a full date come last."""
    from cases.api.serializers import record_url

    def event(date, kind, title, record, as_written=""):
        return {
            "date": date, "date_as_written": as_written or (date.isoformat() if date else ""),
            "kind": kind, "title": title,
            "record": {"type": record._meta.model_name, "id": record.pk,
                       "url": record_url(record, request)},
        }

    def hidden(record) -> bool:  # withheld from this reader (cases.confidentiality)
        return not cleared and is_withheld(record)

    events = []
    if case.registered:
        events.append(event(case.registered, "case_registered", gettext("Case registered"),
                            case))
    if case.closed:
        closer = case.closed_by_decision or case.closed_by_document
        events.append(event(case.closed, "case_closed", gettext("Case closed"), closer or case))
    for document in case.documents.filter(voided_at__isnull=True):
        title = visible_title(document, cleared=cleared)
        events.append(event(document.date, f"document_{document.direction}",
                            labelled(document.get_type_display(), title), document))
    for referral in case.referrals.filter(voided_at__isnull=True).select_related("sender"):
        hide = hidden(referral)
        title = withheld_label(m.Referral) if hide else referral.title
        received = (gettext("Referral from %(sender)s: %(title)s") % {
            "sender": referral.sender.name, "title": title} if referral.sender
            else labelled(gettext("Referral"), title))
        due = gettext("Response due: %(title)s") % {"title": title}
        # A due date nobody stated is no event (the referral's own row says it has none).
        stated = referral.due_date or (not hide and referral.due_as_written)
        if hide:
            events.append(event(referral.received_date, "referral_received", received,
                                referral))
            if stated:
                events.append(event(referral.due_date, "referral_due", due, referral))
            continue
        events.append(event(referral.received_date, "referral_received", received, referral,
                            referral.received_as_written))
        if stated:
            events.append(event(referral.due_date, "referral_due", due, referral,
                                referral.due_as_written))
        for body in referral.consulted_bodies.filter(voided_at__isnull=True).select_related(
                "organisation__municipality"):
            events.append(event(referral.received_date, "referral_consulted",
                                gettext("Consulted: %(body)s (%(status)s)") % {
                                    "body": body, "status": body.get_response_status_display()},
                                referral, referral.received_as_written))
        for response in referral.responses.filter(voided_at__isnull=True).select_related(
                "organisation"):
            position = withheld_label(m.ReferralResponse) if hidden(response) else \
                response.get_position_display()
            events.append(event(response.date, "referral_response",
                                f"{response.organisation.name}: {position}", response))
    for decision in case.decisions.filter(voided_at__isnull=True).select_related("organisation"):
        body = decision.organisation.name
        events.append(event(decision.date, f"decision_{decision.kind}",
                            labelled(decision.get_kind_display(), body), decision))
        if hidden(decision):
            continue
        if decision.effective_date:
            events.append(event(decision.effective_date, "decision_effective",
                                gettext("In force: the decision of %(body)s") % {"body": body},
                                decision))
        if decision.follow_up_due:
            events.append(event(decision.follow_up_due, "follow_up_due",
                                gettext("Report back to %(body)s") % {"body": body}, decision,
                                _partial(decision.follow_up_due,
                                         decision.follow_up_due_precision)))
    for motion in case.motions.filter(voided_at__isnull=True):
        title = visible_title(motion, cleared=cleared)
        events.append(event(motion.date, "motion", labelled(gettext("Motion"), title), motion))
    for activity in case.activities.filter(voided_at__isnull=True):
        events.append(event(activity.date, f"activity_{activity.type}",
                            activity.get_type_display(), activity))
    # Within a day: the case's registration first, its closing last.
    return sorted(events, key=lambda e: (e["date"] is None, e["date"] or 0,
                                         e["kind"] != "case_registered",
                                         e["kind"] == "case_closed", e["kind"]))


def labelled(label: str, title: str) -> str:
    """"Label: title", or the title alone when it starts with the label already (a motion
    titled "Motion om ..." is not "Motion: Motion om ...")."""
    if title.casefold().startswith(label.casefold()):
        return title
    return f"{capfirst(label)}: {title}"


def _partial(date, precision) -> str:
    if precision == m.DatePrecision.MONTH:
        return date.strftime("%Y-%m")
    if precision == m.DatePrecision.YEAR:
        return str(date.year)
    return date.isoformat()


def case_records(case) -> list:
    """The case and every live record of its story: numbers, documents, motions (with
    authors and proposals), referrals (with consulted bodies and responses), decisions (with
    points) and activities."""
    live = {"voided_at__isnull": True}
    motions = list(case.motions.filter(**live))
    referrals = list(case.referrals.filter(**live))
    decisions = list(case.decisions.filter(**live).select_related("organisation__municipality"))
    return [
        case,
        *case.registration_numbers.filter(**live),
        *case.documents.filter(**live),
        *motions,
        *m.MotionAuthor.objects.filter(motion__in=motions, **live),
        *m.MotionProposal.objects.filter(motion__in=motions, **live),
        *referrals,
        *m.ConsultedBody.objects.filter(referral__in=referrals, **live).select_related(
            "organisation__municipality"),
        *m.ReferralResponse.objects.filter(referral__in=referrals, **live).select_related(
            "organisation__municipality"),
        *decisions,
        *m.DecisionPoint.objects.filter(decision__in=decisions, **live),
        *case.activities.filter(**live),
    ]


def _by_type(records) -> dict:
    """{content type: [ids]} of ``records``, for one query per type."""
    grouped: dict = {}
    for record in records:
        grouped.setdefault(ContentType.objects.get_for_model(record), []).append(record.pk)
    return grouped


def _any_of(records, type_field: str, id_field: str) -> Q:
    condition = Q(pk__in=[])
    for content_type, ids in _by_type(records).items():
        condition |= Q(**{type_field: content_type, f"{id_field}__in": ids})
    return condition


def links_of_records(records):
    """Every live link from or to any of ``records``, oldest first."""
    return m.Link.objects.filter(
        _any_of(records, "source_type", "source_id") | _any_of(records, "target_type",
                                                               "target_id"),
        voided_at__isnull=True,
    ).select_related("source_type", "target_type").order_by("created", "id")


def passages_of_records(records):
    """The source passages of ``records``, in document order."""
    return m.Provenance.objects.filter(_any_of(records, "content_type", "object_id")) \
        .select_related("document", "content_type").order_by("document__date", "start", "id")


def audit_of_records(records):
    """The audit entries of ``records``, newest first."""
    return m.AuditEntry.objects.filter(_any_of(records, "content_type", "object_id")) \
        .select_related("content_type").order_by("-occurred_at", "-id")
