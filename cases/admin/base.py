"""Shared admin building blocks: read-only provenance, timestamps, stale-form protection,
no hard delete, and (from ``confidentiality``) masking for staff without clearance."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, unquote
from django.contrib.contenttypes.admin import GenericTabularInline
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import connection, models, transaction
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases.models import Provenance, RegisterModel, SearchEntry
from cases.models.search import SEARCH_CONFIG
from cases.search import KINDS
from cases.services.audit import history
from cases.services.voiding import part_of, void_record

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


class ProvenanceInline(MaskingMixin, GenericTabularInline):
    """The source passages a record was loaded from, shown read-only with their context."""

    model = Provenance
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    fields = ("document", "passage", "position", "note")
    readonly_fields = fields
    confidential_columns = ("passage", "position")
    verbose_name = _("source passage")
    verbose_name_plural = _("source passages")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # passages are derived from the fixtures, never removed by hand

    @admin.display(description=_("passage"))
    def passage(self, obj):
        return format_html('<span style="color:#777">…{}</span><mark>{}</mark>'
                           '<span style="color:#777">{}…</span>', obj.prefix, obj.exact, obj.suffix)

    @admin.display(description=_("characters"))
    def position(self, obj):
        return f"{obj.start}–{obj.end}"

    def masked_value(self, obj, name):
        if name in ("passage", "position") and row_protected(obj):
            return WITHHELD
        return super().masked_value(obj, name)


class VersionedForm(forms.ModelForm):
    """Refuses to save a form edited from a version someone else has since changed, and
    says who changed what since (from the audit trail), with a link to the history."""

    edited_version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:  # (new records have a UUID already)
            self.fields["edited_version"].initial = self.instance.modified.isoformat()

    def clean(self):
        cleaned = super().clean()
        if not self.instance._state.adding:
            # Locked until the admin's transaction ends, so the check and the save are one.
            current = type(self.instance).objects.select_for_update().filter(
                pk=self.instance.pk).values_list("modified", flat=True).first()
            if current is None or cleaned.get("edited_version") != current.isoformat():
                raise forms.ValidationError(self._stale_message(cleaned.get("edited_version")),
                                            code="stale")
        return cleaned

    def _stale_message(self, edited_version):
        since = parse_datetime(edited_version or "")
        entries = history(self.instance).select_related("content_type")
        if since:
            entries = entries.filter(occurred_at__gt=since)
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


class RegisterAdmin(ConfidentialityAdminMixin, admin.ModelAdmin):
    """Base admin for every register model: timestamps read-only, provenance inline, no
    hard delete (void with a reason instead), no saving over a colleague's newer change,
    the audit trail as history, Swedish full-text search, and confidential details only for
    those cleared."""

    form = VersionedForm
    readonly_fields = ("id", "created", "modified", "voided_at", "void_reason", "voided_by")
    list_per_page = 50
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False  # registered records are voided, never deleted

    def has_change_permission(self, request, obj=None):
        if getattr(obj, "voided_at", None):
            return False  # a voided record stays as it was voided
        return super().has_change_permission(request, obj)

    def has_void_permission(self, request, obj=None):
        return (issubclass(self.model, RegisterModel) and request.user.has_perm(
            "cases.void_record") and getattr(obj, "voided_at", None) is None)

    def get_inlines(self, request, obj):
        return [*self.inlines, ProvenanceInline]

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
            with transaction.atomic():
                locked = type(obj).objects.select_for_update().get(pk=obj.pk)
                if locked.voided_at is None:
                    void_record(record=locked, reason=form.cleaned_data["reason"])
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

    # --- search: the API's Swedish full-text matching, and diacritics ignored everywhere

    def get_search_fields(self, request):
        return [_unaccented(self.model, name) for name in super().get_search_fields(request)]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return super().get_search_results(request, queryset, search_term)
        with connection.cursor() as cursor:
            cursor.execute("SELECT unaccent(%s)", [term])
            plain = cursor.fetchone()[0]
        matches, duplicates = super().get_search_results(request, queryset, plain)
        if self.model not in KINDS:
            return matches, duplicates
        # Only public entries of confidential records are indexed: nothing withheld matches.
        fulltext = SearchEntry.objects.filter(
            content_type__app_label=self.opts.app_label, content_type__model=self.opts.model_name,
            vector=SearchQuery(term, config=SEARCH_CONFIG, search_type="websearch"),
        ).values("object_id")
        return queryset.filter(Q(pk__in=matches.values("pk")) | Q(pk__in=fulltext)), False


def _unaccented(model, name):
    """``title`` → ``title__unaccent`` for a text field searched with icontains."""
    if not isinstance(name, str) or name[:1] in "^=@":
        return name
    try:
        field = get_fields_from_path(model, name)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return name
    if isinstance(field, (models.CharField, models.TextField)):
        return f"{name}__unaccent"
    return name


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

    def delete_existing(self, obj, commit=True):
        if not commit:
            return
        form = next(form for form in self.initial_forms if form.instance.pk == obj.pk)
        locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        if locked.voided_at is None:
            void_record(record=locked, reason=form.cleaned_data["removal_reason"],
                        part_of_field=self.fk)
        obj.voided_at = locked.voided_at

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
        return formset


def autocomplete_view(site):
    """The admin site's autocomplete endpoint, naming records by their public labels."""

    def view(request):
        return PublicAutocompleteJsonView.as_view(admin_site=site)(request)

    return view
