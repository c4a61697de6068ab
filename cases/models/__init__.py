"""The register's data model, split by topic. Import models from here."""

from . import unaccented  # noqa: F401  (registers the __unaccented lookup)
from .access import ApiToken, AuditAction, AuditEntry
from .base import DatePrecision, RegisterModel, TimestampedModel
from .cases import CLOSED_STATUSES, Activity, ActivityType, Case, CaseStatus, RegistrationNumber
from .collaboration import (
    CollaborationFigure,
    CollaborationLevel,
    CollaborationModel,
    CollaborationSector,
    CollaborationStatus,
    CollaborationUsage,
    FigureUnit,
    Sector,
)
from .decisions import Decision, DecisionKind, DecisionPoint
from .documents import Direction, Document, DocumentAttachment, DocumentSignatory, DocumentType
from .links import Link, LinkType, Provenance
from .motions import Motion, MotionAuthor, MotionProposal
from .organisations import (
    Municipality,
    Organisation,
    OrganisationType,
    Party,
    PartyAffiliation,
    Person,
    PersonNameVariant,
    PersonRole,
)
from .referrals import ConsultedBody, Referral, ReferralResponse, ResponsePosition, ResponseStatus
from .search import SearchEntry, SearchWord
from .webhooks import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventAction,
    Subscription,
)

__all__ = [
    "ApiToken", "AuditAction", "AuditEntry",
    "CLOSED_STATUSES", "Activity", "ActivityType", "Case", "CaseStatus", "CollaborationFigure",
    "CollaborationLevel",
    "CollaborationModel", "CollaborationSector", "CollaborationStatus", "CollaborationUsage",
    "ConsultedBody", "DatePrecision", "Decision", "DecisionKind", "DecisionPoint", "Direction",
    "Document", "DocumentAttachment", "DocumentSignatory", "DocumentType", "FigureUnit", "Link",
    "LinkType", "Motion", "MotionAuthor", "MotionProposal", "Municipality", "Organisation",
    "OrganisationType", "Party", "PartyAffiliation", "Person", "PersonNameVariant", "PersonRole",
    "Provenance", "Referral", "ReferralResponse", "RegisterModel", "RegistrationNumber",
    "ResponsePosition", "ResponseStatus", "SearchEntry", "SearchWord", "Sector", "TimestampedModel",
    "Delivery", "DeliveryAttempt", "DeliveryStatus", "Event", "EventAction", "Subscription",
]
