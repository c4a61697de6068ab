"""Council motions with their authors and numbered proposals (att-satser)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import LIVE, RegisterModel, order_indexes
from .cases import Case
from .organisations import Organisation, Party, Person
from .unaccented import trigram_index


class Motion(RegisterModel):
    """A motion put to the municipal council by one or more elected representatives."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="motions",
                             verbose_name=_("case"), help_text=_("The case handling the motion."))
    title = models.CharField(_("title"), max_length=500,
                             help_text=_("Title of the motion as written."))
    addressed_to = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True,
        related_name="motions", verbose_name=_("addressed to"),
        help_text=_("The council the motion is put to."),
    )
    date = models.DateField(_("date"), null=True, blank=True,
                            help_text=_("Date of the motion; empty when no source gives it."))
    summary = models.TextField(_("summary"), blank=True,
                               help_text=_("What the motion asks for, as summarised in a source."))

    marked_public = models.BooleanField(
        _("marked public"), default=False, db_default=False,
        help_text=_("Set by a user cleared for confidential details: this record of a "
                    "confidential case (or document) is public. Unmarked, it is withheld "
                    "with the case."))

    class Meta:
        verbose_name = _("motion")
        verbose_name_plural = _("motions")
        ordering = ["title"]
        # motions?title: 556 -> 73 ms at 120,004 motions (BENCHMARKS.md, 2026-12-01)
        indexes = [trigram_index("summary", "motion_summary_trgm"),
                   trigram_index("title", "motion_title_trgm"),
                   *order_indexes("date", "motion_date"),
                   models.Index(fields=["title", "id"], name="motion_title_order")]

    def __str__(self):
        return self.title


class MotionAuthor(RegisterModel):
    """An author of a motion, with the party the source states for them."""

    motion = models.ForeignKey(Motion, on_delete=models.CASCADE, related_name="authors",
                               verbose_name=_("motion"), help_text=_("The motion."))
    position = models.PositiveSmallIntegerField(_("order"),
                                                help_text=_("Order among the authors, from 1."))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="motions_authored",
                               verbose_name=_("person"), help_text=_("The author."))
    party = models.ForeignKey(Party, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="motion_authors", verbose_name=_("party"),
                              help_text=_("Party as stated with the author's name."))

    class Meta:
        verbose_name = _("motion author")
        verbose_name_plural = _("motion authors")
        ordering = ["motion", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["motion", "person"], name="motion_author_unique",
                                    condition=LIVE),
            models.UniqueConstraint(fields=["motion", "position"],
                                    name="motion_author_position_unique",
                                    condition=LIVE),
        ]

    def __str__(self):
        return str(self.person)


class MotionProposal(RegisterModel):
    """A numbered proposal (att-sats, yrkande) of a motion."""

    motion = models.ForeignKey(Motion, on_delete=models.CASCADE, related_name="proposals",
                               verbose_name=_("motion"), help_text=_("The motion."))
    number = models.PositiveSmallIntegerField(
        _("number"), null=True, blank=True,
        help_text=_("The proposal's number; empty when the source does not number it."),
    )
    text = models.TextField(_("text"), help_text=_("The proposal as written."))

    class Meta:
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")
        ordering = ["motion", "number", "created", "id"]
        indexes = [trigram_index("text", "motion_proposal_text_trgm")]
        constraints = [
            models.UniqueConstraint(fields=["motion", "number"], name="motion_proposal_unique",
                                    condition=LIVE),
            models.CheckConstraint(condition=~Q(text=""), name="motion_proposal_text_required"),
        ]

    def __str__(self):
        return f"{self.number}. {self.text[:60]}" if self.number else self.text[:60]
