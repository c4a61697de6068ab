"""Registering an incoming document in one form: the case (new or existing), its next
registration number (from the same service the API uses), the sender (a body, a company or a
private person), received date, document type, confidentiality and, for a referral, the
consulted bodies and due date."""

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


# What a registry receives most, first.
INCOMING_TYPES = [m.DocumentType.LETTER, m.DocumentType.EMAIL, m.DocumentType.CITIZEN_PROPOSAL,
                  m.DocumentType.APPLICATION, m.DocumentType.MOTION, m.DocumentType.REFERRAL,
                  m.DocumentType.STATEMENT]


class RegisterIncomingForm(forms.Form):
    document_type = forms.ChoiceField(
        label=capfirst(_("document type")), choices=[
            ("", "---------"), *((kind.value, kind.label) for kind in INCOMING_TYPES),
            *((value, label) for value, label in m.DocumentType.choices
              if value not in INCOMING_TYPES)])
    title = forms.CharField(label=capfirst(_("title")), max_length=500,
                            widget=forms.TextInput(attrs={"class": "vTextField"}),
                            help_text=_("The document's heading; for a new case also its "
                                        "title (ärendemening)."))
    received_date = forms.DateField(label=capfirst(_("received date")), widget=AdminDateWidget,
                                    initial=timezone.localdate)
    sender = forms.ModelChoiceField(
        label=capfirst(_("sending organisation")), required=False,
        queryset=_live(m.Organisation), widget=_autocomplete(m.Referral, "sender"),
        help_text=_("The body or company the document comes from."))
    sender_name = forms.CharField(
        label=capfirst(_("sender's name")), required=False, max_length=200,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text=_("A private person who sent it (shown to staff only)."))
    sender_address = forms.CharField(
        label=capfirst(_("sender's address")), required=False, max_length=300,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text=_("Postal or e-mail address for the reply (shown to staff only)."))
    confidential = forms.BooleanField(
        label=capfirst(_("confidential")), required=False,
        help_text=_("The document (and a new case) is secret: only its registration entry "
                    "is public."))
    confidentiality_basis = forms.CharField(
        label=capfirst(_("legal basis")), required=False, max_length=200,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text=_("Grounds for secrecy, e.g. OSL 26 kap. 1 §."))
    public_title = forms.CharField(
        label=capfirst(_("public title")), required=False, max_length=500,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text=_("What the public register shows instead of the title."))
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
        ("", _("Document"), ["document_type", "title", "received_date"]),
        ("", _("Sender"), ["sender", "sender_name", "sender_address"]),
        ("", _("Case"), ["case", "registering_organisation", "owner"]),
        ("", _("Confidentiality"), ["confidential", "confidentiality_basis", "public_title"]),
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
        if data.get("sender") and data.get("sender_name"):
            errors["sender_name"] = _("Give either the sending organisation or a private "
                                      "sender's name, not both.")
        if data.get("sender_address") and not data.get("sender_name"):
            errors["sender_address"] = _("An address belongs to a private sender: give the "
                                         "name too.")
        if data.get("confidential"):
            for name in ("confidentiality_basis", "public_title"):
                if not data.get(name):
                    errors[name] = _("A confidential document needs its legal basis and a "
                                     "public title.")
            case = data.get("case")
            if case and not case.confidential and kind in (m.DocumentType.MOTION,
                                                           m.DocumentType.REFERRAL):
                errors["confidential"] = _(
                    "A secret motion or referral is registered in a new case (or one already "
                    "confidential): in a public case its record would show the title.")
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
                due_date=data["due_date"], owner=data["owner"],
                sender_name=data["sender_name"], sender_address=data["sender_address"],
                confidential=data["confidential"],
                confidentiality_basis=data["confidentiality_basis"],
                public_title=data["public_title"])
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
