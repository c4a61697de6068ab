"""Confidentiality in the admin: a staff user without the permission ``cases.view_confidential``
sees a confidential case or document as its public registration entry, as API clients without
clearance do. Its protected fields (``PROTECTED_FIELDS``) are shown masked and read-only, the
quotes of its passages are withheld, lists and labels name it by its public title, and search
and changelist filters never match on what is withheld.
"""

import json

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import (
    NotRelationField,
    get_fields_from_path,
    label_for_field,
    unquote,
)
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases import policies
from cases.confidentiality import (
    PUBLIC_MARK,
    annotate_withheld,
    can_be_withheld,
    hidden_fields,
    is_withheld,
    withheld_label,
    withheld_path_q,
)
from cases.models import Link, Provenance

from .search import any_of

PERMISSION = policies.CLEARANCE_PERMISSION
WITHHELD = _("Withheld: confidential")
PREFIX = "masked_"  # a masked stand-in for a column or field, resolved by __getattr__
LABEL = "masked_label"  # the masked stand-in for __str__

# Models whose ``str()`` names only what their public entry shows.
PUBLIC_STR = {"RegistrationNumber", "Activity", "Decision"}


def is_cleared(request) -> bool:
    """May this admin user see the protected details of confidential records?"""
    user = getattr(request, "user", None)
    return bool(user and user.is_active and policies.is_cleared(user))


def guard(model) -> tuple[tuple[str, ...], bool]:
    """(fields withheld when a row is, whether a row can be) of a model: the one rule of
    ``cases.confidentiality``."""
    return hidden_fields(model), can_be_withheld(model)


def row_protected(obj) -> bool:
    """Whether this row is withheld from readers without clearance."""
    return is_withheld(obj)


def label_may_hide(model) -> bool:
    """Whether ``str()`` of a record of this model can contain protected text."""
    return can_be_withheld(model) and model.__name__ not in PUBLIC_STR


def public_label(obj) -> str:
    """``str(obj)`` as a reader without clearance may see it."""
    if obj is None:
        return ""
    if isinstance(obj, Link):
        return f"{public_label(obj.source)} –{obj.get_type_display()}→ {public_label(obj.target)}"
    if isinstance(obj, Provenance):
        document = obj.document
        name = public_label(document) if is_withheld(document) else (
            document.source_file or str(document))
        return name if is_withheld(obj) else f"{name}: {obj.start}–{obj.end}"
    if type(obj).__name__ in PUBLIC_STR or not is_withheld(obj):
        return str(obj)
    return getattr(obj, "public_title", None) or withheld_label(type(obj))


def public_value(obj, name):
    """A field's value as a reader without clearance may see it."""
    if name in guard(type(obj))[0] and row_protected(obj):
        return WITHHELD
    if name == "title" and row_protected(obj):
        return public_label(obj)
    return getattr(obj, name)


def search_guard(model, path: str):
    """The condition (a Q) under which the field a search or filter ``path`` reaches is
    withheld, if it can be (``cases.confidentiality.withheld_path_q``)."""
    return withheld_path_q(model, path)


def _has_field(model, name) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def _unique(names) -> list:
    seen, result = set(), []
    for name in names:
        key = name if isinstance(name, str) else id(name)
        if key not in seen:
            seen.add(key)
            result.append(name)
    return result


class Masked:
    """A record that reads as its public label (in page titles, breadcrumbs, inline rows)."""

    def __init__(self, obj, label: str):
        self._obj, self._label = obj, label

    def __getattr__(self, name):
        return getattr(self._obj, name)

    def __str__(self):
        return self._label


class PublicInlineAdminFormSet(helpers.InlineAdminFormSet):
    """Inline rows titled by their public label."""

    def __iter__(self):
        for inline_form in super().__iter__():
            if inline_form.original is not None:
                inline_form.original = Masked(inline_form.original,
                                              public_label(inline_form.original))
            yield inline_form


# Models whose label (and withheld status) reads their own columns only: a case is named by its
# title and withheld by its own flag. Its relations, its closing decision and document among
# them (issue 15), would otherwise be joined with theirs to every row naming a case (the
# decision list at 100,000 cases: 269 → 762 ms).
OWN_LABEL = {"Case"}


