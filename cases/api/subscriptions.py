"""``/api/v1/subscriptions/``: a client system manages its own webhook subscriptions.

Only a token with the write scope, and only its own subscriptions (others' are 404). The
secret appears in the answer to the create and to ``rotate-secret``, never again. Thin: the
writes are in ``cases.services.subscriptions`` and ``cases.services.deliveries``.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from cases.api.writes import WriteSerializer
from cases.models import (
    Delivery,
    DeliveryAttempt,
    EventAction,
    Municipality,
    Organisation,
    Subscription,
)
from cases.services import deliveries, subscriptions
from cases.services.events import collection_choices

from .access import token_of
from .fields import UTCDateTimeField
from .problems import ProblemAutoSchema


class IsWritingClient(permissions.BasePermission):
    """Any token reads its own subscriptions (none, for a token that may not write); only a
    token with the write scope makes or changes them."""

    message = "Webhook subscriptions are managed with an API token that has the write scope."

    def has_permission(self, request, view):
        token = token_of(request)
        if token is None:
            return False
        return token.can_write or request.method in permissions.SAFE_METHODS


class SubscriptionSerializer(serializers.ModelSerializer):
    # Values in the JSON type the schema states, as every write of the API takes them.
    serializer_field_mapping = WriteSerializer.serializer_field_mapping

    def to_internal_value(self, data):
        """A filter is a JSON array: DRF would iterate an object's keys as if it were one."""
        if isinstance(data, dict):
            wrong = {name: ["Expected a list."] for name in
                     ("collections", "actions", "organisations", "municipalities")
                     if name in data and not isinstance(data[name], list)}
            if wrong:
                raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)
    collections = serializers.ListField(
        child=serializers.ChoiceField(choices=collection_choices()), required=False,
        help_text="Collections whose changes (and changes of their parts) are sent; "
                  "empty: all.")
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=EventAction.choices), required=False,
        help_text="created, updated, voided; empty: all.")
    organisations = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Organisation.objects.all(),
        help_text="Only changes of records of these organisations (or of cases they are "
                  "responsible for); empty: all.")
    municipalities = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Municipality.objects.all(),
        help_text="Only changes of records in these municipalities; empty: all.")

    class Meta:
        model = Subscription
        fields = ["id", "name", "callback_url", "collections", "actions", "organisations",
                  "municipalities", "contact_email", "active", "secret_rotated",
                  "previous_secret_expires", "created", "modified"]
        read_only_fields = ["id", "secret_rotated", "previous_secret_expires", "created",
                            "modified"]
        extra_kwargs = {
            "id": {"help_text": "Identifier of the subscription."},
            "name": {"help_text": "A name for the subscription, e.g. the receiving system."},
            "callback_url": {"help_text": "https URL that receives the events."},
            "contact_email": {"help_text": "Mailed when a message finally fails."},
            "active": {"help_text": "False stops deliveries (pending ones are cancelled)."},
            "secret_rotated": {"help_text": "When the signing secret was last rotated."},
            "previous_secret_expires": {
                "help_text": "Until then messages are signed with the previous secret too."},
            "created": {"help_text": "When the subscription was made."},
            "modified": {"help_text": "When the subscription was last changed."},
        }

    def validate_callback_url(self, value):
        try:
            subscriptions.check_callback(value)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict["callback_url"]) from exc
        return value


class CreatedSubscriptionSerializer(SubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text=(
        "Standard Webhooks signing secret. Shown only in this answer: store it now."))

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    serializer_field_mapping = WriteSerializer.serializer_field_mapping  # instants in UTC

    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "status_code", "error", "duration_ms"]
        extra_kwargs = {
            "attempted_at": {"help_text": "When the message was sent."},
            "status_code": {"help_text": "The receiver's HTTP status; null if none came."},
            "error": {"help_text": "Why the attempt failed; empty when it succeeded."},
            "duration_ms": {"help_text": "How long the request took, in milliseconds."},
        }


