from django.contrib import admin

from cases.models import (
    CollaborationFigure,
    CollaborationModel,
    CollaborationSector,
    CollaborationUsage,
)

from .base import PartInline, RegisterAdmin


class SectorInline(PartInline):
    model = CollaborationSector
    fields = ("sector",)


class UsageInline(PartInline):
    model = CollaborationUsage
    fields = ("municipality", "organisation", "place")
    autocomplete_fields = ("municipality", "organisation")


class FigureInline(PartInline):
    model = CollaborationFigure
    fields = ("label", "value", "unit", "year")


@admin.register(CollaborationModel)
class CollaborationModelAdmin(RegisterAdmin):
    list_display = ("name", "abbreviation", "municipality", "level", "status")
    list_filter = ("level", "status", "municipality", "sectors__sector")
    search_fields = ("name", "abbreviation", "description", "target_group")
    autocomplete_fields = ("municipality",)
    inlines = [SectorInline, UsageInline, FigureInline]


@admin.register(CollaborationSector)
class CollaborationSectorAdmin(RegisterAdmin):
    list_display = ("model", "sector")
    list_filter = ("sector",)
    search_fields = ("model__name", "model__abbreviation")
    autocomplete_fields = ("model",)


@admin.register(CollaborationUsage)
class CollaborationUsageAdmin(RegisterAdmin):
    list_display = ("model", "municipality", "organisation", "place")
    search_fields = ("model__name", "place", "organisation__name")
    autocomplete_fields = ("model", "municipality", "organisation")


@admin.register(CollaborationFigure)
class CollaborationFigureAdmin(RegisterAdmin):
    list_display = ("model", "label", "value", "unit", "year")
    list_filter = ("unit", "year")
    search_fields = ("model__name", "label")
    autocomplete_fields = ("model",)