def label_relations(model) -> list[str]:
    """The relations a record's label may read (an organisation's municipality): joined
    wherever a list names records, or every label is a query of its own (at 100,000 cases
    the case list ran 481 queries a page, 430 of them an organisation's municipality)."""
    if model.__name__ in OWN_LABEL:
        return []
    return [f.name for f in model._meta.concrete_fields if f.many_to_one]


def label_paths(model) -> list[str]:
    """``label_relations`` and theirs in turn (a decision's organisation's municipality)."""
    return [path for name in label_relations(model) for path in (
        name, *(f"{name}__{far}" for far in
                label_relations(model._meta.get_field(name).related_model)))]


class PublicRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A changelist filter by a related record: its choices in one query, named by their
    public labels for readers without clearance."""

    def field_choices(self, field, request, model_admin):
        model = field.remote_field.model
        related = model._default_manager.complex_filter(
            field.get_limit_choices_to()).select_related(*label_relations(model))
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            related = related.order_by(*ordering)
        label = str if is_cleared(request) else public_label
        return [(obj.pk, label(obj)) for obj in related]


class PublicAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete answers that name records by their public labels (the search behind
    them is the model admin's, which already ignores what is withheld)."""

    def get_queryset(self):
        queryset = super().get_queryset()
        if hasattr(queryset.model, "voided_at"):
            queryset = queryset.filter(voided_at__isnull=True)  # nothing new links to these
        return queryset

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        if not is_cleared(self.request):
            result["text"] = public_label(obj)
        return result


class MaskingMixin:
    """For model admins and inlines: protected values are masked and read-only for users
    without clearance, and related records are named by their public labels.

    A masked stand-in for a column or field ``name`` is named ``masked_<name>`` (``__str__``:
    ``masked_label``) and shows ``masked_value(obj, name)``.
    """

    confidential_columns: tuple[str, ...] = ()  # further names to mask (custom columns)

    def __getattr__(self, name):
        if not name.startswith(PREFIX):
            raise AttributeError(name)
        original = "__str__" if name == LABEL else name[len(PREFIX):]

        def column(obj):
            return self.masked_value(obj, original)

        column.short_description = label_for_field(original, self.model, self)
        column.admin_order_field = None
        return column

    def masked_value(self, obj, name):
        """What a reader without clearance sees of the column or field ``name`` of ``obj``."""
        if name == "__str__":
            return public_label(obj)
        if name in guard(type(obj))[0] or name == "title":
            return public_value(obj, name)
        if self._points_to_labelled(name):
            return public_label(getattr(obj, name))
        value = getattr(self, name, None)
        if callable(value):
            return value(obj)
        return getattr(obj, name)

    def _points_to_labelled(self, name) -> bool:
        if not isinstance(name, str):
            return False
        try:
            fields = get_fields_from_path(self.model, name)
        except (FieldDoesNotExist, NotRelationField):
            return False
        last = fields[-1]
        return bool(last.is_relation and last.related_model is not None
                    and (last.many_to_one or last.one_to_one)
                    and label_may_hide(last.related_model))

    def _masked_name(self, name, guarded: bool = True):
        """The masked stand-in for a column or read-only field, or the name itself (a
        withheld field only when ``guarded``: on a page whose rows can be withheld)."""
        if not isinstance(name, str) or name.startswith(PREFIX):
            return name
        if name == "__str__":
            return LABEL if label_may_hide(self.model) else name
        withheld = guarded and (name in guard(self.model)[0]
                                or name == "title" and guard(self.model)[1])
        if name in self.confidential_columns or withheld or self._points_to_labelled(name):
            return PREFIX + name
        return name

    def _guards_every_row(self, obj) -> bool:
        """Whether the protected fields are read-only on this page: on a withheld record's
        page, and in the inlines of one (its parts are withheld with it)."""
        if isinstance(self, InlineModelAdmin):
            return bool(guard(self.model)[1]) and (
                self.model is Provenance or obj is not None and row_protected(obj))
        return obj is not None and row_protected(obj)

    def get_readonly_fields(self, request, obj=None):
        names = list(super().get_readonly_fields(request, obj))
        if is_cleared(request):
            return names
        guarded = self._guards_every_row(obj)
        names = [self._masked_name(name, guarded) for name in names]
        if guarded:
            fields, _flag = guard(self.model)
            names += [PREFIX + field for field in fields if _has_field(self.model, field)]
            if _has_field(self.model, "title") and "public_title" not in fields:
                names.append(PREFIX + "title")
            if _has_field(self.model, "confidential"):
                names.append("confidential")  # declassifying needs clearance
        if _has_field(self.model, PUBLIC_MARK):
            names.append(PUBLIC_MARK)  # marking a record public needs clearance
        return _unique(names)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if is_cleared(request):
            return fieldsets
        readonly = {n for n in super().get_readonly_fields(request, obj) if isinstance(n, str)}
        view_only = obj is not None and not self.has_change_permission(request, obj)
        guarded = self._guards_every_row(obj)
        protected = guard(self.model)[0]

        def masked(name):
            if not isinstance(name, str):
                return name
            if name in self.confidential_columns or view_only or name in readonly:
                return self._masked_name(name, guarded)
            if guarded and (name in protected or name == "title"):
                return PREFIX + name
            return name

        seen: set = set()

        def line(names):
            result = []
            for name in names:
                name = masked(name)
                key = name if isinstance(name, str) else id(name)
                if key not in seen:
                    seen.add(key)
                    result.append(name)
            return result

        result = []
        for title, options in fieldsets:
            fields = []
            for entry in options.get("fields", ()):
                if isinstance(entry, (list, tuple)):
                    entry = tuple(line(entry))
                    if entry:
                        fields.append(entry)
                else:
                    fields.extend(line([entry]))
            if guarded and "confidential" in fields and "confidentiality_basis" in fields:
                # Made read-only here, it would drop to the end: keep it by its legal basis.
                fields.remove("confidential")
                fields.insert(fields.index("confidentiality_basis"), "confidential")
            result.append((title, {**options, "fields": fields}))
        return result

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not is_cleared(request) and label_may_hide(
                db_field.related_model):
            field.label_from_instance = public_label
        return field


