"""A case's whole story on one page: its timeline, the records linked to it both ways, the
source passage of each fact, and every change with before and after. What is confidential
is shown only to users cleared for it."""

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from cases.confidentiality import is_withheld
from cases.selectors import (
    audit_of_records,
    case_records,
    case_timeline,
    labelled,
    links_of_records,
    passages_of_records,
)

from .confidentiality import WITHHELD, is_cleared, public_label
from .history import Labels, describe_all

MAX_CHANGES = 200


def _change_url(model_name: str, pk) -> str:
    try:
        return reverse(f"admin:cases_{model_name}_change", args=[pk])
    except NoReverseMatch:
        return ""


def _side(content_type, pk, labels, own_ids):
    model = content_type.model_class()
    return {"type": content_type.name, "label": labels.of(model, pk),
            "url": _change_url(content_type.model, pk), "own": str(pk) in own_ids}


def case_story_view(model_admin, request, object_id):
    case = model_admin.get_object(request, unquote(object_id))
    if case is None:
        return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)
    if not model_admin.has_view_or_change_permission(request, case):
        raise PermissionDenied
    cleared = is_cleared(request)
    labels = Labels(cleared=cleared)
    records = case_records(case)
    labels.add(records)
    own_ids = {str(record.pk) for record in records}

    timeline = case_timeline(case, request=request, cleared=cleared)
    adjusted = {str(pk) for pk in case.decisions.filter(
        immediately_adjusted=True).values_list("pk", flat=True)}
    for event in timeline:
        event["admin_url"] = _change_url(event["record"]["type"], event["record"]["id"])
        event["adjusted"] = str(event["record"]["id"]) in adjusted and \
            event["kind"].startswith("decision_")

    links = list(links_of_records(records))
    labels.load(pair for link in links for pair in (
        (link.source_type.model_class(), link.source_id),
        (link.target_type.model_class(), link.target_id)))
    links = [{"link": link, "type": link.get_type_display(),
              "source": _side(link.source_type, link.source_id, labels, own_ids),
              "target": _side(link.target_type, link.target_id, labels, own_ids)}
             for link in links]

    passages: dict = {}
    for passage in passages_of_records(records):
        key = (passage.content_type_id, passage.object_id)
        if key not in passages:
            label = labels.of(passage.content_type.model_class(), passage.object_id)
            passages[key] = {"heading": labelled(passage.content_type.name, label),
                             "url": _change_url(passage.content_type.model, passage.object_id),
                             "passages": []}
        withheld = not cleared and is_withheld(passage)
        document = passage.document
        passages[key]["passages"].append({
            "document": public_label(document) if not cleared and is_withheld(document)
            else document.source_file or str(document),
            "prefix": "" if withheld else passage.prefix,
            "exact": WITHHELD if withheld else passage.exact,
            "suffix": "" if withheld else passage.suffix,
            "start": "" if withheld else passage.start, "end": "" if withheld else passage.end,
            "note": "" if withheld else passage.local_note,
            "note_language": passage.note_language,
        })

    changes = describe_all(audit_of_records(records)[:MAX_CHANGES], request, labels)

    title = str(case) if cleared else public_label(case)
    shown = cleared or not is_withheld(case)
    return TemplateResponse(request, "admin/cases/case/story.html", {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts, "original": case, "object": title,
        "title": _("The case’s story: %s") % title,
        "numbers": case.registration_numbers.filter(voided_at__isnull=True).select_related(
            "organisation"),
        "timeline": timeline, "links": links, "passages": list(passages.values()),
        "changes": changes, "show_record": True, "changes_truncated": len(changes) == MAX_CHANGES,
        "documents": [(public_label(d) if not cleared else str(d), d) for d in
                      case.documents.filter(voided_at__isnull=True).order_by("date")],
        "record_tools": model_admin.record_tools(request, case),
        "owner": case.owner if shown else WITHHELD,
        "void_reason": case.void_reason if shown else WITHHELD,
    })

