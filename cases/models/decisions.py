"""Decisions and proposed decisions with their numbered points."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import LIVE, DatePrecision, RegisterModel, order_indexes
from .cases import Case
from .documents import Document
from .organisations import Organisation
from .unaccented import trigram_index


class DecisionKind(models.TextChoices):
    PROPOSED = "proposed", _("proposed decision")
    DECIDED = "decided", _("decision")


class Decision(RegisterModel):
    """A decision, or a proposal for one (förslag till beslut), by a body on a case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions",
                             verbose_name=_("case"), help_text=_("The case decided."))
    kind = models.CharField(_("kind"), max_length=20, choices=DecisionKind.choices,
                            help_text=_("A proposal or a decision taken."))
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT,
                                     related_name="decisions", verbose_name=_("deciding body"),
                                     help_text=_("The body that decides (or is to decide)."))
    proposed_by = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True,
        related_name="proposed_decisions", verbose_name=_("proposed by"),
        help_text=_("The administration proposing the decision."),
    )
    document = models.ForeignKey(Document, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="decisions", verbose_name=_("document"),
                                 help_text=_("The document stating the decision."))
    summary = models.TextField(_("summary"), blank=True,
                               help_text=_("What is decided, when the source does not number it."))
    date = models.DateField(_("date"), null=True, blank=True,
                            help_text=_("Date of the decision, when taken."))
    immediately_adjusted = models.BooleanField(
        _("immediately adjusted"), default=False,
        help_text=_("The minutes are approved at once (justeras omedelbart)."),
    )
    effective_date = models.DateField(_("effective date"), null=True, blank=True,
                                      help_text=_("From when the decision applies."))
    follow_up_due = models.DateField(
        _("follow-up due"), null=True, blank=True,
        help_text=_("Latest date for reporting back (återrapportering)."),
    )
    follow_up_due_precision = models.CharField(
        _("follow-up due precision"), max_length=10, choices=DatePrecision.choices, blank=True,
        help_text=_("How much of the follow-up date the source states."),
    )

    marked_public = models.BooleanField(
        _("marked public"), default=False, db_default=False,
        help_text=_("Set by a user cleared for confidential details: this record of a "
                    "confidential case (or document) is public. Unmarked, it is withheld "
                    "with the case."))

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        ordering = ["case", "created", "id"]
        # Date ranges (API and admin drill-down) and the first and last date.
        indexes = [trigram_index("summary", "decision_summary_trgm"),
                   *order_indexes("date", "decision_date"),
                   *order_indexes("follow_up_due", "decision_follow_up")]
        constraints = [
            models.CheckConstraint(
                condition=Q(follow_up_due__isnull=True, follow_up_due_precision="")
                | Q(follow_up_due__isnull=False) & ~Q(follow_up_due_precision=""),
                name="decision_follow_up_precision_with_date",
                violation_error_message=_(
                    "A follow-up date needs its "
                    "precision, and a precision needs a date."),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.organisation}"


class DecisionPoint(RegisterModel):
    """A numbered point of a decision."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="points",
                                 verbose_name=_("decision"), help_text=_("The decision."))
    number = models.PositiveSmallIntegerField(_("number"), help_text=_("Point number, from 1."))
    text = models.TextField(_("text"), help_text=_("The point as written."))

    class Meta:
        verbose_name = _("decision point")
        verbose_name_plural = _("decision points")
        ordering = ["decision", "number", "id"]
        # decisions?text: 4,317 -> 455 ms at 1M cases (BENCHMARKS.md, 2026-12-01)
        indexes = [trigram_index("text", "decision_point_text_trgm")]
        constraints = [
            models.UniqueConstraint(fields=["decision", "number"], name="decision_point_unique",
                                    condition=LIVE),
            models.CheckConstraint(condition=Q(number__gte=1), name="decision_point_from_one"),
        ]

    def __str__(self):
        return f"{self.number}. {self.text[:60]}"