class DeliverySerializer(serializers.ModelSerializer):
    serializer_field_mapping = WriteSerializer.serializer_field_mapping  # instants in UTC
    event = serializers.JSONField(source="event.message", read_only=True,
                                  help_text="The CloudEvent.")
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True,
                                            help_text="Every attempt, oldest first.")

    class Meta:
        model = Delivery
        fields = ["id", "event", "status", "attempts", "last_status_code", "last_error",
                  "next_attempt", "delivered_at", "created", "attempt_log"]
        extra_kwargs = {
            "id": {"help_text": "Identifier of the delivery (for redeliver)."},
            "status": {"help_text": "pending, delivered, failed (finally) or cancelled."},
            "attempts": {"help_text": "Attempts so far."},
            "last_status_code": {"help_text": "The receiver's last HTTP status."},
            "last_error": {"help_text": "Why the last attempt failed."},
            "next_attempt": {"help_text": "When it is tried next, while pending."},
            "delivered_at": {"help_text": "When the receiver accepted it."},
            "created": {"help_text": "When the event was queued for this subscription."},
        }


SECRET = inline_serializer("SubscriptionSecret", {
    "secret": serializers.CharField(help_text="The new secret; shown only now."),
    "previous_secret_expires": UTCDateTimeField(
        help_text="Until then, messages are signed with the old secret too."),
})


@extend_schema_view(
    list=extend_schema(summary="List your subscriptions"),
    retrieve=extend_schema(summary="One subscription"),
    update=extend_schema(summary="Replace a subscription"),
    partial_update=extend_schema(summary="Change fields of a subscription"),
)
class SubscriptionViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                          mixins.UpdateModelMixin, mixins.ListModelMixin,
                          viewsets.GenericViewSet):
    """Webhook subscriptions of the calling client system. Not deleted: set ``active`` to
    false to stop deliveries (the delivery log stays)."""

    schema = ProblemAutoSchema()
    serializer_class = SubscriptionSerializer
    permission_classes = [IsWritingClient]
    filter_backends = []
    pagination_class = None
    lookup_value_regex = "[0-9]+"

    def get_queryset(self):
        return Subscription.objects.filter(token=token_of(self.request)).prefetch_related(
            "organisations", "municipalities")

    def _saved(self, call):
        try:
            return call()
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc

    @extend_schema(responses={201: CreatedSubscriptionSerializer},
                   summary="Subscribe to changes (the secret is shown only in this answer)")
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription, secret = self._saved(lambda: subscriptions.create_subscription(
            token=token_of(request), **serializer.validated_data))
        subscription.secret = secret
        return Response(CreatedSubscriptionSerializer(subscription).data,
                        status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = self._saved(lambda: subscriptions.update_subscription(
            subscription=serializer.instance, **serializer.validated_data))

    @extend_schema(request=None, responses=SECRET, summary="Rotate the signing secret")
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        secret = subscriptions.rotate_secret(subscription=self.get_object())
        subscription = Subscription.objects.get(pk=pk)
        return Response({"secret": secret,
                         "previous_secret_expires": subscription.previous_secret_expires})

    @extend_schema(responses=DeliverySerializer(many=True),
                   summary="The subscription's latest deliveries (up to 100), with attempts")
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        subscription = self.get_object()
        rows = subscription.deliveries.select_related("event").prefetch_related(
            "attempt_log")[:100]
        return Response(DeliverySerializer(rows, many=True).data)

    @extend_schema(request=None, responses={202: DeliverySerializer},
                   summary="Send a delivery again")
    @action(detail=True, methods=["post"],
            url_path=r"deliveries/(?P<delivery>[0-9]+)/redeliver")
    def redeliver(self, request, pk=None, delivery=None):
        subscription = self.get_object()
        chosen = subscription.deliveries.filter(pk=delivery)
        if not chosen.exists():
            raise NotFound("No such delivery of this subscription.")
        deliveries.redeliver(deliveries=chosen)
        return Response(DeliverySerializer(chosen.get()).data,
                        status=status.HTTP_202_ACCEPTED)
