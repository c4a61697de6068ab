"""Who acts in the register: municipalities, organisations, parties and people."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import LIVE, RegisterModel
from .unaccented import trigram_index


class Municipality(RegisterModel):
    """A Swedish municipality (kommun), identified by its kommunkod."""

    name = models.CharField(_("name"), max_length=100, unique=True,
                            help_text=_("Name of the municipality, e.g. Stockholm."))
    code = models.CharField(
        _("municipality code"), max_length=4, unique=True,
        help_text=_("Four-digit kommunkod from Statistics Sweden, e.g. 0180 for Stockholm."),
    )

    class Meta:
        verbose_name = _("municipality")
        verbose_name_plural = _("municipalities")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[0-9]{4}$"),
                                   name="municipality_code_four_digits"),
        ]

    def __str__(self):
        return self.name


class OrganisationType(models.TextChoices):
    COUNCIL = "council", _("municipal council")
    EXECUTIVE_BOARD = "executive_board", _("municipal executive board")
    COMMITTEE = "committee", _("committee")
    DISTRICT_COMMITTEE = "district_committee", _("district committee")
    ADMINISTRATION = "administration", _("administration")
    CENTRAL_OFFICE = "central_office", _("city executive office")
    DEPARTMENT = "department", _("department")
    UNIT = "unit", _("unit")
    MUNICIPAL_COMPANY = "municipal_company", _("municipal production unit or company")
    AUDIT = "audit", _("audit office")
    GOVERNMENT_AGENCY = "government_agency", _("government agency")
    ASSOCIATION = "association", _("association")
    GROUP = "group", _("collaboration group")
    COMPANY = "company", _("company")


class Organisation(RegisterModel):
    """A body that registers, refers, responds, decides or is consulted.

    Municipal bodies belong to a municipality and may have a parent (an administration under
    its committee, a department under its administration). External bodies such as
    Skolverket have no municipality.
    """

    name = models.CharField(
        _("name"), max_length=200,
        help_text=_("Name as used by the body itself, e.g. Utbildningsnämnden."),
    )
    short_name = models.CharField(
        _("short name"), max_length=30, blank=True,
        help_text=_("Abbreviation used in registration numbers or text, e.g. KS or GRF."),
    )
    type = models.CharField(_("type"), max_length=30, choices=OrganisationType.choices,
                            help_text=_("Kind of body."))
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True,
        related_name="organisations", verbose_name=_("municipality"),
        help_text=_("Municipality the body belongs to; empty for external bodies."),
    )
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
        verbose_name=_("parent organisation"),
        help_text=_("The body this one is part of or reports to."),
    )

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "name"],
                                    name="organisation_name_unique_in_municipality",
                                    nulls_distinct=False),
            models.CheckConstraint(condition=~Q(parent=models.F("id")),
                                   name="organisation_not_own_parent"),
        ]

    def __str__(self):
        return f"{self.name} ({self.municipality})" if self.municipality_id else self.name


class Party(RegisterModel):
    """A political party as abbreviated in council documents, e.g. L or M."""

    abbreviation = models.CharField(_("abbreviation"), max_length=10, unique=True,
                                    help_text=_("Letter code used in documents, e.g. L."))
    name = models.CharField(_("name"), max_length=100, blank=True,
                            help_text=_("Full name, e.g. Liberalerna; empty when no source "
                                        "gives it."))

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["abbreviation"]

    def __str__(self):
        return f"{self.name} ({self.abbreviation})"


class Person(RegisterModel):
    """One real person: an elected representative, director or case officer.

    ``name`` is the correct spelling; spellings found in sources (e.g. OCR without
    diacritics) are kept as name variants.
    """

    name = models.CharField(_("name"), max_length=200, db_index=True,
                            help_text=_("The person's name, correctly spelled."))

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name"]
        # A name filter (cases.api.filters.PersonNameFilter) reads people and name variants
        # through these, not every name through unaccent (a sequential scan of 20,000 people
        # in each of documents?case_officer, ?signatory, motions?author, activities?person).
        indexes = [trigram_index("name", "person_name_trgm")]

    def __str__(self):
        return self.name


class PersonNameVariant(RegisterModel):
    """A spelling of a person's name exactly as written in a source document."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="name_variants",
                               verbose_name=_("person"), help_text=_("The person so named."))
    name = models.CharField(_("name as written"), max_length=200,
                            help_text=_("The name as the source spells it."))

    class Meta:
        verbose_name = _("name variant")
        verbose_name_plural = _("name variants")
        ordering = ["name"]
        indexes = [trigram_index("name", "person_name_variant_trgm")]
        constraints = [
            models.UniqueConstraint(fields=["person", "name"], name="name_variant_unique",
                                    condition=LIVE),
        ]

    def __str__(self):
        return self.name


class PersonRole(RegisterModel):
    """A title or position a person holds in an organisation, as stated in a source."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="roles",
                               verbose_name=_("person"), help_text=_("Who holds the role."))
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="roles",
        verbose_name=_("organisation"), help_text=_("Where the role is held, when stated."),
    )
    title = models.CharField(_("title"), max_length=200,
                             help_text=_("Title as written, e.g. Utbildningsdirektör."))
    as_of = models.DateField(_("as of"), null=True, blank=True,
                             help_text=_("A date on which the source shows the role held."))

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["person__name", "title", "id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "organisation", "title"],
                                    name="person_role_unique",
                                    condition=LIVE, nulls_distinct=False),
        ]

    def __str__(self):
        return f"{self.person}: {self.title}"


class PartyAffiliation(RegisterModel):
    """A person's party as stated in a source, e.g. "(L)" or "båda Liberalerna"."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="affiliations",
                               verbose_name=_("person"), help_text=_("The member."))
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="affiliations",
                              verbose_name=_("party"), help_text=_("The party."))
    as_of = models.DateField(_("as of"), null=True, blank=True,
                             help_text=_("A date on which the source shows the affiliation."))

    class Meta:
        verbose_name = _("party affiliation")
        verbose_name_plural = _("party affiliations")
        ordering = ["person", "party", "id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "party"], name="party_affiliation_unique",
                                    condition=LIVE),
        ]

    def __str__(self):
        return f"{self.person} ({self.party.abbreviation})"
