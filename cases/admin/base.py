"""Shared admin building blocks: read-only provenance, timestamps, stale-form protection,
no hard delete, and (from ``confidentiality``) masking for staff without clearance."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases import policies
from cases.models import Provenance, RegisterModel
from cases.services import records
from cases.services.audit import history
from cases.services.voiding import part_of, void_record

from . import search
from .confidentiality import (
    WITHHELD,
    ConfidentialityAdminMixin,
    MaskingMixin,
    PublicAutocompleteJsonView,
    is_cleared,
    public_label,
    row_protected,
)
from .history import Labels, admin_url, describe, describe_all
from .paging import BoundedPaginator
from .search import FieldByFieldSearch, RegisterSearch


class ProvenanceInline(MaskingMixin, GenericTabularInline):
    """The source passages a record was loaded from, shown read-only with their context."""

    model = Provenance
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    fields = ("document", "passage", "position", "local_note")
    readonly_fields = fields
    confidential_columns = ("passage", "position", "local_note")
    verbose_name = _("source passage")
    verbose_name_plural = _("source passages")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # passages are derived from the fixtures, never removed by hand

    @admin.display(description=_("note"))
    def local_note(self, obj):
        if not obj.local_note:
            return ""
        return format_html('<span class="note" lang="{}">{}</span>', obj.note_language,
                           obj.local_note)

    @admin.display(description=_("passage"))
    def passage(self, obj):
        return format_html('<span style="color:#777">…{}</span><mark>{}</mark>'
                           '<span style="color:#777">{}…</span>', obj.prefix, obj.exact, obj.suffix)

    @admin.display(description=_("characters"))
    def position(self, obj):
        return f"{obj.start}–{obj.end}"

    def masked_value(self, obj, name):
        if name in ("passage", "position", "local_note") and row_protected(obj):
            return WITHHELD
        return super().masked_value(obj, name)


# The admin's words for the rules of cases.policies (their codes).
POLICY_MESSAGES = {
    "frozen": _("The record is voided and can no longer be changed."),
    "clearance": _("Changing the confidentiality or the protected details of a confidential "
                   "record, or marking a record public, needs clearance."),
    "own_cases": _("You may change only records of the cases you own: both the case the "
                   "record is in and the case it would be in must be yours."),
    "numbering": _("Registration numbers are given only by registering a case; a number given "
                   "by mistake is voided."),
    "status_flow": _("A case is archived only once it is closed, and an archived case keeps "
                     "its status."),
}


def policy_message(error: policies.PolicyError):
    return POLICY_MESSAGES.get(error.code, error.message)


def field_values(obj) -> dict:
    """An unsaved record's values by field name (relations as records), as a write service
    takes them: the rules see the case a record would be in."""
    return {f.name: getattr(obj, f.name) for f in obj._meta.concrete_fields
            if f.editable or f.primary_key}


def form_changes(form) -> dict:
    """What a bound form changes of its record, by field name (its instance has them)."""
    names = {f.name for f in form.instance._meta.concrete_fields}
    return {name: getattr(form.instance, name) for name in form.changed_data if name in names}


def adopt(obj, saved) -> None:
    """``obj`` (the admin's instance) becomes the record a service created as ``saved``."""
    obj._state.adding, obj._state.db = False, saved._state.db
    for name in ("version", "created", "modified"):
        setattr(obj, name, getattr(saved, name))


class VersionedForm(forms.ModelForm):
    """Refuses to save a form edited from a version someone else has since changed (the
    record's ``version``, which changes of its parts move too), and says who changed what
    since (from the audit trail), with a link to the history. The rules of
    ``cases.policies`` come back as form errors here, before the save asks them again.

    ``request`` is set by ``RegisterAdmin.get_form``."""

    edited_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    request = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding and isinstance(self.instance, RegisterModel):
            self.fields["edited_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        if not isinstance(self.instance, RegisterModel):
            return cleaned
        before = None
        if not self.instance._state.adding:
            edited = cleaned.get("edited_version")
            try:
                # Locked until the admin's transaction ends, so the check and the save are one.
                before = records.locked(record=self.instance, expected_version=edited or 0)
            except policies.Stale:
                raise forms.ValidationError(self._stale_message(edited), code="stale") from None
            except policies.PolicyError as error:
                raise forms.ValidationError(policy_message(error), code=error.code) from None
        names = {f.name for f in self._meta.model._meta.concrete_fields}
        values = {name: cleaned[name] for name in self.changed_data
                  if name in names and name in cleaned}
        if before is None:
            values = {**{name: value for name, value in cleaned.items() if name in names},
                      **values}
        try:
            policies.check_write(user=getattr(self.request, "user", None),
                                 model=self._meta.model, before=before, values=values)
        except policies.PolicyError as error:
            raise forms.ValidationError(policy_message(error), code=error.code) from None
        return cleaned

    def _stale_message(self, edited_version):
        entries = history(self.instance).select_related("content_type")
        if edited_version:
            # Changes after the one that made the version the form was opened at.
            read = entries.filter(after__version__lte=edited_version).order_by(
                "-occurred_at", "-id").values_list("occurred_at", flat=True).first()
            if read is not None:
                entries = entries.filter(occurred_at__gt=read)
        labels = Labels()
        changed = [describe(entry, cleared=False, labels=labels) for entry in entries]
        summary = format_html_join(
            "", "<li>{} ({}): {}</li>",
            ((date_format(localtime(c["entry"].occurred_at), "SHORT_DATETIME_FORMAT"),
              c["entry"].actor, ", ".join(change["field"] for change in c["changes"]) or "–")
             for c in changed))
        url = reverse(f"admin:{self._meta.model._meta.app_label}_"
                      f"{self._meta.model._meta.model_name}_history", args=[self.instance.pk])
        return format_html(
            "{} <ul>{}</ul><a href=\"{}\" class=\"stale-history\">{}</a>",
            _("Someone else changed this record after you opened it, so your changes were not "
              "saved. Open the record again to see the current version, then make your "
              "changes again. Changed since you opened it:"),
            summary, url, _("See what changed"))


class VoidedFilter(admin.SimpleListFilter):
    """Live records by default; voided ones on request."""

    title = _("voided")
    parameter_name = "voided"

    def lookups(self, request, model_admin):
        return [("yes", _("voided")), ("all", _("all"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(voided_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(voided_at__isnull=True)


class VoidForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), min_length=3, max_length=500,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=_("Why the record is voided; kept with the record."))


class RegisterAdmin(RegisterSearch, ConfidentialityAdminMixin, FieldByFieldSearch,
                    admin.ModelAdmin):
    """Base admin for every register model: timestamps read-only, provenance inline, no
    hard delete (void with a reason instead), no saving over a colleague's newer change,
    the audit trail as history, Swedish full-text search, and confidential details only for
    those cleared."""

    form = VersionedForm
    readonly_fields = ("id", "created", "modified", "voided_at", "void_reason", "voided_by")
    list_per_page = 50
    paginator = BoundedPaginator
    show_full_result_count = False

    def get_paginator(self, request, queryset, per_page, orphans=0,
                      allow_empty_first_page=True):
        """A search's hits are counted to a thousand, as the API counts (a common word is
        tested record by record: cases.admin.search.any_of); a list to ten thousand."""
        paginator = super().get_paginator(request, queryset, per_page, orphans,
                                          allow_empty_first_page)
        if request.GET.get(SEARCH_VAR):
            paginator.limit = search.FEW
        return paginator

    def has_delete_permission(self, request, obj=None):
        return False  # registered records are voided, never deleted

    def has_change_permission(self, request, obj=None):
        if obj is not None and isinstance(obj, RegisterModel) and not policies.may_change(
                user=request.user, record=obj):
            return False  # voided, or of a case the user may not write in (cases.policies)
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if issubclass(form, VersionedForm):
            form = type(form.__name__, (form,), {"request": request})
        return form

    def save_model(self, request, obj, form, change):
        """Through the write services, under the rules the form asked already (so a rule
        broken here is a race: refused as a whole)."""
        if not isinstance(obj, RegisterModel):
            return super().save_model(request, obj, form, change)
        try:
            if change:
                records.update_record(
                    record=obj, changes=form_changes(form),
                    expected_version=form.cleaned_data.get("edited_version") or 0,
                    user=request.user)
            else:
                adopt(obj, records.create_record(model=type(obj), values=field_values(obj),
                                                 user=request.user))
        except policies.PolicyError as error:
            raise PermissionDenied(str(policy_message(error))) from error
        return None

    def has_void_permission(self, request, obj=None):
        return (issubclass(self.model, RegisterModel) and request.user.has_perm(
            "cases.void_record") and getattr(obj, "voided_at", None) is None)

    def get_inlines(self, request, obj):
        return [*self.inlines, ProvenanceInline]

    def get_fieldsets(self, request, obj=None):
        """Declared fieldsets carry the form's hidden version too (without it, every save
        would read as made to version 0, a colleague's change)."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.fieldsets and issubclass(self.form, VersionedForm):
            (title, options), *rest = fieldsets
            fieldsets = [(title, {**options, "fields": [*options["fields"], "edited_version"]}),
                         *rest]
        return fieldsets

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return [*filters, VoidedFilter] if issubclass(self.model, RegisterModel) else filters

    # --- pages: void, history, and the buttons that lead there

    def get_urls(self):
        return [
            path("<path:object_id>/void/", self.admin_site.admin_view(self.void_view),
                 name=f"{self.opts.app_label}_{self.opts.model_name}_void"),
            *super().get_urls(),
        ]

    def record_tools(self, request, obj) -> list[tuple[str, str]]:
        """(label, url) of the buttons on a record's page, next to its history."""
        tools = []
        case_id = getattr(obj, "case_id", None)
        if case_id:
            tools.append((gettext("Case story"), reverse("admin:cases_case_story",
                                                         args=[case_id])))
        if issubclass(self.model, RegisterModel) and request.user.has_perm("cases.add_link"):
            tools.append((gettext("Link"), reverse("admin:cases_link_from", args=[
                obj._meta.app_label, obj._meta.model_name, obj.pk])))
        if self.has_void_permission(request, obj):
            tools.append((gettext("Void"), reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_void", args=[obj.pk])))
        return tools

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {**(extra_context or {}),
                             "record_tools": self.record_tools(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def void_view(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_void_permission(request, obj):
            raise PermissionDenied
        form = VoidForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                void_record(record=obj, reason=form.cleaned_data["reason"], user=request.user)
            except policies.Frozen:
                pass  # voided meanwhile (the same click twice): it is as asked
            except policies.PolicyError as error:
                raise PermissionDenied(str(policy_message(error))) from error
            self.message_user(request, gettext("“%(record)s” was voided.") % {
                "record": public_label(obj)}, messages.SUCCESS)
            return redirect(admin_url(obj))
        return TemplateResponse(request, "admin/cases/void.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form,
            "object": public_label(obj), "original": obj,
            "title": gettext("Void %(record)s") % {"record": public_label(obj)},
        })

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = history(obj).select_related("content_type").reverse()
        label = public_label(obj) if not is_cleared(request) else str(obj)
        return TemplateResponse(request, "admin/cases/record_history.html", {
            **self.admin_site.each_context(request), "opts": self.opts,
            "object": label, "original": obj, "changes": describe_all(entries, request),
            "title": gettext("Change history: %s") % label, "subtitle": None,
        })


class PartForm(forms.ModelForm):
    """A part's row in its record's form, with the reason asked when its remove box is
    ticked (the part is voided with it, see ``VoidingInlineFormSet``)."""

    removal_reason = forms.CharField(
        label=_("Reason"), required=False, min_length=3, max_length=500,
        widget=forms.TextInput(attrs={"size": 24, "placeholder": _("Why it is voided")}))


class VoidingInlineFormSet(BaseInlineFormSet):
    """The rows of a record's parts, whose remove box voids the part, never deletes it.

    A ticked row needs a reason; the part is voided with it through the voiding service,
    which records the removal in the part's audit trail (void) and in its record's (an
    update naming the part before and after). Django's admin log says "changed: voided".
    """

    def clean(self):
        super().clean()
        if not self.can_delete:
            return
        missing = False
        for form in self.initial_forms:
            if self._should_delete_form(form) and not (
                    form.cleaned_data.get("removal_reason") or "").strip():
                if "removal_reason" not in form.errors:
                    form.add_error("removal_reason", gettext("Why is the row voided?"))
                missing = True
        if missing:
            raise forms.ValidationError(
                gettext("Give the reason on each row to be voided."), code="reason")

    user = None  # set by PartInline.get_formset: who writes, for the rules

    def delete_existing(self, obj, commit=True):
        if not commit:
            return
        form = next(form for form in self.initial_forms if form.instance.pk == obj.pk)
        try:
            void_record(record=obj, reason=form.cleaned_data["removal_reason"],
                        part_of_field=self.fk, user=self.user)
        except policies.Frozen:
            pass  # voided meanwhile: it is as asked
        except policies.PolicyError as error:
            raise PermissionDenied(str(policy_message(error))) from error

    def save_new(self, form, commit=True):
        obj = super().save_new(form, commit=False)  # (with its record set)
        if commit:
            try:
                adopt(obj, records.create_record(model=self.model, values=field_values(obj),
                                                 user=self.user))
            except policies.PolicyError as error:
                raise PermissionDenied(str(policy_message(error))) from error
        return obj

    def save_existing(self, form, obj, commit=True):
        if not commit:
            return super().save_existing(form, obj, commit=False)
        try:
            records.update_record(record=obj, changes=form_changes(form), user=self.user)
        except policies.PolicyError as error:
            raise PermissionDenied(str(policy_message(error))) from error
        return obj

    def save_existing_objects(self, commit=True):
        saved = super().save_existing_objects(commit)
        # What the admin log and messages call deleted was voided: say so.
        voided = str(self.model._meta.get_field("voided_at").verbose_name)
        self.changed_objects.extend((obj, [voided]) for obj in self.deleted_objects)
        self.deleted_objects = []
        return saved


class PartInline(MaskingMixin, admin.TabularInline):
    """An inline for the parts of a record (points, proposals, authors ...).

    Nothing is deleted here, whoever the user: the remove box (for those who may void)
    voids the part with the reason given on its row, and voided parts leave the form (their
    own pages and the record's history keep them). Only parts proper can be removed this
    way (see ``cases.services.voiding.part_of``): records with a life of their own, such as
    a case's documents, are voided from their own pages.
    """

    extra = 0
    show_change_link = True
    form = PartForm
    formset = VoidingInlineFormSet
    template = "admin/cases/edit_inline/tabular_voiding.html"

    def has_delete_permission(self, request, obj=None):
        return False  # registered parts are voided, never deleted

    def has_void_permission(self, request, obj=None) -> bool:
        """Whether the user may void rows of this inline on ``obj``'s page."""
        fk = part_of(self.model)
        return bool(fk is not None and fk.related_model is self.parent_model
                    and (self.fk_name is None or fk.name == self.fk_name)
                    and request.user.has_perm("cases.void_record")
                    and obj is not None and getattr(obj, "voided_at", None) is None)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if issubclass(self.model, RegisterModel):
            queryset = queryset.filter(voided_at__isnull=True)  # voided parts leave the form
        return queryset

    def get_formset(self, request, obj=None, **kwargs):
        # The remove box is Django's deletion field, given to those who may void: the
        # formset voids what it would have deleted (has_delete_permission stays False).
        kwargs.setdefault("can_delete", self.has_void_permission(request, obj))
        kwargs.setdefault("can_delete_extra", False)
        formset = super().get_formset(request, obj, **kwargs)

        class VoidingForm(formset.form):
            def hand_clean_DELETE(self):
                pass  # voiding keeps the row, so nothing that refers to it is in the way

        formset.form = VoidingForm
        formset.user = request.user
        return formset


def autocomplete_view(site):
    """The admin site's autocomplete endpoint, naming records by their public labels."""

    def view(request):
        return PublicAutocompleteJsonView.as_view(admin_site=site)(request)

    return view
