"""Admin for webhooks: subscriptions (with their secret shown once), deliveries (failed ones
found by a filter, sent again by an action) and the events themselves, read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cases.models import Delivery, DeliveryAttempt, Event, EventAction, Subscription
from cases.services import deliveries, subscriptions
from cases.services.events import collection_choices


class SubscriptionForm(forms.ModelForm):
    callback_url = forms.URLField(label=_("callback URL"), max_length=500,
                                  assume_scheme="https")
    collections = forms.MultipleChoiceField(
        label=_("collections"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=collection_choices, help_text=_("Empty: every collection."))
    actions = forms.MultipleChoiceField(
        label=_("actions"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=EventAction.choices, help_text=_("Empty: every action."))

    class Meta:
        model = Subscription
        fields = ("name", "token", "callback_url", "collections", "actions", "organisations",
                  "municipalities", "contact_email", "active")

    def clean_callback_url(self):
        url = self.cleaned_data["callback_url"]
        try:
            subscriptions.check_callback(url)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["callback_url"]) from exc
        return url


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("name", "token", "callback_url", "active", "failed_deliveries",
                    "secret_rotated")
    list_filter = ("active", "token")
    search_fields = ("name", "callback_url", "contact_email")
    autocomplete_fields = ("token", "organisations", "municipalities")
    readonly_fields = ("secret_rotated", "previous_secret_expires", "created", "modified")
    actions = ["rotate_secrets"]

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the delivery log keeps naming the subscription

    def save_model(self, request, obj, form, change):
        relations = {name: form.cleaned_data.get(name) for name in subscriptions.RELATIONS}
        if change:
            subscriptions.update_subscription(subscription=obj, **relations)
            return
        secret = subscriptions.add_subscription(subscription=obj, **relations)
        self.message_user(request, _(
            "The signing secret of %(name)s is %(secret)s. Copy it now: it is shown only "
            "this once.") % {"name": obj.name, "secret": secret}, messages.WARNING)

    def save_related(self, request, form, formsets, change):
        for formset in formsets:  # the relations were saved by the service
            self.save_formset(request, form, formset, change=change)

    @admin.display(description=_("failed deliveries"))
    def failed_deliveries(self, obj):
        count = obj.deliveries.filter(status="failed").count()
        if not count:
            return 0
        url = reverse("admin:cases_delivery_changelist")
        return format_html('<a href="{}?subscription__id__exact={}&status__exact=failed">{}</a>',
                           url, obj.pk, count)

    @admin.action(description=_("Rotate the signing secret of the selected subscriptions"),
                  permissions=["change"])
    def rotate_secrets(self, request, queryset):
        for subscription in queryset:
            secret = subscriptions.rotate_secret(subscription=subscription)
            self.message_user(request, _(
                "The new signing secret of %(name)s is %(secret)s. Copy it now: it is shown "
                "only this once. The previous secret keeps signing for the grace period.")
                % {"name": subscription.name, "secret": secret}, messages.WARNING)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("attempted_at", "status_code", "error", "duration_ms")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: what was sent where, how often, with what answer."""

    list_display = ("created", "subscription", "event_type", "record", "status", "attempts",
                    "last_status_code", "next_attempt", "delivered_at")
    list_filter = ("status", "subscription")
    list_select_related = ("subscription", "event")
    search_fields = ("=event__record_id", "=event__id")
    readonly_fields = ("subscription", "event", "message", "status", "attempts",
                       "last_status_code", "last_error", "next_attempt", "delivered_at",
                       "created")
    fields = readonly_fields
    inlines = [DeliveryAttemptInline]
    actions = ["send_again"]

    @admin.display(description=_("event type"))
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description=_("record id"))
    def record(self, obj):
        return obj.event.record_id

    @admin.display(description=_("message"))
    def message(self, obj):
        return format_html("<pre>{}</pre>", deliveries.body_of(obj.event.message).decode())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request):
        return request.user.has_perm("cases.change_subscription")

    @admin.action(description=_("Send the selected deliveries again"),
                  permissions=["redeliver"])
    def send_again(self, request, queryset):
        count = deliveries.redeliver(deliveries=queryset)
        self.message_user(request, _("%(count)d deliveries will be sent again.")
                          % {"count": count})


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
    """The delivery log across all deliveries, read-only (each delivery shows its own)."""

    list_display = ("attempted_at", "delivery", "status_code", "error", "duration_ms")
    list_filter = ("status_code",)
    list_select_related = ("delivery__subscription", "delivery__event")
    search_fields = ("=delivery__event__record_id", "error")
    date_hierarchy = "attempted_at"
    fields = readonly_fields = ("delivery", "attempted_at", "status_code", "error",
                                "duration_ms")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Every change announced, read-only: the outbox the deliveries come from."""

    list_display = ("occurred_at", "type", "record_id", "case_id")
    list_filter = ("action", "content_type")
    search_fields = ("=record_id", "=case_id", "=id")
    date_hierarchy = "occurred_at"
    fields = readonly_fields = ("id", "occurred_at", "type", "action", "content_type",
                                "record_id", "case_id", "collections", "organisations",
                                "municipalities", "changed_fields", "message")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
