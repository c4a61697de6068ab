"""Collaboration models between schools and social services (samverkansmodeller)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import LIVE, DatePrecision, RegisterModel
from .organisations import Municipality, Organisation


class CollaborationLevel(models.TextChoices):
    UNIVERSAL = "universal", _("universal")
    INDIVIDUAL = "individual", _("individual")
    STRUCTURAL = "structural", _("structural")
    UNKNOWN = "unknown", _("unknown")


class CollaborationStatus(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    PILOT = "pilot", _("pilot or project")
    ONGOING = "ongoing", _("ongoing")
    PERMANENT = "permanent", _("permanent")
    DISCONTINUED = "discontinued", _("discontinued")
    UNKNOWN = "unknown", _("unknown")


class CollaborationModel(RegisterModel):
    """A way schools and social services (and others) work together, e.g. SSPF."""

    name = models.CharField(_("name"), max_length=200,
                            help_text=_("Name of the model, e.g. Skolsociala team."))
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True,
        related_name="collaboration_models", verbose_name=_("municipality"),
        help_text=_("The municipality whose own model this is; empty for a general model "
                    "such as Skottlandsmodellen that many use."),
    )
    abbreviation = models.CharField(_("abbreviation"), max_length=30, blank=True,
                                    help_text=_("Short form, e.g. SST."))
    level = models.CharField(_("level"), max_length=20, choices=CollaborationLevel.choices,
                             default=CollaborationLevel.UNKNOWN,
                             help_text=_("Universal, individual or structural level."))
    status = models.CharField(_("status"), max_length=20, choices=CollaborationStatus.choices,
                              default=CollaborationStatus.UNKNOWN,
                              help_text=_("Stage of the model as far as the sources tell."))
    target_group = models.TextField(_("target group"), blank=True,
                                    help_text=_("Who the model is for."))
    description = models.TextField(_("description"), blank=True,
                                   help_text=_("What the model is, in the source's words."))
    started = models.DateField(_("started"), null=True, blank=True,
                               help_text=_("When the model started."))
    started_precision = models.CharField(_("start precision"), max_length=10, blank=True,
                                         choices=DatePrecision.choices,
                                         help_text=_("How much of the start date is known."))
    ended = models.DateField(_("ended"), null=True, blank=True,
                             help_text=_("When the model ended or is to end."))
    ended_precision = models.CharField(_("end precision"), max_length=10, blank=True,
                                       choices=DatePrecision.choices,
                                       help_text=_("How much of the end date is known."))

    class Meta:
        verbose_name = _("collaboration model")
        verbose_name_plural = _("collaboration models")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["municipality", "name"],
                                    name="collaboration_model_unique", nulls_distinct=False),
            models.CheckConstraint(condition=Q(started__isnull=True) | ~Q(started_precision=""),
                                   name="collaboration_started_precision"),
            models.CheckConstraint(condition=Q(ended__isnull=True) | ~Q(ended_precision=""),
                                   name="collaboration_ended_precision"),
            models.CheckConstraint(condition=Q(ended__isnull=True) | Q(started__isnull=True)
                                   | Q(ended__gte=models.F("started")),
                                   name="collaboration_ends_after_start",
                violation_error_message=_(
                    "A collaboration model "
                    "cannot end before it starts.")),
        ]

    def __str__(self):
        return f"{self.name} ({self.abbreviation})" if self.abbreviation else self.name


class Sector(models.TextChoices):
    SCHOOL = "school", _("school")
    PRESCHOOL = "preschool", _("preschool")
    SOCIAL_SERVICES = "social_services", _("social services")
    HEALTH_CARE = "health_care", _("health care")
    STUDENT_HEALTH = "student_health", _("student health")
    POLICE = "police", _("police")
    LEISURE = "leisure", _("leisure")
    FOSTER_CARE = "foster_care", _("foster care")


class CollaborationSector(RegisterModel):
    """A sector taking part in a collaboration model."""

    model = models.ForeignKey(CollaborationModel, on_delete=models.CASCADE,
                              related_name="sectors", verbose_name=_("collaboration model"),
                              help_text=_("The model."))
    sector = models.CharField(_("sector"), max_length=30, choices=Sector.choices,
                              help_text=_("The sector involved."))

    class Meta:
        verbose_name = _("sector")
        verbose_name_plural = _("sectors")
        ordering = ["model", "sector"]
        constraints = [
            models.UniqueConstraint(fields=["model", "sector"], name="collaboration_sector_unique",
                                    condition=LIVE),
        ]

    def __str__(self):
        return self.get_sector_display()


class CollaborationUsage(RegisterModel):
    """Where a collaboration model is used: a municipality, a body or a named place."""

    model = models.ForeignKey(CollaborationModel, on_delete=models.CASCADE,
                              related_name="usages", verbose_name=_("collaboration model"),
                              help_text=_("The model."))
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="collaboration_usages",
                                     verbose_name=_("municipality"),
                                     help_text=_("Municipality using the model."))
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="collaboration_usages",
                                     verbose_name=_("organisation"),
                                     help_text=_("Body running or taking part in the model."))
    place = models.CharField(_("place"), max_length=200, blank=True,
                             help_text=_("Where, as written, e.g. 'i hela staden'."))

    class Meta:
        verbose_name = _("usage")
        verbose_name_plural = _("usages")
        ordering = ["model", "created", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(municipality__isnull=False) | Q(organisation__isnull=False)
                | ~Q(place=""),
                name="collaboration_usage_somewhere",
            ),
        ]

    def __str__(self):
        return self.place or str(self.organisation or self.municipality)


class FigureUnit(models.TextChoices):
    TKR = "tkr", _("thousand SEK")
    TKR_PER_YEAR = "tkr_per_year", _("thousand SEK per year")
    PERCENT = "percent", _("percent")
    COUNT = "count", _("count")


class CollaborationFigure(RegisterModel):
    """A number stated about a collaboration model: a cost, a count, an evaluation result."""

    model = models.ForeignKey(CollaborationModel, on_delete=models.CASCADE,
                              related_name="figures", verbose_name=_("collaboration model"),
                              help_text=_("The model the figure is about."))
    label = models.CharField(_("label"), max_length=300,
                             help_text=_("What the figure measures."))
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2,
                                help_text=_("The number."))
    unit = models.CharField(_("unit"), max_length=20, choices=FigureUnit.choices,
                            help_text=_("Unit of the number."))
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True,
                                            help_text=_("The year the figure applies to."))

    class Meta:
        verbose_name = _("figure")
        verbose_name_plural = _("figures")
        ordering = ["model", "label", "year", "id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "label", "year"],
                                    name="collaboration_figure_unique",
                                    condition=LIVE, nulls_distinct=False),
        ]

    def __str__(self):
        return f"{self.label}: {self.value} {self.get_unit_display()}"
