"""Admin for cases and what hangs off them: documents, motions, referrals, decisions."""

from django.contrib import admin

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

from .base import PartInline, RegisterAdmin


class RegistrationNumberInline(PartInline):
    model = RegistrationNumber
    fields = ("number", "organisation", "year")
    autocomplete_fields = ("organisation",)


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
    list_display = ("title", "municipality", "responsible_organisation", "status", "created")
    list_filter = ("status", "municipality", "responsible_organisation")
    search_fields = ("title", "description", "registration_numbers__number")
    autocomplete_fields = ("municipality", "responsible_organisation")
    inlines = [RegistrationNumberInline, CaseDocumentInline, ActivityInline]
    date_hierarchy = "created"


@admin.register(RegistrationNumber)
class RegistrationNumberAdmin(RegisterAdmin):
    list_display = ("number", "organisation", "year", "case")
    list_filter = ("year", "organisation")
    search_fields = ("number", "case__title")
    autocomplete_fields = ("case", "organisation")


@admin.register(Activity)
class ActivityAdmin(RegisterAdmin):
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
class DocumentAdmin(RegisterAdmin):
    list_display = ("title", "type", "direction", "date", "author_organisation", "case")
    list_filter = ("type", "direction", "author_organisation")
    search_fields = ("title", "text", "case__registration_numbers__number")
    autocomplete_fields = ("case", "author_organisation", "prepared_by", "recipient",
                           "case_officer")
    readonly_fields = (*RegisterAdmin.readonly_fields, "source_file", "sha256")
    inlines = [SignatoryInline, AttachmentInline]
    date_hierarchy = "date"


@admin.register(DocumentSignatory)
class DocumentSignatoryAdmin(RegisterAdmin):
    list_display = ("person", "title", "organisation", "document")
    search_fields = ("person__name", "title", "document__title")
    autocomplete_fields = ("document", "person", "organisation")


@admin.register(DocumentAttachment)
class DocumentAttachmentAdmin(RegisterAdmin):
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
class MotionAdmin(RegisterAdmin):
    list_display = ("title", "addressed_to", "date", "case")
    list_filter = ("addressed_to", "authors__party")
    search_fields = ("title", "summary", "authors__person__name")
    autocomplete_fields = ("case", "addressed_to")
    inlines = [AuthorInline, ProposalInline]


@admin.register(MotionAuthor)
class MotionAuthorAdmin(RegisterAdmin):
    list_display = ("person", "party", "motion")
    list_filter = ("party",)
    search_fields = ("person__name", "motion__title")
    autocomplete_fields = ("motion", "person", "party")


@admin.register(MotionProposal)
class MotionProposalAdmin(RegisterAdmin):
    list_display = ("__str__", "motion")
    search_fields = ("text", "motion__title")
    autocomplete_fields = ("motion",)


class ConsultedBodyInline(PartInline):
    model = ConsultedBody
    fields = ("organisation", "name_as_written", "response_status", "due_date")
    autocomplete_fields = ("organisation",)


@admin.register(Referral)
class ReferralAdmin(RegisterAdmin):
    list_display = ("title", "sender", "received_date", "due_date", "case")
    list_filter = ("sender",)
    search_fields = ("title", "case__registration_numbers__number")
    autocomplete_fields = ("case", "sender", "motion")
    inlines = [ConsultedBodyInline]
    date_hierarchy = "received_date"


@admin.register(ConsultedBody)
class ConsultedBodyAdmin(RegisterAdmin):
    list_display = ("__str__", "referral", "response_status", "due_date")
    list_filter = ("response_status",)
    search_fields = ("organisation__name", "name_as_written", "referral__title")
    autocomplete_fields = ("referral", "organisation")


@admin.register(ReferralResponse)
class ReferralResponseAdmin(RegisterAdmin):
    list_display = ("organisation", "position", "date", "referral")
    list_filter = ("position",)
    search_fields = ("organisation__name", "summary", "referral__title")
    autocomplete_fields = ("referral", "organisation", "document")


class PointInline(PartInline):
    model = DecisionPoint
    fields = ("number", "text")


@admin.register(Decision)
class DecisionAdmin(RegisterAdmin):
    list_display = ("__str__", "case", "date", "immediately_adjusted", "follow_up_due")
    list_filter = ("kind", "immediately_adjusted", "organisation")
    search_fields = ("summary", "points__text", "case__title")
    autocomplete_fields = ("case", "organisation", "proposed_by", "document")
    inlines = [PointInline]
    date_hierarchy = "date"


@admin.register(DecisionPoint)
class DecisionPointAdmin(RegisterAdmin):
    list_display = ("__str__", "decision")
    search_fields = ("text",)
    autocomplete_fields = ("decision",)
