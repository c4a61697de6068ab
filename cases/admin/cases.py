"""Admin for cases and what hangs off them: documents, motions, referrals, decisions."""

import datetime

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import F
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases.models import (
    Activity,
    Case,
    ConsultedBody,
    Decision,
    DecisionPoint,
    Document,
    DocumentAttachment,
    DocumentSignatory,
    Motion,
    MotionAuthor,
    MotionProposal,
    Referral,
    ReferralResponse,
    RegistrationNumber,
)
from cases.roles import EDIT_ANY_CASE, EDIT_OWN_CASES, case_path, own_cases_only

from .base import PartInline, RegisterAdmin
from .filters import DateRangeFilter, year_filter
from .registering import register_incoming_view
from .story import case_story_view


class OwnCasesOnly:
    """Case officers (who may edit only the cases they own) add and change the records of
    those cases only, parts reached through their parent included (a signatory through its
    document); registrars, with the right to edit every case, are not limited. The rule is
    ``cases.policies``' (asked by ``RegisterAdmin.has_change_permission`` for the stored
    record, and by the form and the write services for the case a form puts it in); here
    the parent choices offered are limited to the user's cases."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        path = case_path(self.model)
        if path and db_field.name == path[0] and field is not None \
                and own_cases_only(request.user):
            field.queryset = field.queryset.filter(
                **{"__".join((*path[1:], "owner")): request.user})
        return field


class DueDateFilter(admin.SimpleListFilter):
    """Referrals (or consulted bodies) by their response due date: passed, the next two
    weeks, later, or none."""

    title = _("response due")
    parameter_name = "due"
    SOON = datetime.timedelta(days=14)

    def lookups(self, request, model_admin):
        return [("passed", _("passed")), ("soon", _("within two weeks")),
                ("later", _("later")), ("none", _("no due date"))]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        return {
            "passed": lambda: queryset.filter(due_date__lt=today),
            "soon": lambda: queryset.filter(due_date__gte=today, due_date__lte=today + self.SOON),
            "later": lambda: queryset.filter(due_date__gt=today + self.SOON),
            "none": lambda: queryset.filter(due_date__isnull=True),
        }.get(self.value(), lambda: queryset)()


class RegistrationNumberInline(PartInline):
    """A case's numbers, read-only: only the registration service allocates them (the next
    of the series, under its lock); a number given by mistake is voided with a reason."""

    model = RegistrationNumber
    fields = ("number", "organisation", "year")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ActivityInline(PartInline):
    model = Activity
    fields = ("date", "type", "organisation", "person", "description")
    autocomplete_fields = ("organisation", "person")


class CaseDocumentInline(PartInline):
    """The case's documents; a confidential one by its public title for those not cleared."""

    model = Document
    fields = ("title", "type", "direction", "date")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(RegisterAdmin):
    list_display = ("registered_date", "registration_number_list", "title",
                    "responsible_organisation", "status", "owner")
    list_display_links = ("title",)
    list_filter = ("status", ("registered", DateRangeFilter), ("closed", DateRangeFilter),
                   "responsible_organisation", "municipality",
                   year_filter("registration_numbers__year", _("year"), numeric=True),
                   "confidential", "owner")
    # A diarium's order: the latest registered first (the index case_registered_order_desc);
    # cases whose sources state no date last.
    ordering = (F("registered").desc(nulls_last=True), "-id")
    date_hierarchy = "registered"  # drawn by register_admin.bounded_date_hierarchy
    search_fields = ("title", "description", "registration_numbers__number")
    autocomplete_fields = ("municipality", "responsible_organisation")
    inlines = [RegistrationNumberInline, CaseDocumentInline, ActivityInline]
    fieldsets = [
        (None, {"fields": ["title", ("registered", "status"),
                           ("closed", "closed_by_decision", "closed_by_document"),
                           ("responsible_organisation", "municipality"), "owner",
                           "description"]}),
        (_("Confidentiality"), {"fields": [("confidential", "confidentiality_basis"),
                                           "public_title"]}),
        (_("Record"), {"classes": ["collapse"], "fields": list(RegisterAdmin.readonly_fields)}),
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        """The records that may close a case are its own (the model checks it too)."""
        form = super().get_form(request, obj, change, **kwargs)
        for name, model in (("closed_by_decision", Decision), ("closed_by_document", Document)):
            if name in form.base_fields:
                field = form.base_fields[name]
                field.queryset = model.objects.filter(
                    case=obj, voided_at__isnull=True) if obj else model.objects.none()
                # Chosen among the case's own, not added or changed from here.
                field.widget.can_add_related = field.widget.can_change_related = False
        return form

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("registration_numbers")

    @admin.display(description=_("registered"), ordering="registered")
    def registered_date(self, obj):
        return date_format(obj.registered, "SHORT_DATE_FORMAT") if obj.registered else "–"

    @admin.display(description=_("registration numbers"))
    def registration_number_list(self, obj):
        return ", ".join(n.number for n in obj.registration_numbers.all()
                         if not n.voided_at) or "–"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("register/", view(lambda request: register_incoming_view(self, request)),
                 name="cases_case_register"),
            path("<path:object_id>/story/",
                 view(lambda request, object_id: case_story_view(self, request, object_id)),
                 name="cases_case_story"),
            *super().get_urls(),
        ]

    def record_tools(self, request, obj):
        story = (gettext("Story"), reverse("admin:cases_case_story", args=[obj.pk]))
        return [story, *super().record_tools(request, obj)]

    def changelist_view(self, request, extra_context=None):
        if request.user.has_perm("cases.register_incoming"):
            extra_context = {**(extra_context or {}), "record_tools": [
                (gettext("Register incoming document"), reverse("admin:cases_case_register"))]}
        return super().changelist_view(request, extra_context)

    def has_change_permission(self, request, obj=None):
        if request.user.has_perm(EDIT_ANY_CASE):
            return super().has_change_permission(request, obj)
        if request.user.has_perm(EDIT_OWN_CASES):
            return obj is None or (obj.owner_id == request.user.pk and not obj.voided_at)
        return False

    def get_readonly_fields(self, request, obj=None):
        names = list(super().get_readonly_fields(request, obj))
        if not request.user.has_perm(EDIT_ANY_CASE):
            names.append("owner")  # only registrars assign cases
        return names

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True, is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(RegistrationNumber)
class RegistrationNumberAdmin(OwnCasesOnly, RegisterAdmin):
    """Registration numbers, read-only: allocated by the registration service only (a
    number typed by hand would have no serial and collide with the next one allocated);
    voided with a reason when given by mistake."""

    list_display = ("number", "organisation", "year", "case")
    # (Django's own year filter lists the DISTINCT years of a million numbers on every page)
    list_filter = (year_filter("year", _("year"), numeric=True), "organisation")
    search_fields = ("number", "case__title")
    ordering = ("number", "id")  # whole: Django would add -pk, which no index holds
    readonly_fields = (*RegisterAdmin.readonly_fields, "number", "organisation", "year",
                       "serial", "case")

    def has_add_permission(self, request):
        return False


