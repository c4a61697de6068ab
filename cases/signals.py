"""Cross-cutting reactions to every save: the audit trail and the search index."""

from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from cases import search
from cases.models import SearchEntry
from cases.services import audit


def _ours(sender, raw=False) -> bool:
    return sender._meta.app_label == "cases" and not raw


@receiver(pre_save)
def remember_before(sender, instance, raw=False, **kwargs):
    if _ours(sender, raw) and audit.audited(sender):
        audit.before_save(instance)


@receiver(post_save)
def after_save(sender, instance, created=False, raw=False, **kwargs):
    if not _ours(sender, raw):
        return
    if audit.audited(sender):
        audit.after_save(instance, created)
    record = search.owner(instance)
    if record is not None:
        search.index_record(record)


@receiver(post_delete)
def index_on_delete(sender, instance, **kwargs):
    if sender._meta.app_label != "cases":
        return
    if type(instance) in search.KINDS:
        SearchEntry.objects.filter(content_type=ContentType.objects.get_for_model(instance),
                                   object_id=instance.pk).delete()
    else:
        record = search.owner(instance)
        if record is not None:
            search.index_record(record)
