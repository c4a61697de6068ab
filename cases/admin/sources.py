"""Admin for typed links and for browsing provenance passages."""

from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.urls import path
from django.utils.translation import gettext_lazy as _

from cases.models import Link, Provenance, RegisterModel

from .base import RegisterAdmin
from .confidentiality import label_paths, public_label
from .linking import link_from_view, link_targets_view


@admin.register(Link)
class LinkAdmin(RegisterAdmin):
    list_display = ("source_label", "type", "target_label")
    list_filter = ("type", "source_type", "target_type")
    confidential_columns = ("source_label", "target_label")

    def get_queryset(self, request):
        # The far records with what their labels read: a query per kind of record rather
        # than two or more per link.
        far = [model._base_manager.select_related(*label_paths(model))
               for model in apps.get_app_config("cases").get_models()
               if issubclass(model, RegisterModel)]
        return super().get_queryset(request).select_related(
            "source_type", "target_type").prefetch_related(
            GenericPrefetch("source", far), GenericPrefetch("target", far))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("from/<str:app_label>/<str:model_name>/<uuid:pk>/",
                 view(lambda request, **kwargs: link_from_view(self, request, **kwargs)),
                 name="cases_link_from"),
            path("targets/", view(link_targets_view), name="cases_link_targets"),
            *super().get_urls(),
        ]

    @admin.display(description=_("from"))
    def source_label(self, obj):
        return f"{obj.source_type.name}: {obj.source}"

    @admin.display(description=_("to"))
    def target_label(self, obj):
        return f"{obj.target_type.name}: {obj.target}"

    def masked_value(self, obj, name):
        if name == "source_label":
            return f"{obj.source_type.name}: {public_label(obj.source)}"
        if name == "target_label":
            return f"{obj.target_type.name}: {public_label(obj.target)}"
        return super().masked_value(obj, name)


@admin.register(Provenance)
class ProvenanceAdmin(RegisterAdmin):
    """Passages are derived from the fixtures: readable, never edited by hand. The quotes
    of a confidential document are withheld from users without clearance."""

    list_display = ("document", "content_type", "start", "end", "exact")
    # Not by document: its choices would be every document (at 100,000 documents the list
    # took 16 s); a document's passages are on its page.
    list_filter = ("content_type",)
    search_fields = ("exact", "note")
    readonly_fields = [f.name for f in Provenance._meta.fields]

    def get_inlines(self, request, obj):
        return []

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