@admin.register(Activity)
class ActivityAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("date", "type", "case", "organisation", "person")
    list_filter = ("type",)
    search_fields = ("description", "case__title")
    autocomplete_fields = ("case", "organisation", "person")
    date_hierarchy = "date"


class SignatoryInline(PartInline):
    model = DocumentSignatory
    fields = ("position", "person", "title", "organisation")
    autocomplete_fields = ("person", "organisation")


class AttachmentInline(PartInline):
    model = DocumentAttachment
    fields = ("position", "title", "date")


@admin.register(Document)
class DocumentAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("title", "type", "direction", "date", "author_organisation", "case")
    list_filter = ("type", "direction", year_filter("date", _("year")), "author_organisation",
                   "confidential")
    search_fields = ("title", "text", "case__registration_numbers__number")
    autocomplete_fields = ("case", "author_organisation", "prepared_by", "recipient",
                           "case_officer")
    readonly_fields = (*RegisterAdmin.readonly_fields, "source_file", "sha256")
    inlines = [SignatoryInline, AttachmentInline]


@admin.register(DocumentSignatory)
class DocumentSignatoryAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("person", "title", "organisation", "document")
    search_fields = ("person__name", "title", "document__title")
    autocomplete_fields = ("document", "person", "organisation")


@admin.register(DocumentAttachment)
class DocumentAttachmentAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("title", "document", "position")
    search_fields = ("title", "document__title")
    autocomplete_fields = ("document",)


class AuthorInline(PartInline):
    model = MotionAuthor
    fields = ("position", "person", "party")
    autocomplete_fields = ("person", "party")


class ProposalInline(PartInline):
    model = MotionProposal
    fields = ("number", "text")


@admin.register(Motion)
class MotionAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("title", "addressed_to", "date", "case")
    list_filter = ("addressed_to", "authors__party")
    search_fields = ("title", "summary", "authors__person__name")
    autocomplete_fields = ("case", "addressed_to")
    inlines = [AuthorInline, ProposalInline]


@admin.register(MotionAuthor)
class MotionAuthorAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("person", "party", "motion")
    list_filter = ("party",)
    search_fields = ("person__name", "motion__title")
    autocomplete_fields = ("motion", "person", "party")


@admin.register(MotionProposal)
class MotionProposalAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("__str__", "motion")
    search_fields = ("text", "motion__title")
    autocomplete_fields = ("motion",)


class ConsultedBodyInline(PartInline):
    model = ConsultedBody
    fields = ("organisation", "name_as_written", "response_status", "due_date")
    autocomplete_fields = ("organisation",)


@admin.register(Referral)
class ReferralAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("title", "sender", "received_date", "due_date", "case")
    list_filter = (DueDateFilter, "sender")
    search_fields = ("title", "case__registration_numbers__number")
    autocomplete_fields = ("case", "sender", "motion")
    inlines = [ConsultedBodyInline]
    date_hierarchy = "received_date"


@admin.register(ConsultedBody)
class ConsultedBodyAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("__str__", "referral", "response_status", "due_date")
    list_filter = ("response_status", DueDateFilter)
    search_fields = ("organisation__name", "name_as_written", "referral__title")
    autocomplete_fields = ("referral", "organisation")


@admin.register(ReferralResponse)
class ReferralResponseAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("organisation", "position", "date", "referral")
    list_filter = ("position",)
    search_fields = ("organisation__name", "summary", "referral__title")
    autocomplete_fields = ("referral", "organisation", "document")


class PointInline(PartInline):
    model = DecisionPoint
    fields = ("number", "text")


@admin.register(Decision)
class DecisionAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("__str__", "case", "date", "immediately_adjusted", "follow_up_due")
    list_filter = ("kind", "immediately_adjusted", "organisation")
    search_fields = ("summary", "points__text", "case__title")
    autocomplete_fields = ("case", "organisation", "proposed_by", "document")
    inlines = [PointInline]
    date_hierarchy = "date"


@admin.register(DecisionPoint)
class DecisionPointAdmin(OwnCasesOnly, RegisterAdmin):
    list_display = ("__str__", "decision")
    search_fields = ("text",)
    autocomplete_fields = ("decision",)
