from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cases.models import (
    Municipality,
    Organisation,
    Party,
    PartyAffiliation,
    Person,
    PersonNameVariant,
    PersonRole,
)

from .base import PartInline, RegisterAdmin


@admin.register(Municipality)
class MunicipalityAdmin(RegisterAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


class ChildOrganisationInline(PartInline):
    model = Organisation
    fk_name = "parent"
    fields = ("name", "short_name", "type")
    verbose_name_plural = _("sub-organisations")


@admin.register(Organisation)
class OrganisationAdmin(RegisterAdmin):
    list_display = ("name", "short_name", "type", "municipality", "parent")
    list_filter = ("type", "municipality")
    search_fields = ("name", "short_name")
    autocomplete_fields = ("municipality", "parent")
    inlines = [ChildOrganisationInline]


@admin.register(Party)
class PartyAdmin(RegisterAdmin):
    list_display = ("abbreviation", "name")
    search_fields = ("abbreviation", "name")


class NameVariantInline(PartInline):
    model = PersonNameVariant
    fields = ("name",)


class RoleInline(PartInline):
    model = PersonRole
    fields = ("title", "organisation", "as_of")
    autocomplete_fields = ("organisation",)


class AffiliationInline(PartInline):
    model = PartyAffiliation
    fields = ("party", "as_of")
    autocomplete_fields = ("party",)


@admin.register(Person)
class PersonAdmin(RegisterAdmin):
    list_display = ("name",)
    search_fields = ("name", "name_variants__name")
    inlines = [NameVariantInline, RoleInline, AffiliationInline]


@admin.register(PersonNameVariant)
class PersonNameVariantAdmin(RegisterAdmin):
    list_display = ("name", "person")
    search_fields = ("name", "person__name")
    autocomplete_fields = ("person",)


@admin.register(PersonRole)
class PersonRoleAdmin(RegisterAdmin):
    list_display = ("person", "title", "organisation", "as_of")
    list_filter = ("organisation__municipality",)
    search_fields = ("person__name", "title", "organisation__name")
    autocomplete_fields = ("person", "organisation")


@admin.register(PartyAffiliation)
class PartyAffiliationAdmin(RegisterAdmin):
    list_display = ("person", "party", "as_of")
    list_filter = ("party",)
    search_fields = ("person__name", "party__abbreviation", "party__name")
    autocomplete_fields = ("person", "party")
