"""The search index: one row per searchable record, kept in step by ``cases.search``."""

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _

SEARCH_CONFIG = "swedish_unaccent"  # Swedish stemming after unaccent (migration 0003)


class SearchEntry(models.Model):
    """A searchable record's text: a weighted tsvector for ranked Swedish full-text search,
    and an unaccented lower-case copy with a trigram index for typo-tolerant matching."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+",
                                     verbose_name=_("record type"))
    object_id = models.UUIDField(_("record id"))
    kind = models.CharField(_("kind"), max_length=40, db_index=True,
                            help_text=_("Collection of the record, e.g. cases."))
    title = models.TextField(_("title"))
    body = models.TextField(_("text"), blank=True)
    plain = models.TextField(_("unaccented text"), blank=True)
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
            GinIndex(fields=["plain"], name="search_plain_trgm", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self):
        return self.title
