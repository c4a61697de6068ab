"""Cases (ärenden), their registration numbers and dated events."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Replace, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import RegisterModel, order_indexes
from .organisations import Municipality, Organisation, Person
from .unaccented import trigram_index


class CaseStatus(models.TextChoices):
    OPEN = "open", _("open")
    DECIDED = "decided", _("decided")
    CLOSED = "closed", _("closed")
    ARCHIVED = "archived", _("archived")
    UNKNOWN = "unknown", _("unknown")


# The statuses of a case that has ended: it has a closed date (set to the day it was closed
# when none is given), and may name the decision or document that closed it.
CLOSED_STATUSES = (CaseStatus.CLOSED, CaseStatus.ARCHIVED)


class Case(RegisterModel):
    """A matter (ärende) handled by one or more bodies of a municipality.

    One case can carry several registration numbers, e.g. the referring body's
    (KS 2025/638) and the responding body's.
    """

    title = models.CharField(_("title"), max_length=500,
                             help_text=_("The case heading (ärendemening)."))
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, related_name="cases",
        verbose_name=_("municipality"), help_text=_("Municipality the case belongs to."),
    )
    responsible_organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True,
        related_name="responsible_for_cases", verbose_name=_("responsible organisation"),
        help_text=_("The body handling the case, when stated."),
    )
    status = models.CharField(_("status"), max_length=20, choices=CaseStatus.choices,
                              default=CaseStatus.OPEN,
                              help_text=_("Where the case stands, as far as the sources tell."))
    description = models.TextField(_("description"), blank=True,
                                   help_text=_("Short summary of what the case is about."))
    registered = models.DateField(
        _("registered"), null=True, blank=True,
        help_text=_("The day the case was registered (opened): the received date of the "
                    "document that opened it; empty when the sources do not state it."))
    closed = models.DateField(
        _("closed"), null=True, blank=True,
        help_text=_("The day the case was closed (avslutat): given, or the day its status "
                    "became closed; empty while it is open or when the sources do not state "
                    "it."))
    closed_by_decision = models.ForeignKey(
        "cases.Decision", on_delete=models.PROTECT, null=True, blank=True,
        related_name="closed_cases", verbose_name=_("closed by decision"),
        help_text=_("The decision of the case that closed it, when one did."))
    closed_by_document = models.ForeignKey(
        "cases.Document", on_delete=models.PROTECT, null=True, blank=True,
        related_name="closed_cases", verbose_name=_("closed by document"),
        help_text=_("The document of the case that closed it (e.g. a reply sent), when no "
                    "decision did."))
    confidential = models.BooleanField(
        _("confidential"), default=False,
        help_text=_("Protected details (title, description) are shown only to those cleared; "
                    "the registration entry stays public."))
    confidentiality_basis = models.CharField(
        _("legal basis"), max_length=200, blank=True,
        help_text=_("Grounds for secrecy, e.g. OSL 26 kap. 1 §."))
    public_title = models.CharField(
        _("public title"), max_length=500, blank=True,
        help_text=_("Neutral title shown instead of the title when the case is confidential."))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="owned_cases", verbose_name=_("case officer (user)"),
        help_text=_("The user handling the case; case officers may edit the cases they own."))

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created"]
        # The title filter (cases.api.filters.ProtectedTextFilter) searches the title, and
        # the public title of a confidential case: a trigram index each (cases.models.
        # unaccented). cases?title=samverkan: 1,085 ms at a million cases without.
        indexes = [trigram_index("title", "case_title_trgm"),
                   trigram_index("public_title", "case_public_title_trgm"),
                   # The admin's search (cases.admin.search): a word of the description.
                   trigram_index("description", "case_description_trgm"),
                   # One body's cases in page order with the sync filters' columns carried
                   # (organisation + modified_since: 702 ms at a million cases without;
                   # 0013's (organisation, status, created, id) needs the status too).
                   models.Index(fields=["responsible_organisation", "created", "id"],
                                include=["modified", "voided_at"],
                                name="case_organisation_page"),
                   # The admin's case list (newest registered first, its date drill-down)
                   # and the API's ordering=registered / closed pages.
                   *order_indexes("registered", "case_registered"),
                   *order_indexes("closed", "case_closed")]
        permissions = [
            ("view_confidential", _("Can see confidential details")),
            ("register_incoming", _("Can register incoming documents")),
            ("void_record", _("Can void registered records")),
            ("change_own_case", _("Can edit the cases one owns")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(confidential=False)
                                   | ~Q(confidentiality_basis="") & ~Q(public_title=""),
                                   name="case_confidential_with_basis_and_public_title",
                violation_error_message=_(
                    "A confidential case needs its "
                    "legal basis and a public title.")),
            models.CheckConstraint(condition=Q(closed__isnull=True)
                                   | Q(status__in=CLOSED_STATUSES),
                                   name="case_closed_date_only_when_closed",
                                   violation_error_message=_(
                                       "Only a closed or archived case has a closed date.")),
            models.CheckConstraint(condition=Q(closed__isnull=True)
                                   | Q(registered__isnull=True)
                                   | Q(closed__gte=models.F("registered")),
                                   name="case_closed_after_registered",
                                   violation_error_message=_(
                                       "A case cannot be closed before it was registered.")),
            models.CheckConstraint(condition=Q(closed_by_decision__isnull=True)
                                   | Q(closed_by_document__isnull=True),
                                   name="case_closed_by_one_record",
                                   violation_error_message=_(
                                       "A case is closed by a decision or by a document, not "
                                       "both.")),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        """The status flow's dates: a case that is not (or no longer) closed has no closed
        date nor closing record; one closed without a date is closed today. The record that
        closed it must be of the case."""
        super().clean()
        if self.status not in CLOSED_STATUSES:
            self.closed = self.closed_by_decision = self.closed_by_document = None
        elif self.closed is None:
            self.closed = timezone.localdate()
        for field in ("closed_by_decision", "closed_by_document"):
            record = getattr(self, field)
            if record is not None and record.case_id != self.pk:
                raise ValidationError({field: _("The record that closed the case must be one "
                                                "of its own.")})


class RegistrationNumber(RegisterModel):
    """A registration number (diarienummer) given to a case by one organisation."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="registration_numbers",
                             verbose_name=_("case"), help_text=_("The case the number belongs to."))
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="registration_numbers",
        verbose_name=_("registering organisation"),
        help_text=_("The body whose register the number is in."),
    )
    number = models.CharField(
        _("registration number"), max_length=50,
        validators=[RegexValidator(
            r"^(?=.*[0-9])[0-9A-Za-zÅÄÖåäö]+([ ./-][0-9A-Za-zÅÄÖåäö]+)*$",
            _("A registration number is letters and digits in groups separated by one space, "
              "dot, slash or hyphen, e.g. KS 2025/638 or GRF-2023-21151."))],
        help_text=_("As written, e.g. KS 2025/638 or GRF-2023-21151."))
    year = models.PositiveSmallIntegerField(
        _("year"), null=True, blank=True,
        help_text=_("Registration year contained in the number, when it contains one."),
    )
    serial = models.PositiveIntegerField(
        _("serial number"), null=True, blank=True,
        help_text=_("Running number in the organisation's series for the year, for numbers "
                    "the register allocated itself."),
    )

    class Meta:
        verbose_name = _("registration number")
        verbose_name_plural = _("registration numbers")
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "number"],
                                    name="registration_number_unique_per_organisation"),
            models.CheckConstraint(condition=~Q(number=""), name="registration_number_not_blank"),
            models.UniqueConstraint(fields=["organisation", "year", "serial"],
                                    condition=Q(serial__isnull=False),
                                    name="registration_serial_unique_per_series"),
        ]
        # A case is found by a number as users type it (ks2025/638): case and spaces
        # ignored, through this index (cases.api.references).
        indexes = [models.Index(Replace(Upper("number"), Value(" "), Value("")),
                                name="registration_number_normalised"),
                   # cases?year=: the cases with a number of the year (a semi-join).
                   models.Index(fields=["year", "case"], name="registration_number_year"),
                   # The admin's search: part of a number ("2024/12"), diacritics ignored.
                   trigram_index("number", "registration_number_trgm"),
                   # The admin's list in number order (cases.admin.cases): its pages, deep
                   # ones too, walk this index (a sort of a million numbers took 650 ms).
                   models.Index(fields=["number", "id"], name="registration_number_order")]

    def __str__(self):
        return self.number


