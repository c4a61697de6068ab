"""The search index: one row per searchable record, kept in step by ``cases.search``."""

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _

SEARCH_CONFIG = "swedish_unaccent"  # Swedish stemming after unaccent (migration 0003)


class SearchEntry(models.Model):
    """A searchable record's text with a weighted tsvector for ranked Swedish full-text
    search (its words also feed the lexicon of ``SearchWord``)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+",
                                     verbose_name=_("record type"))
    object_id = models.UUIDField(_("record id"))
    kind = models.CharField(_("kind"), max_length=40, db_index=True,
                            help_text=_("Collection of the record, e.g. cases."))
    title = models.TextField(_("title"))
    body = models.TextField(_("text"), blank=True)
    vector = SearchVectorField(_("search vector"), null=True)

    class Meta:
        verbose_name = _("search entry")
        verbose_name_plural = _("search entries")
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"],
                                    name="search_entry_unique"),
        ]
        indexes = [
            GinIndex(fields=["vector"], name="search_vector_gin"),
        ]

    def __str__(self):
        return self.title


class SearchWord(models.Model):
    """The lexicon: every word stem in the search index, with a trigram index, so that a
    misspelt query word (a typo, an OCR error) is matched to the stems that are there."""

    word = models.TextField(_("word stem"))

    class Meta:
        verbose_name = _("search word")
        verbose_name_plural = _("search words")
        constraints = [models.UniqueConstraint(fields=["word"], name="search_word_unique")]
        indexes = [GinIndex(fields=["word"], name="search_word_trgm",
                            opclasses=["gin_trgm_ops"])]

    def __str__(self):
        return self.word
