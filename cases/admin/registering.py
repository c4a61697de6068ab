"""Registering an incoming document in one form: the case (new or existing), its next
registration number (from the same service the API uses), sender, received date, document
type and, for a referral, the consulted bodies and due date."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import (
    AdminDateWidget,
    AutocompleteSelect,
    AutocompleteSelectMultiple,
)
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases import models as m
from cases.services.registration import register_incoming

from .confidentiality import public_label
from .history import admin_url

PERMISSION = "cases.register_incoming"


def _autocomplete(model, field, *, many=False):
    """An admin autocomplete widget searching what ``model.field`` points to."""
    widget = AutocompleteSelectMultiple if many else AutocompleteSelect
    return widget(model._meta.get_field(field), admin.site)


def _live(model):
    return model.objects.filter(voided_at__isnull=True)


class RegisterIncomingForm(forms.Form):
    document_type = forms.ChoiceField(
        label=capfirst(_("document type")), choices=[("", "---------"), *m.DocumentType.choices])
    title = forms.CharField(label=capfirst(_("title")), max_length=500,
                            widget=forms.TextInput(attrs={"class": "vTextField"}),
                            help_text=_("The document's heading; for a new case also its "
                                        "title (ärendemening)."))
    received_date = forms.DateField(label=capfirst(_("received date")), widget=AdminDateWidget,
                                    initial=timezone.localdate)
    sender = forms.ModelChoiceField(
        label=capfirst(_("sender")), required=False, queryset=_live(m.Organisation),
        widget=_autocomplete(m.Referral, "sender"),
        help_text=_("The body the document comes from, when it is an organisation."))
    case = forms.ModelChoiceField(
        label=capfirst(_("existing case")), required=False, queryset=_live(m.Case),
        widget=_autocomplete(m.Document, "case"),
        help_text=_("Leave empty to register a new case."))
    registering_organisation = forms.ModelChoiceField(
        label=capfirst(_("registering organisation")), required=False,
        queryset=_live(m.Organisation).exclude(short_name="").filter(
            municipality__isnull=False),
        widget=_autocomplete(m.RegistrationNumber, "organisation"),
        help_text=_("Whose series a new case is numbered in, e.g. KS for KS 2026/12."))
    addressed_to = forms.ModelChoiceField(
        label=capfirst(_("addressed to")), required=False, queryset=_live(m.Organisation),
        widget=_autocomplete(m.Motion, "addressed_to"),
        help_text=_("For a motion: the council it is put to."))
    consulted = forms.ModelMultipleChoiceField(
        label=capfirst(_("consulted bodies")), required=False, queryset=_live(m.Organisation),
        widget=_autocomplete(m.ConsultedBody, "organisation", many=True),
        help_text=_("For a referral: the bodies asked for an opinion."))
    due_date = forms.DateField(label=capfirst(_("response due date")), required=False,
                               widget=AdminDateWidget,
                               help_text=_("For a referral: when responses are due."))

    owner = forms.ModelChoiceField(
        label=capfirst(_("case officer (user)")), required=False,
        queryset=get_user_model().objects.filter(is_active=True, is_staff=True),
        help_text=_("For a new case: who handles it (may then edit it)."))

    # (document type the fieldset is for, or "" for every type; legend; fields)
    fieldsets = [
        ("", _("Document"), ["document_type", "title", "received_date", "sender"]),
        ("", _("Case"), ["case", "registering_organisation", "owner"]),
        (m.DocumentType.MOTION, _("Motion"), ["addressed_to"]),
        (m.DocumentType.REFERRAL, _("Referral"), ["consulted", "due_date"]),
    ]

    def clean(self):
        data = super().clean()
        errors = {}
        if not data.get("case") and not data.get("registering_organisation"):
            errors["registering_organisation"] = _(
                "Choose an existing case, or the organisation whose series numbers the new "
                "case.")
        received, due = data.get("received_date"), data.get("due_date")
        if received and received > timezone.localdate() + datetime.timedelta(days=1):
            errors["received_date"] = _("The received date cannot be in the future.")
        if received and received.year < 1900:
            errors["received_date"] = _("The received date cannot be before 1900.")
        if received and due and due < received:
            errors["due_date"] = _("The response due date cannot be before the received date.")
        kind = data.get("document_type")
        if kind != m.DocumentType.REFERRAL and (data.get("consulted") or due):
            errors["document_type"] = _("Consulted bodies and a due date belong to a referral.")
        if kind != m.DocumentType.MOTION and data.get("addressed_to"):
            errors["addressed_to"] = _("Only a motion is addressed to a council here.")
        if errors:
            raise ValidationError(errors)
        return data

    def bound_fieldsets(self):
        return [(kind, title, [self[name] for name in names])
                for kind, title, names in self.fieldsets]


def register_incoming_view(model_admin, request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = RegisterIncomingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registered = register_incoming(
                document_type=data["document_type"], title=data["title"],
                received_date=data["received_date"], sender=data["sender"],
                case=data["case"], registering_organisation=data["registering_organisation"],
                addressed_to=data["addressed_to"], consulted=data["consulted"],
                due_date=data["due_date"], owner=data["owner"])
        except ValidationError as error:
            form.add_error(None, error.messages)
        except ValueError as error:  # e.g. a registration year the series cannot take
            form.add_error(None, str(error))
        else:
            messages.success(request, gettext(
                "Registered in case %(number)s: %(document)s. Continue with the details below.")
                % {"number": registered.number or public_label(registered.case),
                   "document": public_label(registered.document)})
            target = registered.record or registered.document
            return redirect(admin_url(target))
    media = model_admin.media + form.media
    return TemplateResponse(request, "admin/cases/register_incoming.html", {
        **model_admin.admin_site.each_context(request), "opts": model_admin.opts,
        "form": form, "title": gettext("Register incoming document"),
        # Listed in full: merging Media would be free to run ours before the admin's.
        "media": forms.Media(css=media._css, js=[*media._js, "cases/js/register_incoming.js"]),
    })
