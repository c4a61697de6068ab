"""Documents (handlingar) with their full text, signatories and attachments."""

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import LIVE, RegisterModel, order_indexes
from .cases import Case
from .organisations import Organisation, Person
from .unaccented import trigram_index


class DocumentType(models.TextChoices):
    MOTION = "motion", _("motion")
    REFERRAL = "referral", _("referral")
    OFFICIAL_REPORT = "official_report", _("official report (tjänsteutlåtande)")
    OFFICIAL_MEMO = "official_memo", _("official memo (tjänsteskrivelse)")
    STATEMENT = "statement", _("statement (yttrande)")
    MINUTES_EXTRACT = "minutes_extract", _("minutes extract")
    ATTACHMENT = "attachment", _("attachment")
    # What else a municipality receives and registers (issue 15): from the public, companies
    # and other bodies.
    LETTER = "letter", _("letter")
    EMAIL = "email", _("e-mail")
    CITIZEN_PROPOSAL = "citizen_proposal", _("citizen proposal (medborgarförslag)")
    APPLICATION = "application", _("application")


class Direction(models.TextChoices):
    INCOMING = "incoming", _("incoming")
    DRAWN_UP = "drawn_up", _("drawn up")
    DISPATCHED = "dispatched", _("dispatched")


class Document(RegisterModel):
    """A registered document (handling) of a case.

    Documents loaded from ``models_docs/`` keep their full text, file name and SHA-256,
    and every other loaded fact points at a passage of one of them.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="documents",
                             verbose_name=_("case"),
                             help_text=_("The case the document belongs to."))
    title = models.CharField(_("title"), max_length=500, help_text=_("Heading of the document."))
    type = models.CharField(_("document type"), max_length=30, choices=DocumentType.choices,
                            help_text=_("Kind of document."))
    direction = models.CharField(_("direction"), max_length=20, choices=Direction.choices,
                                 help_text=_("Incoming, drawn up or dispatched."))
    date = models.DateField(_("date"), null=True, blank=True,
                            help_text=_("Date of the document; empty when the source gives none."))
    author_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True,
        related_name="authored_documents", verbose_name=_("author body"),
        help_text=_("The body in whose name the document is written."),
    )
    prepared_by = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True,
        related_name="prepared_documents", verbose_name=_("prepared by"),
        help_text=_("The unit that prepared the matter (beredning)."),
    )
    recipient = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True,
        related_name="received_documents", verbose_name=_("addressed to"),
        help_text=_("The body the document is addressed to (Till)."),
    )
    case_officer = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True,
        related_name="handled_documents", verbose_name=_("case officer"),
        help_text=_("The handläggare named on the document."),
    )
    # A private sender's personal data (cases.confidentiality.PERSONAL): shown to staff in
    # the admin only, never in the API's records.
    sender_name = models.CharField(
        _("sender's name"), max_length=200, blank=True,
        help_text=_("A private person who sent the document, when no organisation did."))
    sender_address = models.CharField(
        _("sender's address"), max_length=300, blank=True,
        help_text=_("The private sender's postal or e-mail address, for the reply."))
    text = models.TextField(_("full text"), blank=True,
                            help_text=_("The document's full text, exactly as received."))
    source_file = models.CharField(
        _("source file"), max_length=200, null=True, blank=True, unique=True,
        help_text=_("File name in models_docs/ the text was loaded from."),
    )
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True,
                              help_text=_("Checksum of the source file."))
    confidential = models.BooleanField(
        _("confidential"), default=False,
        help_text=_("Protected details (title, text, passages) are shown only to those "
                    "cleared; the registration entry stays public."))
    confidentiality_basis = models.CharField(
        _("legal basis"), max_length=200, blank=True,
        help_text=_("Grounds for secrecy, e.g. OSL 26 kap. 1 §."))
    public_title = models.CharField(
        _("public title"), max_length=500, blank=True,
        help_text=_("Neutral title shown instead of the title when the document is "
                    "confidential."))

    marked_public = models.BooleanField(
        _("marked public"), default=False, db_default=False,
        help_text=_("Set by a user cleared for confidential details: this record of a "
                    "confidential case (or document) is public. Unmarked, it is withheld "
                    "with the case."))

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-date"]
        indexes = [
            GinIndex(fields=["title"], name="document_title_trgm", opclasses=["gin_trgm_ops"]),
            # The text filters (cases.api.filters.ProtectedTextFilter) through trigram
            # indexes (cases.models.unaccented): documents?text=skolsociala took 13.7 s at a
            # million documents reading every text.
            trigram_index("title", "document_title_unaccented_trgm"),
            trigram_index("public_title", "document_public_title_trgm"),
            trigram_index("text", "document_text_trgm"),
            # Pages in created order (the default) carry the columns the list filters test
            # beside the key, so a page of a date range or of modified_since is found by an
            # index-only scan that skips non-matching documents without reading the table
            # (replaces 0010's cases_document_ckey on (created, id)).
            models.Index(fields=["created", "id"], include=["modified", "voided_at", "date"],
                         name="document_created_page"),
            # The admin's year filter (the first and last date, cases.admin.filters) and
            # pages in date order.
            *order_indexes("date", "document_date"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(sha256="") | Q(sha256__regex=r"^[0-9a-f]{64}$"),
                                   name="document_sha256_hex"),
            models.CheckConstraint(condition=Q(confidential=False)
                                   | ~Q(confidentiality_basis="") & ~Q(public_title=""),
                                   name="document_confidential_with_basis_and_public_title",
                violation_error_message=_(
                    "A confidential document needs "
                    "its legal basis and a public title.")),
        ]

    def __str__(self):
        return self.title


class DocumentSignatory(RegisterModel):
    """A person who signed a document, with the title printed under the name."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="signatories",
                                 verbose_name=_("document"), help_text=_("The signed document."))
    position = models.PositiveSmallIntegerField(_("order"),
                                                help_text=_("Order of the signature, from 1."))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="signatures",
                               verbose_name=_("person"), help_text=_("Who signed."))
    title = models.CharField(_("title"), max_length=200, blank=True,
                             help_text=_("Title as printed, e.g. Grundskoledirektör."))
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="signatures",
        verbose_name=_("organisation"), help_text=_("Body printed under the signature."),
    )

    class Meta:
        verbose_name = _("signatory")
        verbose_name_plural = _("signatories")
        ordering = ["document", "position", "id"]
        indexes = [trigram_index("title", "signatory_title_trgm")]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"],
                                    name="signatory_position_unique",
                                    condition=LIVE),
            models.UniqueConstraint(fields=["document", "person"],
                                    name="signatory_person_unique",
                                    condition=LIVE),
        ]

    def __str__(self):
        return f"{self.person}, {self.title}" if self.title else str(self.person)


class DocumentAttachment(RegisterModel):
    """An attachment (bilaga) or supporting document listed by a document."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="attachments",
                                 verbose_name=_("document"), help_text=_("The listing document."))
    position = models.PositiveSmallIntegerField(_("order"),
                                                help_text=_("Order in the list, from 1."))
    title = models.CharField(_("title"), max_length=500,
                             help_text=_("Title of the attachment as written."))
    date = models.DateField(_("date"), null=True, blank=True,
                            help_text=_("Date of the attachment, when listed."))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["document", "position", "id"]
        indexes = [trigram_index("title", "attachment_title_trgm")]
        constraints = [
            models.UniqueConstraint(fields=["document", "position"],
                                    name="attachment_position_unique",
                                    condition=LIVE),
        ]

    def __str__(self):
        return self.title