class ConfidentialityAdminMixin(MaskingMixin):
    """For model admins: lists, search, filters, change and history pages, messages and the
    admin log show a confidential record's public registration entry to users without
    clearance."""

    def get_list_display(self, request):
        names = super().get_list_display(request)
        if is_cleared(request):
            return names
        return [self._masked_name(name) for name in names]

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        if is_cleared(request) or not links:
            return links
        return [self._masked_name(name) for name in links]

    def get_list_select_related(self, request):
        related = super().get_list_select_related(request)
        if related is not False:
            return related
        # Masked columns are not fields, so Django would not join their records by itself;
        # nor the records their labels read.
        joined = []
        for name in self.list_display:
            if name == "__str__":
                joined += label_paths(self.model)
            elif isinstance(name, str) and _is_foreign_key(self.model, name):
                related = self.model._meta.get_field(name).related_model
                joined += [name, *(f"{name}__{far}" for far in label_paths(related))]
        return joined or False

    def get_queryset(self, request):
        """Rows with their withheld status computed in the same query (no query per row)."""
        queryset = super().get_queryset(request)
        return queryset if is_cleared(request) else annotate_withheld(queryset)

    def get_list_filter(self, request):
        cleared = is_cleared(request)
        return [(name, PublicRelatedFieldListFilter)
                if isinstance(name, str) and _is_relation(self.model, name) else name
                for name in super().get_list_filter(request)
                # no filter (nor its choices) over what is withheld (a motion's authors' party)
                if cleared or not (isinstance(name, (str, tuple)) and search_guard(
                    self.model, name if isinstance(name, str) else name[0]) is not None)]

    def lookup_allowed(self, lookup, value, request=None):
        if request is not None and not is_cleared(request) and (
                search_guard(self.model, lookup) is not None
                or lookup.split("__")[0] in self.confidential_columns):
            return False  # no filtering by what is withheld (?title__icontains=...)
        return super().lookup_allowed(lookup, value, request)

    # --- search: never a match on what is withheld

    def get_search_fields(self, request):
        fields = list(super().get_search_fields(request))
        if is_cleared(request) or getattr(request, "_search_withheld", False):
            return fields
        safe = []
        for path in fields:
            if search_guard(self.model, path) is None:
                safe.append(path)
            elif path.lstrip("^=@").split("__")[-1] in ("title", "title__unaccent"):
                public = path[: len(path) - len("title")] + "public_title"
                if search_guard(self.model, public) is None and _resolves(self.model, public):
                    safe.append(public)  # the public title stands in for the title
        return _unique(safe)

    def get_search_results(self, request, queryset, search_term):
        if is_cleared(request) or not search_term:
            return super().get_search_results(request, queryset, search_term)
        if self.get_search_fields(request):
            public, duplicates = super().get_search_results(request, queryset, search_term)
        else:  # every field searched is withheld: Django would answer every row
            public, duplicates = queryset.none(), False
        flags = [search_guard(self.model, path) for path in super().get_search_fields(request)]
        flags = [flag for flag in flags if flag is not None]
        if not flags:
            return public, duplicates
        open_rows = queryset
        for flag in flags:
            open_rows = open_rows.exclude(flag)
        request._search_withheld = True  # rows not protected are searched on every field
        try:
            everything, _ = super().get_search_results(request, open_rows, search_term)
        finally:
            del request._search_withheld
        return any_of(queryset, [public.order_by().values("pk"),
                                 everything.order_by().values("pk")]), False

    # --- pages, messages and the log

    def render_change_form(self, request, context, add=False, change=False, form_url="",
                           obj=None):
        if obj is not None and not is_cleared(request):
            label = public_label(obj)
            context["subtitle"] = label
            context["original"] = Masked(obj, label)
        return super().render_change_form(request, context, add=add, change=change,
                                          form_url=form_url, obj=obj)

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        inline_formsets = super().get_inline_formsets(request, formsets, inline_instances, obj)
        if not is_cleared(request):
            for inline_formset in inline_formsets:
                inline_formset.__class__ = PublicInlineAdminFormSet
        return inline_formsets

    def history_view(self, request, object_id, extra_context=None):
        if not is_cleared(request):
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                label = public_label(obj)
                extra_context = {**(extra_context or {}), "object": Masked(obj, label),
                                 "title": gettext("Change history: %s") % label}
        return super().history_view(request, object_id, extra_context)

    def response_add(self, request, obj, post_url_continue=None):
        if not is_cleared(request):
            obj = Masked(obj, public_label(obj))
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if not is_cleared(request):
            obj = Masked(obj, public_label(obj))
        return super().response_change(request, obj)

    def log_addition(self, request, obj, message):
        return _public_log_entry(super().log_addition(request, obj, message), obj)

    def log_change(self, request, obj, message):
        return _public_log_entry(super().log_change(request, obj, message), obj)

    def action_checkbox(self, obj):
        return super().action_checkbox(Masked(obj, public_label(obj)))


def _is_foreign_key(model, name) -> bool:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return bool(field.many_to_one or field.one_to_one)


def _is_relation(model, path) -> bool:
    """Whether a list filter's path ends at a record (a foreign key, also across relations)."""
    try:
        last = get_fields_from_path(model, path)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return False
    return bool(last.is_relation and last.related_model is not None
                and (last.many_to_one or last.one_to_one))


def _resolves(model, path) -> bool:
    try:
        get_fields_from_path(model, path.lstrip("^=@"))
    except (FieldDoesNotExist, NotRelationField):
        return False
    return True


def _public_log_entry(entry, obj):
    """The admin log (recent actions) names a confidential record by its public title."""
    label = public_label(obj)
    if entry is not None and label != str(obj):
        entry.object_repr = label[:200]
        entry.save(update_fields=["object_repr"])
    return entry


def public_json(values) -> str:
    return "" if values is None else json.dumps(values, ensure_ascii=False,
                                                cls=DjangoJSONEncoder)
