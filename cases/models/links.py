"""Typed links between any two records, and the provenance of every loaded fact."""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .base import RegisterModel, TimestampedModel
from .documents import Document
from .unaccented import trigram_index


class LinkType(models.TextChoices):
    REFERS_TO = "refers_to", _("refers to")
    RESPONDS_TO = "responds_to", _("responds to")
    DECIDES = "decides", _("decides")
    BASED_ON = "based_on", _("based on")
    REPLACES = "replaces", _("replaces")
    PART_OF = "part_of", _("part of")
    MENTIONS = "mentions", _("mentions")
    EVALUATES = "evaluates", _("evaluates")


class Link(RegisterModel):
    """A typed, directed link between two records of any type: source –type→ target."""

    source_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("source type"),
                                    help_text=_("Type of the record the link starts from."))
    source_id = models.UUIDField(_("source id"), help_text=_("Id of the record linked from."))
    source = GenericForeignKey("source_type", "source_id")
    type = models.CharField(_("link type"), max_length=20, choices=LinkType.choices,
                            help_text=_("How the source relates to the target."))
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("target type"),
                                    help_text=_("Type of the record the link points to."))
    target_id = models.UUIDField(_("target id"), help_text=_("Id of the record linked to."))
    target = GenericForeignKey("target_type", "target_id")

    class Meta:
        verbose_name = _("link")
        verbose_name_plural = _("links")
        indexes = [
            models.Index(fields=["source_type", "source_id"], name="link_source_idx"),
            models.Index(fields=["target_type", "target_id"], name="link_target_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source_type", "source_id", "type", "target_type",
                                            "target_id"], name="link_unique"),
            models.CheckConstraint(condition=~Q(source_id=F("target_id")),
                                   name="link_not_to_itself",
                violation_error_message=_(
                    "A record cannot "
                    "be linked to itself.")),
        ]

    def __str__(self):
        return f"{self.source} –{self.get_type_display()}→ {self.target}"


class Provenance(TimestampedModel):
    """Where a record's facts come from: a passage of a source document.

    The passage is stored as a W3C Web Annotation TextQuoteSelector (``exact`` with
    ``prefix``/``suffix`` context) plus a TextPositionSelector (``start``/``end`` as
    character offsets into the document's text).
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("record type"),
                                     help_text=_("Type of the record the passage supports."))
    object_id = models.UUIDField(_("record id"), help_text=_("Id of the supported record."))
    record = GenericForeignKey("content_type", "object_id")
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="passages",
                                 verbose_name=_("source document"),
                                 help_text=_("The document the passage is quoted from."))
    exact = models.TextField(_("quote"), help_text=_("The passage, exactly as in the document."))
    prefix = models.TextField(_("prefix"), blank=True,
                              help_text=_("Text just before the passage."))
    suffix = models.TextField(_("suffix"), blank=True, help_text=_("Text just after the passage."))
    start = models.PositiveIntegerField(_("start"),
                                        help_text=_("Offset of the passage's first character."))
    end = models.PositiveIntegerField(_("end"), help_text=_("Offset just after the passage."))
    note = models.TextField(_("note"), blank=True,
                            help_text=_("How the fact follows from the passage, when not literal."))
    note_sv = models.TextField(
        _("note in Swedish"), blank=True,
        help_text=_("The note in Swedish, for the Swedish admin (fixtures/sv/notes.yaml)."))

    class Meta:
        verbose_name = _("source passage")
        verbose_name_plural = _("source passages")
        ordering = ["document", "start", "id"]
        indexes = [trigram_index("exact", "provenance_exact_trgm"),
                   trigram_index("note", "provenance_note_trgm"),
                   models.Index(fields=["content_type", "object_id"], name="provenance_record_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end=F("start") + Length("exact")) & Q(end__gt=F("start")),
                name="provenance_offsets_match_quote",
            ),
        ]

    def __str__(self):
        return f"{self.document.source_file or self.document}: {self.start}–{self.end}"

    @property
    def local_note(self) -> str:
        """The note in the active language: Swedish when it has a Swedish wording."""
        return self.note_sv if self.note_language == "sv" else self.note

    @property
    def note_language(self) -> str:
        """The language ``local_note`` is in ("sv" or "en": notes are written in English)."""
        return "sv" if self.note_sv and (get_language() or "").startswith("sv") else "en"
