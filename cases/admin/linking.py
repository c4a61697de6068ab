"""Linking a record to any other from its own page: pick the link type and find the other
record by typing (the register's full-text search), no ids to hunt for."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases import models as m
from cases import policies
from cases.search import search
from cases.services.records import create_record

from .base import field_values, policy_message
from .confidentiality import public_label
from .history import admin_url

PERMISSION = "cases.add_link"
FROM_HERE, TO_HERE = "from_here", "to_here"


def _record(app_label, model_name, pk):
    """A live register record by type and id, or None."""
    try:
        content_type = ContentType.objects.get_by_natural_key(app_label, model_name)
    except ContentType.DoesNotExist:
        return None
    model = content_type.model_class()
    if model is None or not issubclass(model, m.RegisterModel) or model not in admin.site._registry:
        return None
    try:
        return model.objects.filter(pk=pk, voided_at__isnull=True).first()
    except ValidationError:  # not a UUID
        return None


def _target_value(record) -> str:
    return f"{record._meta.app_label}.{record._meta.model_name}:{record.pk}"


def _target_text(record) -> str:
    return f"{record._meta.verbose_name}: {public_label(record)}"


class LinkForm(forms.Form):
    type = forms.ChoiceField(label=capfirst(_("link type")), choices=m.LinkType.choices)
    direction = forms.ChoiceField(
        label=capfirst(_("direction")), widget=forms.RadioSelect, initial=FROM_HERE,
        choices=[(FROM_HERE, _("this record → the other")),
                 (TO_HERE, _("the other → this record"))])
    target = forms.CharField(label=capfirst(_("other record")), widget=forms.Select,
                             help_text=_("Type a few letters of its title or number."))

    def __init__(self, *args, source, **kwargs):
        super().__init__(*args, **kwargs)
        self.source = source
        self.fields["target"].widget.attrs.update({
            "data-url": reverse("admin:cases_link_targets"),
            "data-placeholder": gettext("Search the register"),
        })

    def clean_target(self):
        value = self.cleaned_data["target"]
        try:
            type_label, pk = value.split(":", 1)
            app_label, model_name = type_label.split(".", 1)
        except ValueError:
            raise ValidationError(_("Choose the other record from the list.")) from None
        record = _record(app_label, model_name, pk)
        if record is None:
            raise ValidationError(_("The other record does not exist or is voided."))
        self.fields["target"].widget.choices = [(value, _target_text(record))]
        return record

    def link(self):
        target = self.cleaned_data["target"]
        source, target = ((self.source, target) if self.cleaned_data["direction"] == FROM_HERE
                          else (target, self.source))
        return m.Link(type=self.cleaned_data["type"], source=source, target=target)

    @property
    def media(self):
        select2 = AutocompleteSelect(m.Document._meta.get_field("case"), admin.site).media
        # Listed in full: merging two Media would be free to run ours before select2.
        return forms.Media(css=select2._css, js=[*select2._js, "cases/js/link_target.js"])


def link_from_view(model_admin, request, app_label, model_name, pk):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    source = _record(app_label, model_name, pk)
    if source is None:
        raise Http404(gettext("No such record."))
    form = LinkForm(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        link = form.link()
        try:
            link = create_record(model=m.Link, values=field_values(link), user=request.user)
        except ValidationError as error:
            form.add_error(None, error.messages)
        except policies.PolicyError as error:
            form.add_error(None, policy_message(error))
        else:
            messages.success(request, gettext("Linked: %(link)s.") % {
                "link": f"{public_label(link.source)} –{link.get_type_display()}→ "
                        f"{public_label(link.target)}"})
            return redirect(admin_url(source))
    return TemplateResponse(request, "admin/cases/link_from.html", {
        **model_admin.admin_site.each_context(request), "opts": source._meta,
        "original": source, "object": public_label(source), "form": form,
        "media": form.media,
        "title": gettext("Link %(record)s") % {"record": public_label(source)},
    })


def link_targets_view(request):
    """Select2 answers: records matching ``term`` in the search index (public entries only)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    term = request.GET.get("term", "").strip()[:200]
    results = []
    if len(term) >= 2:
        types = {ct.pk: ct for ct in ContentType.objects.filter(app_label="cases")}
        for hit in search(term, limit=20):
            content_type = types[hit.content_type_id]
            results.append({
                "id": f"{content_type.app_label}.{content_type.model}:{hit.object_id}",
                "text": f"{content_type.model_class()._meta.verbose_name}: {hit.title}"})
    return JsonResponse({"results": results, "pagination": {"more": False}})