class ActivityType(models.TextChoices):
    UNION_CONSULTATION = "union_consultation", _("consultation with trade unions")
    UNION_NEGOTIATION = "union_negotiation", _("negotiation with trade unions")
    UNION_INFORMATION = "union_information", _("information to trade unions")
    DISABILITY_COUNCIL = "disability_council", _("disability council")
    DIGITAL_ATTESTATION = "digital_attestation", _("digital attestation")
    OTHER = "other", _("other")


class Activity(RegisterModel):
    """A dated event on a case's timeline, e.g. union consultation (MBL)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="activities",
                             verbose_name=_("case"), help_text=_("The case the event belongs to."))
    type = models.CharField(_("type"), max_length=30, choices=ActivityType.choices,
                            help_text=_("Kind of event."))
    date = models.DateField(_("date"), null=True, blank=True,
                            help_text=_("When the event took place or is planned."))
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="activities",
        verbose_name=_("organisation"), help_text=_("Body holding or taking part in the event."),
    )
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, null=True, blank=True, related_name="activities",
        verbose_name=_("person"), help_text=_("Person acting, e.g. who attested."),
    )
    description = models.TextField(_("description"), blank=True,
                                   help_text=_("What happened, in the source's words."))

    marked_public = models.BooleanField(
        _("marked public"), default=False, db_default=False,
        help_text=_("Set by a user cleared for confidential details: this record of a "
                    "confidential case (or document) is public. Unmarked, it is withheld "
                    "with the case."))

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["date", "created", "id"]
        # The admin's list order and its date drill-down (first and last date).
        indexes = [trigram_index("description", "activity_description_trgm"),
                   models.Index(fields=["date", "created", "id"], name="activity_date_order"),
                   *order_indexes("date", "activity_day")]

    def __str__(self):
        return f"{self.get_type_display()} {self.date or ''}".strip()
