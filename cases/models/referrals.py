"""Referrals for consultation (remisser), consulted bodies and their responses."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import LIVE, RegisterModel, order_indexes
from .cases import Case
from .documents import Document
from .motions import Motion
from .organisations import Organisation
from .unaccented import trigram_index


class Referral(RegisterModel):
    """A request for an opinion (remiss) sent by one body to others by a due date.

    A date the source gives only partly (e.g. "14 mars" with no year) is stored as written
    and left empty as a date: the register never invents the missing part.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="referrals",
                             verbose_name=_("case"), help_text=_("The case of the referral."))
    title = models.CharField(_("title"), max_length=500, help_text=_("What is referred."))
    sender = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="referrals_sent", verbose_name=_("sender"),
                               help_text=_("The body that sent the referral, when stated."))
    motion = models.ForeignKey(Motion, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="referrals", verbose_name=_("motion"),
                               help_text=_("The motion referred, when the subject is a motion."))
    received_date = models.DateField(_("received date"), null=True, blank=True,
                                     help_text=_("When the referral was received."))
    received_as_written = models.CharField(
        _("received date as written"), max_length=100, blank=True,
        help_text=_("The received date as the source writes it, when incomplete."),
    )
    due_date = models.DateField(_("response due date"), null=True, blank=True,
                                help_text=_("When responses are due (svarstid)."))
    due_as_written = models.CharField(
        _("due date as written"), max_length=100, blank=True,
        help_text=_("The due date as the source writes it, when incomplete."),
    )

    marked_public = models.BooleanField(
        _("marked public"), default=False, db_default=False,
        help_text=_("Set by a user cleared for confidential details: this record of a "
                    "confidential case (or document) is public. Unmarked, it is withheld "
                    "with the case."))

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-received_date"]
        # referrals?title: 1,022 -> 38 ms at 250,087 referrals (BENCHMARKS.md, 2026-12-01)
        indexes = [*order_indexes("received_date", "referral_received"),
                   *order_indexes("due_date", "referral_due"),
                   trigram_index("title", "referral_title_trgm")]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_date__isnull=True) | Q(received_date__isnull=True)
                | Q(due_date__gte=models.F("received_date")),
                name="referral_due_not_before_received",
                violation_error_message=_(
                    "The response due date "
                    "cannot be before the received date."),
            ),
        ]

    def __str__(self):
        return self.title


class ResponseStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RESPONDED = "responded", _("responded")
    UNKNOWN = "unknown", _("unknown")


class ConsultedBody(RegisterModel):
    """A body a referral was sent to (remissinstans), with its response status.

    When the source names a group without listing its members ("samtliga
    stadsdelsnämnder"), the group is kept as written instead of an organisation.
    """

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE,
                                 related_name="consulted_bodies", verbose_name=_("referral"),
                                 help_text=_("The referral."))
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True,
        related_name="consultations", verbose_name=_("organisation"),
        help_text=_("The consulted body, when it is a single organisation."),
    )
    name_as_written = models.CharField(
        _("name as written"), max_length=200, blank=True,
        help_text=_("The consulted body as the source names it."),
    )
    response_status = models.CharField(
        _("response status"), max_length=20, choices=ResponseStatus.choices,
        default=ResponseStatus.UNKNOWN, help_text=_("Whether this body has responded."),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True,
                                help_text=_("This body's own due date, if it differs."))

    class Meta:
        verbose_name = _("consulted body")
        verbose_name_plural = _("consulted bodies")
        ordering = ["referral", "created", "id"]
        indexes = [trigram_index("name_as_written", "consulted_body_name_trgm")]
        constraints = [
            models.UniqueConstraint(fields=["referral", "organisation"],
                                    name="consulted_body_unique",
                                    condition=LIVE),
            models.CheckConstraint(condition=Q(organisation__isnull=False) | ~Q(name_as_written=""),
                                   name="consulted_body_named",
                violation_error_message=_(
                    "A consulted body needs an "
                    "organisation or a name as written.")),
        ]

    def __str__(self):
        return self.name_as_written or str(self.organisation)


class ResponsePosition(models.TextChoices):
    SUPPORTS = "supports", _("supports")
    PARTLY_SUPPORTS = "partly_supports", _("partly supports")
    REJECTS = "rejects", _("rejects")
    CONSIDERS_ANSWERED = "considers_answered", _("considers the motion answered")
    NOT_STATED = "not_stated", _("not stated")


class ReferralResponse(RegisterModel):
    """A consulted body's answer (remissvar, yttrande) to a referral."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="responses",
                                 verbose_name=_("referral"), help_text=_("The referral answered."))
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="referral_responses",
                                     verbose_name=_("responding body"),
                                     help_text=_("The body answering."))
    document = models.ForeignKey(Document, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="referral_responses", verbose_name=_("document"),
                                 help_text=_("The document holding the answer."))
    date = models.DateField(_("date"), null=True, blank=True,
                            help_text=_("Date of the answer, when stated."))
    position = models.CharField(_("stance"), max_length=30, choices=ResponsePosition.choices,
                                help_text=_("What the body thinks of the proposal."))
    summary = models.TextField(_("summary"), blank=True,
                               help_text=_("The answer in brief, in the source's words."))

    marked_public = models.BooleanField(
        _("marked public"), default=False, db_default=False,
        help_text=_("Set by a user cleared for confidential details: this record of a "
                    "confidential case (or document) is public. Unmarked, it is withheld "
                    "with the case."))

    class Meta:
        verbose_name = _("referral response")
        verbose_name_plural = _("referral responses")
        indexes = [*order_indexes("date", "response_date"),
                   trigram_index("summary", "response_summary_trgm")]
        constraints = [
            models.UniqueConstraint(fields=["referral", "organisation", "document"],
                                    name="referral_response_unique", nulls_distinct=False),
        ]

    def __str__(self):
        return f"{self.organisation}: {self.get_position_display()}"
